"""schemathesis over a real `python serve.py`'s /openapi.json (loopback): a fixed number of
generated cases per operation (seeded), one worker (so admission never answers 429), the check
`not_a_server_error` only. Prints schemathesis' own summary, the server log's "Traceback" count
and a one-line result; writes benchmarks/results/schema_fuzz_<timestamp>.json.

    python benchmarks/schema_fuzz.py                          # starts serve.py (demo catalog, 135M pack)
    python benchmarks/schema_fuzz.py --examples 50 --phases examples,coverage,fuzzing
    python benchmarks/schema_fuzz.py --schemathesis /tmp/st/bin/schemathesis  # where it is installed

schemathesis is in the `dev` extra (`pip install -e '.[dev]'`); it only talks HTTP, so any
environment that has it will do. The schema gives every request body (serve.py documents the
bodies its routes read themselves), the extensions included; the body parser's limits (depth,
number size, surrogates) are not in the schema, so they are what negative cases run into.
Not in the default test run: it takes minutes (accepted chat bodies call the LLM).
Exit status: schemathesis' own (non-zero on any failure) or 1 when the log shows a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from load_bench import REPO, start_server


def find_schemathesis(given: str | None) -> str:
    for cand in (given, shutil.which("schemathesis"), str(Path(sys.executable).with_name("schemathesis"))):
        if cand and Path(cand).exists():
            return cand
    sys.exit("schemathesis not found: pip install -e '.[dev]' (or pass --schemathesis PATH)")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--base", help="a running server (default: start serve.py)")
    ap.add_argument("--log", type=Path, help="that server's log (with --base), scanned for tracebacks")
    ap.add_argument("--examples", type=int, default=30, help="generated cases per operation and phase (-n)")
    ap.add_argument("--phases", default="examples,coverage,fuzzing")
    ap.add_argument("--seed", type=int, default=18)
    ap.add_argument("--schemathesis", help="path of the schemathesis command")
    ap.add_argument("--request-timeout", type=float, default=120.0)
    args = ap.parse_args()

    st = find_schemathesis(args.schemathesis)
    tmp = tempfile.TemporaryDirectory(prefix="marquee-schemathesis-")
    proc = None
    if args.base:
        base, log = args.base.rstrip("/"), args.log
    else:
        log = REPO / "benchmarks" / "results" / "schema_fuzz_server.log"
        proc, base = start_server({"MARQUEE_PROFILES_PATH": str(Path(tmp.name) / "profiles.sqlite")}, log)
    report = Path(tmp.name) / "report"
    cmd = [st, "run", f"{base}/openapi.json", "--checks", "not_a_server_error", "-n", str(args.examples),
           "--seed", str(args.seed), "--workers", "1", "--phases", args.phases, "--generation-database", "none",
           "--request-timeout", str(args.request_timeout), "--no-color", "--report", "junit",
           "--report-dir", str(report), "--suppress-health-check", "all"]
    print("$ " + " ".join(cmd), flush=True)
    t0, load0 = time.time(), os.getloadavg()[0]
    try:
        run = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp.name)  # its .schemathesis/ cache stays out of the repo
    finally:
        if proc is not None:
            os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.wait(120)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
    took = time.time() - t0
    out = run.stdout + run.stderr
    print(out[-6000:])
    junit = next(report.glob("*.xml"), None)
    tests = failures = errors = None
    if junit is not None:
        head = junit.read_text()[:2000]
        num = lambda k: int(m.group(1)) if (m := re.search(rf'\b{k}="(\d+)"', head)) else None  # noqa: E731
        tests, failures, errors = num("tests"), num("failures"), num("errors")
    generated = re.findall(r"(\d[\d,]*) generated", out)
    tb = log.read_bytes().count(b"Traceback") if log else None
    result = {"command": " ".join(cmd[1:]), "exit": run.returncode, "seconds": round(took),
              "test_cases_generated": generated[-1] if generated else None, "junit_operations": tests,
              "junit_failures": failures, "junit_errors": errors, "log_tracebacks": tb,
              "load_average_start": load0, "machine": f"{platform.node()} {os.cpu_count()} cores"}
    print(json.dumps(result))
    path = REPO / "benchmarks" / "results" / f"schema_fuzz_{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps({**result, "summary": out[-4000:]}, indent=1))
    print(f"written to {path.relative_to(REPO)}")
    tmp.cleanup()
    return run.returncode or (1 if tb else 0)


if __name__ == "__main__":
    sys.exit(main())
