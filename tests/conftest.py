"""Fakes and tiny fixtures: a six-film catalog, a deterministic embedder, a scripted LLM,
Chroma in tmp_path; start_server/stop_server run `python serve.py` (or tests/fake_server.py) as a
real process on a free loopback port. Real-model fixtures (embedder from the wheel, vLLM with the
135M pack) skip with a reason when the component is absent."""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from agent.config import Settings
from agent.embedding import Embedder
from agent.llm.base import LabelScores, LLM, GenerationChunk, GenerationRequest
from agent.types import Item

REPO = Path(__file__).resolve().parents[1]
os.environ.setdefault("HF_HUB_OFFLINE", "1")  # tests never reach a model hub

SIX_FILMS = [
    Item("1", "Alien", 1979, ("Horror", "Sci-Fi"), "A commercial spaceship crew meets a deadly alien creature.",
         tags=("aliens", "space"), keywords=("spaceship", "alien"), runtime=117),
    Item("2", "Heat", 1995, ("Action", "Crime", "Thriller"), "A master thief and a detective clash in Los Angeles.",
         tags=("heist",), keywords=("bank robbery", "police"), runtime=170),
    Item("3", "Aliens", 1986, ("Action", "Horror", "Sci-Fi"), "Ripley returns with space marines to fight the aliens.",
         tags=("aliens", "sequel"), keywords=("space marine", "sequel"), runtime=137),
    Item("4", "Toy Story", 1995, ("Animation", "Children", "Comedy"), "Toys come to life when their owner is away.",
         tags=("pixar",), keywords=("toy",), runtime=81),
    Item("5", "Ronin", 1998, ("Action", "Crime", "Thriller"), "Mercenaries chase a mysterious briefcase across France.",
         tags=("car chase",), keywords=("heist", "briefcase"), runtime=122),
    Item("6", "The Thing", 1982, ("Horror", "Sci-Fi"), "An Antarctic research team meets a shape-shifting alien.",
         tags=("paranoia",), keywords=("antarctica", "alien"), runtime=109),
]


class HashEmbedder(Embedder):
    """Deterministic bag-of-words embedder: similar words -> similar vectors. Tests only."""

    name = "test-hash-embedder"
    dim = 64

    def embed_batch(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, t in enumerate(texts):
            for w in re.findall(r"[a-z]+", t.lower()):
                out[i, int(hashlib.md5(w.encode()).hexdigest(), 16) % self.dim] += 1.0
            out[i] /= np.linalg.norm(out[i]) + 1e-9
        return out


class ScriptedLLM(LLM):
    """Replays scripted answers (a string, or a function of the request) in small chunks."""

    name = "scripted"

    def __init__(self, answers=None, chunk: int = 7, adapters: tuple[str, ...] = (), continues_prefix: bool = False):
        self.continues_prefix = continues_prefix  # then a scripted answer is the continuation of request.prefix
        self.answers = list(answers or [])
        self.requests: list[GenerationRequest] = []
        self.chunk = chunk
        self.adapters = adapters

    async def stream(self, request: GenerationRequest):
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else (self.answers[0] if self.answers else "")
        text = answer(request) if callable(answer) else answer
        for i in range(0, len(text), self.chunk):
            yield GenerationChunk(text[i : i + self.chunk])
        yield GenerationChunk("", finish_reason="stop", prompt_tokens=100, completion_tokens=len(text) // 4)


class LabelLLM(ScriptedLLM):
    """A fake that also reads labels: `prefer` maps a film label ("Aliens (1986)") to a
    log-probability; unlisted candidates get -10. Explanations are scripted as in ScriptedLLM
    (a string, or a function of the request), optionally after `delays[film label]` seconds."""

    name = "labels"
    scores_labels = True

    def __init__(self, prefer: dict[str, float] | None = None, answers=None, delays: dict[str, float] | None = None, **kw):
        super().__init__(answers, **kw)
        self.prefer = prefer or {}
        self.delays = delays or {}
        self.label_requests = []
        self.cancelled = 0

    async def score_labels(self, request):
        self.label_requests.append(request)
        lines = request.messages[1]["content"].splitlines()
        out = []
        for lab in request.labels:
            line = next(x for x in lines if x.startswith(f"{lab}. "))
            out.append(next((v for k, v in self.prefer.items() if line.startswith(f"{lab}. {k}")), -10.0))
        return LabelScores(tuple(out), prompt_tokens=50)

    async def stream(self, request):
        import asyncio

        film = request.messages[1]["content"].split("Recommended film: ", 1)[-1]
        try:
            for k, d in self.delays.items():
                if film.startswith(k):
                    await asyncio.sleep(d)
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        async for c in super().stream(request):
            yield c


def answer_json(*pairs: tuple[str, str]) -> str:
    return json.dumps({"recommendations": [{"item_id": i, "explanation": e} for i, e in pairs]})


@pytest.fixture
def six_films() -> list[Item]:
    return list(SIX_FILMS)


@pytest.fixture
def catalog_jsonl(tmp_path: Path) -> Path:
    p = tmp_path / "catalog.jsonl"
    with open(p, "w") as f:
        for it in SIX_FILMS:
            f.write(json.dumps({"id": it.item_id, "title": it.title, "year": it.year, "genres": list(it.genres),
                                "overview": it.overview, "tags": list(it.tags), "keywords": list(it.keywords),
                                "runtime": it.runtime}) + "\n")
    return p


@pytest.fixture
def ratings_csv(tmp_path: Path) -> Path:
    p = tmp_path / "ratings.csv"
    p.write_text(
        "userId,movieId,rating,timestamp\n"
        "7,1,5.0,100\n7,2,4.5,200\n7,4,2.0,300\n"
        "8,1,4.0,100\n8,3,5.0,200\n8,6,4.0,300\n"
        "9,2,4.0,100\n9,5,5.0,200\n"
    )
    return p


@pytest.fixture
def settings(tmp_path: Path, catalog_jsonl: Path, ratings_csv: Path) -> Settings:
    return Settings(
        catalog=catalog_jsonl, tmdb=None, interactions=ratings_csv, home=tmp_path / "home",
        chroma_path=tmp_path / "chroma", collection="test", k_candidates=4, n_recommendations=2,
        llm_backend="vllm", model="unused-in-unit-tests",
        rank_prior_weight=0.0,  # unit tests read the (fake) LLM's order; the prior has its own tests
        allowed_hosts=["localhost", "127.0.0.1", "::1", "t"],  # "t": the tests' ASGI base URL http://t
    )


@pytest.fixture
def embedder() -> HashEmbedder:
    return HashEmbedder()


@pytest.fixture
def make_recommender(settings, embedder):
    from agent.recommender import Recommender

    def make(llm: LLM | None = None, **overrides):
        s = settings.model_copy(update=overrides)
        return Recommender.build(s, llm=llm or ScriptedLLM([answer_json()]), embedder=embedder)

    return make


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(args: list[str], port: int, log: Path, env: dict | None = None, *, timeout: float = 900,
                 poll: float = 1.0) -> tuple[subprocess.Popen, str]:
    """`python ARGS` (serve.py or `-m tests.fake_server`, told `--port PORT` in ARGS) in its own process
    group, output appended to `log`; -> (process, "http://127.0.0.1:PORT") once GET /health is 200.
    Fails the test when the process exits, /health says start-up failed, or `timeout` passes."""
    import httpx

    proc = subprocess.Popen([sys.executable, *args], cwd=REPO, env={**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})},
                            stdout=open(log, "a"), stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + timeout
    while True:
        if proc.poll() is not None:
            pytest.fail(f"{' '.join(args[:2])} exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            r = httpx.get(base + "/health", timeout=2)
            if r.status_code == 200:
                return proc, base
            if r.json()["error"].get("code") == "startup_failed":
                stop_server(proc)
                pytest.fail(f"start-up failed: {r.text}\n{log.read_text()[-3000:]}")
        except (httpx.HTTPError, ValueError, KeyError):
            pass
        if time.time() > deadline:
            stop_server(proc)
            pytest.fail(f"{' '.join(args[:2])} not ready in {timeout:.0f} s:\n{log.read_text()[-3000:]}")
        time.sleep(poll)


def stop_server(proc: subprocess.Popen, timeout: float = 60) -> None:
    """SIGTERM to the server's process group; SIGKILL when it has not exited within `timeout`."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)


def serve_in_thread(app, **options):
    """Run an ASGI app under uvicorn on a free loopback port in a daemon thread:
    (server, thread, "http://127.0.0.1:PORT"); stop with server.should_exit = True, thread.join().
    `options`: more uvicorn.Config keywords (serve.uvicorn_options)."""
    import uvicorn

    port = free_port()
    srv = uvicorn.Server(uvicorn.Config(app, **{"log_level": "warning", **options, "host": "127.0.0.1", "port": port}))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    for _ in range(500):
        if srv.started:
            break
        time.sleep(0.02)
    assert srv.started, "uvicorn did not start"
    return srv, thread, f"http://127.0.0.1:{port}"
