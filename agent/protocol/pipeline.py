"""The agent's own pipeline on an evaluation split, for any data set: shared by evals/ and finetune/.

    ds = resolve_dataset("ml-100k-dir")                              # agent.protocol.data
    s = dataset_settings(ds)                                         # its catalog, log and collection
    s, items, emb, store, co, tr = agent_parts(split, "val", s)      # store built or reused + signals fit on the split
    seq = sequential_for(s, split)                                   # the collection's SASRec, or None
    rec = split_recommender(split, "val", users, settings=s)         # a Recommender whose users are the split's
    media = media_store(s, items, emb)                               # None unless MARQUEE_MEDIA_VECTORS=1

Collections: the demo keeps its own (`marquee-demo`, Settings defaults); any other catalog gets a
collection named by its content hash (agent.ingest.collection_name), built on first use with
progress and reused after (ingestion is idempotent). Collaborative signals (co-occurrence,
next-item transitions) are fit on `split.fit_sequences(target)`, i.e. every user's items before
`target`, never the target itself; the SASRec model is trained on the training split only (before
the validation item), so it is used as is for both targets. Histories mark every item as liked
(the split keeps no ratings). Left out: data sets without a catalog (a bare log has no texts to
embed: only the collaborative baselines run on it).
"""

from __future__ import annotations

import sys

from agent.protocol.data import Dataset, Split


def served_dataset(settings=None) -> Dataset:
    """The data set the server would use: Settings' catalog and interaction log."""
    from agent.config import Settings

    s = settings or Settings()
    if s.interactions is None:
        raise FileNotFoundError("no interaction log configured (MARQUEE_INTERACTIONS): nothing to split")
    return Dataset(str(s.catalog), s.interactions, s.catalog, s.tmdb)


def dataset_settings(ds: Dataset, base=None):
    """Settings serving `ds`: the demo's own for the demo, else its catalog and log with no TMDB file,
    no bundled media text, and a collection named by the catalog's content hash; with the weights
    tuned for that collection (agent/tuning) where a tuning run saved them."""
    from agent.catalog import load_catalog
    from agent.config import Settings
    from agent.ingest import collection_name

    if ds.catalog is None:
        raise FileNotFoundError(f"{ds.name!r} is an interaction log without a catalog: the agent's retrievers need "
                                "item texts (give a MovieLens folder or a catalog .jsonl with --interactions)")
    from agent.tuning import apply_tuned

    s = base or Settings()
    if ds.is_demo or ("collection" in s.model_fields_set and str(s.catalog) == str(ds.catalog)):
        return apply_tuned(s)  # the demo's own, or a collection the caller named for this catalog
    s = s.model_copy(update={"catalog": ds.catalog, "tmdb": ds.tmdb, "interactions": ds.interactions, "media": []})
    items = load_catalog(s.catalog, s.tmdb, s.media)
    return apply_tuned(s.model_copy(update={"collection": collection_name(items, s.embedder)}))


def ensure_store(s, items: dict, emb):
    """The settings' collection, with every catalog item embedded (first run: all of them, with progress)."""
    from agent.ingest import ingest, open_store

    store = open_store(s, emb)
    r = ingest(list(items.values()), store, emb)
    if r.embedded:
        print(f"[protocol] collection {s.collection!r}: embedded {r.embedded} of {r.total} items", file=sys.stderr)
    return store


def agent_parts(split: Split, target: str, settings=None):
    from agent.catalog import load_catalog
    from agent.config import Settings
    from agent.embedding import load_embedder
    from agent.retrieval import CoOccurrence, Transitions
    from agent.types import Interaction

    s = settings or Settings()
    items = {it.item_id: it for it in load_catalog(s.catalog, s.tmdb, s.media)}
    emb = load_embedder(s.embedder)
    store = ensure_store(s, items, emb)
    seqs = split.fit_sequences(target)
    co = CoOccurrence([Interaction(u, i, None, 0) for u, seq in seqs.items() for i in seq])
    tr = Transitions(list(seqs.values()))
    return s, items, emb, store, co, tr


def sequential_for(s, split: Split, target: str = "val"):
    """The collection's trained SASRec for `target` when it was trained on this split's log (its refit
    for the test target when `python -m agent.sequential --refit` made one), else None (with a note)."""
    from agent.sequential import load_for, model_path

    m = load_for(s, split.checksum, target)
    if m is not None and target == "test" and not m.meta.get("refit_for"):
        print("[protocol] test target scored by the SASRec trained on the training part only (no refit: "
              "`python -m agent.sequential --data ... --resume --refit`)", file=sys.stderr)
    if m is None and not model_path(s).is_file():
        print(f"[protocol] no trained sequential model for {s.collection!r} (its list is left out): "
              f"train one with `python -m agent.sequential --data ...` ({model_path(s)})", file=sys.stderr)
    return m


def media_store(s, items: dict, emb):
    """The per-media collection (built or topped up here) when `s.media_vectors`, else None."""
    if not s.media_vectors:
        return None
    from agent.ingest import ingest_media, open_store

    store = open_store(s, emb, media=True)
    ingest_media(list(items.values()), store, emb)
    return store


def split_histories(split: Split, target: str, users: list[str]):
    from agent.types import HistoryEntry, UserHistory

    return {u: UserHistory(u, tuple(HistoryEntry(i, liked=True) for i in split.history(u, target))) for u in users}


def split_quality(split: Split, target: str, interactions, prior_count: float):
    """The quality prior (agent/quality) from the rated `interactions` the split fits on before
    `target` (never the target itself)."""
    from agent.quality import Quality

    fit = {(u, i) for u, seq in split.fit_sequences(target).items() for i in seq}
    return Quality([x for x in interactions if (x.user_id, x.item_id) in fit], prior_count=prior_count)


def split_recommender(split: Split, target: str, users: list[str], *, settings=None, llm=None):
    """A Recommender over the settings' catalog whose retrieval is fit on `split` before `target`,
    with the served parts that read a request (the quality prior from the ratings before `target`,
    the vocabulary, the title vectors), so a chat request is answered as the server answers it."""
    from agent.catalog import load_interactions
    from agent.recommender import Recommender
    from agent.vocab import TitleVectors, Vocabulary

    s, items, emb, store, co, tr = agent_parts(split, target, settings)
    catalog = list(items.values())
    quality = (split_quality(split, target, load_interactions(s.interactions), s.quality_prior_count)
               if s.interactions else None)
    titles = TitleVectors(catalog, emb, s.home / "vocab") if s.title_penalty > 0 else None
    return Recommender(s, catalog, split_histories(split, target, users), store, emb, llm,
                       collab=co, sequence=tr, media_store=media_store(s, items, emb),
                       sasrec=sequential_for(s, split, target), quality=quality,
                       vocab=Vocabulary.build(catalog, emb, s.home / "vocab"), titles=titles)
