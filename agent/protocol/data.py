"""Data sets and the ranking protocol (LlamaRec's, so numbers compare with the literature).

    ds = resolve_dataset("movielens-small" | <MovieLens CSV dir> | <ML-100K dir> | <ML-1M dir>
                         | <catalog.jsonl> [interactions=<log>] | <dir with catalog.jsonl + interactions.*>
                         | <bare log .csv/.jsonl>)
    events = load_events(ds)  -> list[(user, item, rating, timestamp)]
    split = leave_last_two(events, min_count=5)
      split.train[u]   items before the validation target, in order
      split.val[u]     second-last item;  split.test[u]  last item

Protocol: min rating 0 (every rating counts), iterative 5-core filter on users and items,
per-user order by (timestamp, item id), last = test, second last = validation, the rest = train.
On ml-latest-small this gives 610 users, 3,650 items, 90,274 interactions.

A data set names its interaction log and, when it has one, the catalog that agent.catalog reads
(MovieLens folder, ML-100K / ML-1M folder, JSONL file). A bare log has no catalog: only the
collaborative baselines can run on it. Left out: rating thresholds (every event counts).
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "data" / "demo"
NAMED = {"movielens-small": DEMO / "movielens-small"}
PAIR_LOGS = ("interactions.jsonl", "interactions.csv", "ratings.csv")  # beside a catalog.jsonl

Event = tuple[str, str, float | None, int]


def _key(item: str):
    return (0, int(item), "") if item.isdigit() else (1, 0, item)


@dataclass(frozen=True)
class Dataset:
    """Where a data set's log and catalog are. `name` is what the user typed."""

    name: str
    interactions: Path
    catalog: Path | None = None  # None: a bare log (no titles, no embeddings)
    tmdb: Path | None = None  # the demo's TMDB facts, MovieLens ids only

    @property
    def is_demo(self) -> bool:
        return self.catalog is not None and self.catalog.resolve() == NAMED["movielens-small"].resolve()


HELP = ("give movielens-small, a MovieLens CSV folder (movies.csv + ratings.csv), a MovieLens 100K folder "
        "(u.data + u.item), a MovieLens 1M folder (ratings.dat + movies.dat), a catalog .jsonl with "
        "--interactions LOG, a folder holding catalog.jsonl and interactions.jsonl|csv, or a CSV/JSONL log")


def resolve_dataset(name_or_path: str | Path, interactions: str | Path | None = None) -> Dataset:
    """The data set behind a name or path (see the module docstring); FileNotFoundError says what is accepted."""
    name = str(name_or_path)
    p = NAMED.get(name, Path(name_or_path).expanduser())
    if not p.exists():
        raise FileNotFoundError(f"data {name!r} not found: {HELP}")
    log = Path(interactions).expanduser() if interactions else None
    if log is not None and not log.exists():
        raise FileNotFoundError(f"interaction log {str(log)!r} not found")
    if p.is_dir():
        for catalog_file, log_file in (("movies.csv", "ratings.csv"), ("u.item", "u.data"), ("movies.dat", "ratings.dat")):
            if (p / log_file).exists() or log is not None:
                if (p / catalog_file).exists():
                    tmdb = DEMO / "tmdb" / "tmdb_movielens.jsonl" if name in NAMED else None
                    return Dataset(name, log or p / log_file, p, tmdb if tmdb and tmdb.exists() else None)
        if (p / "catalog.jsonl").exists():
            found = [p / n for n in PAIR_LOGS if (p / n).exists()]
            if log is None and not found:
                raise FileNotFoundError(f"{p} has catalog.jsonl but no {' or '.join(PAIR_LOGS)}: pass --interactions LOG")
            return Dataset(name, log or found[0], p / "catalog.jsonl")
        if (p / "u.data").exists() or (p / "ratings.dat").exists() or (p / "ratings.csv").exists():
            f = next(p / n for n in ("ratings.csv", "u.data", "ratings.dat") if (p / n).exists())
            return Dataset(name, f, None)  # a log without its catalog file
        raise FileNotFoundError(f"{p} holds no data set the evals can read: {HELP}")
    if p.suffix == ".jsonl" and log is not None:
        return Dataset(name, log, p)
    if p.suffix == ".jsonl" and _looks_like_catalog(p):
        raise FileNotFoundError(f"{p} is a catalog: pass its interaction log with --interactions LOG")
    return Dataset(name, p, None)  # a bare log


def _looks_like_catalog(path: Path) -> bool:
    """First object has an `id` and a `title` (a catalog line), not user/item ids (a log line)."""
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError:
                    return False
                return isinstance(obj, dict) and "title" in obj and "id" in obj
    return False


def resolve_data(name_or_path: str) -> Path:
    """The path behind a name (kept for callers of the older API)."""
    ds = resolve_dataset(name_or_path)
    return ds.catalog if ds.catalog is not None and ds.catalog.is_dir() else ds.interactions


def load_events(data: str | Path | Dataset) -> list[Event]:
    """Every event of the data set's log, as (user, item, rating or None, timestamp)."""
    from agent.catalog import load_interactions

    ds = data if isinstance(data, Dataset) else resolve_dataset(data)
    return [(x.user_id, x.item_id, x.rating, x.timestamp) for x in load_interactions(ds.interactions)]


def k_core(events: list[Event], k: int = 5) -> list[Event]:
    """Drop users and items with fewer than k events, repeatedly, until stable."""
    while True:
        uc = Counter(e[0] for e in events)
        ic = Counter(e[1] for e in events)
        kept = [e for e in events if uc[e[0]] >= k and ic[e[1]] >= k]
        if len(kept) == len(events):
            return kept
        events = kept


@dataclass
class Split:
    train: dict[str, list[str]]
    val: dict[str, str]
    test: dict[str, str]
    items: list[str]  # every item in the filtered data, sorted
    checksum: str = ""
    stats: dict = field(default_factory=dict)

    def fit_sequences(self, target: str) -> dict[str, list[str]]:
        """What a model may learn from when scoring `target`: every user's items before it.
        (Fitting on train+val for the test target reproduces the reference popularity and
        EASE figures exactly.)"""
        return {u: self.history(u, target) for u in self.train}

    def history(self, user: str, target: str) -> list[str]:
        """Every item of `user` before `target` ('val' or 'test'), oldest first."""
        return list(self.train[user]) if target == "val" else [*self.train[user], self.val[user]]


def leave_last_two(events: list[Event], min_count: int = 5) -> Split:
    events = k_core(events, min_count)
    if not events:
        raise ValueError(f"no user and item has {min_count} events: the log is too small for the protocol")
    per_user: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for u, i, _, t in events:
        per_user[u].append((t, i))
    train, val, test = {}, {}, {}
    for u, seq in per_user.items():
        seq.sort(key=lambda x: (x[0], _key(x[1])))
        items = [i for _, i in seq]
        train[u], val[u], test[u] = items[:-2], items[-2], items[-1]
    items = sorted({e[1] for e in events}, key=_key)
    h = hashlib.sha256(json.dumps(sorted((e[0], e[1], e[3]) for e in events)).encode()).hexdigest()
    return Split(train, val, test, items, h[:16],
                 {"users": len(per_user), "items": len(items), "interactions": len(events)})


def load_item_titles(name_or_path: str | Dataset) -> dict[str, str]:
    """item id -> title when the data has a catalog (movies.csv, u.item, movies.dat, JSONL); else {}."""
    ds = name_or_path if isinstance(name_or_path, Dataset) else resolve_dataset(name_or_path)
    p = ds.catalog
    if p is None:
        return {}
    if p.is_dir() and (p / "movies.csv").exists():
        with open(p / "movies.csv", newline="", encoding="utf-8") as f:
            return {r["movieId"]: r["title"] for r in csv.DictReader(f)}
    if p.is_dir() and (p / "u.item").exists():
        out = {}
        for line in open(p / "u.item", encoding="latin-1"):
            parts = line.split("|")
            if len(parts) > 2:
                out[parts[0]] = parts[1]
        return out
    from agent.catalog import load_catalog

    return {it.item_id: it.label for it in load_catalog(p, media=[])}
