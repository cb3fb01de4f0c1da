"""kill -9 during concurrent interaction writes, through the real server process
(tests/fake_server.py: serve.py's app with a scripted LLM, the real SQLite store): every event
the server acknowledged (HTTP 200) is on disk after the crash, and retrying all of them on the
restarted server stores each exactly once (acknowledged ones come back as duplicates, never as
409 conflicts)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess

import httpx
import pytest

from agent.profiles import ProfileStore
from tests.conftest import free_port, start_server, stop_server

EVENTS = 500
TYPES = ("watched", "liked", "disliked", "skipped")


def start(d, log) -> tuple[subprocess.Popen, str]:
    port = free_port()
    return start_server(["-m", "tests.fake_server", "--dir", str(d), "--port", str(port)], port, log, timeout=60, poll=0.1)


def event(i: int) -> dict:
    return {"event_id": f"ev-{i}", "item_id": str(1 + i % 6), "type": TYPES[i % 4], "timestamp": 1_700_000_000 + i}


async def post_all(base: str, ids, on_ack=None, concurrency: int = 32) -> dict[int, int | str]:
    """POST each event once; -> event index: HTTP status, or the exception name when none came."""
    out: dict[int, int | str] = {}
    sem = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(base_url=base, timeout=30) as c:
        async def one(i):
            async with sem:
                try:
                    r = await c.post("/v1/users/dur/interactions", json=event(i))
                    out[i] = r.status_code
                    if r.status_code == 200 and on_ack:
                        on_ack(i)
                except httpx.HTTPError as e:
                    out[i] = type(e).__name__
        await asyncio.gather(*(one(i) for i in ids))
    return out


def test_kill_9_during_writes_loses_no_acknowledged_event(tmp_path):
    log = tmp_path / "server.log"
    proc, base = start(tmp_path / "srv", log)
    acked: list[int] = []

    def on_ack(i):
        acked.append(i)
        if len(acked) == 150:
            os.killpg(proc.pid, signal.SIGKILL)  # mid-burst: ~32 requests are in flight

    try:
        first = asyncio.run(post_all(base, range(EVENTS), on_ack))
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
    acked_ids = {f"ev-{i}" for i, s in first.items() if s == 200}
    assert 150 <= len(acked_ids) < EVENTS, "the kill came too late to test anything"
    assert any(s != 200 for s in first.values())  # some requests died with the process

    store = ProfileStore(tmp_path / "srv" / "profiles.sqlite")  # after the crash, before any restart
    on_disk = {e.event_id for e in store.events("dur")}
    store.close()
    assert acked_ids <= on_disk, f"lost {len(acked_ids - on_disk)} acknowledged events"

    proc, base = start(tmp_path / "srv", log)
    try:
        again = asyncio.run(post_all(base, range(EVENTS)))
        counts = httpx.get(base + "/v1/users/dur/profile", timeout=10).json()["counts"]
    finally:
        stop_server(proc, timeout=30)
    assert set(again.values()) == {200}, {s for s in again.values() if s != 200}  # no 409: same payloads
    assert counts["events"] == EVENTS  # each stored exactly once
    store = ProfileStore(tmp_path / "srv" / "profiles.sqlite")
    ids = [e.event_id for e in store.events("dur")]
    store.close()
    assert len(ids) == len(set(ids)) == EVENTS
