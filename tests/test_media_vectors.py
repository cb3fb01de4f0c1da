"""Optional per-media vectors (MARQUEE_MEDIA_VECTORS): one embedding per derived media text in
`<collection>-media`, fused into the semantic lists by max similarity. Test embedder, tmp Chroma."""

from __future__ import annotations

import dataclasses

from agent.constraints import Constraints
from agent.ingest import ingest, ingest_media, open_store
from agent.retrieval import Retriever
from agent.types import UserHistory
from tests.conftest import SIX_FILMS

ZEBRA = "zebra zebra zebra stripes"


def films_with_media():
    films = {it.item_id: it for it in SIX_FILMS}
    films["4"] = dataclasses.replace(films["4"], media_text=(("Poster text", ZEBRA), ("Poster looks", "mostly yellow")))
    films["5"] = dataclasses.replace(films["5"], media_text=(("Trailer says", "Nobody leaves this town."),))
    return list(films.values())


def test_ingest_media_is_idempotent_and_follows_the_items(settings, embedder):
    items = films_with_media()
    media = open_store(settings, embedder, media=True)
    r = ingest_media(items, media, embedder, progress=False)
    assert (r.total, r.embedded, r.unchanged) == (3, 3, 0)
    assert ingest_media(items, media, embedder, progress=False).embedded == 0
    got = media._col.get(ids=["4#poster_text"], include=["documents", "metadatas"])
    assert got["documents"] == [f"Poster text: {ZEBRA}"]
    meta = got["metadatas"][0]
    assert meta["item_id"] == "4" and meta["modality"] == "poster_text" and meta["genre_animation"] is True
    assert meta["runtime"] == 81 and meta["meta_version"] >= 2
    items[3] = dataclasses.replace(items[3], media_text=(("Poster text", "ZEBRA"),))  # looks gone, text changed
    r = ingest_media(items, media, embedder, progress=False)
    assert r.embedded == 1 and sorted(media._col.get()["ids"]) == ["4#poster_text", "5#trailer_says"]
    r = ingest_media(items[:4], media, embedder, progress=False)  # item 5 left the catalog: kept unless pruned
    assert r.stale == 1 and media.count() == 2
    assert ingest_media(items[:4], media, embedder, progress=False, prune=True).pruned == 1 and media.count() == 1
    assert open_store(settings, embedder).count() == 0  # the item collection is a different one


def test_retrieval_takes_the_best_of_document_and_media_texts(settings, embedder):
    items = films_with_media()
    store, media = open_store(settings, embedder), open_store(settings, embedder, media=True)
    ingest(items, store, embedder, progress=False)
    ingest_media(items, media, embedder, progress=False)
    by_id = {it.item_id: it for it in items}
    plain = Retriever(store, embedder, by_id)
    fused = Retriever(store, embedder, by_id, media_store=media)
    q = embedder.embed_one("zebra")
    doc_sim = dict(plain._nearest(q, 6, set(), None))["4"]
    fused_hits = fused._nearest(q, 6, set(), None)
    assert fused_hits[0][0] == "4" and fused_hits[0][1] > doc_sim + 0.2  # the poster text alone matches better
    assert dict(fused_hits)["1"] == dict(plain._nearest(q, 6, set(), None))["1"]  # no media: its document's score
    assert [i for i, _ in fused._nearest(q, 6, {"4"}, None)][:1] != ["4"]  # exclusions hold in the media list too
    no_animation = Constraints(exclude_genres=frozenset({"Animation"}))
    cands = fused.retrieve("zebra", UserHistory(None), 3, constraints=no_animation)
    assert "4" not in [c.item.item_id for c in cands] and len(cands) == 3  # the where filter holds in the media list
    assert fused.retrieve("zebra", UserHistory(None), 3)[0].item.item_id == "4"


def test_off_by_default_and_built_when_on(settings, embedder, make_recommender):
    assert settings.media_vectors is False
    assert make_recommender().retriever.media_store is None
    rec = make_recommender(media_vectors=True)  # the six test films have no media: an empty media collection
    assert rec.retriever.media_store is not None and rec.retriever.media_store.count() == 0
    assert rec.retriever.retrieve("alien spaceship", UserHistory(None), 2)
