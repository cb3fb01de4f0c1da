"""Bounded loopback load on a real `python serve.py`: N clients each asking one chat question after
another (non-stream, the openai SDK's way: a 429 is retried after its Retry-After), for a fixed
time per level. One table row per level: requests, status codes, 429 share, p50/p95 latency of
the answered (200) requests and of all, the deadline's 504s, and the server's resident memory
(its process tree: uvicorn + the vLLM engine core) before and after the level.

    python benchmarks/load_bench.py --clients 1 8 32 --duration 60            # starts serve.py (135M pack)
    python benchmarks/load_bench.py --base http://127.0.0.1:8000 --pid 1234     # an already running server
    python benchmarks/load_bench.py --server-env MARQUEE_MAX_ACTIVE_REQUESTS=2  # try other admission settings

Loopback only; no wall-clock asserts (the table is the result). Also written to
benchmarks/results/load_<timestamp>.json. Needs the demo ingested and the pack built (scripts/install.sh).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import httpx
import psutil

REPO = Path(__file__).resolve().parents[1]
QUESTIONS = [
    ("I loved Alien and Heat. What should I watch tonight?", None),
    ("Something tense but not horror, under two hours", None),
    ("A feel-good animated film for the whole family", None),
    ("What should I watch next?", "1"),
    ("Give me a classic film noir", None),
    ("Recommend a romantic comedy from the 90s", None),
    ("Any good war movies?", "414"),
    ("What's a good heist movie?", None),
]


def rss_mb(pid: int | None) -> float | None:
    if pid is None:
        return None
    try:
        p = psutil.Process(pid)
        return sum(x.memory_info().rss for x in [p, *p.children(recursive=True)]) / 2**20
    except psutil.Error:
        return None


def title(p: psutil.Process) -> str:
    try:
        return " ".join(p.cmdline())[:80] or p.name()
    except psutil.Error:
        return "?"


def alive(pids) -> list[int]:
    out = []
    for p in pids:
        try:
            if psutil.Process(p).status() != psutil.STATUS_ZOMBIE:
                out.append(p)
        except psutil.Error:
            pass
    return out


def pct(xs: list[float], q: float) -> float | None:
    if not xs:
        return None
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]


async def client(c: httpx.AsyncClient, k: int, until: float, out: list, honour_retry: bool) -> None:
    i = k
    while time.monotonic() < until:
        text, user = QUESTIONS[i % len(QUESTIONS)]
        i += 1
        body = {"model": "marquee", "messages": [{"role": "user", "content": text}], **({"user": user} if user else {})}
        t = time.monotonic()
        try:
            r = await c.post("/v1/chat/completions", json=body)
            status, retry = r.status_code, r.headers.get("retry-after")
        except httpx.HTTPError as e:
            status, retry = type(e).__name__, None
        out.append((status, time.monotonic() - t))
        if status == 429 and honour_retry and retry:
            await asyncio.sleep(min(float(retry), max(0.0, until - time.monotonic())))


async def level(base: str, n: int, duration: float, timeout: float, honour_retry: bool, key: str | None) -> list:
    out: list = []
    until = time.monotonic() + duration
    headers = {"authorization": f"Bearer {key}"} if key else {}
    limits = httpx.Limits(max_connections=n + 4)
    async with httpx.AsyncClient(base_url=base, timeout=timeout, limits=limits, headers=headers) as c:
        await asyncio.gather(*(client(c, k, until, out, honour_retry) for k in range(n)))
    return out


def start_server(env_extra: dict[str, str], log: Path) -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", **env_extra}
    proc = subprocess.Popen([sys.executable, "serve.py", "--port", str(port)], cwd=REPO, env=env,
                            stdout=open(log, "w"), stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    t = time.time()
    while time.time() - t < 900:
        if proc.poll() is not None:
            sys.exit(f"serve.py exited {proc.returncode}: {log.read_text()[-2000:]}")
        try:
            if httpx.get(base + "/health", timeout=2).status_code == 200:
                print(f"server ready in {time.time() - t:.0f} s", flush=True)
                return proc, base
        except httpx.HTTPError:
            pass
        time.sleep(1)
    os.killpg(proc.pid, signal.SIGKILL)
    sys.exit("serve.py not ready in 900 s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clients", type=int, nargs="+", default=[1, 8, 32])
    ap.add_argument("--duration", type=float, default=60.0, help="seconds per level")
    ap.add_argument("--base", help="a running server (default: start serve.py)")
    ap.add_argument("--pid", type=int, help="its process id, for memory (with --base)")
    ap.add_argument("--key", help="API key, when the server has one")
    ap.add_argument("--timeout", type=float, default=180.0, help="client timeout (above the server's deadline)")
    ap.add_argument("--no-retry-after", action="store_true", help="retry a 429 at once instead of after Retry-After")
    ap.add_argument("--server-env", nargs="*", default=[], help="KEY=VALUE for the started server")
    args = ap.parse_args()

    proc = None
    log = REPO / "benchmarks" / "results" / "load_server.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    if args.base:
        base, pid = args.base.rstrip("/"), args.pid
    else:
        proc, base = start_server(dict(kv.split("=", 1) for kv in args.server_env), log)
        pid = proc.pid
    rows = []
    try:
        asyncio.run(level(base, 1, 10, args.timeout, True, args.key))  # warm-up (prefix cache, first requests)
        for n in args.clients:
            before = rss_mb(pid)
            out = asyncio.run(level(base, n, args.duration, args.timeout, not args.no_retry_after, args.key))
            after = rss_mb(pid)
            codes = Counter(s for s, _ in out)
            ok = [t for s, t in out if s == 200]
            rows.append({
                "clients": n, "requests": len(out), "codes": dict(sorted(codes.items(), key=str)),
                "share_429": codes.get(429, 0) / max(1, len(out)),
                "n_5xx": sum(v for k, v in codes.items() if isinstance(k, int) and k >= 500),
                "n_504": codes.get(504, 0),
                "p50_ok_s": pct(ok, 0.5), "p95_ok_s": pct(ok, 0.95),
                "p95_all_s": pct([t for _, t in out], 0.95), "max_ok_s": max(ok) if ok else None,
                "rss_before_mb": before, "rss_after_mb": after,
            })
            print(json.dumps(rows[-1]), flush=True)
    finally:
        left = None
        if proc is not None:  # shutdown: the server waits for the engine core to exit; nothing is left behind
            tree = {c.pid: title(c) for c in psutil.Process(proc.pid).children(recursive=True)}
            t = time.time()
            os.kill(proc.pid, signal.SIGTERM)  # uvicorn re-raises it after a graceful shutdown: exit -15
            try:
                proc.wait(120)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
            took = time.time() - t
            left = alive(tree)
            time.sleep(5)  # a child may need a moment to see its parent gone (multiprocessing's resource tracker)
            later = alive(tree)
            print(f"shutdown: exit {proc.returncode} in {took:.1f} s; child processes before: {sorted(tree.values())}; "
                  f"alive right after: {[tree[p] for p in left]}; 5 s later: {[tree[p] for p in later]}", flush=True)
            left = [tree[p] for p in later]

    f = lambda v, d=1: "-" if v is None else f"{v:.{d}f}"  # noqa: E731
    print(f"\nmachine: {platform.node()} {os.cpu_count()} cores, {platform.processor() or platform.machine()}; "
          f"load average at end {os.getloadavg()[0]:.1f}; {args.duration:g} s per level")
    print("| clients | requests | status codes | 429 share | 5xx | p50 (200) s | p95 (200) s | max (200) s | "
          "p95 all s | RSS before MB | RSS after MB |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        codes = ", ".join(f"{k}: {v}" for k, v in r["codes"].items())
        print(f"| {r['clients']} | {r['requests']} | {codes} | {r['share_429']:.0%} | {r['n_5xx']} | {f(r['p50_ok_s'])} | "
              f"{f(r['p95_ok_s'])} | {f(r['max_ok_s'])} | {f(r['p95_all_s'])} | {f(r['rss_before_mb'], 0)} | "
              f"{f(r['rss_after_mb'], 0)} |")
    out = REPO / "benchmarks" / "results" / f"load_{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps({"duration_s": args.duration, "server_env": args.server_env, "rows": rows,
                               "left_after_shutdown": left}, indent=1))
    print(f"written to {out.relative_to(REPO)}")


if __name__ == "__main__":
    main()
