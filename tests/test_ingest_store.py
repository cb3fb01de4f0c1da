import numpy as np
import pytest

from agent.errors import StoreError
from agent.ingest import ingest, item_document, open_store
from agent.store import ItemStore
from agent.types import Item
from tests.conftest import SIX_FILMS


def test_ingest_is_idempotent_and_picks_up_changes(settings, embedder):
    store = open_store(settings, embedder)
    r1 = ingest(SIX_FILMS, store, embedder, progress=False)
    assert (r1.embedded, r1.unchanged, store.count()) == (6, 0, 6)
    r2 = ingest(SIX_FILMS, store, embedder, progress=False)
    assert (r2.embedded, r2.unchanged) == (0, 6)
    changed = [*SIX_FILMS[:5], Item("6", "The Thing", 1982, ("Horror",), "New overview.")]
    r3 = ingest(changed, store, embedder, progress=False)
    assert (r3.embedded, r3.unchanged) == (1, 5)
    assert "New overview." in store._col.get(ids=["6"])["documents"][0]


def test_interrupted_ingest_resumes(settings, embedder):
    store = open_store(settings, embedder)
    ingest(SIX_FILMS[:3], store, embedder, progress=False)  # as if the run died after one batch
    r = ingest(SIX_FILMS, store, embedder, progress=False, batch_size=2)
    assert (r.embedded, r.unchanged, store.count()) == (3, 3, 6)


def test_stale_items_kept_unless_pruned(settings, embedder):
    store = open_store(settings, embedder)
    ingest(SIX_FILMS, store, embedder, progress=False)
    r = ingest(SIX_FILMS[:4], store, embedder, progress=False)
    assert r.stale == 2 and store.count() == 6  # nothing stored is lost by default
    r = ingest(SIX_FILMS[:4], store, embedder, progress=False, prune=True)
    assert r.pruned == 2 and store.count() == 4


def test_store_persists_and_rejects_other_embedder(settings, embedder):
    ingest(SIX_FILMS, open_store(settings, embedder), embedder, progress=False)
    again = ItemStore.open(path=settings.chroma_dir, collection="test", embedder=embedder.name, dim=embedder.dim)
    assert again.count() == 6
    with pytest.raises(StoreError, match="built with embedder"):
        ItemStore.open(path=settings.chroma_dir, collection="test", embedder="other-model", dim=384)


def test_query_excludes_and_ranks(settings, embedder):
    store = open_store(settings, embedder)
    ingest(SIX_FILMS, store, embedder, progress=False)
    v = embedder.embed_one(item_document(SIX_FILMS[0]))
    hits = store.query(v, k=3)
    assert hits[0][0] == "1" and hits[0][1] == pytest.approx(1.0, abs=1e-4)
    hits = store.query(v, k=3, exclude={"1"})
    assert "1" not in [h for h, _ in hits] and len(hits) == 3
    assert set(store.vectors(["2", "3"])) == {"2", "3"}
    assert np.allclose(np.linalg.norm(store.vectors(["2"])["2"]), 1.0, atol=1e-4)


def test_empty_store_query_is_clear(settings, embedder):
    with pytest.raises(StoreError, match="agent.ingest"):
        open_store(settings, embedder).query(embedder.embed_one("x"), 3)


def legacy_ingest(store, embedder, items):
    """A store as ingest wrote it before metadata version 2: no genre flags, no meta_version."""
    from agent.ingest import content_hash, item_metadata

    docs = [item_document(it) for it in items]
    metas = [{k: v for k, v in item_metadata(it, content_hash(d, embedder.name)).items()
              if k != "meta_version" and not k.startswith("genre_")} for it, d in zip(items, docs, strict=True)]
    store.upsert([it.item_id for it in items], embedder.embed(docs), docs, metas)


def test_old_metadata_is_rewritten_without_embedding_again(settings, embedder):
    from agent.ingest import METADATA_VERSION

    store = open_store(settings, embedder)
    legacy_ingest(store, embedder, SIX_FILMS)
    before = store.vectors(["1", "2"])
    assert not store.any({"genre_horror": True})

    class NoEmbedder(type(embedder)):
        def embed_batch(self, texts):
            raise AssertionError("unchanged content must not be embedded again")

    r = ingest(SIX_FILMS, store, NoEmbedder(), progress=False)
    assert (r.embedded, r.unchanged, r.restamped) == (0, 6, 6)
    meta = store.metadatas()["1"]
    assert meta["meta_version"] == METADATA_VERSION and meta["genre_horror"] is True and meta["runtime"] == 117
    assert all(np.allclose(before[i], store.vectors([i])[i]) for i in before)
    assert store.any({"genre_horror": True}) and not store.any({"meta_version": {"$ne": METADATA_VERSION}})
    assert ingest(SIX_FILMS, store, NoEmbedder(), progress=False).restamped == 0  # idempotent


def test_metadata_only_changes_are_picked_up(settings, embedder):
    store = open_store(settings, embedder)
    ingest(SIX_FILMS, store, embedder, progress=False)
    longer = [Item(**{**it.__dict__, "runtime": 200}) if it.item_id == "4" else it for it in SIX_FILMS]
    r = ingest(longer, store, embedder, progress=False)  # runtime is not in the embedded document
    assert (r.embedded, r.restamped) == (0, 1) and store.metadatas()["4"]["runtime"] == 200
