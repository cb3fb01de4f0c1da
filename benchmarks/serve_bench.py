"""Serving benchmark: start `python serve.py` per model pack and drive it with the openai client.

Prints one table row per pack: pack build time (from pack.json), cold start (fresh vLLM and
torch-inductor caches, so kernels compile), warm start, peak RSS of the server and its vLLM
engine processes, non-stream latency p50/p95, streamed time to first recommendation p50/p95
and stream total p50/p95, over the same varied queries; plus quality proxies: the share of
explanations written by the LLM that passed the grounding check, and items filled from retrieval.

    python benchmarks/serve_bench.py --packs smollm2-135m qwen2.5-coder-1.5b [--queries 20] [--no-cold]

Results also go to benchmarks/results/serve_<pack>.json. Needs the packs built and the demo
ingested (scripts/install.sh). Runs on loopback only.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import psutil
from openai import OpenAI

REPO = Path(__file__).resolve().parents[1]
QUERIES: list[tuple[str, str | None]] = [
    ("I loved Alien and Heat. What should I watch tonight?", None),
    ("Something tense but not horror, under two hours", None),
    ("A feel-good animated film for the whole family", None),
    ("I liked The Matrix and Inception. More mind-bending sci-fi?", None),
    ("What should I watch next?", "1"),
    ("Give me a classic film noir", None),
    ("Toy Story and Finding Nemo were great, what else?", None),
    ("Recommend a romantic comedy from the 90s", None),
    ("Something like Pulp Fiction", None),
    ("Any good war movies?", "414"),
    ("A slow-burn mystery", None),
    ("I enjoyed Fargo and No Country for Old Men", None),
    ("What's a good heist movie?", None),
    ("Surprise me", "599"),
    ("A documentary about music", None),
    ("Funny movies like Groundhog Day", None),
    ("Epic fantasy adventure like The Lord of the Rings: The Fellowship of the Ring", None),
    ("Something scary for Halloween", "68"),
    ("A thoughtful drama about family", None),
    ("Superhero films that are actually good", "182"),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RssSampler(threading.Thread):
    """Peak resident memory of a process tree, sampled every 0.5 s."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.proc = psutil.Process(pid)
        self.peak = 0
        self.stop = threading.Event()

    def run(self):
        while not self.stop.is_set():
            try:
                procs = [self.proc, *self.proc.children(recursive=True)]
                self.peak = max(self.peak, sum(p.memory_info().rss for p in procs if p.is_running()))
            except psutil.Error:
                pass
            self.stop.wait(0.5)


def start_server(pack: str, port: int, env_extra: dict, log: Path):
    env = {**os.environ, "MARQUEE_MODEL": f"pack:{pack}", "HF_HUB_OFFLINE": "1", **env_extra}
    t0 = time.time()
    proc = subprocess.Popen([sys.executable, "serve.py", "--port", str(port)], cwd=REPO, env=env,
                            stdout=open(log, "w"), stderr=subprocess.STDOUT, start_new_session=True)
    sampler = RssSampler(proc.pid)
    sampler.start()
    while time.time() - t0 < 1200:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited ({proc.returncode}); see {log}")
        try:
            r = httpx.get(f"http://127.0.0.1:{port}/health", timeout=2)
            if r.status_code == 200:
                return proc, sampler, time.time() - t0
            if "startup_failed" in r.text:  # the engine did not start: waiting longer will not help
                sampler.stop.set()
                os.killpg(proc.pid, 9)
                raise RuntimeError(f"server start-up failed: {r.json()['error']['message'][:300]}; see {log}")
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"server not ready after 1200 s; see {log}")


def stop_server(proc, sampler):
    sampler.stop.set()
    os.killpg(proc.pid, 15)
    try:
        proc.wait(60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(q * (len(xs) - 1)))] if xs else float("nan")


def drive(port: int, queries, nonstream: bool) -> dict:
    client = OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="x", timeout=900, max_retries=0)
    lat, ttfr, total, llm_expl, n_items, filled, errors, tok_in, tok_out = [], [], [], 0, 0, 0, 0, [], []
    for text, user in queries:
        msgs = [{"role": "user", "content": text}]
        try:
            if nonstream:
                t = time.time()
                r = client.chat.completions.create(model="marquee", messages=msgs, user=user)
                lat.append(time.time() - t)
                tok_in.append(r.usage.prompt_tokens)
                tok_out.append(r.usage.completion_tokens)
            t, first, info = time.time(), None, None
            for ch in client.chat.completions.create(model="marquee", messages=msgs, user=user, stream=True):
                extra = ch.model_extra or {}
                if first is None and extra.get("marquee_recommendation"):
                    first = time.time() - t
                if extra.get("marquee"):
                    info = extra["marquee"]
            total.append(time.time() - t)
            ttfr.append(first if first is not None else total[-1])
            recs = info["recommendations"]
            n_items += len(recs)
            llm_expl += sum(1 for x in recs if x["explanation_source"] == "llm")
            filled += info["filled"]
        except Exception as e:  # counted, and the run goes on
            print(f"  error on {text!r}: {e}", file=sys.stderr)
            errors += 1
    return {
        "queries": len(queries), "errors": errors,
        "latency_p50": pct(lat, 0.5), "latency_p95": pct(lat, 0.95),
        "ttfr_p50": pct(ttfr, 0.5), "ttfr_p95": pct(ttfr, 0.95),
        "stream_total_p50": pct(total, 0.5), "stream_total_p95": pct(total, 0.95),
        "prompt_tokens_mean": statistics.mean(tok_in) if tok_in else None,
        "completion_tokens_mean": statistics.mean(tok_out) if tok_out else None,
        "llm_explanations_share": llm_expl / n_items if n_items else 0.0,
        "filled_share": filled / n_items if n_items else 0.0,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--packs", nargs="+", default=["smollm2-135m"])
    ap.add_argument("--queries", type=int, default=20)
    ap.add_argument("--no-cold", action="store_true", help="skip the cold start (kernel compilation)")
    ap.add_argument("--no-nonstream", action="store_true", help="stream requests only (halves the run)")
    args = ap.parse_args()
    from agent.modelpack import pack_dir

    out_dir = REPO / "benchmarks" / "results"
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for pack in args.packs:
        meta = json.loads((pack_dir(pack) / "pack.json").read_text())
        res = {"pack": pack, "build_s": meta.get("built_seconds"), "machine": f"{platform.machine()} {os.cpu_count()} cpu"}
        if not args.no_cold:
            with tempfile.TemporaryDirectory() as cache:
                env = {"VLLM_CACHE_ROOT": f"{cache}/vllm", "TORCHINDUCTOR_CACHE_DIR": f"{cache}/inductor"}
                proc, sampler, res["cold_start_s"] = start_server(pack, free_port(), env, out_dir / f"serve_{pack}_cold.log")
                stop_server(proc, sampler)
        port = free_port()
        proc, sampler, res["warm_start_s"] = start_server(pack, port, {}, out_dir / f"serve_{pack}.log")
        try:
            res.update(drive(port, QUERIES[: args.queries], nonstream=not args.no_nonstream))
        finally:
            res["peak_rss_gib"] = sampler.peak / 2**30
            stop_server(proc, sampler)
        (out_dir / f"serve_{pack}.json").write_text(json.dumps(res, indent=2))
        rows.append(res)
        print(json.dumps(res), flush=True)

    def f(v, nd=1):
        return "-" if v is None or v != v else f"{v:.{nd}f}"

    print("\n| pack | build (s) | cold start (s) | warm start (s) | peak RSS (GiB) | latency p50/p95 (s) | first rec p50/p95 (s) | stream total p50/p95 (s) | LLM-written explanations | filled | errors |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['pack']} | {f(r['build_s'])} | {f(r.get('cold_start_s'))} | {f(r['warm_start_s'])} | {f(r['peak_rss_gib'])} "
              f"| {f(r['latency_p50'])}/{f(r['latency_p95'])} | {f(r['ttfr_p50'])}/{f(r['ttfr_p95'])} "
              f"| {f(r['stream_total_p50'])}/{f(r['stream_total_p95'])} | {r['llm_explanations_share']:.0%} "
              f"| {r['filled_share']:.0%} | {r['errors']}/{r['queries']} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
