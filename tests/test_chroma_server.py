"""Ingestion and retrieval through a real Chroma server (`chroma run` on loopback) by URL."""

import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from agent.ingest import ingest, open_store
from agent.retrieval import Retriever
from agent.types import HistoryEntry, UserHistory
from tests.conftest import SIX_FILMS, free_port

CHROMA = shutil.which("chroma") or str(Path(sys.executable).parent / "chroma")


@pytest.fixture
def chroma_url(tmp_path):
    if not Path(CHROMA).exists():
        pytest.skip("the `chroma` CLI (chromadb package) is not installed")
    port = free_port()
    proc = subprocess.Popen([CHROMA, "run", "--path", str(tmp_path / "server"), "--host", "127.0.0.1",
                             "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(url + "/api/v2/heartbeat", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None:
                pytest.fail(f"chroma run exited with {proc.returncode}")
            time.sleep(0.1)
        else:
            pytest.fail("chroma server did not start in 30 s")
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


def test_ingest_and_retrieve_via_server(settings, embedder, chroma_url):
    s = settings.model_copy(update={"chroma_url": chroma_url})
    store = open_store(s, embedder)
    assert ingest(SIX_FILMS, store, embedder, progress=False).embedded == 6
    assert ingest(SIX_FILMS, open_store(s, embedder), embedder, progress=False).unchanged == 6
    r = Retriever(store, embedder, {i.item_id: i for i in SIX_FILMS})
    cands = r.retrieve("alien creature spaceship", UserHistory("u", (HistoryEntry("1", True),)), k=3)
    assert "1" not in [c.item.item_id for c in cands] and cands[0].item.item_id in {"6", "3"}
    assert not (settings.chroma_dir).exists()  # nothing went to the local embedded store
