"""The store at scale on this machine: embedding and Chroma write throughput, 100,000-item
ingestion, and retrieval latency p50/p95 at 10k and 100k items, printed as a table.

    python benchmarks/store_bench.py                         # 100k items, 2,000 of them embedded
    python benchmarks/store_bench.py --n 100000 --embed-n 2000 --queries 40 --out benchmarks/results/store_bench.json

What is measured and what is not (the JSON and the table say the same per row):
  - Items: synthetic films made from the demo catalog's real fields (title + running number,
    overview, tagline, tags, keywords, poster text of one film; random year, runtime and 1-3
    genres), so documents have real length and the metadata filters have real selectivity.
  - Embedding (measured): the default sentence-transformers embedder on the first `--embed-n`
    item documents, batch 64, through `Embedder.embed` as `agent.ingest` calls it.
  - Vectors for the other items are NOT embedded (this CPU embeds tens of documents a second):
    item i gets the real vector of sample item i mod embed-n plus Gaussian noise (norm ~0.35),
    re-normalised. Neighbourhoods are therefore clumpier than a real catalog's.
  - Chroma writes (measured): `ItemStore.upsert` of precomputed vectors + documents + metadata
    (the same metadata and content hash `agent.ingest` writes), 1,000 a batch, into a fresh
    PersistentClient store in a temporary directory, up to `--n` items.
  - 100k ingestion, all embedded: extrapolated from the two measured rates (n / embed rate +
    measured write time); never run here.
  - Re-ingesting the 100k unchanged items (measured): `agent.ingest.ingest` over all of them; it
    reads the stored hashes, finds nothing to embed and writes nothing.
  - Retrieval (measured): `Retriever.retrieve` with a request text, an empty history and k=20,
    the product's path (query embedding + Chroma query with the `where` filter built from the
    constraints, deeper fetches when the filter leaves too few); half of the queries carry a
    genre/runtime/year constraint. Timed after one warm-up query, at 10k and at 100k items; the
    query-embedding share is timed on its own.
Media stages (posters, speech, keyframes) are in benchmarks/media_bench.py. Run it at low priority
on a shared machine (`nice -n 19`); the load average before and after is recorded.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

GENRES = ("Action", "Adventure", "Animation", "Children", "Comedy", "Crime", "Documentary", "Drama", "Fantasy",
          "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller", "War", "Western")
QUERIES = (
    "a tense heist thriller set in Los Angeles", "something funny for a family night", "slow-burn science fiction about memory",
    "a feel-good animated film", "dark crime drama with a detective", "romantic comedy in Paris",
    "space adventure with aliens", "war film about friendship", "a western with a lone gunslinger",
    "spooky but not too scary", "a musical with great songs", "a mystery with a twist ending",
    "documentary about nature", "epic fantasy quest", "courtroom drama", "coming-of-age story",
    "a film about a robot", "gangsters in New York", "survival in the wilderness", "a political thriller",
)


def constraints_for(i: int):
    """Every other query carries a filter the store must apply (genre, runtime, year)."""
    from agent.constraints import Constraints

    return [
        None,
        Constraints(exclude_genres=frozenset({"Horror"}), max_runtime=120),
        None,
        Constraints(include_genres=frozenset({"Comedy", "Animation"})),
        None,
        Constraints(year_min=1990, year_max=2005),
    ][i % 6]


def synthetic_items(n: int, seed: int = 0):
    """n films built from the demo catalog's real text fields (see the module docstring)."""
    import dataclasses

    from agent.catalog import load_catalog
    from agent.config import Settings

    s = Settings()
    demo = [it for it in load_catalog(s.catalog, s.tmdb, s.media) if it.overview]
    rng = random.Random(seed)
    out = []
    for i in range(n):
        base, other = demo[i % len(demo)], demo[(i * 7919 + 13) % len(demo)]
        out.append(dataclasses.replace(
            base, item_id=f"s{i}", title=f"{base.title} {i // len(demo) + 1}" if i >= len(demo) else base.title,
            year=rng.randint(1920, 2025), runtime=rng.randint(70, 190),
            genres=tuple(sorted(rng.sample(GENRES, rng.randint(1, 3)))),
            tagline=other.tagline, keywords=other.keywords))
    return out


def percentiles(xs: list[float]) -> tuple[float, float]:
    return float(np.percentile(xs, 50) * 1000), float(np.percentile(xs, 95) * 1000)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=100_000, help="items in the store at the end")
    ap.add_argument("--embed-n", type=int, default=2_000, help="items really embedded (the rest reuse their vectors)")
    ap.add_argument("--queries", type=int, default=40, help="timed retrievals at each size")
    ap.add_argument("--at", default="10000", help="also time retrieval at these sizes (comma list), besides --n")
    ap.add_argument("--batch", type=int, default=1000, help="items per Chroma upsert")
    ap.add_argument("--out", type=Path, help="write the results as JSON")
    args = ap.parse_args(argv)

    from agent.config import Settings
    from agent.embedding import load_embedder
    from agent.ingest import content_hash, ingest, item_document, item_metadata
    from agent.retrieval import Retriever
    from agent.store import ItemStore
    from agent.types import UserHistory

    load_before = os.getloadavg()
    rows: list[dict] = []

    def add(stage: str, value: str, how: str, **numbers) -> None:
        rows.append({"stage": stage, "value": value, "how": how, **numbers})
        print(f"  {stage}: {value} ({how})", file=sys.stderr, flush=True)

    t0 = time.perf_counter()
    settings = Settings()
    items = synthetic_items(args.n)
    docs = [item_document(it) for it in items]
    words = float(np.mean([len(d.split()) for d in docs[: args.embed_n]]))
    print(f"[store_bench] {len(items)} synthetic items built in {time.perf_counter() - t0:.1f} s "
          f"(documents: {words:.0f} words on average)", file=sys.stderr, flush=True)

    emb = load_embedder(settings.embedder)
    emb.embed(docs[:64])  # warm-up
    t, c = time.perf_counter(), time.process_time()
    sample = emb.embed(docs[: args.embed_n], batch_size=64)
    embed_s, embed_cpu = time.perf_counter() - t, time.process_time() - c
    embed_rate = args.embed_n / embed_s
    add("embed item documents", f"{embed_rate:.1f} items/s", f"measured: {args.embed_n} documents, {emb.name}, batch 64; "
        f"{args.embed_n / embed_cpu:.1f} items per CPU-second", items=args.embed_n, seconds=round(embed_s, 1),
        cpu_seconds=round(embed_cpu, 1), per_s=round(embed_rate, 2))

    rng = np.random.default_rng(0)
    sizes = sorted({int(x) for x in args.at.split(",") if x} | {args.n})
    latency: dict[int, dict] = {}
    write_s = write_cpu = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        store = ItemStore.open(path=Path(tmp) / "chroma", collection="bench", embedder=emb.name, dim=emb.dim)
        done = 0
        by_id = {it.item_id: it for it in items}
        for size in sizes:
            while done < size:
                hi = min(size, done + args.batch)
                idx = np.arange(done, hi)
                vecs = sample[idx % args.embed_n].copy()
                extra = idx >= args.embed_n  # only items past the sample are perturbed copies
                vecs[extra] += rng.normal(0, 0.35 / np.sqrt(emb.dim), (int(extra.sum()), emb.dim)).astype(np.float32)
                vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
                metas = [item_metadata(items[i], content_hash(docs[i], emb.name)) for i in idx]
                t, c = time.perf_counter(), time.process_time()
                store.upsert([items[i].item_id for i in idx], vecs, [docs[i] for i in idx], metas)
                write_s += time.perf_counter() - t
                write_cpu += time.process_time() - c
                done = hi
            print(f"[store_bench] {done} items written ({write_s:.0f} s of writes)", file=sys.stderr, flush=True)
            r = Retriever(store, emb, {i: by_id[i] for i in (it.item_id for it in items[:size])})
            empty = UserHistory(None)
            r.retrieve(QUERIES[0], empty, 20)  # warm-up (and the one-off `filterable` check)
            total, embed_only, filtered, plain = [], [], [], []
            for q in range(args.queries):
                text, c = QUERIES[q % len(QUERIES)], constraints_for(q)
                t = time.perf_counter()
                got = r.retrieve(text, empty, 20, constraints=c)
                dt = time.perf_counter() - t
                assert len(got) == 20 and (c is None or all(c.allows(x.item) for x in got))
                total.append(dt)
                (plain if c is None else filtered).append(dt)
                t = time.perf_counter()
                emb.embed_one(text)
                embed_only.append(time.perf_counter() - t)
            kinds = {"all": total, "no filter": plain, "filtered": filtered, "query embedding": embed_only}
            latency[size] = {kind: percentiles(xs) for kind, xs in kinds.items()}
            for kind, (p50, p95) in latency[size].items():
                add(f"retrieve, {size:,} items, {kind}", f"p50 {p50:.0f} ms / p95 {p95:.0f} ms",
                    f"measured: {len(kinds[kind])} queries", items=size, p50_ms=round(p50, 1), p95_ms=round(p95, 1))
        write_rate = args.n / write_s
        add("Chroma writes, precomputed vectors", f"{write_rate:.0f} items/s",
            f"measured: {args.n:,} items, ItemStore.upsert, {args.batch} a batch; {args.n / write_cpu:.0f} items per "
            "CPU-second of this process (Chroma's Rust threads included)", items=args.n,
            seconds=round(write_s, 1), cpu_seconds=round(write_cpu, 1), per_s=round(write_rate, 1))
        t = time.perf_counter()
        rep = ingest(items, store, emb, progress=False)
        reingest_s = time.perf_counter() - t
        assert rep.embedded == 0 and rep.unchanged == args.n, rep
        add(f"re-ingest {args.n:,} unchanged items", f"{reingest_s:.1f} s",
            "measured: agent.ingest.ingest, nothing to embed", items=args.n, seconds=round(reingest_s, 1))
        full = args.n / embed_rate + write_s
        add(f"ingest {args.n:,} items, all embedded", f"~{full / 60:.0f} min",
            f"extrapolated: {args.n:,} / {embed_rate:.1f} items/s embedding + {write_s:.0f} s measured writes",
            items=args.n, seconds=round(full))
        disk = sum(f.stat().st_size for f in Path(tmp).rglob("*") if f.is_file())
        add(f"store on disk, {args.n:,} items", f"{disk / 2**20:.0f} MiB", "measured", items=args.n, bytes=disk)

    cpu = f"{os.cpu_count()} cores, {platform.machine()}"
    load = f"load average {load_before[0]:.1f} before, {os.getloadavg()[0]:.1f} after"
    print(f"\nStore at scale on this machine ({cpu}; {load}; total {time.perf_counter() - t0:.0f} s)\n")
    print("| stage | result | how |\n|---|---|---|")
    for row in rows:
        print(f"| {row['stage']} | {row['value']} | {row['how']} |")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"machine": cpu, "load": load, "embedder": emb.name, "n": args.n,
                                        "embed_n": args.embed_n, "mean_words": round(words, 1),
                                        "seconds": round(time.perf_counter() - t0), "rows": rows}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
