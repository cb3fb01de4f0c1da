"""Grammar compile time of the verbalizer's clause regex (xgrammar, as vLLM compiles it), per film.

    python benchmarks/grammar_compile_bench.py --records runs/explain-run3/records.jsonl [--films 30]

Reads the evidence of recorded films (an `evals.explain_run` records.jsonl), builds
`continuation_regex` for each and compiles it with xgrammar for the 135M pack's tokenizer, one
thread, no cache. Prints median / max seconds and the median regex length.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import xgrammar as xgr
from transformers import AutoTokenizer

from agent.explain.evidence import Evidence, Link, Reason
from agent.explain.verbalize import continuation_regex
from agent.modelpack import resolve_model


def evidence(e: dict) -> Evidence:
    return Evidence(e["item_id"], e["title"], e["label"], e["year"], tuple(e["genres"]),
                    links=tuple(Link(x["item_id"], x["label"], tuple(x["themes"]), tuple(x["genres"]), x["similar"],
                                     x["liked"]) for x in e["links"]),
                    request_words=tuple(e["request_words"]), constraints=e["constraints"], runtime=e["runtime"],
                    reasons=tuple(Reason(r["kind"], r["film"]) for r in e["reasons"]), plot=e["plot"],
                    themes=tuple(e["themes"]), media=tuple(tuple(m) for m in e["media"]))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=Path, required=True)
    ap.add_argument("--films", type=int, default=30)
    ap.add_argument("--model", default="pack:smollm2-135m")
    a = ap.parse_args()
    tok = AutoTokenizer.from_pretrained(resolve_model(a.model))
    compiler = xgr.GrammarCompiler(xgr.TokenizerInfo.from_huggingface(tok), max_threads=1, cache_enabled=False)
    times, chars = [], []
    with a.records.open() as f:
        for line, _ in zip(f, range(a.films)):
            rx = continuation_regex(evidence(json.loads(line)["evidence"]))
            t = time.perf_counter()
            compiler.compile_regex(rx)
            times.append(time.perf_counter() - t)
            chars.append(len(rx))
    print(f"machine: {platform.machine()} {__import__('os').cpu_count()} cpu; films {len(times)}")
    print("| compile median s | compile max s | regex chars median |\n|---|---|---|")
    print(f"| {statistics.median(times):.3f} | {max(times):.3f} | {int(statistics.median(chars))} |")


if __name__ == "__main__":
    main()
