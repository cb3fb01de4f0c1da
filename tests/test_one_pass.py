"""One-pass ranking (label log-probabilities) and parallel explanations, with a label-reading fake."""

import asyncio

import pytest

from agent.ranking import LABELS, order_by_label_scores
from agent.recommender import RecRequest
from agent.types import Candidate, Item, RankedItem, Ranking, Recommendation
from tests.conftest import LabelLLM, ScriptedLLM, answer_json

GOOD_3 = "A 1986 sci-fi action film: Ripley returns with space marines to fight the aliens, like Alien."
GOOD_6 = "A 1982 horror sci-fi film: a research team meets a shape-shifting alien, close to Alien."


def ask(text, user=None, **kw):
    return RecRequest(messages=[{"role": "user", "content": text}], user=user, **kw)


def explain_by_film(request):
    film = request.messages[1]["content"].split("Recommended film: ", 1)[1]
    return GOOD_3 if film.startswith("Aliens") else GOOD_6 if film.startswith("The Thing") else "It is a 2020 film by Spielberg."


async def test_order_follows_label_scores_and_explanations_run_per_item(make_recommender):
    llm = LabelLLM({"The Thing (1982)": -0.1, "Aliens (1986)": -0.5}, [explain_by_film])
    rec = make_recommender(llm)
    out = await rec.recommend(ask("I loved Alien"))
    assert [r.item.title for r in out.items] == ["The Thing", "Aliens"]
    assert [r.explanation for r in out.items] == [GOOD_6, GOOD_3]
    assert all(r.explanation_source == "llm" and r.from_llm for r in out.items)
    assert out.items[0].score > out.items[1].score  # label softmax
    # one rank pass; per item the greedy candidate, and no sampled retry since it passed (explanation_samples=1)
    assert len(llm.label_requests) == 1 and len(llm.requests) == 2
    assert sorted(r.temperature for r in llm.requests) == [0.0, 0.0]
    rank_prompt = llm.label_requests[0].messages[1]["content"]
    assert "- Alien (1979)" in rank_prompt and ". Alien (1979)" not in rank_prompt  # history, never a candidate
    # the verbalizer prompts share their system message (prefix caching) and hold only the film's evidence
    a, b = sorted({r.messages[1]["content"] for r in llm.requests}, key=lambda m: "Aliens" in m.split("\n")[0])
    assert a.startswith("Recommended film: The Thing (1982)") and b.startswith("Recommended film: Aliens (1986)")
    assert "You liked: Alien (1979)" in a and "Heat" not in a  # the closest history film, not the whole history
    assert len({r.messages[0]["content"] for r in llm.requests}) == 1
    assert [r.evidence.links[0].label for r in out.items] == ["Alien (1979)", "Alien (1979)"]


async def test_ungrounded_explanation_is_replaced_by_facts(make_recommender):
    llm = LabelLLM({"Ronin (1998)": 0.0}, ["It is a 2020 film by Steven Spielberg starring Tom Hanks."])
    rec = make_recommender(llm)
    out = await rec.recommend(ask("I loved Heat", n=1))
    assert out.items[0].item.title == "Ronin" and out.items[0].explanation_source == "facts"
    assert "Spielberg" not in out.items[0].explanation
    assert out.items[0].explanation.startswith("Ronin (1998) shares heist with Heat (1995), which you liked.")
    # why goes to the developers' diagnostics (both candidates rejected, then replaced), never to the notes people see
    assert [d.split(" (")[0] for d in out.diagnostics] == [
        "explanation for 5 sample 1 rejected", "explanation for 5 sample 2 rejected",
        "explanation for 5 replaced by the evidence fallback"]
    assert "word:Spielberg" in out.diagnostics[0] and not any("replaced" in n or "rejected" in n for n in out.notes)
    assert len(llm.requests) == 2 and llm.requests[1].temperature > 0  # the second candidate is another sample


async def test_explain_false_is_one_forward_pass(make_recommender):
    llm = LabelLLM({"Aliens (1986)": 0.0})
    rec = make_recommender(llm)
    out = await rec.recommend(ask("I loved Alien", explain=False))
    assert llm.requests == [] and len(llm.label_requests) == 1
    assert all(r.explanation_source == "facts" for r in out.items) and out.items[0].item.title == "Aliens"
    assert out.completion_tokens == 1


async def test_small_max_tokens_means_no_llm_explanations(make_recommender):
    llm = LabelLLM({"Aliens (1986)": 0.0}, [GOOD_3])
    rec = make_recommender(llm)
    assert rec.explanation_tokens(ask("x", max_tokens=8), 2) == 0
    assert rec.explanation_tokens(ask("x", max_tokens=400), 2) == rec.settings.explanation_chars // 3 + 10
    await rec.recommend(ask("I loved Alien", max_tokens=8))
    assert llm.requests == []


async def test_items_stream_in_rank_order_even_when_later_explanations_finish_first(make_recommender):
    llm = LabelLLM({"Aliens (1986)": -0.1, "The Thing (1982)": -0.5}, [explain_by_film], delays={"Aliens": 1.5})
    rec = make_recommender(llm)
    loop = asyncio.get_running_loop()
    t0, seen = loop.time(), []
    async for ev in rec.stream(ask("I loved Alien")):
        seen.append((ev, loop.time() - t0))
    assert [type(e) for e, _ in seen] == [Ranking, RankedItem, RankedItem, Recommendation]
    # the order comes first, before the slow first explanation is written
    assert [it.title for it in seen[0][0].items] == ["Aliens", "The Thing"] and seen[0][1] < 0.75
    assert [e.item.title for e, _ in seen[1:3]] == ["Aliens", "The Thing"]
    # the second explanation ran concurrently: it did not wait for the first one's 1.5 s
    # (margins are wide so a loaded machine cannot fail it; sequential would be >= 1.5 s)
    assert seen[1][1] >= 1.5 and seen[2][1] - seen[1][1] < 0.75


async def test_closing_the_stream_cancels_pending_explanations(make_recommender):
    llm = LabelLLM({"Aliens (1986)": -0.1, "The Thing (1982)": -0.5}, [explain_by_film],
                   delays={"Aliens": 0.05, "The Thing": 5.0})
    rec = make_recommender(llm)
    gen = rec.stream(ask("I loved Alien"))
    assert isinstance(await gen.__anext__(), Ranking)
    first = await gen.__anext__()
    assert first.item.title == "Aliens"
    await gen.aclose()
    await asyncio.sleep(0.05)
    assert llm.cancelled == 1  # The Thing's candidate


async def test_two_samples_are_written_at_once_when_asked(make_recommender):
    llm = LabelLLM({"The Thing (1982)": -0.1, "Aliens (1986)": -0.5}, [explain_by_film])
    rec = make_recommender(llm, explanation_samples=2, explanation_retries=0)
    await rec.recommend(ask("I loved Alien"))
    assert sorted(r.temperature for r in llm.requests) == [0.0, 0.0, 0.8, 0.8]


async def test_backend_without_label_scores_falls_back_to_generation(make_recommender):
    llm = ScriptedLLM([answer_json(("3", GOOD_3), ("6", GOOD_6))])
    rec = make_recommender(llm, ranking="one-pass")
    assert rec.ranking_mode(ask("x")) == "generate"
    out = await rec.recommend(ask("I loved Alien"))
    assert [r.item.item_id for r in out.items] == ["3", "6"] and llm.requests[0].json_schema


async def test_generate_mode_can_be_chosen_per_request(make_recommender):
    llm = LabelLLM({}, [answer_json(("3", GOOD_3), ("6", GOOD_6))])
    rec = make_recommender(llm)
    out = await rec.recommend(ask("I loved Alien", ranking="generate"))
    assert llm.label_requests == [] and [r.item.item_id for r in out.items] == ["3", "6"]


async def test_prepare_renders_the_lettered_rank_prompt(make_recommender):
    rec = make_recommender(LabelLLM())
    prep = rec.prepare(ask("I loved Alien"))
    text = prep.prompt[1]["content"]
    letters = [line.split(".", 1)[0] for line in text.splitlines() if line[:2] in {f"{x}." for x in LABELS}]
    assert letters == list(LABELS[: len(prep.candidates)])
    assert "Answer with its letter" in text


def test_order_by_label_scores_prior_and_overflow():
    cs = [Candidate(Item(str(i), f"F{i}"), 1.0) for i in range(4)]
    # two labels only: the rest keep retrieval order after them with score 0
    got = order_by_label_scores(cs, [-3.0, -1.0])
    assert [c.item.item_id for c, _ in got] == ["1", "0", "2", "3"]
    assert got[2][1] == 0.0 and abs(got[0][1] + got[1][1] - 1.0) < 1e-9
    # a strong retrieval prior restores retrieval order; a weak one does not
    assert [c.item.item_id for c, _ in order_by_label_scores(cs[:2], [-3.0, -1.0], prior_weight=0.5)] == ["1", "0"]
    assert [c.item.item_id for c, _ in order_by_label_scores(cs[:2], [-3.0, -1.0], prior_weight=4.0)] == ["0", "1"]


async def test_label_reader_needs_a_supporting_backend():
    from agent.errors import LLMError
    from agent.llm.base import LabelRequest

    with pytest.raises(LLMError, match="cannot score labels"):
        await ScriptedLLM([""]).score_labels(LabelRequest([], ("A",)))
