"""Shutdown leaves no process behind: `python serve.py` with real vLLM (135M pack) gets SIGTERM
while its engine is still starting (the hardest case: the engine core process is being built in
a thread); the server waits for it, shuts it down, and exits; none of its child processes remain.
(The load benchmark checks the same after serving, see benchmarks/load_bench.py.)"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import psutil
import pytest

from tests.conftest import REPO, free_port
from tests.test_integration import _missing

pytestmark = pytest.mark.integration


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def title(p: psutil.Process) -> str:
    try:
        return " ".join(p.cmdline()) + " " + p.name()  # vLLM sets the title VLLM::EngineCore
    except psutil.Error:
        return ""


def test_sigterm_during_engine_start_leaves_no_process(tmp_path):
    reason = _missing()
    if reason:
        pytest.skip(reason)
    from agent.catalog import load_catalog

    items = load_catalog(REPO / "data" / "demo" / "movielens-small", None)[:12]
    catalog = tmp_path / "catalog.jsonl"
    catalog.write_text("".join(json.dumps({"id": it.item_id, "title": it.title, "year": it.year,
                                           "genres": list(it.genres)}) + "\n" for it in items))
    port = free_port()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "MARQUEE_MODEL": "pack:smollm2-135m",
           "MARQUEE_CHROMA_PATH": str(tmp_path / "chroma"), "MARQUEE_COLLECTION": "shutdown",
           "MARQUEE_PROFILES_PATH": str(tmp_path / "profiles.sqlite"), "MARQUEE_INTERACTIONS": ""}
    log = tmp_path / "serve.log"
    proc = subprocess.Popen([sys.executable, "serve.py", "--port", str(port), "--catalog", str(catalog)], cwd=REPO,
                            env=env, stdout=open(log, "w"), stderr=subprocess.STDOUT, start_new_session=True)
    seen: set[int] = set()
    try:
        deadline = time.time() + 300
        while time.time() < deadline and proc.poll() is None:  # wait for the engine core process to exist
            assert "marquee failed to start" not in log.read_text(), log.read_text()[-3000:]
            kids = psutil.Process(proc.pid).children(recursive=True)
            seen |= {k.pid for k in kids}
            if any("EngineCor" in title(k) for k in kids):
                break
            time.sleep(0.2)
        assert proc.poll() is None, log.read_text()[-3000:]
        assert seen, "no child process appeared"
        time.sleep(1)
        seen |= {k.pid for k in psutil.Process(proc.pid).children(recursive=True)}
        os.kill(proc.pid, signal.SIGTERM)
        proc.wait(240)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    for _ in range(50):  # a child may need a moment to see its parent gone (multiprocessing's resource tracker)
        left = {p: title(psutil.Process(p)) for p in seen if alive(p)}
        if not left:
            break
        time.sleep(0.2)
    assert left == {}, f"left behind: {left}\n{log.read_text()[-3000:]}"
