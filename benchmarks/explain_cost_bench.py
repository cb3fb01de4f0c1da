"""Where the explained answer's time goes: five verbalizer requests on the in-process vLLM engine,
timed apart from the server (no HTTP, no ranking), on evidence recorded by evals.explain_run.

    python benchmarks/explain_cost_bench.py --records runs/explain/records.jsonl [--model pack:smollm2-135m] [--rounds 3]

Per round, five films not used before (so nothing is in the prefix cache but the shared system
message): prefill only (max_tokens 1), the served request (opener as the answer's start, clause
under continuation_regex, frequency penalty), the same without the regex, and the served request
one film at a time. Prints a Markdown table (medians over rounds) of seconds and tokens.
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
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


async def main(args) -> None:
    from agent.config import Settings
    from agent.explain import Evidence
    from agent.explain.verbalize import continuation_regex, opener, verbalize_prompt
    from agent.llm.base import GenerationRequest
    from agent.llm.vllm_engine import VLLMEngine
    from agent.prompts import Prompts

    rows = [json.loads(x) for x in Path(args.records).read_text().splitlines() if x.strip()]
    evs = [Evidence.from_dict(r["evidence"]) for r in rows if r.get("evidence")]
    s = Settings(model=args.model)
    llm = VLLMEngine.from_settings(s)
    await llm.start()
    prompts = Prompts()

    def req(ev, regex=True, max_tokens=60):
        return GenerationRequest(messages=verbalize_prompt(prompts, ev, s.explanation_chars), max_tokens=max_tokens,
                                 temperature=0.0, prefix=opener(ev), regex=continuation_regex(ev) if regex else None,
                                 frequency_penalty=0.6, stop=["\n"])

    await llm.complete(req(evs[0]))  # warm: compiles, and caches the shared system message
    cases = (("prefill only (max_tokens 1), 5 concurrent", dict(max_tokens=1), True),
             ("served: opener + clause under the regex, 5 concurrent", {}, True),
             ("opener + free clause (no regex), 5 concurrent", dict(regex=False), True),
             ("served, one film at a time", {}, False))
    res = {name: [] for name, _, _ in cases}
    nxt = 1
    for _ in range(args.rounds):
        for name, kw, concurrent in cases:
            batch = evs[nxt: nxt + 5]
            nxt += 5
            t = time.perf_counter()
            if concurrent:
                outs = await asyncio.gather(*(llm.complete(req(e, **kw)) for e in batch))
            else:
                outs = [await llm.complete(req(e, **kw)) for e in batch]
            res[name].append((time.perf_counter() - t, sum(o.prompt_tokens for o in outs),
                              sum(o.completion_tokens for o in outs)))
    await llm.close()
    print(f"\nModel {args.model}; {platform.machine()} {os.cpu_count()} cpu; {args.rounds} rounds of 5 films "
          f"(medians)\n")
    print("| requests | seconds | prompt tokens | generated tokens | generated tok/s |")
    print("|---|---|---|---|---|")
    for name, xs in res.items():
        sec = statistics.median(x[0] for x in xs)
        pt = statistics.median(x[1] for x in xs)
        ct = statistics.median(x[2] for x in xs)
        print(f"| {name} | {sec:.2f} | {pt:.0f} | {ct:.0f} | {ct / sec:.1f} |")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--records", required=True, help="an evals.explain_run records.jsonl (its evidence is reused)")
    ap.add_argument("--model", default="pack:smollm2-135m")
    ap.add_argument("--rounds", type=int, default=3)
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
    asyncio.run(main(ap.parse_args()))
