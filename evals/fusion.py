"""Choosing the fused retriever's RRF weights on a data set's validation split.

    rows, best = tune_fusion(split, users, settings)      # every grid point's val NDCG@10 / Recall@10
    python -m evals.run --data D --tune-retriever          # the same, written beside D's collection

Each user's ranked lists are computed once, by the served code (agent.retrieval.Retriever.lists
with every list switched on: history vector, co-occurrence, transitions, and the trained SASRec
when the collection has one); each grid point is then the weighted reciprocal-rank fusion of
those lists (Retriever.retrieve's formula: sum of w / (rrf_k + rank), ties by item id), scored
by the rank of the validation item alone, so the whole grid costs about one retriever pass.
RRF is invariant to scaling all weights, so the co-occurrence weight is 1 or 0 and the others move.
The RRF constant stays at its setting unless `rrf_ks` names several (each is the same lists fused
again: about free). Left out: the request-text list (the protocol has no request).
"""

from __future__ import annotations

import itertools
import math

import numpy as np
from tqdm import tqdm

GRID = {"history": (0.0, 0.25, 0.5, 1.0), "collab": (0.0, 1.0), "sequence": (0.0, 0.5, 1.0, 2.0),
        "sasrec": (0.0, 0.5, 1.0, 2.0, 4.0, 8.0)}
SETTING = {"history": "weight_history", "collab": "weight_collab", "sequence": "weight_sequence",
           "sasrec": "weight_sasrec"}


class UserLists:
    """One user's lists as a matrix of reciprocal-rank terms: rows = lists, columns = candidate items."""

    def __init__(self, lists: dict[str, list[str]], target: str, rrf_k: int):
        self.names = sorted(lists)
        ids = sorted({i for r in lists.values() for i in r})
        col = {i: j for j, i in enumerate(ids)}
        self.rr = np.zeros((len(self.names), len(ids)))
        for r, name in enumerate(self.names):
            for rank, i in enumerate(lists[name]):
                self.rr[r, col[i]] = 1.0 / (rrf_k + rank + 1)
        self.target = col.get(target, -1)
        self.before = np.array([i < target for i in ids], dtype=bool)  # wins a tie against the target

    def rank(self, weights: dict[str, float]) -> int | None:
        """1-based rank of the target in the fused list, None when no weighted list has it.

        >>> u = UserLists({"a": ["x", "t"], "b": ["t", "y"]}, "t", 60)
        >>> u.rank({"a": 1.0, "b": 0.0}), u.rank({"a": 1.0, "b": 1.0}), u.rank({"b": 0.0})
        (2, 1, None)
        """
        if self.target < 0:
            return None
        w = np.array([weights.get(n, 0.0) for n in self.names])
        f = w @ self.rr
        t = f[self.target]
        if t <= 0:
            return None
        return int((f > t).sum() + ((f == t) & self.before).sum()) + 1


def grid(has_sasrec: bool) -> list[dict[str, float]]:
    keys = [k for k in GRID if has_sasrec or k != "sasrec"]
    out = [dict(zip(keys, v)) for v in itertools.product(*(GRID[k] for k in keys))]
    return [w for w in out if any(x > 0 for x in w.values())]


def sweep(users: list[UserLists], points: list[dict[str, float]], k: int = 10) -> list[dict]:
    """Mean NDCG@k and Recall@k of every weight point over `users`."""
    rows = []
    for w in tqdm(points, desc="fusion weights", leave=False):
        nd = rc = 0.0
        for u in users:
            r = u.rank(w)
            if r is not None and r <= k:
                nd += 1.0 / math.log2(r + 1)
                rc += 1.0
        rows.append({"weights": w, f"ndcg@{k}": nd / len(users), f"recall@{k}": rc / len(users)})
    return rows


def tune_fusion(split, users: list[str], settings, sasrec=None, depth: int = 100,
                rrf_ks: tuple[int, ...] = ()) -> tuple[list[dict], dict]:
    """(rows sorted best first, best row) on the validation targets of `users`; every row carries its
    "rrf_k" (the settings' one unless `rrf_ks` gives the constants to try)."""
    from agent.protocol.pipeline import agent_parts
    from agent.retrieval import RetrievalWeights, Retriever
    from agent.types import HistoryEntry, UserHistory

    s, items, emb, store, co, tr = agent_parts(split, "val", settings)
    every = RetrievalWeights(query=0, history=1, collab=1, sequence=1, sasrec=1)
    r = Retriever(store, emb, items, co, tr, weights=every, rrf_k=s.rrf_k, sasrec=sasrec,
                  history_in_query=s.history_in_query)
    per_user = []  # (lists, target) of each user, computed once
    for u in tqdm(users, desc="retriever lists (validation)"):
        h = UserHistory(u, tuple(HistoryEntry(i, liked=True) for i in split.history(u, "val")))
        lists = r.lists("", h, depth, h.seen | h.excluded)
        per_user.append(({n: [i for i, _ in v if i in items] for n, v in lists.items()}, split.val[u]))
    rows = []
    for k in rrf_ks or (s.rrf_k,):
        fused = [UserLists(lists, target, k) for lists, target in per_user]
        rows += [{**row, "rrf_k": k} for row in sweep(fused, grid(sasrec is not None))]
    rows.sort(key=lambda x: (-x["ndcg@10"], -x["recall@10"]))
    return rows, rows[0]


def as_settings(weights: dict[str, float]) -> dict[str, float]:
    """Grid weights -> Settings fields (weight_history, ...).

    >>> as_settings({"history": 0.5, "sasrec": 2.0})
    {'weight_history': 0.5, 'weight_sasrec': 2.0}
    """
    return {SETTING[k]: v for k, v in weights.items()}
