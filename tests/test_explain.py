"""Explanation metrics (evals/explain.py) and the LLM judge (evals/judge.py), by hand-computed cases.
The judge runs against a fake OpenAI-compatible server (an httpx MockTransport): no network."""

import itertools
import json
import math
import random

import httpx
import pytest

from agent.grounding import Facts, check
from agent.titles import TitleIndex
from agent.types import HistoryEntry, Item, UserHistory
from evals.explain import (
    bleu, claim_support, distinct_n, div, explanation_report, fcr, feature_vocabulary, fmr, grounded_claim_share,
    grounded_claim_share_macro, grounded_pass_rate, hallucinated_title_rate, hallucinated_titles, item_features,
    length_stats, load_references, mentioned_features, rouge, template_share, template_skeleton, usr,
)
from evals.judge import (
    Judge, JudgeConfig, JudgeError, baseline_explanation, judge_report, parse_scores, parse_verdict, win_rate,
)
from tests.conftest import SIX_FILMS

ITEMS = {i.item_id: i for i in SIX_FILMS}
ALIEN, HEAT, ALIENS, TOY, RONIN, THING = SIX_FILMS
INDEX = TitleIndex(SIX_FILMS)


# --- features ------------------------------------------------------------------------------------

def test_item_features_sources():
    assert item_features(HEAT) == {"action", "crime", "thriller", "heist", "bank robbery", "police"}
    it = Item("9", "Toy Story", genres=("(no genres listed)",), tags=("Pixar ", "  "),
              media_text=(("Poster text", "TOY STORY: the toys are back"), ("Caption", "two toys on a bed")))
    # title words and short or stop words of the media text are not features; tags are lower-cased
    assert item_features(it) == {"pixar", "toys"}


def test_feature_vocabulary_counts_shared_features_once():
    vocab = feature_vocabulary(SIX_FILMS)
    assert len(vocab) == 23  # listed by hand from conftest's six films
    assert {"sci-fi", "space marine", "bank robbery", "heist"} <= vocab


@pytest.mark.parametrize("text, expected", [
    ("A Sci-Fi film with a spaceship", {"sci-fi", "spaceship"}),
    ("spaceships and SPACE", {"space"}),                 # whole words only
    ("a bank robbery, then a car-chase", {"bank robbery"}),  # "car-chase" is one word, not "car chase"
    ("bank. robbery", {"bank robbery"}),                 # punctuation is not a word: it does not split a phrase
    ("", set()),
])
def test_mentioned_features_whole_words(text, expected):
    assert mentioned_features(text, {"sci-fi", "spaceship", "space", "bank robbery", "car chase", "fi"}) == expected


@pytest.mark.parametrize("texts, expected", [
    (["a", "b", "c"], 1.0),
    (["Same text.", "same   TEXT", "other"], 2 / 3),
    (["x"] * 4, 0.25),
    ([], 0.0),
])
def test_usr(texts, expected):
    assert usr(texts) == pytest.approx(expected)


def test_div_by_hand_and_against_the_pairwise_definition():
    sets = [{"a", "b"}, {"a", "b"}, {"a"}, set()]
    # pairs: (0,1)=2 (0,2)=1 (0,3)=0 (1,2)=1 (1,3)=0 (2,3)=0 -> 4 / 6
    assert div(sets) == pytest.approx(4 / 6)
    assert div([{"a"}]) == 0.0 and div([]) == 0.0
    rng = random.Random(3)
    for _ in range(20):
        sets = [set(rng.sample("abcdefg", rng.randint(0, 4))) for _ in range(rng.randint(2, 9))]
        pairs = list(itertools.combinations(sets, 2))
        assert div(sets) == pytest.approx(sum(len(x & y) for x, y in pairs) / len(pairs))


@pytest.mark.parametrize("sets, size, expected", [
    ([{"a", "b"}, {"b", "c"}], 6, 0.5),
    ([set(), set()], 6, 0.0),
    ([{"a"}], 0, 0.0),
])
def test_fcr(sets, size, expected):
    assert fcr(sets, size) == expected


def test_fmr():
    mentioned = [{"heist"}, {"space"}, set(), {"crime", "space"}]
    own = [{"heist", "crime"}, {"heist"}, {"heist"}, {"crime"}]
    assert fmr(mentioned, own) == 0.5
    with pytest.raises(ValueError):
        fmr([{"a"}], [])


# --- groundedness --------------------------------------------------------------------------------

SEQUEL = "A 1986 sci-fi sequel to Alien (1979), with space marines."


@pytest.mark.parametrize("text, item, history, expected", [
    # claims: year 1986, year 1979, genre sci-fi, sequel, title Alien
    (SEQUEL, ALIENS, [ALIEN], (5, 5)),
    (SEQUEL, ALIENS, [], (3, 5)),                                    # 1979 and Alien are not its facts
    ("Heat is a romance directed by Michael Mann.", HEAT, [], (1, 3)),  # title Heat ok; romance, name fail
    ("You will love it, trust me.", HEAT, [], (0, 0)),               # nothing checkable
])
def test_claim_support(text, item, history, expected):
    assert claim_support(text, item, history, INDEX) == expected


@pytest.mark.parametrize("text, item", [
    (SEQUEL, ALIENS), (SEQUEL, HEAT), ("Heat (1995) meets Ronin in a 1998 heist thriller.", RONIN),
    ("A 1980s Antarctic horror like The Thing and Toy Story, by John Carpenter.", THING),
])
def test_checker_is_monotone_so_claims_can_be_counted_against_no_facts(text, item):
    """claim_support relies on this: each problem against real facts is also one against none."""
    def problems(facts):
        return sorted(p for p in check(text, facts, INDEX) if not p.startswith("empty:"))

    real, blank = problems(Facts(item, (ALIEN,))), problems(Facts(Item("\x00", ""), ()))
    assert not (set(real) - set(blank)) and all(real.count(p) <= blank.count(p) for p in real)


def test_grounded_shares():
    counts = [(5, 5), (3, 5), (1, 3), (0, 0)]
    assert grounded_claim_share(counts) == pytest.approx(9 / 13)
    assert grounded_claim_share_macro(counts) == pytest.approx((1 + 0.6 + 1 / 3) / 3)
    assert grounded_claim_share([(0, 0)]) is None and grounded_claim_share_macro([]) is None
    assert grounded_pass_rate([[], ["year:1979"], ["empty:too short"], []]) == 0.5


def test_hallucinated_titles():
    text = "Like Alien and Ronin, Heat is a heist film."
    assert hallucinated_titles(text, HEAT, [ALIEN], INDEX) == ["Ronin"]
    assert hallucinated_titles(text, HEAT, [ALIEN, RONIN], INDEX) == []
    assert hallucinated_titles("watch it tonight", HEAT, [], INDEX) == []
    index = TitleIndex([*SIX_FILMS, Item("7", "1998", 2001)])  # a film titled like a year
    assert hallucinated_titles("A 1998 heist film.", RONIN, [], index) == []        # the film's own year
    assert hallucinated_titles("A 1998 heist film.", HEAT, [RONIN], index) == []    # a history film's year
    assert hallucinated_titles("A 1998 heist film.", HEAT, [], index) == ["A 1998"]
    # words of the film's own data are not invented titles: Alien is tagged "aliens", Heat is not
    assert hallucinated_titles("Ripley fights the Aliens.", HEAT, [], INDEX) == ["the Aliens"]
    assert hallucinated_titles("Ripley fights the Aliens.", ALIEN, [], INDEX) == []
    quoting = Item("8", "Fargo", 1996, overview="Two men take a job from a man called Ronin.")
    assert hallucinated_titles("A job from Ronin.", quoting, [], INDEX) == []
    assert hallucinated_title_rate([["Ronin"], [], ["Alien", "Ronin"], []]) == 0.5


# --- reference overlap ---------------------------------------------------------------------------

def test_bleu_by_hand():
    hyp, ref = ["the cat sat on the mat"], [["the cat sat on a mat"]]
    assert bleu(hyp, ref, 1) == pytest.approx(5 / 6)
    # p1..p4 = 5/6, 3/5, 2/4, 1/3; same length, so no brevity penalty
    assert bleu(hyp, ref, 4) == pytest.approx((5 / 6 * 3 / 5 * 2 / 4 * 1 / 3) ** 0.25)
    assert bleu(["the cat"], [["the cat sat on the mat"]], 1) == pytest.approx(math.exp(1 - 6 / 2))  # brevity
    assert bleu(["The CAT"], [["a dog", "the cat"]], 1) == pytest.approx(1.0)  # closest reference, lower-cased
    # corpus level: counts pooled over both sentences (7 of 8 words), not a mean of sentence scores
    assert bleu(["a b c d", "e f g h"], [["a b c d"], ["e f g x"]], 1) == pytest.approx(7 / 8)
    assert bleu(["a b"], [["c d"]], 4) == 0.0
    with pytest.raises(ValueError):
        bleu(["a"], [[]])


def test_rouge_by_hand():
    r = rouge(["the cat sat"], [["the cat sat on the mat"]])
    assert r["rouge1"] == pytest.approx(2 * 1 * 0.5 / 1.5)      # P 3/3, R 3/6
    assert r["rouge2"] == pytest.approx(2 * 1 * 0.4 / 1.4)      # P 2/2, R 2/5
    assert r["rougeL"] == pytest.approx(2 / 3)
    r = rouge(["mat the cat"], [["the cat mat"]])
    assert (r["rouge1"], r["rouge2"], r["rougeL"]) == pytest.approx((1.0, 0.5, 2 / 3))  # LCS is 2 words
    r = rouge(["the cat sat", "x"], [["zzz", "the cat sat"], ["y"]])  # best reference, then the mean
    assert r["rouge1"] == pytest.approx(0.5)


def test_load_references_jsonl_and_csv(tmp_path):
    j = tmp_path / "refs.jsonl"
    j.write_text('{"user": 7, "item_id": 2, "reference": "A heist film."}\n\n'
                 '{"user": "7", "item_id": "2", "reference": "Crime in LA."}\n'
                 '{"user": "8", "item_id": "1", "reference": "Space horror."}\n')
    assert load_references(j) == {("7", "2"): ["A heist film.", "Crime in LA."], ("8", "1"): ["Space horror."]}
    c = tmp_path / "refs.csv"
    c.write_text('user,item_id,reference\n7,2,"A heist film, in LA."\n')
    assert load_references(c) == {("7", "2"): ["A heist film, in LA."]}
    c.write_text("user,item_id,reference\n7,2,\n")
    with pytest.raises(ValueError, match="refs.csv:2"):
        load_references(c)


# --- length and diversity ------------------------------------------------------------------------

def test_length_stats_by_hand():
    s = length_stats(["abc", "a b c d e f g", "ab cd", "x"])  # chars 3, 13, 5, 1; words 1, 7, 2, 1
    assert s["len_chars_mean"] == 5.5 and s["len_chars_median"] == 4.0
    assert s["len_chars_p95"] == pytest.approx(5 + 0.85 * 8)  # sorted 1 3 5 13, position 2.85
    assert (s["len_words_mean"], s["len_words_median"]) == (2.75, 1.5)
    assert s["len_words_p95"] == pytest.approx(2 + 0.85 * 5)


def test_distinct_n_by_hand():
    texts = ["a crime film", "A crime drama", "heist"]
    assert distinct_n(texts, 1) == pytest.approx(5 / 7)  # a crime film drama heist / 7 words
    assert distinct_n(texts, 2) == pytest.approx(3 / 4)  # (a crime) twice, (crime film), (crime drama)
    assert distinct_n(["one"], 2) == 0.0


def test_template_skeleton_masks_film_specific_words():
    facts_heat = "A 1995 action/crime/thriller film. Shares crime with Ronin (1998), from your history."
    facts_ronin = "A 1998 action/crime/thriller film. Shares action with Heat (1995), from your history."
    a, b = template_skeleton(facts_heat, HEAT, [RONIN]), template_skeleton(facts_ronin, RONIN, [HEAT])
    assert a == b == "a <year> <genre> <genre> <genre> film shares <genre> with <title> <year> from your history"
    assert template_skeleton("A heist, police and a bank robbery.", HEAT) == "a <feature> <feature> and a <feature>"
    assert template_share([a, b, "a heist", "x", "x"]) == 0.8
    assert template_share([]) == 0.0


# --- the report ----------------------------------------------------------------------------------

RECORDS = [
    {"user": "7", "item_id": "2", "explanation": "A heist thriller, like Ronin.", "source": "llm"},
    {"user": "7", "item_id": "3", "explanation": "A 1986 sci-fi sequel to Alien (1979), with space marines.",
     "source": "llm"},
    {"user": "8", "item_id": "4", "explanation": "A 1995 animation/children/comedy film.", "source": "facts"},
    {"user": "8", "item_id": "5", "explanation": "A heist thriller, like Ronin.", "source": "llm"},
]
HISTORIES = {"7": UserHistory("7", (HistoryEntry("1", True),)), "8": ["6"]}


def test_explanation_report_by_hand():
    r = explanation_report(RECORDS, ITEMS, HISTORIES)
    json.dumps(r, allow_nan=False)  # flat and JSON-serialisable
    assert r["n"] == 4 and r["vocabulary_size"] == 23 and r["share_llm"] == 0.75 and r["n_llm"] == 3
    assert r["usr"] == 0.75
    # features: {heist, thriller}, {sci-fi, sequel, alien, space}, {animation, children, comedy}, {heist, thriller}
    assert r["fcr"] == pytest.approx(9 / 23)
    assert r["div"] == pytest.approx(2 / 6)  # only the two identical texts share features (2)
    assert r["fmr"] == 1.0
    # Ronin is hallucinated for Heat (user 7 has only Alien); for Ronin it is the film itself
    assert r["hallucinated_title_rate"] == 0.25
    # claims: Heat {title Ronin x, genre thriller v}; Aliens 5/5; Toy Story year, 3 genres 4/4; Ronin {title, genre} 2/2
    assert r["grounded_claim_share"] == pytest.approx(12 / 13)
    assert r["grounded_pass_rate"] == 0.75
    # the llm subset: records 0, 1, 3
    assert r["llm_n"] == 3 and r["llm_usr"] == pytest.approx(2 / 3) and r["llm_div"] == pytest.approx(2 / 3)
    assert r["llm_grounded_claim_share"] == pytest.approx(8 / 9)
    assert "bleu1" not in r


def test_explanation_report_with_references_and_single_source():
    refs = {("7", "2"): ["A heist thriller, like Ronin."], ("9", "9"): ["unused"]}
    r = explanation_report(RECORDS[:2], ITEMS, HISTORIES, refs)
    assert r["n_with_reference"] == 1 and r["bleu1"] == pytest.approx(1.0) and r["rougeL"] == pytest.approx(1.0)
    assert not any(k.startswith("llm_") for k in r)  # one source only: no subset keys
    r = explanation_report(RECORDS[:2], ITEMS, HISTORIES, {})
    assert r["n_with_reference"] == 0 and r["bleu4"] is None
    json.dumps(r, allow_nan=False)


def test_explanation_report_rejects_unknown_items():
    with pytest.raises(ValueError, match="not in the catalog"):
        explanation_report([{"user": "1", "item_id": "999", "explanation": "x"}], ITEMS)


# --- judge ---------------------------------------------------------------------------------------

def fake_openai(answer, seen: list, status: int = 200):
    """A tiny OpenAI-compatible chat endpoint: `answer` is a string or a function of the prompt."""
    def handle(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/v1/chat/completions"
        body = json.loads(request.content)
        seen.append(body)
        if status != 200:
            return httpx.Response(status, json={"error": {"message": "boom", "type": "x", "param": None, "code": None}})
        prompt = body["messages"][-1]["content"]
        text = answer(prompt) if callable(answer) else answer
        return httpx.Response(200, json={
            "id": "c", "object": "chat.completion", "created": 0, "model": body["model"],
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}})

    return httpx.Client(transport=httpx.MockTransport(handle))


def make_judge(answer, seen, status=200, **config):
    return Judge(JudgeConfig(url="http://fake/v1", model="judge-model", **config),
                 http_client=fake_openai(answer, seen, status))


GOOD = '{"informativeness": 3, "persuasiveness": 2, "faithfulness": 1}'


def test_judge_score_sends_the_rubric_and_parses_strictly():
    seen = []
    judge = make_judge(GOOD, seen)
    assert judge.score(HEAT, "A heist {{ 7*7 }} thriller.", [ALIEN]) == {
        "informativeness": 3, "persuasiveness": 2, "faithfulness": 1}
    body = seen[0]
    assert body["model"] == "judge-model" and body["temperature"] == 0.0
    assert body["response_format"] == {"type": "json_object"}
    prompt = body["messages"][0]["content"]
    assert "A heist {{ 7*7 }} thriller." in prompt  # data, never template code
    assert "Heat (1995)" in prompt and "bank robbery" in prompt and "Alien (1979)" in prompt
    assert "faithfulness" in prompt and "variables:" not in prompt  # header comment is not rendered
    make_judge(GOOD, seen, json_mode=False).score(HEAT, "x")
    assert "response_format" not in seen[-1]


@pytest.mark.parametrize("text", [
    '```json\n{"informativeness": 3, "persuasiveness": 2, "faithfulness": 1}\n```',
    '{"informativeness": 3, "persuasiveness": 2}',
    '{"informativeness": 3, "persuasiveness": 2, "faithfulness": 1, "reason": "ok"}',
    '{"informativeness": "3", "persuasiveness": 2, "faithfulness": 1}',
    '{"informativeness": true, "persuasiveness": 2, "faithfulness": 1}',
    '{"informativeness": 2.0, "persuasiveness": 2, "faithfulness": 1}',
    '{"informativeness": 0, "persuasiveness": 2, "faithfulness": 1}',
    '[3, 2, 1]',
    'Sure! Here are the scores.',
])
def test_parse_scores_rejects(text):
    with pytest.raises(JudgeError):
        parse_scores(text)


@pytest.mark.parametrize("text, ok", [('{"winner": "A"}', "A"), ('{"winner": "tie"}', "tie"),
                                       ('{"winner": "a"}', None), ('{"winner": "A", "why": "x"}', None), ('A', None)])
def test_parse_verdict(text, ok):
    if ok:
        assert parse_verdict(text) == ok
    else:
        with pytest.raises(JudgeError):
            parse_verdict(text)


@pytest.mark.parametrize("item, expected", [
    (HEAT, "A 1995 action/crime/thriller film."),
    (Item("9", "X", None, ("Action",)), "An action film."),
    (Item("9", "X", 2001), "A 2001 film."),
    (Item("9", "X"), "A film."),
])
def test_baseline_explanation(item, expected):
    assert baseline_explanation(item) == expected


def test_win_rate():
    assert win_rate(["win", "loss", "tie", "tie"]) == 0.5
    assert win_rate(["loss"]) == 0.0 and win_rate([]) == 0.0


def _pairwise_judge(prompt: str) -> str:
    """Picks the explanation that says 'heist', wherever it is shown; scores rubric prompts."""
    if "Explanation A:" not in prompt:
        return GOOD
    a = prompt.split("Explanation A:")[1].split("Explanation B:")[0]
    return '{"winner": "A"}' if "heist" in a else '{"winner": "B"}'


def test_judge_report_maps_randomised_positions_back():
    seen = []
    records = [{"user": "7", "item_id": "2", "explanation": f"A heist film, take {i}."} for i in range(40)]
    r = judge_report(make_judge(_pairwise_judge, seen), records, ITEMS, HISTORIES)
    assert r["judge_win_rate"] == 1.0 and r["judge_wins"] == 40 and r["judge_losses"] == 0
    assert r["judge_n"] == 40 and r["judge_failures"] == 0 and r["judge_informativeness"] == 3.0
    # the explanation was shown as A exactly when the seeded draw said "no swap"
    rng = random.Random(0)
    unswapped = sum(rng.random() >= 0.5 for _ in records)
    assert 0 < unswapped < 40 and r["judge_a_share"] == unswapped / 40
    # a judge that always says "A" wins only the unswapped comparisons: position bias cancels out
    r = judge_report(make_judge(lambda p: GOOD if "Explanation A:" not in p else '{"winner": "A"}', []),
                     records, ITEMS)
    assert r["judge_wins"] == unswapped and r["judge_losses"] == 40 - unswapped and r["judge_a_share"] == 1.0
    pairwise = [b for b in seen if "Explanation A:" in b["messages"][0]["content"]]
    assert "A 1995 action/crime/thriller film." in pairwise[0]["messages"][0]["content"]
    # a record's own baseline (the evidence fallback of the same film) is compared instead
    seen = []
    judge_report(make_judge(_pairwise_judge, seen), [dict(records[0], baseline="Heat (1995) shares heist.")], ITEMS)
    assert "Heat (1995) shares heist." in seen[-1]["messages"][0]["content"]


def test_judge_errors_are_clear_and_not_retried():
    seen = []
    with pytest.raises(JudgeError, match="failed"):
        make_judge(GOOD, seen, status=500).score(HEAT, "x")
    assert len(seen) == 1  # max_retries=0
    with pytest.raises(JudgeError, match="not JSON"):
        judge_report(make_judge("I think 3/3/3", []), RECORDS, ITEMS)
    answers = iter([GOOD, "oops", '{"informativeness": 1, "persuasiveness": 1, "faithfulness": 1}'])
    r = judge_report(make_judge(lambda p: next(answers), []), RECORDS[:3], ITEMS, pairwise=False, errors="count")
    assert r["judge_n"] == 2 and r["judge_failures"] == 1 and r["judge_informativeness"] == 2.0
    assert "judge_win_rate" not in r


def test_judge_report_pairwise_only_asks_one_question_per_record():
    seen = []
    records = [{"user": "7", "item_id": "2", "explanation": f"A heist film, take {i}."} for i in range(6)]
    r = judge_report(make_judge(_pairwise_judge, seen), records, ITEMS, HISTORIES, rubric=False)
    assert len(seen) == 6 and all("Explanation A:" in b["messages"][0]["content"] for b in seen)
    assert r["judge_wins"] == 6 and r["judge_informativeness"] is None


def fake_letters(odds, seen: list):
    """An OpenAI-compatible endpoint answering one token with top_logprobs: `odds(prompt)` gives
    {token: logprob}; None answers without logprobs."""
    def handle(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        seen.append(body)
        lp = odds(body["messages"][-1]["content"])
        top = [{"token": k, "logprob": v, "bytes": None} for k, v in sorted((lp or {}).items(), key=lambda kv: -kv[1])]
        choice = {"index": 0, "message": {"role": "assistant", "content": top[0]["token"] if top else "A"},
                  "finish_reason": "length",
                  "logprobs": None if lp is None else {"content": [{**top[0], "top_logprobs": top}]}}
        return httpx.Response(200, json={"id": "c", "object": "chat.completion", "created": 0, "model": body["model"],
                                         "choices": [choice], "usage": {"prompt_tokens": 1, "completion_tokens": 1,
                                                                        "total_tokens": 2}})

    return Judge(JudgeConfig(url="http://fake/v1", model="judge-model"), http_client=httpx.Client(transport=httpx.MockTransport(handle)))


def _biased(lean_to_heist: float):
    """Always prefers A by 2 nats, plus `lean_to_heist` nats toward the explanation with "heist"."""
    def odds(prompt):
        a = prompt.split("Explanation A: ", 1)[1].split("\n", 1)[0]
        toward_a = 2.0 + (lean_to_heist if "heist" in a else -lean_to_heist)
        return {"A": -0.1, "B": -0.1 - toward_a, " tie": -6.0}
    return odds


def test_calibrated_pairwise_cancels_a_constant_position_bias():
    records = [{"user": "7", "item_id": "2", "explanation": f"A heist film, take {i}.", "baseline": "Heat (1995)."}
               for i in range(6)]
    seen = []
    r = judge_report(fake_letters(_biased(0.0), seen), records, ITEMS, HISTORIES, rubric=False, calibrated=True)
    assert r["judge_ties"] == 6 and r["judge_win_rate"] == 0.5 and r["judge_a_share"] == 1.0  # bias alone: no verdict
    assert len(seen) == 12 and all(b["max_tokens"] == 1 and b["top_logprobs"] == 20 for b in seen)
    assert "Answer with one letter only: A or B" in seen[0]["messages"][0]["content"]
    r = judge_report(fake_letters(_biased(0.5), []), records, ITEMS, HISTORIES, rubric=False, calibrated=True)
    assert r["judge_wins"] == 6 and r["judge_consistent"] == 0 and abs(r["judge_preference_mean"] - 0.5) < 1e-9
    r = judge_report(fake_letters(_biased(-0.5), []), records, ITEMS, HISTORIES, rubric=False, calibrated=True)
    assert r["judge_losses"] == 6
    r = judge_report(fake_letters(_biased(3.0), []), records, ITEMS, HISTORIES, rubric=False, calibrated=True)
    assert r["judge_wins"] == 6 and r["judge_consistent"] == 6  # strong enough to flip the raw verdict too


def test_calibrated_judge_without_logprobs_is_a_clear_error():
    with pytest.raises(JudgeError, match="top_logprobs"):
        fake_letters(lambda p: None, []).letter_odds(HEAT, "a", "b")
    with pytest.raises(JudgeError, match="neither A nor B"):
        fake_letters(lambda p: {"{": -0.1, "The": -1.0}, []).letter_odds(HEAT, "a", "b")


def test_pointwise_judge_asks_about_each_text_alone_and_prefers_the_higher_yes_odds():
    def odds(prompt):  # "Yes" by 1 nat more for a text that names the heist
        text = prompt.split("Explanation: ", 1)[1].split("\n", 1)[0]
        return {"Yes": -0.2, "No": -0.2 - (1.0 if "heist" in text else -1.0)}
    records = [{"user": "7", "item_id": "2", "explanation": f"A heist film, take {i}.", "baseline": "Heat (1995)."}
               for i in range(4)]
    seen = []
    r = judge_report(fake_letters(odds, seen), records, ITEMS, HISTORIES, rubric=False, pointwise=True)
    assert len(seen) == 8 and all("Explanation A:" not in b["messages"][0]["content"] for b in seen)
    assert all(b["messages"][0]["content"].count("Explanation: ") == 1 for b in seen)  # one text per prompt
    assert "Answer with one word only: Yes or No" in seen[0]["messages"][0]["content"]
    assert r["judge_wins"] == 4 and abs(r["judge_preference_mean"] - 2.0) < 1e-9 and r["judge_a_share"] is None
    assert abs(r["judge_yes_mean"] - 1.0) < 1e-9 and abs(r["judge_yes_baseline_mean"] + 1.0) < 1e-9
    swapped = [{**x, "explanation": "Heat (1995).", "baseline": x["explanation"]} for x in records]
    assert judge_report(fake_letters(odds, []), swapped, ITEMS, HISTORIES, rubric=False, pointwise=True)["judge_losses"] == 4
    with pytest.raises(JudgeError, match="neither Yes nor No"):
        fake_letters(lambda p: {"Maybe": -0.1}, []).yes_odds(HEAT, "a")
