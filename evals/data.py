"""Interaction data for the ranking protocol (LlamaRec's, so numbers compare with the literature).

    load_events("movielens-small" | <MovieLens CSV dir> | <ML-100K dir with u.data> | <file.csv/.jsonl>)
      -> list[(user, item, rating, timestamp)]
    split = leave_last_two(events, min_count=5)
      split.train[u]   items before the validation target, in order
      split.val[u]     second-last item;  split.test[u]  last item

Protocol: min rating 0 (every rating counts), iterative 5-core filter on users and items,
per-user order by (timestamp, item id), last = test, second last = validation, the rest = train.
On ml-latest-small this gives 610 users, 3,650 items, 90,274 interactions.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
NAMED = {"movielens-small": REPO / "data" / "demo" / "movielens-small"}

Event = tuple[str, str, float | None, int]


def _key(item: str):
    return (0, int(item), "") if item.isdigit() else (1, 0, item)


def resolve_data(name_or_path: str) -> Path:
    p = NAMED.get(name_or_path, Path(name_or_path))
    if not p.exists():
        raise FileNotFoundError(f"data {name_or_path!r} not found: give movielens-small, a MovieLens CSV folder, "
                                "a MovieLens 100K folder (u.data) or a CSV/JSONL interaction file")
    return p


def load_events(name_or_path: str) -> list[Event]:
    p = resolve_data(name_or_path)
    if p.is_dir() and (p / "ratings.csv").exists():
        p = p / "ratings.csv"
    elif p.is_dir() and (p / "u.data").exists():
        out = []
        for line in open(p / "u.data", encoding="latin-1"):
            if line.strip():
                u, i, r, t = line.split("\t")
                out.append((u, i, float(r), int(t)))
        return out
    elif p.is_dir():
        raise FileNotFoundError(f"{p} has neither ratings.csv nor u.data")
    from agent.catalog import load_interactions

    return [(x.user_id, x.item_id, x.rating, x.timestamp) for x in load_interactions(p)]


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


def load_item_titles(name_or_path: str) -> dict[str, str]:
    """item id -> title when the data has a catalog (movies.csv or u.item); else {}."""
    p = resolve_data(name_or_path)
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
    return {}
