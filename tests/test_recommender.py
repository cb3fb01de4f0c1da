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
        ("Something like Alien but funnier", "Something like but funnier"),
    ],
)
def test_search_text_drops_named_titles(make_recommender, text, expected):
    assert make_recommender().search_text(text) == expected


# ---- hard constraints from the conversation ------------------------------------------------
from tests.conftest import LabelLLM  # noqa: E402

# An LLM that wants exactly what the viewer ruled out: constraints must hold anyway.
HORROR_FIRST = {"Alien (1979)": -0.1, "Aliens (1986)": -0.2, "The Thing (1982)": -0.3}
HORROR_JSON = answer_json(("3", GOOD_3), ("6", GOOD_6), ("1", "A 1979 horror film."))


def chat(*turns, user=None, n=3, **kw):
    msgs = [{"role": "assistant", "content": t[2:].strip()} if t.startswith("A:") else {"role": "user", "content": t}
            for t in turns]
    return RecRequest(messages=msgs, user=user, n=n, **kw)


@pytest.mark.parametrize("ranking", ["one-pass", "generate"])
@pytest.mark.parametrize(
    "turns, ok, expected_n",
    [
        (["I loved Alien. Something tense, but nothing scary"], lambda it: "Horror" not in it.genres, 3),
        (["Something under two hours"], lambda it: it.runtime <= 120, 3),
        (["a film from the 80s"], lambda it: 1980 <= it.year <= 1989, 2),
        (["I loved Heat", "A: 1. Ronin (1998): x", "no horror", "and under 2 hours"],
         lambda it: "Horror" not in it.genres and it.runtime <= 120, 1),
        (["I loved Alien", "A: 1. Aliens (1986): x\n2. The Thing (1982): y", "something shorter"],
         lambda it: it.runtime < 109, 1),
        (["some sci-fi after 1980", "I've seen Aliens"], lambda it: "Sci-Fi" in it.genres and it.year > 1980 and it.item_id != "3", 1),
    ],
)
async def test_every_recommendation_satisfies_the_constraints(make_recommender, turns, ok, expected_n, ranking):
    llm = LabelLLM(HORROR_FIRST, [HORROR_JSON])
    rec = make_recommender(llm)
    req = chat(*turns, ranking=ranking)
    prep = rec.prepare(req)
    assert prep.candidates and all(ok(c.item) for c in prep.candidates)
    out = await rec.recommend(req)
    assert len(out.items) == expected_n and all(ok(r.item) for r in out.items)
    assert any(n.startswith("constraints: ") for n in out.notes)
    if expected_n < 3:
        assert any(n.startswith(f"only {expected_n} film") for n in out.notes)


async def test_the_prompt_states_the_constraints_in_one_line(make_recommender):
    rec = make_recommender(LabelLLM())
    prep = rec.prepare(chat("I loved Alien. Nothing scary, under 2 hours"))
    assert "Constraints (every candidate meets them): excluding Horror; runtime <= 120 min\n" in prep.prompt[1]["content"]
    assert prep.constraints.exclude_genres == {"Horror"} and prep.constraints.max_runtime == 120
    assert "Constraints" not in rec.prepare(chat("I loved Alien")).prompt[1]["content"]


async def test_which_of_these_ranks_and_explains_only_the_named_films(make_recommender):
    llm = LabelLLM({"Aliens (1986)": 0.0, "Ronin (1998)": -0.1, "Heat (1995)": -0.5})
    rec = make_recommender(llm)
    req = chat("which of these should I watch: Heat, Ronin or Toy Story?", n=5, explain=False)
    prep = rec.prepare(req)
    assert [c.item.item_id for c in prep.candidates] == ["2", "5", "4"]
    assert prep.history.entries == ()  # choices are not history
    out = await rec.recommend(req)
    assert [r.item.title for r in out.items] == ["Ronin", "Heat", "Toy Story"]
    assert not any(n.startswith("only ") for n in out.notes)  # three named, three answered


async def test_which_of_these_with_an_unknown_name_says_so(make_recommender):
    rec = make_recommender(LabelLLM({"Heat (1995)": 0.0}))
    out = await rec.recommend(chat("which of these: Heat, Flurbo Quest or Ronin?", explain=False))
    assert {r.item.item_id for r in out.items} == {"2", "5"}
    assert "'Flurbo Quest' is not a film in the catalog; choosing among the others" in out.notes


async def test_a_choice_already_in_the_users_history_is_left_out(make_recommender):
    rec = make_recommender(LabelLLM({"Heat (1995)": 0.0}))
    out = await rec.recommend(chat("which of these: Heat, Ronin or Aliens?", user="9", explain=False))  # user 9 rated 2 and 5
    assert [r.item.item_id for r in out.items] == ["3"]
    assert any("Heat (1995) is in your history" in n for n in out.notes)
    assert any(n.startswith("only 1 of the 3 named films") for n in out.notes)


async def test_ive_seen_excludes_the_film_and_makes_it_history(make_recommender):
    llm = LabelLLM({"Aliens (1986)": 0.0, "The Thing (1982)": -1.0})
    rec = make_recommender(llm)
    out = await rec.recommend(chat("I've seen Aliens. Something like Alien?", explain=False))
    assert "3" not in {r.item.item_id for r in out.items} | {c.item.item_id for c in out.candidates}
    entries = {e.item_id: e for e in out.history.entries}
    assert not entries["3"].liked and entries["1"].liked
    assert out.items[0].item.title == "The Thing"


async def test_i_didnt_like_makes_a_disliked_history_entry(make_recommender):
    llm = LabelLLM({"Aliens (1986)": 0.0})
    rec = make_recommender(llm)
    out = await rec.recommend(chat("I didn't like Alien", explain=False))
    (entry,) = out.history.entries
    assert entry.item_id == "1" and entry.disliked and not entry.liked
    assert "1" not in {r.item.item_id for r in out.items}
    assert "- Alien (1979) [Horror, Sci-Fi] (disliked)" in llm.label_requests[0].messages[1]["content"]


async def test_when_nothing_matches_the_answer_is_empty_and_says_why(make_recommender):
    llm = LabelLLM()
    rec = make_recommender(llm)
    out = await rec.recommend(chat("a comedy under 60 minutes"))
    assert out.items == () and llm.label_requests == [] and llm.requests == []
    assert "no film matches: only Comedy; runtime <= 60 min" in out.notes


def test_search_text_skips_constraint_phrases_and_falls_back_to_earlier_turns(make_recommender):
    rec = make_recommender()
    assert rec.search_text("something tense, not horror") == "something tense,"
    msgs = chat("a tense heist film like Heat", "A: 1. Ronin (1998): x", "something shorter").messages
    assert rec.conversation_search_text(msgs).strip() == "a tense heist film like"


async def test_generate_prompt_is_trimmed_to_fit_the_context(make_recommender):
    import dataclasses

    class Counting(ScriptedLLM):
        def count_tokens(self, messages):  # "too long" while poster lines are in the prompt
            return 10_000 if "Poster text" in messages[1]["content"] else 100

    rec = make_recommender(Counting([answer_json(("3", GOOD_3), ("6", GOOD_6))]), ranking="generate")
    for iid in list(rec.items):
        rec.items[iid] = dataclasses.replace(rec.items[iid], media_text=(("Poster text", "A BIG TITLE"),))
    prep = rec.prepare(ask("I loved Alien"))
    assert "Poster text" not in prep.prompt[1]["content"]
    assert any("shortened to fit the context" in n for n in prep.notes)
    out = await rec.recommend(ask("I loved Alien"))
    assert [r.item.item_id for r in out.items] == ["3", "6"]


# ---- the understanding stage, as prepare reads it ------------------------------------------
@pytest.mark.parametrize(
    "text, soft",
    [
        ("a hidden gem, something quiet from the 90s", {"popularity": "obscure", "decade": 1990, "terms": ("quiet",)}),
        ("Something popular and funny, no horror", {"popularity": "popular", "genres": ("Comedy",)}),
        ("nothing too obscure, a tense heist film", {"popularity": "popular", "terms": ("tense", "heist")}),
        ("an animated film for the whole family", {"genres": ("Animation", "Children")}),
        ("I loved Alien", {}),
        ("a tense heist film, not too violent", {"terms": ("tense", "heist"), "avoid": ("violent",)}),  # no soft term
        ("a thriller without much gore", {"genres": ("Thriller",), "avoid": ("gore",)}),
    ],
)
def test_prepare_carries_the_understanding_and_its_soft_preferences(make_recommender, text, soft):
    prep = make_recommender(LabelLLM()).prepare(chat(text))
    s = prep.understanding.soft
    got = {k: getattr(s, k) for k in ("genres", "terms", "popularity", "decade", "avoid") if getattr(s, k)}
    assert got == soft


def test_soft_preferences_reach_a_retriever_that_reads_them(make_recommender):
    rec = make_recommender(LabelLLM())
    seen = []
    real = rec.retriever.retrieve

    class Reading:
        vocab = real.__self__.vocab

        def retrieve(self, query, history, k, *, soft=None, **kw):
            seen.append(soft)
            return real(query, history, k, **kw)

    rec.retriever = Reading()
    rec.prepare(chat("a hidden gem with a heist"))
    assert seen[0].popularity == "obscure" and "heist" in seen[0].terms


@pytest.mark.parametrize(
    "text, remark",
    [
        ("I loved Alien and Heat", "I took Alien (1979) and Heat (1995) as films you liked."),
        ("I've seen Ronin. Something like Alien?", "I took Ronin (1998) as seen."),
        ("which of these: Heat, Ronin or Toy Story?", "Choosing among Heat (1995), Ronin (1998) and Toy Story (1995)."),
        ("Something tense but not Aliens", "I took Aliens (1986) as a film to leave out."),
    ],
)
def test_what_was_taken_as_a_film_is_said(make_recommender, text, remark):
    prep = make_recommender(LabelLLM()).prepare(chat(text))
    assert remark in prep.remarks


def test_ordinary_words_steer_nothing(make_recommender):
    from agent.titles import TitleIndex
    from agent.types import Item

    rec = make_recommender(LabelLLM())
    for it in (Item("32", "Always", 1989), Item("33", "10", 1979), Item("34", "9", 2009)):
        rec.items[it.item_id] = it
    rec.titles = TitleIndex(list(rec.items.values()))
    prep = rec.prepare(chat("Always recommend something tense. 10**9 is big"))
    assert prep.history.entries == () and prep.understanding.films == () and not prep.remarks
    prep = rec.prepare(chat('I loved "Always" and 10 (1979)'))  # with evidence they are films
    assert [e.item_id for e in prep.history.entries] == ["32", "33"]
    assert "I took Always (1989) and 10 (1979) as films you liked." in prep.remarks


@pytest.mark.parametrize("as_json", [False, True])
def test_the_render_cli_shows_what_was_understood(make_recommender, monkeypatch, capsys, as_json):
    import json

    from agent import render

    rec = make_recommender(LabelLLM())
    monkeypatch.setattr(render.Recommender, "build", classmethod(lambda cls, s, **kw: rec))
    capsys.readouterr()  # what building printed
    assert render.main(["I've seen Alien. Something tense", *(["--json"] if as_json else [])]) == 0
    out = capsys.readouterr().out
    if as_json:
        films = json.loads(out)["understanding"]["films"]
        assert [(f["label"], f["role"]) for f in films] == [("Alien (1979)", "seen")]
    else:
        assert "===== understood =====" in out and "film: Alien (1979)  role=seen  from 'Alien'" in out
        assert "remark: I took Alien (1979) as seen." in out
