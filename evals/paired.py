"""Paired comparison of two LLM eval runs on the same users: mean difference of a metric and a
bootstrap 95% interval over users.

    python -m evals.paired A_DIR B_DIR --weight-a 8 --weight-b 4 [--metric ndcg@10]
    python -m evals.paired RUN RUN --a-retrieval      # the LLM rerank against the fused retriever's order

A_DIR / B_DIR: the `--out` folders of two `python -m evals.run --llm --prior-sweep ...` runs (their
`journal/*.jsonl` hold one line per user with the metrics at every swept prior weight); a weight
of -1 reads the served order's metrics instead of a sweep entry. Only users present in both runs
count. `--a-retrieval` reads A's fused-retriever order of the same candidates (journal "retrieval":
the LLM rerank's paired baseline, same users, same candidates). With ~300 users one user's NDCG@10 swings between 0 and 1, so differences of a few
thousandths are usually inside the interval: read it before calling a winner.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from evals.run import read_journal


def per_user(run: Path, weight: float, metric: str, retrieval: bool = False) -> dict[str, float]:
    """{user: metric} from the rank lines of the run's journal(s); `retrieval`: of the retriever's order."""
    out: dict[str, float] = {}
    files = sorted((run / "journal").glob("*.jsonl")) if run.is_dir() else [run]
    if not files:
        raise SystemExit(f"error: no journal under {run}")
    for f in files:
        for j in read_journal(f):
            if j.get("kind") != "rank":
                continue
            if retrieval:
                if "retrieval" not in j:
                    raise SystemExit(f"error: {f.name} has no retrieval order (journals written before it was recorded)")
                out[j["user"]] = j["retrieval"][metric]
            elif weight < 0:
                out[j["user"]] = j["metrics"][metric]
            else:
                sweep = j.get("sweep", {})
                key = next((k for k in sweep if float(k) == weight), None)
                if key is None:
                    raise SystemExit(f"error: {f.name} has no prior weight {weight} (swept: {sorted(sweep)})")
                out[j["user"]] = sweep[key][metric]
    return out


def paired_bootstrap(a: np.ndarray, b: np.ndarray, n: int = 10_000, seed: int = 0) -> tuple[float, float, float]:
    """Mean of b - a and its 2.5/97.5 percentiles over `n` resamples of users.

    >>> d, lo, hi = paired_bootstrap(np.zeros(50), np.ones(50))
    >>> (d, lo, hi)
    (1.0, 1.0, 1.0)
    """
    rng = np.random.default_rng(seed)
    diff = b - a
    idx = rng.integers(0, len(diff), size=(n, len(diff)))
    means = diff[idx].mean(axis=1)
    return float(diff.mean()), float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m evals.paired", description=__doc__.split("\n")[0])
    ap.add_argument("a", type=Path)
    ap.add_argument("b", type=Path)
    ap.add_argument("--weight-a", type=float, default=-1.0)
    ap.add_argument("--weight-b", type=float, default=-1.0)
    ap.add_argument("--a-retrieval", action="store_true", help="A: the fused retriever's order (not the LLM's)")
    ap.add_argument("--metric", default="ndcg@10")
    ap.add_argument("--resamples", type=int, default=10_000)
    args = ap.parse_args(argv)
    a = per_user(args.a, args.weight_a, args.metric, retrieval=args.a_retrieval)
    b = per_user(args.b, args.weight_b, args.metric)
    users = sorted(set(a) & set(b))
    if not users:
        raise SystemExit("error: the two runs share no users")
    xa, xb = np.array([a[u] for u in users]), np.array([b[u] for u in users])
    d, lo, hi = paired_bootstrap(xa, xb, args.resamples)
    print(f"{len(users)} users; {args.metric}: A {xa.mean():.4f}, B {xb.mean():.4f}; B - A {d:+.4f} "
          f"(95% bootstrap interval {lo:+.4f} .. {hi:+.4f}); B better for {(xb > xa).sum()} users, "
          f"worse for {(xb < xa).sum()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
