"""Where the explained answer's time goes: one in-process engine (no server), test users of the
ranking protocol, each answered ranking-only and explained; every LLM call timed.

    python benchmarks/explain_profile.py [--users 8] [--model pack:smollm2-135m]

Prints, per path, the p50 of: the whole answer, the ranking pass, the evidence stage (everything
between the ranking pass and the first verbalizer call), the verbalizer calls (first submitted to
last done), their prompt/generated tokens; then the verbalizer requests of the last answers again
straight to the engine in three ways (prefill only: max_tokens 1; free decoding, no regex; as
served), so the prefill, decoding and grammar shares can be read apart. Writes
benchmarks/results/explain_profile.json.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


async def run(args) -> dict:
    from agent.config import Settings
    from agent.llm import load_llm
    from agent.recommender import RecRequest
    from evals.data import leave_last_two, load_events
    from evals.pipeline import split_recommender

    split = leave_last_two(load_events("movielens-small"))
    users = sorted(split.train, key=lambda u: (len(u), u))[200: 200 + args.users + 1]
    s = Settings(**({"model": args.model} if args.model else {}))
    llm = load_llm(s)
    await llm.start()
    rec = split_recommender(split, "test", users, settings=s, llm=llm)
    calls: list[dict] = []
    orig_complete, orig_labels = llm.complete, llm.score_labels

    async def complete(g):
        t = time.perf_counter()
        out = await orig_complete(g)
        calls.append({"kind": "generate", "t0": t, "t1": time.perf_counter(), "in": out.prompt_tokens,
                      "out": out.completion_tokens, "req": g})
        return out

    async def score_labels(r):
        t = time.perf_counter()
        out = await orig_labels(r)
        calls.append({"kind": "rank", "t0": t, "t1": time.perf_counter()})
        return out

    llm.complete, llm.score_labels = complete, score_labels
    rows = {"ranking only": [], "explained": []}
    reqs = []
    try:
        for i, u in enumerate(users):
            for path, explain in (("ranking only", False), ("explained", True)):
                calls.clear()
                t = time.perf_counter()
                await rec.recommend(RecRequest(messages=[{"role": "user", "content": "What should I watch next?"}],
                                               user=u, explain=explain))
                end = time.perf_counter()
                if i == 0:
                    continue  # warm-up
                rank = [c for c in calls if c["kind"] == "rank"]
                gen = [c for c in calls if c["kind"] == "generate"]
                row = {"total": end - t, "rank": sum(c["t1"] - c["t0"] for c in rank)}
                if gen:
                    row["evidence"] = min(c["t0"] for c in gen) - max(c["t1"] for c in rank)
                    row["verbalize"] = max(c["t1"] for c in gen) - min(c["t0"] for c in gen)
                    row["calls"] = len(gen)
                    row["in"] = sum(c["in"] for c in gen)
                    row["out"] = sum(c["out"] for c in gen)
                    reqs = [c["req"] for c in gen]
                rows[path].append(row)
        direct = {}
        ask = [g for g in reqs if g.temperature == 0.0]  # the greedy one of each film
        for name, change in (("prefill only (max_tokens 1)", {"max_tokens": 1, "regex": None}),
                             ("free decoding (no regex)", {"regex": None}), ("as served (regex)", {})):
            secs = []
            for k in range(3):
                # a fresh request id and a changed first prompt character defeat the prefix cache of the user part
                batch = [dataclasses.replace(g, request_id=f"p{name[:4]}{k}{j}", **change,
                                             messages=[g.messages[0], {**g.messages[1], "content": f"{k}{name[:2]}\n"
                                                                       + g.messages[1]["content"]}])
                         for j, g in enumerate(ask)]
                t = time.perf_counter()
                outs = await asyncio.gather(*(orig_complete(g) for g in batch))
                secs.append(time.perf_counter() - t)
            direct[name] = {"s": statistics.median(secs), "out": sum(o.completion_tokens for o in outs),
                            "in": sum(o.prompt_tokens for o in outs)}
    finally:
        await llm.close()
    med = {p: {k: statistics.median(r[k] for r in rs) for k in rs[0]} for p, rs in rows.items() if rs}
    return {"users": len(users) - 1, "median": med, "direct": direct, "films": len(ask),
            "machine": f"{platform.machine()} {os.cpu_count()} cpu"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", type=int, default=8)
    ap.add_argument("--model")
    ap.add_argument("--name", default="")
    args = ap.parse_args()
    res = asyncio.run(run(args))
    out = REPO / "benchmarks" / "results" / f"explain_profile{('_' + args.name) if args.name else ''}.json"
    out.write_text(json.dumps(res, indent=1))
    print(f"\n{res['users']} users, {res['machine']}\n")
    print("| path | answer p50 s | ranking pass | evidence | verbalizer calls | calls | tokens in/out |")
    print("|---|---|---|---|---|---|---|")
    for p, m in res["median"].items():
        print(f"| {p} | {m['total']:.2f} | {m['rank']:.2f} | {m.get('evidence', 0):.2f} | {m.get('verbalize', 0):.2f} "
              f"| {m.get('calls', 0):.0f} | {m.get('in', 0):.0f}/{m.get('out', 0):.0f} |")
    print(f"\nthe last answer's {res['films']} greedy verbalizer requests, straight to the engine (median of 3):\n")
    print("| way | seconds | tokens in/out |\n|---|---|---|")
    for k, v in res["direct"].items():
        print(f"| {k} | {v['s']:.2f} | {v['in']}/{v['out']} |")
    print(f"\nwrote {out.relative_to(REPO)}")


if __name__ == "__main__":
    main()
