"""The HTTP layer with a scripted LLM: OpenAI shapes, streaming, errors. Driven both by raw
HTTP (httpx over ASGI) and by the unchanged `openai` client."""

import json

import httpx
import openai
import pytest

from serve import create_app
from tests.conftest import LabelLLM, ScriptedLLM, answer_json

GOOD_3 = "A 1986 sci-fi action film: Ripley returns with space marines to fight the aliens, like Alien."
GOOD_6 = "A 1982 horror sci-fi film: a research team meets a shape-shifting alien, close to Alien."
ASK = {"model": "marquee", "messages": [{"role": "user", "content": "I loved Alien and Heat. What next?"}]}


@pytest.fixture
def app(make_recommender, settings):
    rec = make_recommender(ScriptedLLM([answer_json(("3", GOOD_3), ("6", GOOD_6))], adapters=("marquee-lora",)))
    return create_app(settings, rec)


@pytest.fixture
async def http(app):
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        yield c


async def test_health_and_models(http):
    assert (await http.get("/health")).status_code == 200
    ids = [m["id"] for m in (await http.get("/v1/models")).json()["data"]]
    assert ids == ["marquee", "marquee-lora"]


async def test_openai_client_non_stream(app):
    client = openai.AsyncOpenAI(base_url="http://t/v1", api_key="x",
                                http_client=httpx.AsyncClient(transport=httpx.ASGITransport(app=app)))
    r = await client.chat.completions.create(**ASK)
    text = r.choices[0].message.content
    assert "1. Aliens (1986): " + GOOD_3 in text and "2. The Thing (1982)" in text
    assert r.usage.total_tokens > 0
    recs = r.model_extra["marquee"]["recommendations"]
    assert [x["item_id"] for x in recs] == ["3", "6"]


async def test_json_object_response(http):
    r = await http.post("/v1/chat/completions", json={**ASK, "response_format": {"type": "json_object"}})
    content = json.loads(r.json()["choices"][0]["message"]["content"])
    assert [x["item_id"] for x in content["recommendations"]] == ["3", "6"]
    assert content["recommendations"][0]["title"] == "Aliens" and content["recommendations"][0]["explanation"] == GOOD_3


@pytest.mark.parametrize("as_json", [False, True])
async def test_openai_client_stream(app, as_json):
    client = openai.AsyncOpenAI(base_url="http://t/v1", api_key="x",
                                http_client=httpx.AsyncClient(transport=httpx.ASGITransport(app=app)))
    extra = {"response_format": {"type": "json_object"}} if as_json else {}
    stream = await client.chat.completions.create(**ASK, stream=True, stream_options={"include_usage": True}, **extra)
    parts, finish, usage = [], None, None
    async for ch in stream:
        if ch.usage:
            usage = ch.usage
        for c in ch.choices:
            parts.append(c.delta.content or "")
            finish = c.finish_reason or finish
    text = "".join(parts)
    assert finish == "stop" and usage is not None
    if as_json:
        assert [x["item_id"] for x in json.loads(text)["recommendations"]] == ["3", "6"]
    else:
        assert text.index("1. Aliens (1986)") < text.index("2. The Thing (1982)")
    # streamed text is exactly the non-streamed answer
    full = await client.chat.completions.create(**ASK, **extra)
    assert text == full.choices[0].message.content


async def test_one_pass_stream_sends_the_first_film_before_its_explanation(make_recommender, settings):
    def explain(request):
        return GOOD_3 if "Recommended film: Aliens" in request.messages[1]["content"] else GOOD_6

    llm = LabelLLM({"Aliens (1986)": -0.1, "The Thing (1982)": -0.5}, [explain])
    app = create_app(settings, make_recommender(llm))
    client = openai.AsyncOpenAI(base_url="http://t/v1", api_key="x",
                                http_client=httpx.AsyncClient(transport=httpx.ASGITransport(app=app)))
    stream = await client.chat.completions.create(**ASK, stream=True)
    chunks = [ch async for ch in stream]
    order = next(i for i, ch in enumerate(chunks) if (ch.model_extra or {}).get("marquee_ranking"))
    first_item = next(i for i, ch in enumerate(chunks) if (ch.model_extra or {}).get("marquee_recommendation"))
    assert order < first_item
    assert chunks[order].choices[0].delta.content == "1. Aliens (1986)"
    assert [x["item_id"] for x in chunks[order].model_extra["marquee_ranking"]] == ["3", "6"]
    assert chunks[first_item].choices[0].delta.content == f": {GOOD_3}\n"
    text = "".join(c.delta.content or "" for ch in chunks for c in ch.choices)
    full = await client.chat.completions.create(**ASK)
    assert text == full.choices[0].message.content and "2. The Thing (1982): " + GOOD_6 in text


async def test_render_dry_run(http):
    r = (await http.post("/v1/render", json=ASK)).json()
    assert [m["role"] for m in r["messages"]] == ["system", "user"]
    assert {c["item_id"] for c in r["candidates"]}.isdisjoint({"1", "2"})
    assert [t["item_id"] for t in r["named_titles"]] == ["1", "2"]


@pytest.mark.parametrize(
    "body, status, param",
    [
        (b"{not json", 400, None),
        (b"[1, 2]", 400, None),
        (json.dumps({"model": "marquee"}).encode(), 400, "messages"),
        (json.dumps({"model": "marquee", "messages": []}).encode(), 400, "messages"),
        (json.dumps({**ASK, "messages": [{"role": "user", "content": "   "}]}).encode(), 400, "messages"),
        (json.dumps({**ASK, "model": "gpt-4"}).encode(), 404, "model"),
        (json.dumps({**ASK, "temperature": 5}).encode(), 400, "temperature"),
        (json.dumps({**ASK, "n": 2}).encode(), 400, "n"),
        (json.dumps({**ASK, "max_tokens": 0}).encode(), 400, "max_tokens"),
        (json.dumps({**ASK, "max_tokens": 10, "ranking": "generate"}).encode(), 400, "max_tokens"),
        (json.dumps({**ASK, "ranking": "best"}).encode(), 400, "ranking"),
        (json.dumps({**ASK, "messages": [{"role": "wizard", "content": "x"}]}).encode(), 400, "messages.0.role"),
        (json.dumps({**ASK, "messages": [{"role": "user", "content": "x" * 9000}]}).encode(), 413, "messages"),
        (b"{" + b" " * 300_000 + b"}", 413, None),
    ],
)
async def test_errors_are_openai_shaped(http, body, status, param):
    r = await http.post("/v1/chat/completions", content=body, headers={"content-type": "application/json"})
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert set(err) == {"message", "type", "param", "code"} and err["message"]
    assert err["param"] == param


async def test_unknown_route_is_openai_shaped(http):
    r = await http.get("/v1/nope")
    assert r.status_code == 404 and r.json()["error"]["type"] == "not_found_error"


async def test_openai_client_raises_typed_errors(app):
    client = openai.AsyncOpenAI(base_url="http://t/v1", api_key="x", max_retries=0,
                                http_client=httpx.AsyncClient(transport=httpx.ASGITransport(app=app)))
    with pytest.raises(openai.NotFoundError):
        await client.chat.completions.create(**{**ASK, "model": "nope"})
    with pytest.raises(openai.BadRequestError):
        await client.chat.completions.create(**{**ASK, "temperature": 3})


async def _poll(c, until_status, tries=200):
    import asyncio

    for _ in range(tries):
        r = await c.get("/health")
        if r.status_code == until_status and (until_status == 200 or r.json()["error"]["code"] != "not_ready"):
            return r
        await asyncio.sleep(0.02)
    raise AssertionError("health never changed")


async def test_not_ready_until_loaded_then_ready(settings, make_recommender):
    import threading

    gate = threading.Event()
    rec = make_recommender(ScriptedLLM([answer_json(("3", GOOD_3), ("6", GOOD_6))]))

    def builder():
        gate.wait(10)
        return rec

    app = create_app(settings, builder=builder)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
            r = await c.get("/health")
            assert r.status_code == 503 and r.json()["error"]["code"] == "not_ready"
            r = await c.post("/v1/chat/completions", json=ASK)
            assert r.status_code == 503 and r.json()["error"]["code"] == "not_ready"
            gate.set()
            await _poll(c, 200)
            assert (await c.post("/v1/chat/completions", json=ASK)).status_code == 200


async def test_failed_start_is_reported(settings):
    def builder():
        raise RuntimeError("boom")

    app = create_app(settings, builder=builder)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
            r = await _poll(c, 503)
            assert r.json()["error"]["code"] == "startup_failed" and "boom" in r.json()["error"]["message"]
            r = await c.post("/v1/chat/completions", json=ASK)
            assert r.status_code == 503 and "boom" in r.json()["error"]["message"]


async def test_langchain_chat_openai_unchanged(app):
    lc = pytest.importorskip("langchain_openai", reason="langchain-openai is not installed")
    llm = lc.ChatOpenAI(model="marquee", base_url="http://t/v1", api_key="x",
                        http_async_client=httpx.AsyncClient(transport=httpx.ASGITransport(app=app)))
    msg = await llm.ainvoke("I loved Alien and Heat. What next?")
    assert "1. Aliens (1986)" in msg.content
    chunks = [c.content async for c in llm.astream("I loved Alien and Heat. What next?")]
    assert "2. The Thing (1982)" in "".join(chunks)


@pytest.mark.parametrize("argv, message", [
    (["--catalog", "/nonexistent/catalog.jsonl"], "catalog path /nonexistent/catalog.jsonl does not exist"),
    (["--chroma-url", "ftp://example"], "chroma_url must start with http"),
])
def test_cli_configuration_errors(argv, message, capsys):
    from serve import main

    assert main(argv) == 2
    assert message in capsys.readouterr().err


async def test_render_shows_the_applied_constraints(http):
    body = {**ASK, "messages": [{"role": "user", "content": "I loved Alien. Nothing scary, under 2 hours"}]}
    r = (await http.post("/v1/render", json=body)).json()
    assert r["constraints"]["exclude_genres"] == ["Horror"] and r["constraints"]["max_runtime"] == 120
    assert r["constraints"]["summary"] == "excluding Horror; runtime <= 120 min"
    assert "constraints: excluding Horror; runtime <= 120 min" in r["notes"]
    assert "Constraints (every candidate meets them): excluding Horror; runtime <= 120 min" in r["messages"][1]["content"]


@pytest.mark.parametrize("stream", [False, True])
async def test_no_matching_film_is_an_answer_that_says_why(http, stream):
    body = {**ASK, "stream": stream, "messages": [{"role": "user", "content": "a comedy under 60 minutes"}]}
    r = await http.post("/v1/chat/completions", json=body)
    assert r.status_code == 200
    if stream:
        chunks = [json.loads(line[6:]) for line in r.text.splitlines() if line.startswith("data: {")]
        text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    else:
        text = r.json()["choices"][0]["message"]["content"]
    assert text == "No film in the catalog matches this request (only Comedy; runtime <= 60 min).\n"


def test_empty_env_path_means_none(monkeypatch):
    from agent.config import Settings

    monkeypatch.setenv("MARQUEE_INTERACTIONS", "")
    monkeypatch.setenv("MARQUEE_LORA", " ")
    s = Settings()
    assert s.interactions is None and s.lora is None


async def test_render_shows_what_was_understood(http):
    body = {**ASK, "messages": [{"role": "user", "content": "I've seen Alien. Which of these: Heat, Ronin or Flurbo Quest? A hidden gem"}]}
    u = (await http.post("/v1/render", json=body)).json()["understanding"]
    assert [(f["item_id"], f["role"]) for f in u["films"]] == [("1", "seen"), ("2", "choice"), ("5", "choice")]
    assert u["choice"] == ["2", "5"] and u["unknown"] == ["Flurbo Quest"] and u["soft"]["popularity"] == "obscure"
    assert "Choosing among Heat (1995) and Ronin (1998)." in u["remarks"]
