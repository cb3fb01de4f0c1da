"""The only module that imports chromadb: the item collection (vectors + documents + metadata).

    ItemStore.open(settings, embedder_name, dim)
    store.upsert(ids, vectors, documents, metadatas)     # idempotent by id
    store.hashes()                                       # item_id -> content hash already stored
    store.metadatas()                                    # item_id -> stored metadata
    store.update_metadata(ids, metadatas)                # metadata only; vectors stay
    store.any(where)                                     # does any item match a metadata filter?
    store.query(vector, k, exclude={...}, where=None)    # [(item_id, similarity)], best first
    store.vectors(ids)                                   # item_id -> stored vector
    media.query_items(vector, k, exclude, where)         # per-media collection: best (item_id, similarity)

Embedded PersistentClient on disk by default; HttpClient when `chroma_url` is set (a Chroma
server, for scale). Embeddings are always passed in: Chroma's default embedding function would
download a model at first use and fails offline. Cosine space; similarity = 1 - distance.
The optional per-media collection (`<collection>-media`, agent.ingest.ingest_media) holds one
record per derived media text, id "<item_id>#<modality>", with the item's filterable metadata.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from urllib.parse import urlparse

import numpy as np

from agent.errors import StoreError

_PAGE = 5000


class ItemStore:
    def __init__(self, collection, client):
        self._col = collection
        self._client = client

    @classmethod
    def open(
        cls,
        *,
        path=None,
        url: str | None = None,
        collection: str = "marquee-demo",
        embedder: str = "",
        dim: int = 0,
        create: bool = True,
    ) -> ItemStore:
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
        try:
            if url:
                u = urlparse(url)
                client = chromadb.HttpClient(
                    host=u.hostname or "127.0.0.1",
                    port=u.port or (443 if u.scheme == "https" else 8000),
                    ssl=u.scheme == "https",
                    settings=chroma_settings,
                )
            else:
                client = chromadb.PersistentClient(path=str(path), settings=chroma_settings)
        except Exception as e:
            where = url or path
            raise StoreError(f"cannot open the Chroma store at {where}: {type(e).__name__}: {e}") from e
        meta = {"hnsw:space": "cosine", "embedder": embedder, "dim": dim}
        try:
            if create:
                col = client.get_or_create_collection(collection, metadata=meta)
            else:
                col = client.get_collection(collection)
        except Exception as e:
            raise StoreError(
                f"Chroma collection {collection!r} is not available ({type(e).__name__}: {e}); "
                "run `python -m agent.ingest` to build it"
            ) from e
        stored = col.metadata or {}
        if embedder and stored.get("embedder") not in (None, embedder):
            raise StoreError(
                f"collection {collection!r} was built with embedder {stored.get('embedder')!r}, not {embedder!r}: "
                "re-ingest into a new collection (MARQUEE_COLLECTION) or run `python -m agent.ingest --rebuild`"
            )
        return cls(col, client)

    def drop(self) -> None:
        """Delete the whole collection (used by `ingest --rebuild`)."""
        self._client.delete_collection(self._col.name)

    def count(self) -> int:
        return self._col.count()

    def hashes(self) -> dict[str, str]:
        """item_id -> content_hash for everything stored."""
        return {i: m.get("content_hash", "") for i, m in self.metadatas().items()}

    def metadatas(self) -> dict[str, dict]:
        """item_id -> metadata for everything stored (paged, so large collections work)."""
        out: dict[str, dict] = {}
        offset = 0
        while True:
            page = self._col.get(include=["metadatas"], limit=_PAGE, offset=offset)
            for i, m in zip(page["ids"], page["metadatas"], strict=True):
                out[i] = dict(m or {})
            if len(page["ids"]) < _PAGE:
                return out
            offset += _PAGE

    def update_metadata(self, ids: list[str], metadatas: list[Mapping]) -> None:
        """Rewrite metadata in place (keys are merged); embeddings and documents are untouched."""
        if ids:
            self._col.update(ids=ids, metadatas=[{k: v for k, v in m.items() if v is not None} for m in metadatas])

    def any(self, where: dict) -> bool:
        return bool(self._col.get(where=where, limit=1, include=[])["ids"])

    def upsert(self, ids: list[str], vectors: np.ndarray, documents: list[str], metadatas: list[Mapping]) -> None:
        if not ids:
            return
        clean = [{k: v for k, v in m.items() if v is not None} for m in metadatas]
        self._col.upsert(ids=ids, embeddings=vectors.tolist(), documents=documents, metadatas=clean)

    def delete(self, ids: Iterable[str]) -> None:
        ids = list(ids)
        if ids:
            self._col.delete(ids=ids)

    def vectors(self, ids: Iterable[str]) -> dict[str, np.ndarray]:
        ids = list(dict.fromkeys(ids))
        if not ids:
            return {}
        got = self._col.get(ids=ids, include=["embeddings"])
        return {i: np.asarray(v, dtype=np.float32) for i, v in zip(got["ids"], got["embeddings"], strict=True)}

    def query(
        self,
        vector: np.ndarray,
        k: int,
        exclude: Iterable[str] = (),
        where: dict | None = None,
    ) -> list[tuple[str, float]]:
        """Top-k (item_id, cosine similarity), never an excluded id."""
        exclude = set(exclude)
        total = self.count()
        if total == 0:
            raise StoreError("the item collection is empty: run `python -m agent.ingest`")
        # Over-fetch by the number of excluded ids so the filter still leaves k; Chroma's own
        # $nin on ids is not available, and a metadata $nin over thousands of ids is slower.
        n = min(total, k + len(exclude))
        res = self._col.query(query_embeddings=[vector.tolist()], n_results=n, where=where, include=["distances"])
        out = []
        for i, d in zip(res["ids"][0], res["distances"][0], strict=True):
            if i not in exclude:
                out.append((i, 1.0 - float(d)))
                if len(out) == k:
                    break
        return out

    def query_items(
        self,
        vector: np.ndarray,
        k: int,
        exclude: Iterable[str] = (),
        where: dict | None = None,
    ) -> list[tuple[str, float]]:
        """For a per-media collection: the top-k items by their best-matching media text, as
        (item_id, cosine similarity), never an excluded item. [] when the collection is empty."""
        exclude = set(exclude)
        total = self.count()
        if total == 0:
            return []
        # an item has a few media records (poster text, looks, trailer speech...): over-fetch for them
        n = min(total, 3 * (k + len(exclude)))
        res = self._col.query(query_embeddings=[vector.tolist()], n_results=n, where=where,
                              include=["distances", "metadatas"])
        best: dict[str, float] = {}
        for m, d in zip(res["metadatas"][0], res["distances"][0], strict=True):
            item_id = str((m or {}).get("item_id", ""))
            if item_id and item_id not in exclude and item_id not in best:  # results come best first
                best[item_id] = 1.0 - float(d)
                if len(best) == k:
                    break
        return list(best.items())
