"""Seconds per rank example of one LoRA training step (forward + backward), by configuration.

    python benchmarks/finetune_step_bench.py --examples OUT/train.jsonl [--n 3] [--model pack:smollm2-135m]

OUT/train.jsonl is what `python -m finetune.train` writes. For the first N rank examples it times
the trainer's own loss (finetune.train.example_losses) with all layers adapted and full-length
logits (before), with logits only where the loss is (what the trainer does now), and with
`--lora_layers` 8 and 4. Prints a Markdown table; fp32 unless --bf16.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
import statistics
import time


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--examples", required=True)
    ap.add_argument("--model", default="pack:smollm2-135m")
    ap.add_argument("--n", type=int, default=3)
    ap.add_argument("--bf16", action="store_true")
    a = ap.parse_args(argv)

    import torch
    from peft import get_peft_model

    from finetune.data import read_jsonl
    from finetune.train import Collator, ModelArgs, encode, example_losses, label_choice_loss, load_base, lora_config

    margs = ModelArgs(model=a.model)
    _, _, tok = load_base(margs, bf16=a.bf16)
    exs = [e for e in read_jsonl(a.examples) if e.kind == "rank"][: a.n]
    batches = [Collator(tok.pad_token_id)([encode(tok, e, 4.0)]) for e in exs]
    print(f"{len(exs)} rank examples, mean {statistics.mean(b['input_ids'].shape[1] for b in batches):.0f} tokens, "
          f"{torch.get_num_threads()} threads, {'bf16' if a.bf16 else 'fp32'}\n")
    print("| configuration | forward s | forward+backward s |\n|---|---|---|")
    for name, layers, trim in (("all layers, full logits", 0, False), ("all layers, trimmed logits", 0, True),
                               ("--lora_layers 8, trimmed logits", 8, True), ("--lora_layers 4, trimmed logits", 4, True)):
        _, model, _ = load_base(margs, bf16=a.bf16)
        model = get_peft_model(model, lora_config(replace(margs, lora_layers=layers), model))
        model.train()
        fwd, both = [], []
        for b in batches:
            t = time.perf_counter()
            if trim:
                per, _ = example_losses(model, b, "labels")
            else:
                inputs = {k: v for k, v in b.items() if k in ("input_ids", "attention_mask")}
                per = label_choice_loss(model(**inputs).logits, b["labels"], b["choice_ids"], b["choice_offsets"], b["choice_target"])
            fwd.append(time.perf_counter() - t)
            per.mean().backward()
            both.append(time.perf_counter() - t)
            model.zero_grad(set_to_none=True)
        print(f"| {name} | {statistics.mean(fwd):.2f} | {statistics.mean(both):.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
