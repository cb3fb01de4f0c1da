import pytest

from agent.errors import InvalidRequest
from agent.recommender import RecRequest
from agent.types import RankedItem, Recommendation
from tests.conftest import ScriptedLLM, answer_json

GOOD_3 = "A 1986 sci-fi action film: Ripley returns with space marines to fight the aliens, like Alien."
GOOD_6 = "A 1982 horror sci-fi film: a research team meets a shape-shifting alien, close to Alien."


def ask(text, user=None, n=None):
    return RecRequest(messages=[{"role": "user", "content": text}], user=user, n=n)


async def test_named_titles_become_history_and_are_never_recommended(make_recommender):
    llm = ScriptedLLM([answer_json(("3", GOOD_3), ("6", GOOD_6))])
    rec = make_recommender(llm)
    out = await rec.recommend(ask("I loved Alien and Heat. What should I watch tonight?"))
    ids = [r.item.item_id for r in out.items]
    assert ids == ["3", "6"]
    assert {"1", "2"} <= out.history.seen and not set(ids) & {"1", "2"}
    assert all(r.explanation_source == "llm" for r in out.items)
    prompt = llm.requests[0].messages[1]["content"]
    assert "- Alien (1979)" in prompt and "[1] Alien" not in prompt  # history, not a candidate
    schema_ids = llm.requests[0].json_schema["properties"]["recommendations"]["items"]["properties"]["item_id"]["enum"]
    assert "1" not in schema_ids and "2" not in schema_ids


async def test_user_id_history_is_excluded(make_recommender):
    rec = make_recommender(ScriptedLLM([answer_json(("1", GOOD_3), ("5", "x"))]))
    out = await rec.recommend(ask("anything good?", user="7"))  # user 7 rated 1, 2, 4
    ids = [r.item.item_id for r in out.items]
    assert not set(ids) & {"1", "2", "4"} and len(ids) == 2
    assert "seen:1" in out.dropped


async def test_garbage_output_is_filled_and_flagged(make_recommender):
    rec = make_recommender(ScriptedLLM(["I think you should watch Aliens!"]))
    out = await rec.recommend(ask("I loved Alien"))
    assert out.filled == 2 and len(out.items) == 2
    assert all(not r.from_llm for r in out.items)
    assert any("filled in" in n for n in out.notes)


async def test_stream_yields_items_then_summary(make_recommender):
    rec = make_recommender(ScriptedLLM([answer_json(("3", GOOD_3), ("6", GOOD_6))], chunk=3))
    events = [ev async for ev in rec.stream(ask("I loved Alien"))]
    assert [type(e) for e in events] == [RankedItem, RankedItem, Recommendation]
    assert [e.rank for e in events[:2]] == [1, 2]


async def test_unknown_user_is_cold_start(make_recommender):
    rec = make_recommender()
    prep = rec.prepare(ask("alien horror", user="nobody"))
    assert prep.history.entries == () and any("no stored history" in n for n in prep.notes)


def test_needs_a_user_message(make_recommender):
    with pytest.raises(InvalidRequest):
        make_recommender().prepare(RecRequest(messages=[{"role": "system", "content": "hi"}]))


@pytest.mark.parametrize(
    "text, expected",
    [
        ("I loved Alien and Heat. What should I watch tonight?", ""),
        ("Something like Alien but funnier", "Something like   but funnier"),
    ],
)
def test_search_text_drops_named_titles(make_recommender, text, expected):
    assert make_recommender().search_text(text) == expected
