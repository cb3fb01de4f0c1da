"""Head-to-head: two explanation runs' texts for the same film in the same answer, judged against
each other (the question "which explainer should be the default", not "is it better than the
fallback").

    python -m evals.explain_compare runs/explain-A runs/explain-B --judge-url http://127.0.0.1:8001/v1 \
        --limit 40 --out runs/compare-A-B.md

Pairs: records of both runs (evals.explain_run's records.jsonl) with the same kind, user, request
and film, both LLM-written, whose texts differ; a seeded sample of `--limit` of them. Each text is
judged alone (evals/judge.Judge.compare_pointwise: Yes/No log-odds, so no position bias), and B's
win rate over A is reported (a tie, |preference| <= 0.05 nats, counts half), with a 95% bootstrap
interval and every judged pair verbatim, so a person can check the judge. Films only one run
showed (the ranking may differ) are counted, not judged.

Left out: a judge panel. Locally the judge is the 1.5B pack, which also wrote the LoRA's training
targets: it may prefer its own style, so read the pairs.
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path


def load(run: Path) -> dict[tuple, dict]:
    rows = [json.loads(x) for x in (run / "records.jsonl").read_text().splitlines() if x.strip()]
    return {(r["kind"], str(r["user"]), r["request"], str(r["item_id"])): r for r in rows}


def pairs(a: dict[tuple, dict], b: dict[tuple, dict]) -> tuple[list[tuple[dict, dict]], dict]:
    """(record of A, record of B) for the films both showed, both LLM-written, with different
    texts; and the counts behind that choice.

    >>> r = lambda i, t, s="llm": {"kind": "user", "user": "1", "request": "q", "item_id": i, "explanation": t, "source": s}
    >>> A = {(x["kind"], x["user"], x["request"], x["item_id"]): x for x in [r("1", "x"), r("2", "y"), r("3", "z")]}
    >>> B = {(x["kind"], x["user"], x["request"], x["item_id"]): x for x in [r("1", "x"), r("2", "w"), r("4", "v")]}
    >>> got, n = pairs(A, B)
    >>> [(p[0]["explanation"], p[1]["explanation"]) for p in got], n
    ([('y', 'w')], {'a': 3, 'b': 3, 'both': 2, 'both_llm': 2, 'same_text': 1, 'differ': 1})
    """
    both = [k for k in a if k in b]
    llm = [k for k in both if a[k]["source"] == "llm" and b[k]["source"] == "llm"]
    differ = [k for k in llm if a[k]["explanation"] != b[k]["explanation"]]
    counts = {"a": len(a), "b": len(b), "both": len(both), "both_llm": len(llm),
              "same_text": len(llm) - len(differ), "differ": len(differ)}
    return [(a[k], b[k]) for k in differ], counts


def bootstrap(outcomes: list[float], seed: int = 0, n: int = 2000) -> tuple[float, float]:
    """95% percentile interval of the mean of `outcomes` (1 win, 0.5 tie, 0 loss).

    >>> bootstrap([1.0] * 10)
    (1.0, 1.0)
    """
    rng = random.Random(seed)
    means = sorted(sum(rng.choices(outcomes, k=len(outcomes))) / len(outcomes) for _ in range(n))
    return means[int(0.025 * n)], means[int(0.975 * n) - 1]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m evals.explain_compare", description=__doc__.split("\n")[0])
    ap.add_argument("a", type=Path, help="run directory A (the incumbent)")
    ap.add_argument("b", type=Path, help="run directory B (the challenger)")
    ap.add_argument("--judge-url", required=True, help="OpenAI-compatible URL returning top_logprobs (vLLM)")
    ap.add_argument("--judge-model", default="default")
    ap.add_argument("--limit", type=int, default=40, help="pairs judged (a seeded sample)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, help="write the report here too (markdown)")
    args = ap.parse_args(argv)

    from agent.catalog import load_catalog
    from agent.config import Settings
    from evals.explain import history_items
    from evals.judge import JUDGE_HISTORY, Judge, JudgeConfig, JudgeError, win_rate

    s = Settings()
    items = {it.item_id: it for it in load_catalog(s.catalog, s.tmdb, s.media)}
    got, counts = pairs(load(args.a), load(args.b))
    if len(got) > args.limit:
        got = random.Random(args.seed).sample(got, args.limit)
    judge = Judge(JudgeConfig(args.judge_url, args.judge_model))
    rows, outcomes, failures = [], [], 0
    for ra, rb in got:
        item = items[str(ra["item_id"])]
        hist = history_items(ra.get("history"), items)[-JUDGE_HISTORY:]
        try:
            outcome, pref, _, _ = judge.compare_pointwise(item, rb["explanation"], ra["explanation"], hist)
        except JudgeError:
            failures += 1
            continue
        outcomes.append(outcome)
        rows.append((outcome, pref, ra, rb))
    score = [{"win": 1.0, "tie": 0.5, "loss": 0.0}[o] for o in outcomes]
    lo, hi = bootstrap(score, args.seed) if score else (None, None)
    if outcomes:
        verdict = (f"B's win rate over A (pointwise judge `{args.judge_model}` at {args.judge_url}; a tie counts half): "
                   f"**{win_rate(outcomes):.3f}** (95% bootstrap interval {lo:.3f} .. {hi:.3f}; {outcomes.count('win')} wins, "
                   f"{outcomes.count('tie')} ties, {outcomes.count('loss')} losses)")
    else:
        verdict = "No pairs judged."
    lines = [f"# Head-to-head: B = `{args.b}` against A = `{args.a}`", "",
             (f"Films: A showed {counts['a']}, B {counts['b']}, both {counts['both']}, both LLM-written {counts['both_llm']}, "
              f"the same text {counts['same_text']}, different {counts['differ']}; judged {len(outcomes)} "
              f"({failures} unparsable)."), "", verdict, "",
             "## Every judged pair (preference: B's log-odds minus A's, nats)", ""]
    for outcome, pref, ra, rb in rows:
        lines += [f"- {ra['request']!r} ({ra['kind']} {ra['user']}); **{ra['film']}**: B {outcome} ({pref:+.2f})",
                  f"  - A: {ra['explanation']}", f"  - B: {rb['explanation']}"]
    md = "\n".join(lines) + "\n"
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(md)
    print(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
