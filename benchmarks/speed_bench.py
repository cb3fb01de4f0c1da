"""Speed benchmark: one-pass ranking with parallel explanations vs. the generated-JSON path, on one
warm `python serve.py`, driven over loopback with the unchanged openai client.

Per path, over its own slice of the varied queries (benchmarks/serve_bench.QUERIES; disjoint, so
no path's prompts are already in vLLM's prefix cache from another path's run):
  one-pass ranking only (explain=false): latency p50/p95 (= one forward pass + retrieval + HTTP)
  one-pass explained, streamed: first film on screen (the order chunk, right after the ranking
    pass), first explained film, full response p50/p95
  generate, streamed (ranking=generate): first recommendation p50/p95, full response p50/p95
  tokens in/out per request (usage), and throughput with 1, 4 and 16 concurrent clients
  (requests/s, errors), plus the ratio generate / one-pass for each latency and the ratio of the
  full explained answer (5 films, verbalizer + verifier) to the ranking-only answer, p50.

    python benchmarks/speed_bench.py [--model pack:smollm2-135m] [--lora DIR] [--queries 20] [--env K=V ...]

Writes benchmarks/results/speed_<name>.json and prints Markdown tables. Needs the demo ingested
and the pack built (scripts/install.sh).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from openai import OpenAI

sys.path.insert(0, str(Path(__file__).resolve().parent))
from serve_bench import QUERIES, free_port, pct, start_server, stop_server  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def one(client: OpenAI, model: str, text: str, user: str | None, extra: dict, stream: bool) -> dict:
    msgs = [{"role": "user", "content": text}]
    t = time.time()
    if not stream:
        r = client.chat.completions.create(model=model, messages=msgs, user=user, extra_body=extra)
        info = r.model_extra["marquee"]
        return {"total": time.time() - t, "first": time.time() - t, "film": time.time() - t, "in": r.usage.prompt_tokens,
                "out": r.usage.completion_tokens, "llm": sum(x["explanation_source"] == "llm" for x in info["recommendations"]),
                "n": len(info["recommendations"])}
    first, film, usage, info = None, None, None, None
    for ch in client.chat.completions.create(model=model, messages=msgs, user=user, stream=True,
                                             stream_options={"include_usage": True}, extra_body=extra):
        ex = ch.model_extra or {}
        if film is None and (ex.get("marquee_ranking") or ex.get("marquee_recommendation")):
            film = time.time() - t  # the first film's title is on screen
        if first is None and ex.get("marquee_recommendation"):
            first = time.time() - t  # ... and its checked explanation
        if ex.get("marquee"):
            info = ex["marquee"]
        if ch.usage:
            usage = ch.usage
    total = time.time() - t
    return {"total": total, "first": first if first is not None else total,
            "film": film if film is not None else total, "in": usage.prompt_tokens if usage else None,
            "out": usage.completion_tokens if usage else None,
            "llm": sum(x["explanation_source"] == "llm" for x in info["recommendations"]), "n": len(info["recommendations"])}


def latency(client, model, queries, extra, stream) -> dict:
    rows, errors = [], 0
    for text, user in queries:
        try:
            rows.append(one(client, model, text, user, extra, stream))
        except Exception as e:  # counted; the run goes on
            print(f"  error on {text!r}: {e}", file=sys.stderr)
            errors += 1
    first = [r["first"] for r in rows]
    film = [r["film"] for r in rows]
    total = [r["total"] for r in rows]
    return {"film_p50": pct(film, 0.5), "film_p95": pct(film, 0.95),
            "first_p50": pct(first, 0.5), "first_p95": pct(first, 0.95), "total_p50": pct(total, 0.5),
            "total_p95": pct(total, 0.95),
            "tokens_in": statistics.mean(r["in"] for r in rows if r["in"] is not None) if rows else None,
            "tokens_out": statistics.mean(r["out"] for r in rows if r["out"] is not None) if rows else None,
            "llm_explanations_share": sum(r["llm"] for r in rows) / max(sum(r["n"] for r in rows), 1),
            "errors": errors, "requests": len(queries)}


def throughput(client, model, queries, extra, clients: int, n_requests: int) -> dict:
    work = [queries[i % len(queries)] for i in range(n_requests)]
    errors = 0

    def run(q):
        try:
            one(client, model, q[0], q[1], extra, stream=False)
            return 0
        except Exception as e:
            print(f"  error ({clients} clients): {e}", file=sys.stderr)
            return 1

    t = time.time()
    with ThreadPoolExecutor(clients) as pool:
        errors = sum(pool.map(run, work))
    wall = time.time() - t
    return {"clients": clients, "requests": n_requests, "wall_s": wall, "rps": n_requests / wall, "errors": errors}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="pack:smollm2-135m")
    ap.add_argument("--lora", help="serve this adapter and benchmark requests to it")
    ap.add_argument("--queries", type=int, default=20)
    ap.add_argument("--clients", default="1,4,16")
    ap.add_argument("--no-generate", action="store_true", help="skip the generated-JSON path (it is slow)")
    ap.add_argument("--env", nargs="*", default=[], help="extra server environment, KEY=VALUE")
    ap.add_argument("--name", default="", help="result file suffix")
    args = ap.parse_args()
    env = {"MARQUEE_MODEL": args.model, **dict(kv.split("=", 1) for kv in args.env)}
    if args.lora:
        env["MARQUEE_LORA"] = str(Path(args.lora).resolve())
    model = "marquee-lora" if args.lora else "marquee"
    name = args.name or (args.model.split(":")[-1] + ("-lora" if args.lora else ""))
    out_dir = REPO / "benchmarks" / "results"
    out_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    queries = QUERIES[: args.queries]
    served = env["MARQUEE_MODEL"]  # --env MARQUEE_MODEL=... wins over --model (the label; the API name is `model`)
    pack = served.split(":", 1)[1] if served.startswith("pack:") else served
    proc, sampler, start_s = start_server(pack, port, env, out_dir / f"speed_{name}.log")
    res = {"model": served, "lora": args.lora, "env": args.env, "warm_start_s": start_s,
           "machine": f"{platform.machine()} {os.cpu_count()} cpu", "paths": {}, "throughput": {}}
    client = OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="x", timeout=900, max_retries=0)
    try:
        one(client, model, "warm-up: something fun", None, {"explain": False}, False)  # first-request compile
        one(client, model, "warm-up: something fun", None, {"ranking": "generate"}, False) if not args.no_generate else None
        paths = {"one-pass, ranking only": ({"explain": False}, False),
                 "one-pass, explained (stream)": ({}, True)}
        if not args.no_generate:
            paths["generate (stream)"] = ({"ranking": "generate"}, True)
        if args.queries * len(paths) > len(QUERIES):
            raise SystemExit(f"--queries {args.queries} x {len(paths)} paths > the {len(QUERIES)} queries: no path may "
                             "reuse another's prompts (vLLM's prefix cache would make its first pass nearly free)")
        for k, (label, (extra, stream)) in enumerate(paths.items()):  # disjoint queries per path
            qs = QUERIES[k * args.queries:(k + 1) * args.queries]
            res["paths"][label] = latency(client, model, qs, extra, stream)
            print(label, json.dumps(res["paths"][label]), flush=True)
        for label, extra in [("one-pass, ranking only", {"explain": False}), ("one-pass, explained", {}),
                             *([] if args.no_generate else [("generate", {"ranking": "generate"})])]:
            res["throughput"][label] = [throughput(client, model, queries, extra, c, max(8, c))
                                        for c in (int(x) for x in args.clients.split(","))]
            print(label, json.dumps(res["throughput"][label]), flush=True)
    finally:
        res["peak_rss_gib"] = sampler.peak / 2**30
        stop_server(proc, sampler)
    (out_dir / f"speed_{name}.json").write_text(json.dumps(res, indent=2))

    def f(v, nd=2):
        return "-" if v is None or v != v else f"{v:.{nd}f}"

    print(f"\nModel {served}{' + LoRA ' + args.lora if args.lora else ''}; {res['machine']}; warm start {start_s:.0f} s; "
          f"peak RSS {res['peak_rss_gib']:.1f} GiB\n")
    print("| path | first film on screen p50/p95 (s) | first explained film p50/p95 (s) | full response p50/p95 (s) "
          "| tokens in/out | LLM-written explanations | errors |")
    print("|---|---|---|---|---|---|---|")
    for label, r in res["paths"].items():
        print(f"| {label} | {f(r['film_p50'])}/{f(r['film_p95'])} | {f(r['first_p50'])}/{f(r['first_p95'])} "
              f"| {f(r['total_p50'])}/{f(r['total_p95'])} "
              f"| {f(r['tokens_in'], 0)}/{f(r['tokens_out'], 0)} | {r['llm_explanations_share']:.0%} | {r['errors']}/{r['requests']} |")
    g, o = res["paths"].get("generate (stream)"), res["paths"]["one-pass, explained (stream)"]
    r = res["paths"]["one-pass, ranking only"]
    res["explained_over_ranking_p50"] = o["total_p50"] / r["total_p50"]
    (out_dir / f"speed_{name}.json").write_text(json.dumps(res, indent=2))
    print(f"\nfull explained answer / ranking-only answer, p50 (same server, same run): "
          f"{o['total_p50']:.2f} s / {r['total_p50']:.2f} s = {res['explained_over_ranking_p50']:.2f}x; "
          f"LLM-written explanations shown: {o['llm_explanations_share']:.0%}")
    if g:
        print(f"\ngenerate / one-pass: first recommendation {g['first_p50'] / o['first_p50']:.1f}x slower at p50, "
              f"full response {g['total_p50'] / o['total_p50']:.1f}x; ranking only (one-pass) p50 "
              f"{res['paths']['one-pass, ranking only']['total_p50']:.2f} s")
    print("\n| path | " + " | ".join(f"{t['clients']} clients: req/s (errors)" for t in next(iter(res["throughput"].values()))) + " |")
    print("|---|" + "---|" * len(next(iter(res["throughput"].values()))))
    for label, ts in res["throughput"].items():
        print(f"| {label} | " + " | ".join(f"{t['rps']:.2f} ({t['errors']})" for t in ts) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
