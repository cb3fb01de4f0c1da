"""Admission control and deadlines on serve.py's real app (scripted LLM whose explanations take a
set time): beyond the active slots and the queue a request is refused at once with 429 and
Retry-After; past the deadline it gets 504 (in a stream: an in-band error) and its LLM work is
cancelled; a slot is given back however a request ends. Then the faults around the LLM: vLLM
request ids aborted on cancel, close() waits for an engine still starting, the remote backend
closes its HTTP client, and the profile updater's per-user state stays bounded."""

from __future__ import annotations

import asyncio
import gc
import json

import httpx
import pytest

from agent.api.admission import Admission, Busy
from serve import create_app
from tests.conftest import LabelLLM, serve_in_thread

ASK = {"model": "marquee", "messages": [{"role": "user", "content": "I loved Alien. What next?"}]}
PREFER = {"Aliens (1986)": -0.1, "The Thing (1982)": -0.5}


def slow_app(make_recommender, settings, delay: float, **limits):
    llm = LabelLLM(PREFER, ["A film about aliens."], delays={"Aliens": delay})
    app = create_app(settings.model_copy(update=limits), make_recommender(llm))
    return app, llm


def client(app):
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t", timeout=30)


async def test_beyond_slots_and_queue_is_429_with_retry_after(make_recommender, settings):
    app, _ = slow_app(make_recommender, settings, 0.6, max_active_requests=1, max_queued_requests=1)
    async with client(app) as c:
        rs = await asyncio.gather(*(c.post("/v1/chat/completions", json=ASK) for _ in range(4)))
    codes = sorted(r.status_code for r in rs)
    assert codes == [200, 200, 429, 429]  # one running, one queued, two refused at once
    busy = next(r for r in rs if r.status_code == 429)
    assert int(busy.headers["retry-after"]) >= 1
    err = busy.json()["error"]
    assert err["type"] == "rate_limit_exceeded" and err["code"] == "server_busy" and "busy" in err["message"]
    assert app.state.admission.active == 0 and app.state.admission.waiting == 0


async def test_the_openai_client_sees_a_rate_limit_error(make_recommender, settings):
    import openai

    app, _ = slow_app(make_recommender, settings, 0.6, max_active_requests=1, max_queued_requests=0)
    oc = openai.AsyncOpenAI(base_url="http://t/v1", api_key="x", max_retries=0,
                            http_client=httpx.AsyncClient(transport=httpx.ASGITransport(app=app)))
    out = await asyncio.gather(*(oc.chat.completions.create(**ASK) for _ in range(2)), return_exceptions=True)
    assert sum(isinstance(o, openai.RateLimitError) for o in out) == 1


@pytest.mark.parametrize("stream", [False, True])
async def test_past_the_deadline_is_504_and_the_llm_work_is_cancelled(make_recommender, settings, stream):
    app, llm = slow_app(make_recommender, settings, 30.0, request_timeout_s=0.5)
    async with client(app) as c:
        r = await c.post("/v1/chat/completions", json={**ASK, "stream": stream})
    if stream:  # the ranking was streamed already: the deadline arrives in-band, then [DONE]
        assert r.status_code == 200
        events = [line[6:] for line in r.text.splitlines() if line.startswith("data: ")]
        assert events[-1] == "[DONE]"
        err = json.loads(events[-2])["error"]
    else:
        assert r.status_code == 504
        err = r.json()["error"]
    assert err["code"] == "deadline_exceeded" and "0.5 s deadline" in err["message"]
    await asyncio.sleep(0.05)
    assert llm.cancelled >= 1  # the explanation waiting on the LLM was cancelled, not left running
    assert app.state.admission.active == 0


async def test_a_queued_request_counts_its_wait_against_the_deadline(make_recommender, settings):
    app, _ = slow_app(make_recommender, settings, 2.0, max_active_requests=1, max_queued_requests=4,
                      request_timeout_s=1.0)
    async with client(app) as c:
        first, second = await asyncio.gather(c.post("/v1/chat/completions", json=ASK),
                                             c.post("/v1/chat/completions", json=ASK))
    assert {first.status_code, second.status_code} == {504}
    assert app.state.admission.active == 0 and app.state.admission.waiting == 0


def test_a_client_that_leaves_mid_stream_gives_its_slot_back(make_recommender, settings):
    app, llm = slow_app(make_recommender, settings, 30.0, max_active_requests=1, max_queued_requests=0)
    srv, thread, base = serve_in_thread(app)
    try:
        with httpx.Client(base_url=base, timeout=10) as c:
            with c.stream("POST", "/v1/chat/completions", json={**ASK, "stream": True}) as r:
                for line in r.iter_lines():
                    if "marquee_ranking" in line:
                        break  # the order arrived; the explanation is 30 s away: hang up
            for _ in range(100):
                if app.state.admission.active == 0:
                    break
                import time

                time.sleep(0.05)
            assert app.state.admission.active == 0 and llm.cancelled >= 1
            assert c.get("/health").status_code == 200
    finally:
        srv.should_exit = True
        thread.join(20)


async def test_admission_unit():
    gate = Admission(max_active=1, max_queued=0)
    async with gate.slot():
        with pytest.raises(Busy) as e:
            async with gate.slot():
                pass
        assert e.value.status == 429 and e.value.retry_after >= 1
    async with gate.slot():  # free again
        assert gate.active == 1


# ---- faults around the LLM -----------------------------------------------------------------------
class FakeAsyncLLM:
    """Stands in for vllm's AsyncLLM: generate() never finishes; abort() and shutdown() are recorded."""

    def __init__(self):
        self.aborted, self.shut = [], 0

    async def generate(self, prompt, params, request_id, lora_request=None):
        await asyncio.sleep(3600)
        yield None

    async def abort(self, request_id):
        self.aborted.append(request_id)

    def shutdown(self):
        self.shut += 1


class FakeTokenizer:
    def apply_chat_template(self, messages, add_generation_prompt, tokenize):
        return [1, 2, 3]


def vllm_engine():
    pytest.importorskip("vllm", reason="vLLM is not installed")
    from agent.llm.vllm_engine import VLLMEngine

    eng = VLLMEngine("/a/local/model/dir")  # never loaded: the fake engine answers
    eng._engine, eng._tokenizer = FakeAsyncLLM(), FakeTokenizer()
    return eng


async def test_a_cancelled_generation_aborts_its_vllm_request():
    from agent.llm.base import GenerationRequest, LabelRequest

    eng = vllm_engine()
    fake = eng._engine
    gen = asyncio.ensure_future(eng.complete(GenerationRequest([{"role": "user", "content": "x"}], request_id="r-gen")))
    eng._label_ids = {"A": 7}
    lab = asyncio.ensure_future(eng.score_labels(LabelRequest([{"role": "user", "content": "x"}], ("A",), request_id="r-lab")))
    await asyncio.sleep(0.05)
    gen.cancel(), lab.cancel()
    await asyncio.gather(gen, lab, return_exceptions=True)
    assert sorted(fake.aborted) == ["r-gen", "r-lab"]
    await eng.close()
    assert fake.shut == 1 and eng._engine is None


async def test_close_waits_for_an_engine_still_starting():
    import threading

    eng = vllm_engine()
    eng._engine = None
    fake, gate = FakeAsyncLLM(), threading.Event()

    def build():
        gate.wait(5)
        return fake

    eng._starting = asyncio.ensure_future(asyncio.to_thread(build))
    closing = asyncio.ensure_future(eng.close())
    await asyncio.sleep(0.05)
    assert not closing.done()  # it waits for the engine being built ...
    gate.set()
    await closing
    assert fake.shut == 1  # ... and shuts it down: no engine core process left behind


async def test_the_remote_backend_closes_its_http_client():
    from agent.llm.openai_remote import OpenAIRemote

    http = httpx.AsyncClient()
    llm = OpenAIRemote("http://127.0.0.1:9/v1", model="m", http_client=http)
    await llm.close()
    assert http.is_closed


async def test_profile_updater_state_is_bounded(make_recommender):
    from agent.api.users import Users
    from tests.conftest import ScriptedLLM

    users = Users(make_recommender(ScriptedLLM(["Likes crime films such as Heat (1995)."]), profile_debounce_s=30,
                                   max_profile_rewrites=2))
    up = users.updater
    assert up.schedule("a") and up.schedule("b")
    assert up.schedule("a")  # re-arming a pending user's timer is always fine
    assert not up.schedule("c")  # a third user would exceed max_pending
    assert sum(not t.cancelling() for t in up._tasks) == 2
    await up.close()
    await up.update("9")  # a rewrite takes and drops its per-user lock
    gc.collect()
    assert len(up._locks) == 0


def test_an_idle_keep_alive_connection_outlives_the_clients_pool_expiry(make_recommender, settings):
    """httpx and the openai SDK drop idle pooled connections after 5 s, uvicorn's own default.
    With both at 5 s a client that reuses a connection (after sleeping a Retry-After) can send
    as the server closes it: a ReadError, no answer. serve.py's keep-alive outlasts the client's,
    so a connection idle for 6 s still answers on the same socket."""
    import socket
    import time

    import serve
    from tests.conftest import ScriptedLLM

    app = create_app(settings, make_recommender(ScriptedLLM(["x"])))
    opts = serve.uvicorn_options(settings)
    assert opts["timeout_keep_alive"] > 5
    srv, thread, base = serve_in_thread(app, timeout_keep_alive=opts["timeout_keep_alive"])
    host, port = base.removeprefix("http://").split(":")
    ask = f"GET /health HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
    try:
        with socket.create_connection((host, int(port)), timeout=10) as s:
            s.sendall(ask)
            assert s.recv(4096).startswith(b"HTTP/1.1 200")
            time.sleep(6)
            s.sendall(ask)
            assert s.recv(4096).startswith(b"HTTP/1.1 200")  # b"" if the server had closed the connection
    finally:
        srv.should_exit = True
        thread.join(10)
