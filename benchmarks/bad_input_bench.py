"""Issue 18's bad-input probe set against a real `python serve.py` over loopback: the cases of
benchmarks/bad_input_cases.py (huge integers, deep JSON, lone surrogates, wrong types, invalid
UTF-8, NaN, oversized and truncated bodies, content types, unknown routes and methods, poster-route
traversal, template and control-token injection, foreign Host headers, huge messages), sent one
at a time. One table row per class: cases, status codes seen, 5xx, answers outside the expected
codes (or not in OpenAI's error shape, or failing the case's check: a leaked file, an evaluated
template, a film outside the catalog), max latency; and the count of "Traceback" in the server's
log over the run, each attributed to the case that caused it.

    python benchmarks/bad_input_bench.py                                  # starts serve.py (demo, 135M pack)
    python benchmarks/bad_input_bench.py --base http://127.0.0.1:8000 --log server.log   # a running server

Exit status 1 when any case got a 5xx (an in-band stream error of type server_error counts) or
the log shows a traceback; 2 when only expectations were missed. Writes
benchmarks/results/bad_input_<timestamp>.json. The server gets a throw-away profiles database
(MARQUEE_PROFILES_PATH) so the probes leave no users behind. Needs the demo ingested and the
pack built (scripts/install.sh). No wall-clock asserts: latency is reported, not judged.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import signal
import socket
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from bad_input_cases import Case, all_cases
from load_bench import REPO, start_server

MOVIES = REPO / "data" / "demo" / "movielens-small" / "movies.csv"


def catalog() -> tuple[list[str], set[str]]:
    """Title words (for the huge messages) and item ids of the demo catalog."""
    words, ids = [], set()
    with open(MOVIES, newline="") as f:
        for row in csv.DictReader(f):
            ids.add(row["movieId"])
            words += [w for w in row["title"].split() if w.isalpha() and len(w) > 2]
    return sorted(set(words)), ids


def send_raw(base: str, raw: bytes, timeout: float) -> tuple[int | str, str]:
    """One HTTP request written as bytes; -> (status, body text) read until the server closes."""
    u = urlsplit(base)
    data = b""
    with socket.create_connection((u.hostname, u.port), timeout=timeout) as s:
        try:
            s.sendall(raw)
        except OSError:  # the server answered and closed before the whole body was sent
            pass
        try:  # every raw case says Connection: close (or is HTTP/1.0): read until the server closes
            while chunk := s.recv(65536):
                data += chunk
        except (ConnectionResetError, TimeoutError):
            pass
    if not data.startswith(b"HTTP/"):
        return ("no answer" if not data else "not HTTP"), data[:200].decode("latin-1")
    status = int(data.split(b" ", 2)[1])
    return status, data.partition(b"\r\n\r\n")[2].decode("utf-8", "replace")


def problems(case: Case, status: int | str, text: str, ctype: str) -> list[str]:
    out = []
    if status not in case.expect:
        out.append(f"status {status}, expected {sorted(case.expect)}")
    if isinstance(status, int) and status >= 400 and case.app_level and case.method != "HEAD":
        try:
            err = json.loads(text)["error"]
            if set(err) != {"message", "type", "param", "code"} or not err["message"]:
                out.append("error not in OpenAI's shape")
        except (ValueError, KeyError, TypeError):
            out.append("error body is not OpenAI's JSON")
    if status == 200 and ctype.startswith("text/event-stream"):
        for line in text.splitlines():
            if line.startswith("data: {") and '"error"' in line:
                out.append(f"in-band stream error: {line[:160]}")
    if case.check is not None and isinstance(status, int):
        found = case.check(status, text)
        if found:
            out.append(found)
    return out


def server_error(status, text: str, ctype: str) -> bool:
    if isinstance(status, int) and status >= 500:
        return True
    return ctype.startswith("text/event-stream") and '"type": "server_error"' in text


def run(cases: list[Case], base: str, log: Path | None, timeout: float) -> list[dict]:
    rows = []
    with httpx.Client(base_url=base, timeout=timeout) as c:
        for i, case in enumerate(cases):
            mark = log.stat().st_size if log else 0
            t = time.monotonic()
            ctype = ""
            if case.raw is not None:
                status, text = send_raw(base, case.raw, timeout)
            else:
                try:
                    r = c.request(case.method, case.path, content=case.body, headers=case.headers)
                    status, text, ctype = r.status_code, r.text, r.headers.get("content-type", "")
                except httpx.HTTPError as e:
                    status, text = type(e).__name__, str(e)
            took = time.monotonic() - t
            tb = 0
            if log:
                time.sleep(0.05)  # let the server's log line land
                with open(log, "rb") as f:
                    f.seek(mark)
                    tb = f.read().count(b"Traceback")
            rows.append({"cls": case.cls, "name": case.name, "status": status, "s": round(took, 3), "tracebacks": tb,
                         "server_error": server_error(status, text, ctype),
                         "problems": problems(case, status, text, ctype)})
            if rows[-1]["problems"] or rows[-1]["server_error"]:
                rows[-1]["answer"] = text[:300]
            flag = "  <-- " + "; ".join(rows[-1]["problems"]) if rows[-1]["problems"] else ""
            print(f"[{i + 1}/{len(cases)}] {case.cls:16} {case.name[:60]:60} {status} {took:6.2f}s{flag}", flush=True)
    return rows


def table(rows: list[dict]) -> str:
    by = defaultdict(list)
    for r in rows:
        by[r["cls"]].append(r)
    lines = ["| class | cases | status codes | 5xx | tracebacks | unexpected | max latency s |", "|---|---|---|---|---|---|---|"]
    for cls, rs in [*by.items(), ("all", rows)]:
        codes = Counter(r["status"] for r in rs)
        codes_s = ", ".join(f"{k}: {v}" for k, v in sorted(codes.items(), key=lambda kv: str(kv[0])))
        lines.append(f"| {cls} | {len(rs)} | {codes_s} | {sum(r['server_error'] for r in rs)} | "
                     f"{sum(r['tracebacks'] for r in rs)} | {sum(bool(r['problems']) for r in rs)} | "
                     f"{max(r['s'] for r in rs):.2f} |")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--base", help="a running server (default: start serve.py)")
    ap.add_argument("--log", type=Path, help="that server's log file, scanned for tracebacks (with --base)")
    ap.add_argument("--timeout", type=float, default=180.0)
    ap.add_argument("--only", nargs="*", help="run only these classes")
    ap.add_argument("--server-env", nargs="*", default=[], help="KEY=VALUE for the started server")
    args = ap.parse_args()

    words, ids = catalog()
    cases = [c for c in all_cases(words, ids) if not args.only or c.cls in args.only]
    proc, tmp = None, tempfile.TemporaryDirectory(prefix="marquee-badinput-")
    if args.base:
        base, log = args.base.rstrip("/"), args.log
    else:
        log = REPO / "benchmarks" / "results" / "bad_input_server.log"
        env = {"MARQUEE_PROFILES_PATH": str(Path(tmp.name) / "profiles.sqlite"),
               **dict(kv.split("=", 1) for kv in args.server_env)}
        proc, base = start_server(env, log)
    load0 = os.getloadavg()
    t0 = time.time()
    try:
        rows = run(cases, base, log, args.timeout)
        healthy = httpx.get(base + "/health", timeout=10).status_code
    finally:
        if proc is not None:
            os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.wait(120)
            except Exception:
                os.killpg(proc.pid, signal.SIGKILL)
        tmp.cleanup()
    log_tb = log.read_bytes().count(b"Traceback") if log else None
    n5, tb = sum(r["server_error"] for r in rows), sum(r["tracebacks"] for r in rows)
    missed = [r for r in rows if r["problems"]]
    print(f"\nmachine: {platform.node()} {os.cpu_count()} cores, {platform.processor() or platform.machine()}; "
          f"load average {load0[0]:.1f} at start, {os.getloadavg()[0]:.1f} at end; {len(rows)} cases in "
          f"{time.time() - t0:.0f} s; /health after the run: {healthy}; 'Traceback' in the whole server log: {log_tb}")
    print(table(rows))
    if missed:
        print("\nunexpected answers:")
        for r in missed:
            print(f"  {r['cls']} / {r['name']}: {'; '.join(r['problems'])}  | {r.get('answer', '')[:160]!r}")
    slow = sorted(rows, key=lambda r: -r["s"])[:5]
    print("\nslowest: " + "; ".join(f"{r['cls']}/{r['name']} {r['s']:.2f} s" for r in slow))
    out = REPO / "benchmarks" / "results" / f"bad_input_{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps({"cases": len(rows), "n_5xx": n5, "tracebacks": tb, "log_tracebacks": log_tb,
                               "healthy_after": healthy, "rows": rows}, indent=0, default=str))
    print(f"written to {out.relative_to(REPO)}")
    return 1 if n5 or tb or log_tb else (2 if missed else 0)


if __name__ == "__main__":
    sys.exit(main())
