"""Profile benchmark: how often the LLM's interest profile passes the grounding check, and how long
writing one takes, for MovieLens users of the demo catalog (in-process vLLM, no server).

For each user (every 50th id of ratings.csv, 12 by default): the history without its last 3
films gives the first profile (the LLM writes from the history); the last 3 films then arrive as
events and the profile is updated incrementally (the previous text + those 3 events only). Each
text is checked by agent/profile_text.ProfileWriter.check (agent/grounding against the history);
a text that fails would be replaced by the fact-built profile in the product, which is checked too.

    python benchmarks/profile_bench.py [--model pack:smollm2-135m] [--users 12]

On a CPU shared with other jobs the first generation (kernel compilation) can pass vLLM's
300 s step timeout: VLLM_EXECUTE_MODEL_TIMEOUT_SECONDS=1800 raises it.

Prints a Markdown table and writes benchmarks/results/profile_<name>.json. Needs the pack built
(scripts/install.sh; `python -m agent.modelpack build qwen2.5-coder-1.5b` for the 1.5B).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # this checkout's agent/, not another installed copy

from agent.catalog import build_histories, load_catalog, load_interactions  # noqa: E402
from agent.config import DEMO, Settings  # noqa: E402
from agent.llm.vllm_engine import VLLMEngine  # noqa: E402
from agent.profile_text import ProfileWriter  # noqa: E402
from agent.profiles import StoredEvent, merge_history  # noqa: E402
from agent.prompts import Prompts  # noqa: E402
from agent.titles import TitleIndex  # noqa: E402
from agent.types import UserHistory  # noqa: E402


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(q * (len(xs) - 1)))] if xs else float("nan")


async def run(model: str, n_users: int) -> dict:
    s = Settings(model=model)
    items = {it.item_id: it for it in load_catalog(DEMO / "movielens-small", DEMO / "tmdb" / "tmdb_movielens.jsonl")}
    histories = build_histories(load_interactions(DEMO / "movielens-small" / "ratings.csv"), s.like_threshold)
    users = sorted(histories, key=int)[::50][:n_users]
    engine = VLLMEngine(model, max_model_len=s.max_model_len, kv_cache_gib=s.kv_cache_gib,
                        engine_kwargs={"max_num_seqs": 4, "max_num_batched_tokens": 2048})
    t0 = time.time()
    await engine.start()
    start_s = time.time() - t0
    writer = ProfileWriter(s, items, TitleIndex(list(items.values())), Prompts(), engine)
    rows = []
    try:
        await writer.write("", histories[users[0]], [])  # warm-up, not counted
        for u in users:
            full = histories[u]
            base = UserHistory(u, full.entries[:-3])
            t = time.time()
            first = await writer.write("", base, [])
            first_s = time.time() - t
            new = [StoredEvent(i + 1, f"e{i}", e.item_id, "rated", e.rating, 2_000_000_000 + i)
                   for i, e in enumerate(full.entries[-3:])]
            merged = merge_history(base, u, new, like_threshold=s.like_threshold,
                                   dislike_threshold=s.dislike_threshold, skip_days=s.skip_days)
            t = time.time()
            upd = await writer.write(first.text, merged, new)
            upd_s = time.time() - t
            broken = [p for p in (*first.problems, *upd.problems) if p.startswith("llm:error")]
            if broken:  # an engine failure is no grounding result: stop rather than count it
                raise SystemExit(f"the LLM failed for user {u} ({broken[0]}); see the engine log above")
            rows.append({
                "user": u, "history": len(base.entries),
                "first": {"pass": first.source == "llm", "seconds": first_s, "problems": list(first.problems),
                          "llm_text": first.llm_text, "text": first.text},
                "update": {"pass": upd.source == "llm", "seconds": upd_s, "problems": list(upd.problems),
                           "llm_text": upd.llm_text, "text": upd.text},
                "facts_pass": writer.check(writer.facts_profile(merged), merged) == [],
            })
            print(f"user {u}: first {'pass' if first.source == 'llm' else 'fail'} {first_s:.1f}s, "
                  f"update {'pass' if upd.source == 'llm' else 'fail'} {upd_s:.1f}s  {upd.llm_text[:90]!r}", flush=True)
    finally:
        await engine.close()
    return {"model": model, "users": users, "engine_start_s": start_s, "rows": rows,
            "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "load": os.getloadavg()}}


def table(res: dict) -> str:
    rows = res["rows"]
    out = ["| profile write | LLM text passes the check | p50 s | p95 s | rejections by kind |", "|---|---|---|---|---|"]
    for key, name in (("first", "first, from the history"), ("update", "update, previous text + 3 events")):
        secs = [r[key]["seconds"] for r in rows]
        kinds = Counter(p.split(":")[0] for r in rows for p in r[key]["problems"])
        passed = sum(r[key]["pass"] for r in rows)
        out.append(f"| {name} | {passed}/{len(rows)} | {statistics.median(secs):.2f} | {pct(secs, 0.95):.2f} | "
                   f"{', '.join(f'{k} {v}' for k, v in kinds.most_common()) or '-'} |")
    out.append(f"| fact-built fallback | {sum(r['facts_pass'] for r in rows)}/{len(rows)} | - | - | - |")
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="pack:smollm2-135m")
    ap.add_argument("--users", type=int, default=12)
    args = ap.parse_args()
    res = asyncio.run(run(args.model, args.users))
    name = args.model.split(":")[-1].replace("/", "_")
    out = REPO / "benchmarks" / "results" / f"profile_{name}.json"
    out.write_text(json.dumps(res, indent=1, ensure_ascii=False))
    print(f"\n{args.model}, {len(res['rows'])} users, load average {res['machine']['load'][0]:.1f}\n")
    print(table(res))
    print(f"\nwrote {out.relative_to(REPO)}")


if __name__ == "__main__":
    main()
