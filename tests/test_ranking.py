import json

import pytest

from agent.explain import EvidenceBuilder, Explainer, verify
from agent.grounding import Facts, check
from agent.prompts import Prompts
from agent.ranking import StreamParser, Validator, parse_complete, ranking_schema
from agent.titles import TitleIndex
from agent.types import Candidate, HistoryEntry, UserHistory
from tests.conftest import SIX_FILMS

ITEMS = {i.item_id: i for i in SIX_FILMS}
TITLES = TitleIndex(SIX_FILMS)


def make_validator(n=3, seen=("1",)):
    cands = [Candidate(ITEMS[i], 1.0 / k) for k, i in enumerate(["3", "6", "5", "4"], start=1)]
    history = UserHistory("u", (HistoryEntry("2", liked=True), HistoryEntry("1", liked=True)))
    evidence = {e.item_id: e for e in EvidenceBuilder(ITEMS).build_all(cands, history)}
    return Validator(cands, set(seen), n, explainer=Explainer(Prompts(), TITLES, 200), evidence=evidence,
                     catalog=ITEMS)


def test_schema_admits_only_candidates():
    s = ranking_schema(["3", "6"], n=5, max_chars=100)
    rec = s["properties"]["recommendations"]
    assert rec["items"]["properties"]["item_id"]["enum"] == ["3", "6"]
    assert rec["minItems"] == rec["maxItems"] == 2  # never more than there are candidates


@pytest.mark.parametrize("split", [1, 3, 11, 1000])
def test_stream_parser_any_chunking(split):
    text = json.dumps({"recommendations": [{"item_id": "3", "explanation": 'has "quotes" and } braces'},
                                           {"item_id": "6", "explanation": "b"}]})
    p, got = StreamParser(), []
    for i in range(0, len(text), split):
        got += p.feed(text[i : i + split])
    assert [o["item_id"] for o in got] == ["3", "6"]
    assert got[0]["explanation"] == 'has "quotes" and } braces'


def test_parse_complete_keeps_items_of_truncated_json():
    objs, err = parse_complete('{"recommendations": [{"item_id": "3", "explanation": "x"}, {"item_id": "6", "expl')
    assert [o["item_id"] for o in objs] == ["3"] and "invalid JSON" in err


@pytest.mark.parametrize(
    "obj, reason",
    [
        ({"item_id": "1", "explanation": "x"}, "seen:1"),
        ({"item_id": "2", "explanation": "x"}, "not_candidate:2"),
        ({"item_id": "999", "explanation": "x"}, "not_in_catalog:999"),
        ({"explanation": "x"}, "malformed:no item_id"),
        ({"item_id": True, "explanation": "x"}, "malformed:no item_id"),
    ],
)
def test_validator_drops_invalid(obj, reason):
    v = make_validator()
    assert v.accept(obj) is None
    assert v.dropped == [reason]


def test_validator_dedupes_and_fills_in_retrieval_order():
    v = make_validator(n=3)
    good = "A 1986 sci-fi action film where Ripley returns with space marines, after Alien."
    assert v.accept({"item_id": "3", "explanation": good}).explanation_source == "llm"
    assert v.accept({"item_id": "3", "explanation": good}) is None
    filled = v.fill()
    assert [r.item.item_id for r in v.accepted] == ["3", "6", "5"]
    assert [r.rank for r in v.accepted] == [1, 2, 3]
    assert all(not r.from_llm and r.explanation_source == "facts" for r in filled)
    assert v.dropped == ["duplicate:3"] and v.diagnostics == []  # a fill is no replacement


def test_unsupported_explanation_is_replaced_by_the_evidence_fallback():
    v = make_validator()
    r = v.accept({"item_id": "6", "explanation": "The Thing (1982) is a sequel to Toy Story with Tom Cruise."})
    assert r.explanation_source == "facts" and not r.from_llm
    assert r.explanation == ("The Thing (1982) shares alien with Alien (1979), which you liked. "
                             "An Antarctic research team meets a shape-shifting alien.")
    assert verify(r.explanation, r.evidence, TITLES) == []  # the fallback passes the strict verifier
    assert v.notes == [] and "title:Toy Story" in v.diagnostics[0] and "replaced" in v.diagnostics[0]


@pytest.mark.parametrize(
    "text, problem",
    [
        ("Aliens is a 1990 film about marines.", "year:1990"),
        ("Like Toy Story, with space marines.", "title:Toy Story"),
        ("A comedy about space marines.", "genre:comedy"),
        ("A prequel with space marines.", "sequel:prequel"),
        ("Directed by James Cameron, with space marines.", "name:James Cameron"),
        ("A great watch!", "empty:no fact of the item"),
    ],
)
def test_check_flags(text, problem):
    assert problem in check(text, Facts(ITEMS["3"], (ITEMS["1"],)), TITLES)


@pytest.mark.parametrize(
    "text",
    [
        "A 1986 action sci-fi film where Ripley fights aliens with space marines; it follows Alien (1979), which you liked.",
        "A sequel with space marines and more aliens, for a fan of Alien.",  # 'sequel' is in its tags
        "Horror and sci-fi with marines, like Alien from the 1970s.",
    ],
)
def test_check_passes_grounded(text):
    assert check(text, Facts(ITEMS["3"], (ITEMS["1"],)), TITLES) == []


GOOD_ALIENS = "A 1986 sci-fi action film where Ripley returns with space marines, after Alien."


@pytest.mark.parametrize("explanation, source", [
    (GOOD_ALIENS, "llm"),
    ("Aliens (1986) is a sequel to Toy Story with Tom Cruise.", "facts"),  # fails the grounding check
    ("", "facts"),  # no explanation written (ranking only)
])
def test_from_llm_means_the_llm_wrote_the_explanation(explanation, source):
    r = make_validator().accept({"item_id": "3", "explanation": explanation}, score=0.5)
    assert (r.explanation_source, r.from_llm, r.score) == (source, source == "llm", 0.5)


def test_generated_order_and_filled_items_carry_no_score():
    v = make_validator(n=3)
    v.accept({"item_id": "6", "explanation": GOOD_ALIENS})
    v.fill()
    assert [r.score for r in v.accepted] == [None, None, None]  # the LLM's own order has no score


@pytest.mark.parametrize("logprobs, weight", [
    ([-2.0, -0.5, -2.0, -0.1], 0.0), ([-2.0, -0.5, -2.0, -0.1], 4.0), ([-0.1, -3.0, -0.2, -0.3, -5.0], 8.0),
])
def test_one_pass_scores_follow_the_order(logprobs, weight):
    from agent.ranking import order_by_label_scores

    cands = [Candidate(ITEMS[str(i)], 0.0) for i in range(1, len(logprobs) + 1)]
    scores = [p for _, p in order_by_label_scores(cands, logprobs, weight)]
    assert scores == sorted(scores, reverse=True) and sum(scores) == pytest.approx(1.0)
