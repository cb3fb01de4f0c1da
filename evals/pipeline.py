"""The agent's own pipeline, fit on an evaluation split: shared by evals/run.py and finetune/.

    s, items, emb, store, co, tr = agent_parts(split, "val")       # Chroma store + signals fit on the split
    rec = split_recommender(split, "val", users, llm=None)           # a Recommender whose users are the split's
    media = media_store(s, items, emb)                               # None unless MARQUEE_MEDIA_VECTORS=1

Collaborative signals (co-occurrence, next-item transitions) are fit on `split.fit_sequences(target)`,
i.e. every user's items before `target`, never the target itself. Histories mark every item as
liked (the split keeps no ratings). Left out: anything not on the demo store (the catalog's
embeddings come from the ingested demo collection).
"""

from __future__ import annotations

from evals.data import Split


def agent_parts(split: Split, target: str, settings=None):
    from agent.catalog import load_catalog
    from agent.config import Settings
    from agent.embedding import load_embedder
    from agent.ingest import open_store
    from agent.retrieval import CoOccurrence, Transitions
    from agent.types import Interaction

    s = settings or Settings()
    items = {it.item_id: it for it in load_catalog(s.catalog, s.tmdb, s.media)}
    emb = load_embedder(s.embedder)
    store = open_store(s, emb)
    seqs = split.fit_sequences(target)
    co = CoOccurrence([Interaction(u, i, None, 0) for u, seq in seqs.items() for i in seq])
    tr = Transitions(list(seqs.values()))
    return s, items, emb, store, co, tr


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


def split_recommender(split: Split, target: str, users: list[str], *, settings=None, llm=None):
    """A Recommender over the demo catalog whose retrieval is fit on `split` before `target`."""
    from agent.recommender import Recommender

    s, items, emb, store, co, tr = agent_parts(split, target, settings)
    return Recommender(s, list(items.values()), split_histories(split, target, users), store, emb, llm,
                       collab=co, sequence=tr, media_store=media_store(s, items, emb))
