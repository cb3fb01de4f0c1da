"""Multi-turn conversations with a scripted LLM over a fourteen-film catalog: references to earlier
answers, no repeats, "more like #2", seen/disliked feedback, "something different", constraints
that accumulate (and can be lifted), "which of these", cold start, typos and remakes; then the
same through the HTTP app with the unchanged openai client."""

from __future__ import annotations

import json

import httpx
import openai
import pytest

from agent.api.logic import render_content
from agent.conversation import CLARIFYING_QUESTION, read_conversation, references
from agent.recommender import Recommender, RecRequest
from agent.titles import TitleIndex
from agent.types import Item
from tests.conftest import SIX_FILMS, LabelLLM

MORE = [
    Item("7", "Dune", 1984, ("Adventure", "Sci-Fi"), "A desert planet, spice and sandworms; a duke's son leads a revolt.",
         keywords=("desert", "spice"), runtime=137),
    Item("8", "Dune", 2000, ("Drama", "Fantasy", "Sci-Fi"), "A television retelling of the desert planet saga of spice.",
         keywords=("desert", "miniseries"), runtime=265),
    Item("9", "The Terminator", 1984, ("Action", "Sci-Fi", "Thriller"),
         "A cyborg assassin from the future hunts a waitress; robot machine war.", keywords=("cyborg", "robot"),
         runtime=107),
    Item("10", "Airplane!", 1980, ("Comedy",), "A spoof of disaster films aboard a doomed airliner.",
         keywords=("spoof", "pilot"), runtime=88),
    Item("11", "Groundhog Day", 1993, ("Comedy", "Fantasy", "Romance"), "A weatherman relives the same day again.",
         keywords=("time loop",), runtime=101),
    Item("12", "Casablanca", 1942, ("Drama", "Romance"), "An exiled nightclub owner meets his old love in wartime.",
         keywords=("nightclub",), runtime=102),
    Item("13", "Predator", 1987, ("Action", "Sci-Fi", "Thriller"),
         "Commandos in the jungle are hunted by an alien hunter; robot cyborg machine war.",
         keywords=("jungle", "cyborg"), runtime=107),
    Item("14", "Fargo", 1996, ("Comedy", "Crime", "Drama", "Thriller"), "A pregnant police chief and a botched kidnapping.",
         keywords=("kidnapping", "snow"), runtime=98),
]
FILMS = SIX_FILMS + MORE
CATALOG = {i.item_id: i for i in FILMS}


@pytest.fixture
def films_jsonl(tmp_path):
    p = tmp_path / "films.jsonl"
    with open(p, "w") as f:
        for it in FILMS:
            f.write(json.dumps({"id": it.item_id, "title": it.title, "year": it.year, "genres": list(it.genres),
                                "overview": it.overview, "keywords": list(it.keywords), "runtime": it.runtime}) + "\n")
    return p


@pytest.fixture
def log_csv(tmp_path):
    p = tmp_path / "log.csv"
    rows = ["userId,movieId,rating,timestamp"]
    # popularity: Dune (1984) is watched more than Dune (2000); comedies are the most watched
    for u, items in {"1": "1 2 7 10 11", "2": "3 7 10 14", "3": "2 5 10 11 14", "4": "8 12 11", "5": "9 13 7"}.items():
        rows += [f"{u},{i},4.5,{t}" for t, i in enumerate(items.split())]
    p.write_text("\n".join(rows) + "\n")
    return p


@pytest.fixture
def rec(settings, embedder, films_jsonl, log_csv) -> Recommender:
    s = settings.model_copy(update={"catalog": films_jsonl, "interactions": log_csv, "collection": "conversation",
                                    "k_candidates": 6, "n_recommendations": 3})
    return Recommender.build(s, llm=LabelLLM(), embedder=embedder)


async def say(rec: Recommender, messages: list[dict], text: str, **kw):
    """One user turn: ask with the whole conversation, append the served answer (as a client does)."""
    messages.append({"role": "user", "content": text})
    req = RecRequest(messages=list(messages), explain=False, **kw)
    prep = rec.prepare(req)
    out = await rec.recommend(req)
    messages.append({"role": "assistant", "content": render_content(out.items, False, out.notes, out.remarks,
                                                                     out.question)})
    return prep, out


def ids(out) -> list[str]:
    return [r.item.item_id for r in out.items]


# ---- reading the conversation -------------------------------------------------------------------
ANSWER = "Here is what I would watch next:\n\n1. Aliens (1986): x\n2. The Thing (1982): y\n3. Ronin (1998): z\n"


@pytest.mark.parametrize(
    "text, expected",
    [
        ("more like #2", ["6"]),
        ("I've seen number 1 and the third one", ["3", "5"]),
        ("didn't like the second film", ["6"]),
        ("the last one sounds good", ["5"]),
        ("I've seen it", ["3"]),  # "it": the first film of the answer
        ("more like that one", ["3"]),
        ("#7 please", []),  # out of range: said in a remark
        ("I saw it in the cinema", ["3"]),
        ("the first time I saw Alien", []),  # "the first time" is no reference
        ("I'd like it shorter", []),  # "like it" is no reference
    ],
)
def test_references_point_into_the_last_answer(text, expected):
    films = (CATALOG["3"], CATALOG["6"], CATALOG["5"])
    assert [m.item.item_id for m in references(text, films, ())] == expected


def test_that_one_follows_the_previous_reference_and_remarks_say_what_was_taken():
    titles = TitleIndex(FILMS)
    msgs = [{"role": "user", "content": "I loved Alien"}, {"role": "assistant", "content": ANSWER},
            {"role": "user", "content": "more like #2"}, {"role": "assistant", "content": ANSWER},
            {"role": "user", "content": "hmm, I've actually seen that one"}]
    conv = read_conversation(msgs, titles, CATALOG)
    assert [m.item.item_id for m in conv.refs[4]] == ["6"]  # The Thing, pointed at in the turn before
    assert conv.anchors == {2: ("6",)} and conv.shown == ("3", "6", "5")
    conv = read_conversation([*msgs[:2], {"role": "user", "content": "seen it. #9?"}], titles, CATALOG)
    assert conv.remarks == ("By 'it' I took Aliens (1986), the first film of my last list.",
                            "My last list had 3 films, so '#9' points at none of them.")


@pytest.mark.parametrize(
    "text, anchors",
    [
        ("I loved Casablanca. Something like it", {0: ("12",)}),
        ("I liked The Terminator. Something similar but not horror", {0: ("9",)}),
        ("I loved Fargo and Casablanca, anything similar?", {0: ("14", "12")}),
        ("I loved Casablanca, but I'd like it shorter", {}),  # "like it" asks for no film like it
        ("Something similar to Fargo", {0: ("14",)}),
    ],
)
def test_a_film_named_then_something_like_it_anchors_retrieval_on_that_film(text, anchors):
    conv = read_conversation([{"role": "user", "content": text}], TitleIndex(FILMS), CATALOG)
    assert conv.anchors == anchors


def test_it_after_a_film_of_the_same_turn_is_that_film_not_the_last_answers():
    msgs = [{"role": "user", "content": "I loved Alien"}, {"role": "assistant", "content": ANSWER},
            {"role": "user", "content": "I also loved Casablanca, more like it"}]
    conv = read_conversation(msgs, TitleIndex(FILMS), CATALOG)
    assert conv.anchors == {2: ("12",)} and [m.item.item_id for m in conv.refs[2]] == ["12"]


SIXTH = Item("29", "The Sixth Sense", 1999, ("Drama", "Horror", "Mystery"))
SIX_ANSWER = "".join(f"{i}. {CATALOG[x].label}: x\n" for i, x in enumerate(["3", "6", "5", "9", "13", "14"], 1))


@pytest.mark.parametrize(
    "text, refs, named",
    [
        ("I loved The Sixth Sense", [], ["29"]),  # a title holding an ordinal is the title
        ("I've seen the sixth one", ["14"], []),
        ("more like the first Alien", [], ["1"]),  # an ordinal before a title is no reference
        ("more like #2, not Heat 2", ["6"], ["2"]),  # "#" only before a number of its own
        ("The Sixth Sense or the sixth one?", ["14"], ["29"]),
    ],
)
def test_titles_are_read_before_references(text, refs, named):
    titles = TitleIndex(FILMS + [SIXTH])
    msgs = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": SIX_ANSWER},
            {"role": "user", "content": text}]
    conv = read_conversation(msgs, titles, {**CATALOG, "29": SIXTH})
    assert [m.item.item_id for m in conv.refs[2]] == refs
    assert [m.item.item_id for m in titles.find(text, typos=True, strict=True)] == named
    assert not [r for r in conv.remarks if "points at none" in r or "not suggested" in r]


@pytest.mark.parametrize("text, said", [("Something tense, not Tom Cruise", True), ("nothing with nicolas cage", False),
                                        ("No Horror Express, no Sci-Fi Films", False), ("not Heat", False)])
def test_people_cannot_be_filtered_and_the_answer_says_so(text, said):
    conv = read_conversation([{"role": "user", "content": text}], TitleIndex(FILMS + [Item("20", "Horror Express")]),
                             CATALOG)
    assert conv.remarks == (("I cannot leave out films by person ('Tom Cruise'): the catalog lists no cast or crew.",)
                            if said else ())


def test_the_marquee_recommendations_extension_gives_exact_ids():
    msgs = [{"role": "user", "content": "hi"},
            {"role": "assistant", "content": "(a client's own rendering)", "marquee_recommendations": [{"item_id": "9"}, "13"]},
            {"role": "user", "content": "more like #2"}]
    conv = read_conversation(msgs, TitleIndex(FILMS), CATALOG)
    assert conv.shown == ("9", "13") and conv.anchors == {2: ("13",)}


# ---- behaviour across turns ---------------------------------------------------------------------
async def test_no_film_is_recommended_twice(rec):
    msgs: list[dict] = []
    seen: list[str] = []
    for text in ("I loved Alien", "more please", "any others?", "and more"):
        prep, out = await say(rec, msgs, text)
        assert out.items and not set(ids(out)) & set(seen)
        seen += ids(out)
    assert any("already recommended" in n for n in out.notes)
    assert len(seen) == len(set(seen)) == 12  # 14 films, Alien liked: 13 left, 4 x 3 asked


async def test_seen_and_disliked_references_become_history(rec):
    msgs: list[dict] = []
    _, first = await say(rec, msgs, "I loved Alien. Something with action")
    one, two = first.items[0].item, first.items[1].item
    prep, out = await say(rec, msgs, "I've seen #1 and didn't like the second one")
    entries = {e.item_id: e for e in prep.history.entries}
    assert not entries[one.item_id].liked and not entries[one.item_id].disliked  # seen
    assert entries[two.item_id].disliked
    assert not {one.item_id, two.item_id} & set(ids(out))
    assert "Disliked" in prep.prompt[1]["content"] or "disliked" in prep.prompt[1]["content"]


async def test_more_like_number_two_anchors_retrieval_on_that_film(rec):
    msgs: list[dict] = [{"role": "user", "content": "something fun"},
                        {"role": "assistant", "content": "1. Airplane! (1980): a\n2. The Terminator (1984): b\n"}]
    prep, out = await say(rec, msgs, "more like #2")
    assert prep.anchors == ("9",) and "more like The Terminator (1984)" in prep.notes
    assert prep.query == "more like The Terminator (1984)" and "The Terminator (1984)" in prep.prompt[1]["content"]
    assert prep.candidates[0].item.title == "Predator" and "anchor" in prep.candidates[0].sources
    assert "9" in prep.history.seen and "10" not in [c.item.item_id for c in prep.candidates]
    # the anchor holds while later turns only refine
    prep, _ = await say(rec, msgs, "something shorter")
    assert prep.anchors == ("9",) and all(c.item.runtime < 107 for c in prep.candidates)


async def test_something_different_spreads_genres_away_from_the_last_answer(rec):
    msgs: list[dict] = []
    _, first = await say(rec, msgs, "I loved Alien and Aliens", n=2)  # horror / sci-fi neighbours
    prep, out = await say(rec, msgs, "something completely different", n=2)
    assert any("something different" in n for n in prep.notes)
    last = {g for r in first.items for g in r.item.genres}
    new = [set(r.item.genres) for r in out.items]
    assert all(len(g & last) / len(g | last) < 0.5 for g in new)
    assert new[0] != new[1]


@pytest.mark.parametrize("via", ["turns", "one turn"])
async def test_constraints_from_every_turn_hold_for_every_answer(rec, via):
    turns = ["I loved Alien. No horror", "from the 80s", "under two hours"] if via == "turns" else [
        "I loved Alien. No horror, from the 80s, under two hours"]
    msgs: list[dict] = []
    for text in turns:
        prep, out = await say(rec, msgs, text, n=1)
    assert prep.constraints.describe() == "excluding Horror; runtime <= 120 min; years 1980-1989"
    assert out.items and all(prep.constraints.allows(r.item) for r in out.items)
    assert all("Horror" not in r.item.genres and 1980 <= r.item.year <= 1989 and r.item.runtime <= 120
               for r in out.items)


async def test_when_every_match_was_shown_already_the_answer_says_so(rec):
    msgs: list[dict] = []
    for text in ("I loved Alien. Something from the 80s, no horror", "more"):
        _, out = await say(rec, msgs, text)  # Airplane!, The Terminator, Predator, Dune: 3 + 1
    _, out = await say(rec, msgs, "others?")
    assert out.items == () and msgs[-1]["content"] == (
        "No film in the catalog matches this request (excluding Horror; years 1980-1989; "
        "other than the 4 films already recommended).\n")


async def test_a_later_turn_can_lift_a_constraint(rec):
    msgs: list[dict] = []
    await say(rec, msgs, "I loved Aliens. Nothing scary, under two hours")
    prep, _ = await say(rec, msgs, "ok, horror is fine now, and any length")
    assert prep.constraints.exclude_genres == frozenset() and prep.constraints.max_runtime is None


async def test_which_of_these_ranks_only_the_named_films_and_says_what_it_could_not_match(rec):
    msgs: list[dict] = []
    prep, out = await say(rec, msgs, "Which of these should I watch: Dune, Heat or Flurbo Quest?")
    assert sorted(c.item.item_id for c in prep.candidates) == ["2", "7"]
    assert set(ids(out)) == {"2", "7"}
    text = msgs[-1]["content"]
    assert "'Dune' could be Dune (1984) or Dune (2000); I took Dune (1984), the most watched." in text
    assert "'Flurbo Quest' is not a film in the catalog, so I chose among the others." in text
    assert text.index("Flurbo") < text.index("1. ")  # said before the list


async def test_cold_start_recommends_and_asks_one_question_once(rec):
    msgs: list[dict] = []
    prep, out = await say(rec, msgs, "something good?")
    assert len(out.items) == 3 and out.question == CLARIFYING_QUESTION
    assert len({g for r in out.items for g in r.item.genres[:1]}) == 3  # popular, but varied
    assert msgs[-1]["content"].rstrip().endswith(CLARIFYING_QUESTION)
    assert msgs[-1]["content"].index("1. ") < msgs[-1]["content"].index(CLARIFYING_QUESTION)
    _, again = await say(rec, msgs, "anything else good?")
    assert again.question == "" and again.items and not set(ids(again)) & set(ids(out))
    # a user with a history, or a request with content, is never asked
    assert (await rec.recommend(RecRequest([{"role": "user", "content": "something good"}], user="1"))).question == ""
    assert (await rec.recommend(RecRequest([{"role": "user", "content": "a desert planet"}]))).question == ""


@pytest.mark.parametrize(
    "text, film, remark",
    [
        ("I loved Termnator", "9", "I read 'Termnator' as The Terminator (1984)."),
        ("I loved Groundhgo Day", "11", "I read 'Groundhgo Day' as Groundhog Day (1993)."),
        ("I loved Dune", "7", "'Dune' could be Dune (1984) or Dune (2000); I took Dune (1984), the most watched."),
        ("I loved the Dune from 2000", "8", "I took Dune (2000), going by what you said."),
        ("I loved the original Dune", "7", "I took Dune (1984), going by what you said."),
        ("I loved Dune (2000)", "8", None),  # a year right after the title: nothing to say about remakes
    ],
)
async def test_typos_and_remakes_are_resolved_and_said(rec, text, film, remark):
    msgs: list[dict] = []
    prep, out = await say(rec, msgs, text)
    assert film in prep.history.seen and [e.liked for e in prep.history.entries] == [True]
    if remark:
        assert remark in msgs[-1]["content"] and remark.split(";")[0] in " ".join(out.remarks)
    else:
        assert out.remarks == ("I took Dune (2000) as a film you liked.",)  # what was taken as a title is said


def test_typo_matching_stays_away_from_ordinary_words():
    titles = TitleIndex(FILMS)
    for text in ("Heath Ledger films", "Something Predictable", "Thanks! Airplanes are fun", "Fargo"):
        assert all(m.how != "typo" for m in titles.find(text, typos=True)), text
    assert titles.find("I loved Termnator") == ()  # typos are read only when asked for (user text)


def test_similarity_is_difflibs_measure():
    from difflib import SequenceMatcher

    from agent.titles import _similarity

    for a, b in (("termnator", "terminator"), ("groundhgo day", "groundhog day")):
        assert abs(_similarity(a, b) - 100 * SequenceMatcher(None, a, b).ratio()) < 1.0


# ---- over HTTP -----------------------------------------------------------------------------------
async def test_a_multi_turn_conversation_over_http(rec, settings):
    from serve import create_app

    app = create_app(settings, rec)
    client = openai.AsyncOpenAI(base_url="http://t/v1", api_key="x",
                                http_client=httpx.AsyncClient(transport=httpx.ASGITransport(app=app)))
    msgs: list[dict] = []
    shown: list[list[str]] = []
    for text in ("I loved Alien and The Terminator", "more like #1, but nothing scary", "I've seen #2. From the 80s?"):
        msgs.append({"role": "user", "content": text})
        r = await client.chat.completions.create(model="marquee", messages=msgs, extra_body={"explain": False})
        content = r.choices[0].message.content
        stream = await client.chat.completions.create(model="marquee", messages=msgs, stream=True,
                                                      extra_body={"explain": False})
        assert "".join([c.choices[0].delta.content or "" async for c in stream if c.choices]) == content
        msgs.append({"role": "assistant", "content": content})
        shown.append([x["item_id"] for x in r.model_extra["marquee"]["recommendations"]])
    flat = [i for turn in shown for i in turn]
    assert len(flat) == len(set(flat)) and not {"1", "9"} & set(flat)
    assert shown[1] and all("Horror" not in CATALOG[i].genres for i in shown[1] + shown[2])
    assert all(1980 <= CATALOG[i].year <= 1989 for i in shown[2])
    notes = r.model_extra["marquee"]["notes"]
    assert f"more like {CATALOG[shown[0][0]].label}" in " ".join(notes)  # the anchor of turn 2 still holds
    assert any("already recommended" in n for n in notes) and "constraints: excluding Horror" in " ".join(notes)
    # a malformed extension field is a 400 in OpenAI's shape
    bad = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "x", "marquee_recommendations": "9"},
           {"role": "user", "content": "more like #1"}]
    with pytest.raises(openai.BadRequestError, match="marquee_recommendations"):
        await client.chat.completions.create(model="marquee", messages=bad)
