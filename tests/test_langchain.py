"""The recommender in LangChain: MarqueeRunnable (invoke, ainvoke, stream, astream, batch) and the
StructuredTool over the scripted fake LLM; and LangChain's own ChatOpenAI pointed at serve.py
(uvicorn on loopback) working unchanged, for invoke and stream."""

from __future__ import annotations


import pytest
from pydantic import ValidationError

from agent.langchain import MarqueeRunnable, RecommendInput, RecommendOutput, recommend_tool
from tests.conftest import LabelLLM, serve_in_thread

GOOD_3 = "A 1986 sci-fi action film: Ripley returns with space marines to fight the aliens, like Alien."
GOOD_6 = "A 1982 horror sci-fi film: a research team meets a shape-shifting alien, close to Alien."
ASK = "I loved Alien and Heat. What next?"
TOOK = "I took Alien (1979) and Heat (1995) as films you liked.\n\n"  # said before the list


def explain_by_film(request) -> str:
    return GOOD_3 if "Recommended film: Aliens" in request.messages[1]["content"] else GOOD_6


@pytest.fixture
def rec(make_recommender):
    return make_recommender(LabelLLM({"Aliens (1986)": -0.1, "The Thing (1982)": -0.5}, [explain_by_film]))


@pytest.fixture
def runnable(rec) -> MarqueeRunnable:
    return MarqueeRunnable(rec)


def test_invoke_returns_the_typed_answer(runnable):
    out = runnable.invoke({"query": ASK, "n": 2})
    assert isinstance(out, RecommendOutput)
    assert [(r.rank, r.title, r.explanation) for r in out.recommendations] == [(1, "Aliens", GOOD_3),
                                                                            (2, "The Thing", GOOD_6)]
    assert out.content == (TOOK + "Here is what I would watch next:\n\n1. Aliens (1986): " + GOOD_3 + "\n"
                           "2. The Thing (1982): " + GOOD_6 + "\n")
    assert runnable.invoke(ASK).content == out.content  # a plain string is the query
    assert runnable.get_input_jsonschema()["title"] == "RecommendInput"
    assert runnable.get_output_jsonschema()["title"] == "RecommendOutput"


def test_stream_chunks_add_up_to_invoke(runnable):
    chunks = list(runnable.stream(RecommendInput(query=ASK, n=2)))
    assert [len(c.recommendations) for c in chunks] == [0, 1, 1, 0]  # lead-in, one film each, notes
    total = chunks[0]
    for c in chunks[1:]:
        total = total + c
    assert total == runnable.invoke(RecommendInput(query=ASK, n=2))


async def test_async_and_batch(runnable):
    one = await runnable.ainvoke({"query": ASK})
    parts = [c async for c in runnable.astream({"query": ASK})]
    assert sum(parts[1:], parts[0]) == one
    many = runnable.batch([{"query": ASK}, {"query": "I loved Heat. Something not scary", "n": 1}])
    assert many[0] == one and len(many[1].recommendations) == 1
    assert "Horror" not in many[1].recommendations[0].genres and many[1].recommendations[0].title != "Heat"
    assert (await runnable.abatch([{"query": ASK}]))[0] == one


def test_earlier_turns_are_the_conversation(runnable):
    first = runnable.invoke({"query": ASK})
    out = runnable.invoke({"query": "I've seen #1. Others?", "messages": [
        {"role": "user", "content": ASK}, {"role": "assistant", "content": first.content}]})
    assert not {r.item_id for r in out.recommendations} & {r.item_id for r in first.recommendations}
    assert any("already recommended" in n for n in out.notes)


def test_bad_input_is_a_validation_error(runnable):
    with pytest.raises(ValidationError):
        runnable.invoke({"query": ASK, "n": 0})
    with pytest.raises(ValidationError):
        runnable.invoke({"n": 2})


async def test_structured_tool(runnable):
    tool = recommend_tool(runnable)
    assert tool.args_schema is RecommendInput and set(tool.args) >= {"query", "user", "messages", "n"}
    assert tool.invoke({"query": ASK, "n": 1}) == TOOK + "Here is what I would watch next:\n\n1. Aliens (1986): " + GOOD_3 + "\n"
    msg = await tool.ainvoke({"type": "tool_call", "id": "c1", "name": tool.name, "args": {"query": ASK, "n": 1}})
    assert msg.tool_call_id == "c1" and msg.artifact["recommendations"][0]["item_id"] == "3"
    with pytest.raises(ValidationError):
        tool.invoke({"query": ASK, "n": 99})


# ---- LangChain's ChatOpenAI against serve.py ------------------------------------------------------
@pytest.fixture
def server_url(rec, settings):
    pytest.importorskip("uvicorn")
    from serve import create_app

    srv, thread, base = serve_in_thread(create_app(settings, rec))
    yield f"{base}/v1"
    srv.should_exit = True
    thread.join(timeout=10)


def test_chat_openai_works_unchanged(server_url):
    langchain_openai = pytest.importorskip("langchain_openai")
    llm = langchain_openai.ChatOpenAI(base_url=server_url, api_key="none", model="marquee", max_retries=0)
    answer = llm.invoke(ASK)
    assert answer.content.startswith(TOOK + "Here is what I would watch next:\n\n1. Aliens (1986): " + GOOD_3)
    assert "2. The Thing (1982)" in answer.content
    streamed = "".join(chunk.content for chunk in llm.stream(ASK))
    assert streamed == answer.content
    # a multi-turn conversation, as LangChain messages
    from langchain_core.messages import AIMessage, HumanMessage

    follow = llm.invoke([HumanMessage(ASK), AIMessage(answer.content), HumanMessage("I've seen #1, what else?")])
    assert "Aliens (1986)" not in follow.content and "1. " in follow.content
