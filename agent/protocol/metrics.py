"""Ranking metrics, shared by evals/, finetune/ and agent/sequential.py: pure functions of
(ranked list, target). Each is in [0, 1], higher is better.

Single-target protocol (one held-out item per user), so Recall@k equals HitRate@k.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence


def rank_of(ranked: Sequence[str], target: str) -> int | None:
    """1-based position of target, or None.

    >>> rank_of(["a", "b", "c"], "c")
    3
    >>> rank_of(["a"], "z") is None
    True
    """
    for i, x in enumerate(ranked):
        if x == target:
            return i + 1
    return None


def recall_at(ranked: Sequence[str], target: str, k: int) -> float:
    """1 if the target is in the top k. Range [0, 1].

    >>> recall_at(["a", "b", "c"], "b", 2), recall_at(["a", "b", "c"], "c", 2)
    (1.0, 0.0)
    """
    r = rank_of(ranked[:k], target)
    return 1.0 if r else 0.0


def ndcg_at(ranked: Sequence[str], target: str, k: int) -> float:
    """1 / log2(rank + 1) within the top k (ideal DCG is 1 for one target). Range [0, 1].

    >>> ndcg_at(["a", "b"], "a", 10), round(ndcg_at(["a", "b", "c"], "c", 10), 4)
    (1.0, 0.5)
    """
    r = rank_of(ranked[:k], target)
    return 1.0 / math.log2(r + 1) if r else 0.0


def mrr_at(ranked: Sequence[str], target: str, k: int) -> float:
    """1 / rank within the top k. Range [0, 1].

    >>> mrr_at(["a", "b", "c"], "b", 10), mrr_at(["a", "b", "c"], "c", 2)
    (0.5, 0.0)
    """
    r = rank_of(ranked[:k], target)
    return 1.0 / r if r else 0.0


def all_metrics(ranked: Sequence[str], target: str, ks: Sequence[int] = (5, 10, 20)) -> dict[str, float]:
    """The full-ranking report row for one user.

    >>> m = all_metrics(["x", "t"], "t")
    >>> m["recall@5"], round(m["ndcg@5"], 4), m["mrr@10"]
    (1.0, 0.6309, 0.5)
    """
    out = {}
    for k in ks:
        out[f"recall@{k}"] = recall_at(ranked, target, k)
        out[f"ndcg@{k}"] = ndcg_at(ranked, target, k)
    out["mrr@10"] = mrr_at(ranked, target, 10)
    return out


def sample_negatives(pool: Sequence[str], exclude: set[str], n: int, rng: random.Random) -> list[str]:
    """n distinct items from pool, none in exclude (seeded by rng).

    >>> sample_negatives(["a", "b", "c", "d"], {"a"}, 2, random.Random(0))
    ['d', 'c']
    """
    out: list[str] = []
    taken = set(exclude)
    if len(pool) - len(taken & set(pool)) < n:
        raise ValueError("not enough items to sample negatives from")
    while len(out) < n:
        x = pool[rng.randrange(len(pool))]
        if x not in taken:
            taken.add(x)
            out.append(x)
    return out


def sampled_metrics(scores: dict[str, float], target: str, negatives: Sequence[str]) -> dict[str, float]:
    """HR@1 and NDCG@10 of the target among 1 + len(negatives) items ranked by score.
    Ties are broken against the target (pessimistic), so a constant scorer earns nothing.

    >>> m = sampled_metrics({"t": 2.0, "a": 1.0, "b": 3.0}, "t", ["a", "b"])
    >>> m["hr@1"], round(m["ndcg@10"], 4)
    (0.0, 0.6309)
    >>> sampled_metrics({"t": 1.0, "a": 1.0}, "t", ["a"])["hr@1"]
    0.0
    """
    t = scores.get(target, float("-inf"))
    rank = 1 + sum(1 for x in negatives if scores.get(x, float("-inf")) >= t)
    return {"hr@1": 1.0 if rank == 1 else 0.0, "ndcg@10": 1.0 / math.log2(rank + 1) if rank <= 10 else 0.0}
