"""Catalog -> embeddings -> Chroma. Idempotent by content hash, resumable, with progress.

    python -m agent.ingest                     # the demo catalog into the default store
    python -m agent.ingest --catalog my.jsonl --collection mine
    python -m agent.ingest --rebuild           # drop the collection and embed everything again
    python -m agent.ingest --catalog my.jsonl --collection auto   # named by content hash (collection_name)

Each item becomes one document (title, year, genres, tagline, overview, tags, keywords, media
text). Its sha256 together with the embedder name is stored as `content_hash`; a re-run embeds
only new or changed items. Metadata (year, runtime, one `genre_<name>` flag per genre, for the
`where` filters of agent/retrieval) carries `meta_version`; an item whose stored metadata is
older or differs only gets its metadata rewritten, without embedding again. Batches are
committed as they finish, so an interrupted run resumes where it stopped. Items no longer in
the catalog are reported, and deleted only with --prune.
Derived media text (agent/media) arrives on the items already, marked by modality ("Poster text:
...", "Trailer says: ..."); metadata `modalities` lists which an item has, e.g. "|poster_text|poster_looks|"
("" when none). Left out: running the media engines (`python -m agent.media` does that before this stage).

With MARQUEE_MEDIA_VECTORS=1, `ingest_media` also embeds each media text on its own ("Poster text:
TOY STORY") into `<collection>-media`, one record per (item, modality) with the item's filterable
metadata; retrieval then takes an item's best similarity over its document and its media texts.
Failures: media errors never reach this stage (agent/media records them; the catalog attaches only
the texts that were derived, so an item whose poster failed is ingested with the modalities that
worked). Each batch is embedded first and written in one upsert after, so an embedding failure
(or an interruption) leaves no partial item: a batch is in the store whole or not at all, and the
next run does the rest.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import sys
from dataclasses import dataclass

from agent.config import Settings
from agent.embedding import Embedder, load_embedder
from agent.media.records import modality_keys
from agent.store import ItemStore
from agent.types import Item


def item_document(item: Item) -> str:
    """The text that is embedded for an item (also shown by `ingest --show ID`)."""
    parts = [item.label + "."]
    if item.genres:
        parts.append("Genres: " + ", ".join(item.genres) + ".")
    if item.tagline:
        parts.append(item.tagline)
    if item.overview:
        parts.append(item.overview)
    if item.tags:
        parts.append("Tags: " + ", ".join(item.tags) + ".")
    if item.keywords:
        parts.append("Keywords: " + ", ".join(item.keywords) + ".")
    for label, text in item.media_text:
        parts.append(f"{label}: {text.rstrip('.')}.")
    return " ".join(parts)


# 2: genre flags and meta_version (Chroma's metadata `$contains` does not match inside strings)
METADATA_VERSION = 2


def genre_flag(genre: str) -> str:
    """The metadata key flagging a genre, filterable with `{key: True}` / `{key: {"$ne": True}}`.

    >>> genre_flag("Sci-Fi"), genre_flag("Film-Noir")
    ('genre_sci_fi', 'genre_film_noir')
    """
    return "genre_" + re.sub(r"[^a-z0-9]+", "_", genre.lower()).strip("_")


def item_metadata(item: Item, content_hash: str) -> dict:
    meta = {
        "item_id": item.item_id,
        "title": item.title,
        "year": item.year,
        "runtime": item.runtime,
        "genres": "|" + "|".join(item.genres) + "|" if item.genres else "",  # for reading; not filterable
        "content_hash": content_hash,
        "meta_version": METADATA_VERSION,
        "modalities": "|" + "|".join(modality_keys(item.media_text)) + "|" if item.media_text else "",
    }
    meta.update({genre_flag(g): True for g in item.genres})
    return meta


def _stale(stored: dict, meta: dict) -> bool:
    return any(stored.get(k) != v for k, v in meta.items() if v is not None)


def content_hash(document: str, embedder_name: str) -> str:
    return hashlib.sha256(f"{embedder_name}\n{document}".encode()).hexdigest()


@dataclass
class IngestReport:
    total: int
    embedded: int
    unchanged: int
    stale: int  # in the store but not in the catalog
    pruned: int
    restamped: int = 0  # unchanged content whose metadata was rewritten (no embedding)


def ingest(
    items: list[Item],
    store: ItemStore,
    embedder: Embedder,
    *,
    batch_size: int = 256,
    prune: bool = False,
    progress: bool = True,
) -> IngestReport:
    stored = store.metadatas()
    docs = {it.item_id: item_document(it) for it in items}
    hashes = {i: content_hash(d, embedder.name) for i, d in docs.items()}
    todo = [it for it in items if stored.get(it.item_id, {}).get("content_hash") != hashes[it.item_id]]
    fresh = {it.item_id for it in todo}
    restamp = [it for it in items
               if it.item_id not in fresh and _stale(stored[it.item_id], item_metadata(it, hashes[it.item_id]))]
    for start in range(0, len(restamp), 1000):
        batch = restamp[start : start + 1000]
        store.update_metadata([it.item_id for it in batch], [item_metadata(it, hashes[it.item_id]) for it in batch])
    stale = set(stored) - set(docs)
    bar = None
    if progress and todo:
        from tqdm import tqdm

        bar = tqdm(total=len(todo), desc="ingest", unit="item", file=sys.stderr)
    for start in range(0, len(todo), batch_size):
        batch = todo[start : start + batch_size]
        texts = [docs[it.item_id] for it in batch]
        vecs = embedder.embed(texts, batch_size=min(64, batch_size))
        store.upsert(
            [it.item_id for it in batch],
            vecs,
            texts,
            [item_metadata(it, hashes[it.item_id]) for it in batch],
        )
        if bar:
            bar.update(len(batch))
    if bar:
        bar.close()
    pruned = 0
    if prune and stale:
        store.delete(stale)
        pruned = len(stale)
    return IngestReport(len(items), len(todo), len(items) - len(todo), len(stale), pruned, len(restamp))


def media_records(item: Item) -> list[tuple[str, str, str]]:
    """(record id, modality key, text) per media text of an item, for the per-media collection.

    >>> media_records(Item("7", "Heat", media_text=(("Poster text", "HEAT"), ("Trailer says", "Nobody leaves."))))
    [('7#poster_text', 'poster_text', 'Poster text: HEAT'), ('7#trailer_says', 'trailer_says', 'Trailer says: Nobody leaves.')]
    """
    keys = modality_keys(item.media_text)
    pairs = zip(keys, item.media_text, strict=True)
    return [(f"{item.item_id}#{key}", key, f"{label}: {text}") for key, (label, text) in pairs]


def ingest_media(
    items: list[Item],
    store: ItemStore,
    embedder: Embedder,
    *,
    batch_size: int = 256,
    prune: bool = False,
    progress: bool = True,
) -> IngestReport:
    """Embed each item's media texts into the per-media collection `store` (see the module
    docstring); idempotent by content hash like `ingest`. A modality an item no longer has is
    deleted; records of items missing from the catalog are deleted only with `prune`.
    Counts are of media records, not items."""
    stored = store.metadatas()
    records = {}  # record id -> (item, modality key, text, hash, metadata)
    for it in items:
        for rid, key, text in media_records(it):
            h = content_hash(text, embedder.name)
            records[rid] = (it, text, {**item_metadata(it, h), "modality": key})
    todo = [rid for rid, (_, _, meta) in records.items()
            if stored.get(rid, {}).get("content_hash") != meta["content_hash"]]
    fresh = set(todo)
    restamp = [rid for rid, (_, _, meta) in records.items() if rid not in fresh and _stale(stored[rid], meta)]
    for start in range(0, len(restamp), 1000):
        batch = restamp[start : start + 1000]
        store.update_metadata(batch, [records[r][2] for r in batch])
    in_catalog = {it.item_id for it in items}
    gone = set(stored) - set(records)
    dropped = {r for r in gone if str(stored[r].get("item_id")) in in_catalog}  # the item lost this modality
    stale = gone - dropped
    bar = None
    if progress and todo:
        from tqdm import tqdm

        bar = tqdm(total=len(todo), desc="ingest media vectors", unit="text", file=sys.stderr)
    for start in range(0, len(todo), batch_size):
        batch = todo[start : start + batch_size]
        texts = [records[r][1] for r in batch]
        vecs = embedder.embed(texts, batch_size=min(64, batch_size))
        store.upsert(batch, vecs, texts, [records[r][2] for r in batch])
        if bar:
            bar.update(len(batch))
    if bar:
        bar.close()
    store.delete(dropped | (stale if prune else set()))
    return IngestReport(len(records), len(todo), len(records) - len(todo), len(stale), len(stale) if prune else 0,
                        len(restamp))


def collection_name(items: list[Item], embedder_name: str, prefix: str = "marquee") -> str:
    """A collection named by the catalog's content: the same documents and embedder give the same
    name, so a rerun reuses it and a changed catalog gets its own.

    >>> a = collection_name([Item("1", "Heat", year=1995)], "e")
    >>> a == collection_name([Item("1", "Heat", year=1995)], "e"), a == collection_name([Item("1", "Heat")], "e")
    (True, False)
    >>> len(a), a.startswith("marquee-")
    (20, True)
    """
    h = hashlib.sha256(embedder_name.encode())
    for it in sorted(items, key=lambda it: it.item_id):
        h.update(f"\n{it.item_id}\t{item_document(it)}".encode())
    return f"{prefix}-{h.hexdigest()[:12]}"


def media_collection(collection: str) -> str:
    """The per-media collection beside an item collection."""
    return f"{collection}-media"


def open_store(settings: Settings, embedder: Embedder | None = None, *, create: bool = True,
               media: bool = False) -> ItemStore:
    """The item collection, or with `media` its per-media collection."""
    return ItemStore.open(
        path=settings.chroma_dir,
        url=settings.chroma_url,
        collection=media_collection(settings.collection) if media else settings.collection,
        embedder=embedder.name if embedder else "",
        dim=embedder.dim if embedder else 0,
        create=create,
    )


def main(argv: list[str] | None = None) -> int:
    from agent.catalog import load_catalog

    ap = argparse.ArgumentParser(prog="python -m agent.ingest", description="embed a catalog into Chroma")
    ap.add_argument("--catalog", help="MovieLens directory or JSONL file (default: the demo)")
    ap.add_argument("--tmdb", help="TMDB JSONL keyed by movieId (MovieLens catalogs)")
    ap.add_argument("--collection", help="collection name; 'auto': named by the catalog's content hash "
                    "(the default when --catalog is given)")
    ap.add_argument("--chroma-path")
    ap.add_argument("--chroma-url")
    ap.add_argument("--embedder")
    ap.add_argument("--limit", type=int, help="ingest only the first N items (smoke tests)")
    ap.add_argument("--prune", action="store_true", help="delete stored items missing from the catalog")
    ap.add_argument("--rebuild", action="store_true", help="drop the collection first")
    ap.add_argument("--show", metavar="ITEM_ID", help="print one item's document and exit")
    args = ap.parse_args(argv)
    overrides = {k: v for k, v in {
        "catalog": args.catalog, "collection": args.collection, "chroma_path": args.chroma_path,
        "chroma_url": args.chroma_url, "embedder": args.embedder,
    }.items() if v}
    if args.catalog:
        overrides["tmdb"] = args.tmdb  # a user's catalog does not get the demo's TMDB file
    auto = args.collection == "auto" or (args.catalog and not args.collection)
    if auto:
        overrides.pop("collection", None)
    settings = Settings(**overrides)
    items = load_catalog(settings.catalog, settings.tmdb, settings.media)
    if auto:
        settings = settings.model_copy(update={"collection": collection_name(items, settings.embedder)})
    if args.show:
        hits = [it for it in items if it.item_id == args.show]
        print(item_document(hits[0]) if hits else f"no item {args.show!r}")
        return 0 if hits else 1
    if args.limit:
        items = items[: args.limit]
    embedder = load_embedder(settings.embedder)
    if args.rebuild:
        open_store(settings, embedder).drop()
        if settings.media_vectors:
            open_store(settings, embedder, media=True).drop()
    store = open_store(settings, embedder)
    r = ingest(items, store, embedder, prune=args.prune)
    if settings.media_vectors:
        media_store = open_store(settings, embedder, media=True)
        m = ingest_media(items, media_store, embedder, prune=args.prune)
        print(f"[ingest] media vectors: {m.total} media texts, {m.embedded} embedded, {m.unchanged} unchanged; "
              f"collection {media_collection(settings.collection)!r} now holds {media_store.count()}")
    print(
        f"[ingest] {r.total} items: {r.embedded} embedded, {r.unchanged} unchanged"
        f"{f' ({r.restamped} with metadata rewritten)' if r.restamped else ''}, "
        f"{r.stale} stale{' (pruned)' if r.pruned else ' (kept; --prune deletes them)' if r.stale else ''}; "
        f"collection {settings.collection!r} now holds {store.count()}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
