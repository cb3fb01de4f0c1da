"""agent/explain: evidence, the strict verifier, the verbalizer prompt, the fallback and Explainer."""

import dataclasses

import pytest

from agent.errors import LLMError
from agent.explain import EvidenceBuilder, Explainer, fallback_text, verbalize_prompt, verify
from agent.explain.evidence import Evidence, Link, Reason, plot_sentence
from agent.prompts import Prompts
from agent.retrieval import CoOccurrence, Transitions
from agent.titles import TitleIndex
from agent.types import Candidate, HistoryEntry, Interaction, Item, UserHistory
from tests.conftest import SIX_FILMS, ScriptedLLM

ITEMS = {i.item_id: i for i in SIX_FILMS}
TITLES = TitleIndex(SIX_FILMS)
ALIEN, HEAT, ALIENS, TOY, RONIN, THING = SIX_FILMS


def history(*ids, disliked=()):
    return UserHistory("u", tuple(HistoryEntry(i, liked=i not in disliked, disliked=i in disliked) for i in ids))


def evidence(item_id, hist=("1", "2"), request="", sources=(), **kw):
    return EvidenceBuilder(ITEMS, **kw).build(Candidate(ITEMS[item_id], 1.0, sources), history(*hist), request)


# --- evidence ------------------------------------------------------------------------------------

def test_links_are_the_closest_history_films_with_what_they_share():
    ev = evidence("5")  # Ronin, history Alien then Heat
    assert ev.links[0] == Link("2", "Heat (1995)", themes=("heist",), genres=("Action", "Crime", "Thriller"), liked=True)
    assert len(ev.links) == 1  # Alien shares nothing with Ronin
    assert ev.plot == "Mercenaries chase a mysterious briefcase across France."
    assert ev.themes == ("briefcase", "car chase")  # its own keywords/tags, minus the shared one


def test_the_film_the_request_anchors_on_is_the_link(monkeypatch):
    thing = Candidate(ITEMS["6"], 1.0, ("anchor",))
    plain = EvidenceBuilder(ITEMS).build(thing, history("1", "3"))
    assert plain.links[0].label == "Alien (1979)"  # shares "alien" and two genres
    asked = EvidenceBuilder(ITEMS).build(thing, history("1", "3"), "I loved Aliens. Something like it", anchors=("3",))
    assert asked.links[0].label == "Aliens (1986)"  # "something like it": the film asked about comes first
    assert any(r.text == "close to Aliens (1986), as you asked" for r in asked.reasons)
    monkeypatch.setattr("agent.explain.evidence.RECENT", 2)
    old = history("3", "2", "4", "1", "5")  # Aliens is older than the 2 recent films links are read from
    assert [f.item_id for f, _ in EvidenceBuilder(ITEMS).history_films(old)] == ["5", "1"]
    assert [f.item_id for f, _ in EvidenceBuilder(ITEMS).history_films(old, ("3",))] == ["3", "5"]
    far = EvidenceBuilder(ITEMS).build(thing, old, "Something like Aliens", anchors=("3",))
    assert far.links[0].label == "Aliens (1986)"
    assert fallback_text(far, Prompts(), 360).count("Aliens (1986)") == 1  # the anchor reason does not repeat the link


def test_a_topic_the_catalog_counts_keeps_its_article():
    import re

    from agent.explain.frames import shared_phrase_regex

    plan = Item("7", "Inside Man", 2006, ("Crime",), "A crew plans a heist, and a hostage talks.", keywords=("heist",))
    items = {**ITEMS, "7": plan}
    ev = EvidenceBuilder(items).build(Candidate(ITEMS["5"], 1.0, ()), history("1", "2"))  # Ronin, Heat shares "heist"
    assert ev.counted == ("heist",) and "counted" not in ev.as_dict()
    rx = shared_phrase_regex(ev, ev.links[0], genres=False)
    assert re.fullmatch(rx, " because both are about a heist")
    assert not re.fullmatch(rx, " because both are about heist")  # "a heist": the catalog's own prose counts it
    bare = EvidenceBuilder(ITEMS).build(Candidate(ITEMS["5"], 1.0, ()), history("1", "2"))
    assert bare.counted == () and re.fullmatch(shared_phrase_regex(bare, bare.links[0], genres=False),
                                               " because both are about heist")  # unknown: the model's choice


def test_a_user_tag_that_reads_as_a_name_is_no_topic():
    from agent.explain.frames import frames_regex

    home = Item("8", "Home Alone 2", 1992, ("Comedy",), "A boy is lost in New York at Christmas and a thief follows him.",
                tags=("macaulay culkin", "christmas"))
    ev = EvidenceBuilder({**ITEMS, "8": home}).build(Candidate(home, 1.0, ()), history("1", "2"))
    assert "Macaulay Culkin" in ev.themes
    assert "culkin" not in frames_regex(ev, None, plot=False).lower()


def test_themes_are_topics_first_then_the_most_central_to_the_plot():
    import numpy as np

    from agent.explain.evidence import Centrality

    film = Item("9", "Sky", year=2001, genres=("Drama",), overview="A pilot flies over Paris.",
                keywords=("paris", "farewell", "black people", "flying", "parachute"))
    axes = {"A pilot flies over Paris.": [1, 0, 0], "flying": [0.9, 0.1, 0], "parachute": [0.5, 0.5, 0],
            "farewell": [0, 0, 1], "paris": [0.95, 0, 0.05], "black people": [0.8, 0.2, 0]}
    embed = lambda texts: np.array([axes[t] for t in texts], dtype=np.float32)  # noqa: E731
    items = {**ITEMS, "9": film}
    plain = EvidenceBuilder(items).build(Candidate(film, 1.0), history("1"))
    assert plain.themes == ("farewell", "flying", "parachute")  # catalog order, topics first ("paris" is a name)
    ev = EvidenceBuilder(items, centrality=Centrality(embed)).build_all([Candidate(film, 1.0)], history("1"))[0]
    assert ev.themes == ("flying", "parachute", "farewell")  # "black people" is no topic: after the topics
    broken = Centrality(lambda texts: (_ for _ in ()).throw(RuntimeError("down")))
    assert EvidenceBuilder(items, centrality=broken).build(Candidate(film, 1.0), history("1")).themes == plain.themes


def test_a_disliked_film_is_never_a_link():
    assert evidence("3", hist=("1",), ).links[0].label == "Alien (1979)"
    assert evidence("3", hist=("1",), ).links[0].themes == ("aliens",)
    ev = EvidenceBuilder(ITEMS).build(Candidate(ALIENS, 1.0), history("1", disliked=("1",)))
    assert ev.links == ()


@pytest.mark.parametrize("request_text, words", [
    ("a tense heist film please", ("heist",)),
    ("something set in France", ("france",)),
    ("Ronin or anything", ()),           # the film's own title is no request word
    ("a good film for tonight", ()),     # filler only
])
def test_request_words_the_film_meets(request_text, words):
    assert evidence("5", request=request_text).request_words == words


def test_reasons_name_the_viewers_film_behind_collab_and_sequence():
    log = [Interaction(u, i, None, t) for u, seq in {"a": ["2", "5"], "b": ["2", "5"], "c": ["1", "6"]}.items()
           for t, i in enumerate(seq)]
    co = CoOccurrence(log)
    tr = Transitions([["2", "5"], ["2", "5"], ["1", "6"]])
    ev = evidence("5", sources=("collab", "sequence", "query"), collab=co, sequence=tr)
    assert [r.text for r in ev.reasons] == ["often watched by people who watched Heat (1995)",
                                           "commonly watched after Heat (1995)", "close to your request"]
    assert co.similarity("2", "5") == pytest.approx(1.0) and co.similarity("1", "5") == 0.0
    assert tr.count("2", "5") == 2 and tr.count("5", "2") == 0


@pytest.mark.parametrize("overview, plot", [
    ("Toys come to life when their owner is away. More follows.", "Toys come to life when their owner is away."),
    ("x" * 300 + ". A short second sentence here.", "A short second sentence here."),
    ("An unfinished plot with no full stop", "An unfinished plot with no full stop."),
    ("", ""),
])
def test_plot_sentence_is_always_complete(overview, plot):
    assert plot_sentence(overview) == plot
    assert "…" not in plot_sentence(overview)


def test_evidence_is_json_ready():
    d = evidence("5", sources=("query",)).as_dict()
    assert d["label"] == "Ronin (1998)" and d["links"][0]["label"] == "Heat (1995)"
    assert d["reasons"] == [{"kind": "query", "film": "", "text": "close to your request"}]
    assert "history_labels" not in d


# --- the strict verifier -------------------------------------------------------------------------

GOOD = [
    ("5", "Since you liked Heat (1995), you may enjoy Ronin (1998), another action thriller where mercenaries "
          "chase a mysterious briefcase across France."),
    ("5", "Like Heat, Ronin has a heist. Mercenaries chase a briefcase across France."),
    ("3", "If you liked Alien (1979), Aliens is a sci-fi action film where Ripley returns with space marines to "
          "fight the aliens."),
]


@pytest.mark.parametrize("item_id, text", GOOD)
def test_verifier_passes_texts_the_evidence_supports(item_id, text):
    assert verify(text, evidence(item_id, hist=("1", "2")), TITLES) == []


@pytest.mark.parametrize("text, problem", [
    ("Ronin is a film about a superhero who is fighting against a villain.", "word:superhero"),
    ("The viewer liked Heat, and Ronin has a heist.", "person:The viewer"),
    ("Like Toy Story, Ronin has a heist in France.", "title:Toy Story"),
    ("You liked Ronin, so watch this heist in France.", "role:you liked Ronin"),
    ("Ronin (1999) is a heist film set in France.", "number:1999"),
    ("Ronin is a comedy with a heist in France.", "genre:comedy"),
    ("Ronin is a heist film. Ronin is a heist film.", "repetitive:a phrase repeats"),
    ("Recommended film: Ronin (1998) | action", "echo:Recommended film"),
    ("Ronin has a heist and a chase and", "unfinished:"),
    ("Ronin, directed by John Frankenheimer, has a heist.", "word:directed"),
    ("You may enjoy Heat, a heist film set in France.", "role:recommends Heat"),  # the viewer's film, not Ronin
    ("You may enjoy Ronin (1998) because you will love it.", "empty:"),
    # texts of the 135M verbalizer that passed before (2026-12-02 eval samples), in this catalog's words
    ("You liked Heat (1995), a heist that was both a chase and a chase.", "repetitive:chas"),
    ("You may enjoy Ronin, a thriller film that has both thriller and heist in its story.", "repetitive:thriller"),
    ("You may enjoy Ronin, where Mercenaries Same chase a briefcase across France.", "name:Same"),
])
def test_verifier_flags(text, problem):
    problems = verify(text, evidence("5", hist=("1", "2")), TITLES)
    assert any(p.startswith(problem) for p in problems), problems


def test_a_genre_word_inside_a_title_is_no_genre_claim():
    # "War of the Worlds (2005)" says nothing of war films; found by reading the 2026-12-03 fallbacks
    war = Evidence("7", "War of the Worlds", "War of the Worlds (2005)", 2005, ("Action", "Sci-Fi"),
                   plot="Aliens invade the earth.", reasons=(Reason("collab", "Star Wars (1977)"),))
    assert verify("You may enjoy War of the Worlds (2005), a sci-fi film where aliens invade the earth.", war) == []
    assert verify("You may enjoy War of the Worlds (2005) because it is often watched by people who watched "
                  "Star Wars (1977).", war) == []
    assert "genre:war" in verify("You may enjoy War of the Worlds (2005), a war film where aliens invade.", war)


def test_a_stated_reason_is_a_fact_whatever_the_reasons_title():
    # before, it passed only when the reason film's title had words of the evidence left after cutting
    ev = Evidence("7", "Jaws", "Jaws (1975)", 1975, ("Thriller",), reasons=(Reason("collab", "Psycho (1960)"),))
    assert verify("You may enjoy Jaws (1975) because it is often watched by people who watched Psycho (1960).", ev) == []
    assert any(p.startswith("empty:") for p in verify("You may enjoy Jaws (1975) as a movie.", ev))


def test_a_history_film_that_is_no_evidence_link_may_not_be_named():
    # Alien is in the history but shares nothing with Ronin: naming it says something the evidence does not
    assert "title:Alien" in verify("Like Alien, Ronin has a heist in France.", evidence("5"), TITLES)


# --- the fallback --------------------------------------------------------------------------------

BARE = Item("9", "Unknown", None, ("Action",))
FALLBACKS = [
    (evidence("5", request="a heist please", sources=("collab",),
              collab=CoOccurrence([Interaction("a", "2", None, 0), Interaction("a", "5", None, 1)])),
     "Ronin (1998) shares heist with Heat (1995), which you liked. It matches your request for heist. "
     "Mercenaries chase a mysterious briefcase across France. It is often watched by people who watched Heat (1995)."),
    (evidence("4", hist=()), "Toy Story (1995) is a 1995 animation, children's and comedy film. "
                             "Toys come to life when their owner is away."),
    (EvidenceBuilder({"9": BARE}).build(Candidate(BARE, 0.0), UserHistory("u")), "Unknown is an action film."),
    (evidence("6", hist=("2",)),  # Heat shares nothing with The Thing: no link, the film's identity instead
     "The Thing (1982) is a 1982 horror and sci-fi film. An Antarctic research team meets a shape-shifting alien."),
    (evidence("2", hist=("5",)), "Heat (1995) shares heist with Ronin (1998), which you liked. "
                                 "A master thief and a detective clash in Los Angeles."),
]


@pytest.mark.parametrize("ev, text", FALLBACKS)
def test_fallback_is_complete_sentences_that_pass_the_verifier(ev, text):
    got = fallback_text(ev, Prompts(), 240)
    assert got == text
    assert "…" not in got and " a a" not in got.lower() and " a action" not in got.lower()
    assert verify(got, ev, TITLES) == []


def test_fallback_drops_optional_sentences_to_fit():
    ev = FALLBACKS[0][0]
    short = fallback_text(ev, Prompts(), 120)
    assert len(short) <= 120 and short.startswith("Ronin (1998) shares heist") and short.endswith(".")


def test_fallback_names_no_meta_keyword_as_a_shared_trait():
    ev = dataclasses.replace(FALLBACKS[4][0], links=(dataclasses.replace(FALLBACKS[4][0].links[0],
                                                                       themes=("imdb top 250", "heist")),))
    got = fallback_text(ev, Prompts(), 240)
    assert "imdb" not in got and got.startswith("Heat (1995) shares heist with Ronin (1998)")


# --- the verbalizer prompt and Explainer ---------------------------------------------------------

def test_verbalizer_prompt_holds_the_evidence_only():
    msgs = verbalize_prompt(Prompts(), evidence("5", request="a heist"))
    user = msgs[1]["content"]
    assert user.splitlines()[0] == "Recommended film: Ronin (1998) | action, crime and thriller"
    assert "You liked: Heat (1995); both have: heist; both are action, crime and thriller" in user
    assert "Alien" not in user and "Toy Story" not in user  # no history list
    assert msgs[0] == verbalize_prompt(Prompts(), evidence("3"))[0]  # shared system message
    assert len(user) < 500


GOOD_RONIN = GOOD[0][1]


@pytest.mark.parametrize("answers, source, diag", [
    ([GOOD_RONIN, GOOD_RONIN], "llm", []),
    (["Ronin is about a superhero.", GOOD_RONIN], "llm", ["rejected"]),
    (["Ronin is about a superhero.", "The viewer will love it."], "facts", ["rejected", "rejected", "fallback"]),
    (["", ""], "facts", ["rejected", "rejected", "fallback"]),
])
async def test_explainer_writes_candidates_at_once_then_falls_back(answers, source, diag):
    llm = ScriptedLLM(answers)
    done = await Explainer(Prompts(), TITLES).explain(llm, evidence("5"), max_tokens=60)
    assert done.source == source
    assert [d.split(" (")[0].rsplit(" ", 1)[-1] for d in done.diagnostics] == diag
    assert [r.temperature for r in llm.requests] == [0.0, 0.8]  # the greedy one and a sample, in one wave
    assert len({r.request_id for r in llm.requests}) == 2
    if source == "facts":
        assert done.text == fallback_text(evidence("5"), Prompts())


async def test_a_further_wave_only_when_no_candidate_passes():
    llm = ScriptedLLM(["Ronin is about a superhero.", "", GOOD_RONIN, GOOD_RONIN])
    done = await Explainer(Prompts(), TITLES, samples=2, retries=1).explain(llm, evidence("5"), max_tokens=60)
    assert done.source == "llm" and [r.temperature for r in llm.requests] == [0.0, 0.8, 0.8, 0.8]
    llm = ScriptedLLM([GOOD_RONIN, GOOD_RONIN, GOOD_RONIN])
    await Explainer(Prompts(), TITLES, samples=2, retries=1).explain(llm, evidence("5"), max_tokens=60)
    assert len(llm.requests) == 2


async def test_the_candidate_that_says_more_than_genres_is_shown():
    genres_only = "Since you liked Heat (1995), you may enjoy Ronin (1998), another action thriller."
    words = Explainer(Prompts(), TITLES, grammar="words")  # frames append the plot, so no clause says genres only
    llm = ScriptedLLM([genres_only, GOOD_RONIN])
    done = await words.explain(llm, evidence("5"), max_tokens=60)
    assert done.source == "llm" and done.text == GOOD_RONIN and "mercenaries" in done.text
    llm = ScriptedLLM([genres_only, "The viewer will love it."])  # a passing genre-only text beats the fallback
    done = await words.explain(llm, evidence("5"), max_tokens=60)
    assert done.source == "llm" and done.text == genres_only


async def test_a_passing_informative_greedy_text_does_not_wait_for_the_sample():
    import asyncio

    class SlowSample(ScriptedLLM):
        cancelled = 0

        async def stream(self, request):
            if request.temperature > 0:
                try:
                    await asyncio.sleep(30)
                except asyncio.CancelledError:
                    SlowSample.cancelled += 1
                    raise
            async for c in super().stream(request):
                yield c

    llm = SlowSample([GOOD_RONIN])
    done = await asyncio.wait_for(Explainer(Prompts(), TITLES).explain(llm, evidence("5"), max_tokens=60), 5)
    assert done.source == "llm" and done.text == GOOD_RONIN and SlowSample.cancelled == 1


def test_a_claim_of_shared_genres_must_be_true():
    """The 135M pack wrote "because both are action, adventure, mystery, romance and thriller" for
    a pair that shares two of them: the verifier and the decoding regex both refuse it."""
    import re
    from dataclasses import replace

    from agent.explain.verbalize import continuation_regex

    base = evidence("5")  # Ronin: action, crime, thriller
    ev = replace(base, links=(replace(base.links[0], genres=("Crime",)),))  # Heat shares only crime here
    opener = "Since you liked Heat (1995), you may enjoy Ronin (1998)"
    assert "shared:action" in verify(opener + ", as both are crime and action films.", ev, TITLES)
    assert verify(opener + ", as both are crime films with a heist.", ev, TITLES) == []
    assert "shared:briefcase" in verify(opener + ", as both have a briefcase.", ev, TITLES)  # Ronin's own keyword
    assert verify(opener + ", an action film with a briefcase.", ev, TITLES) == []  # said of Ronin alone it is true
    rx = continuation_regex(ev)
    assert re.fullmatch(rx, ", as both are crime films with a heist.")
    assert not re.fullmatch(rx, ", as both are crime and action films.")


class FailingLLM(ScriptedLLM):
    async def stream(self, request):
        raise LLMError("engine died")
        yield  # pragma: no cover


async def test_an_llm_error_falls_back_for_that_film():
    done = await Explainer(Prompts(), TITLES).explain(FailingLLM(), evidence("5"), max_tokens=60)
    assert done.source == "facts" and done.text.startswith("Ronin (1998)")
    assert done.diagnostics == ("explanation for 5: LLM call failed (LLMError)",) * 2 + (
        "explanation for 5 replaced by the evidence fallback",)


@pytest.mark.parametrize("text, ok", [
    ("You may enjoy Ronin (1998), a heist film where mercenaries chase a mysterious briefcase across France.", True),
    ("Since you liked Heat (1995), you may like Ronin, a heist film.", True),
    ("Since you liked Heat (1995), you may like Ronin.", False),   # the clause is not optional (no empty text)
    ("You may enjoy Ronin, a heist film. It has a car chase across France.", False),  # one sentence
    ("You may enjoy Ronin, a classic heist film.", False),  # "classic" is in no evidence
    ("Ronin is a heist film.", False),               # the opener is fixed
    ("You may enjoy Ronin, a heist film", False),    # a sentence must end
    ("You liked Ronin (1998), a heist film.", False),  # the viewer's film is only a link
    ("Since you liked Alien (1979), you may enjoy Ronin, a heist film.", False),  # Alien is no link of Ronin
    ("You may enjoy Heat (1995), a heist film.", False),  # only the film explained is recommended
    ("You may enjoy Ronin, a heist film like Heat.", False),  # a title word outside its role
    ("You may enjoy Ronin, a heist film in france.", False),  # a name is written as the evidence writes it
    ("You may enjoy Ronin because it is a heist film.", True),
    ("You may enjoy Ronin and the heist.", False),   # the clause joins as an apposition or a reason
    ("You may enjoy Ronin, a crime film with a car chase.", True),
])
def test_vocabulary_regex_fixes_roles_and_admits_only_evidence_words(text, ok):
    import re

    from agent.explain.verbalize import vocabulary_regex

    assert bool(re.fullmatch(vocabulary_regex(evidence("5")), text)) is ok


async def test_the_shown_text_has_the_right_articles():
    llm = ScriptedLLM(["You may enjoy Ronin (1998), an heist film with a car chase."])
    done = await Explainer(Prompts(), TITLES).explain(llm, evidence("5"), max_tokens=60)
    assert done.source == "llm" and done.text.startswith("You may enjoy Ronin (1998), a heist film with a car chase. ")


async def test_explainer_asks_for_constrained_decoding():
    llm = ScriptedLLM([GOOD_RONIN])
    await Explainer(Prompts(), TITLES).explain(llm, evidence("5"), max_tokens=60)
    assert llm.requests[0].regex and llm.requests[0].frequency_penalty > 0 and llm.requests[0].stop == ["\n"]
    llm = ScriptedLLM([GOOD_RONIN])
    await Explainer(Prompts(), TITLES, constrain=False).explain(llm, evidence("5"), max_tokens=60)
    assert llm.requests[0].regex is None


def test_reason_texts():
    assert Reason("sequence", "Heat (1995)").text == "commonly watched after Heat (1995)"
    assert isinstance(evidence("5"), Evidence)


def test_films_and_names_the_evidence_states_are_not_inventions():
    """Teacher samples (2026-12-02) rejected wrongly: a reason's film is evidence, a keyword's
    proper name may be capitalised; films and names the evidence lacks still fail."""
    from dataclasses import replace

    base = evidence("5", hist=("1", "2"))
    ev = replace(base, reasons=(Reason("collab", "Alien (1979)"),), themes=base.themes + ("disney",))
    ok = "You may enjoy Ronin (1998), often watched by people who watched Alien, a heist film across France by Disney."
    assert verify(ok, ev, TITLES) == []
    problems = verify("You may enjoy Ronin (1998), a heist film like Toy Story.", ev, TITLES)
    assert "title:Toy Story" in problems
    # part of a reason film's title names another film (the 135M wrote "Jurassic Park" for The Lost World: Jurassic Park)
    sequel = replace(ev, reasons=(Reason("collab", "Toy Story 2 (1999)"),))
    assert "title:Toy Story" in verify("You may enjoy Ronin (1998), a heist film like Toy Story.", sequel, TITLES)
    plain = replace(base, plot=base.plot + " by disney")  # "disney" stated, but no keyword: "Disney" is no name of it
    assert "name:Disney" in verify(ok.replace("often watched by people who watched Alien, ", ""), plain, TITLES)


async def test_a_backend_that_continues_a_prefix_writes_only_the_clause():
    import re

    from agent.explain.verbalize import continuation_regex, opener

    ev = evidence("5")
    llm = ScriptedLLM([", a heist film where mercenaries chase a mysterious briefcase across France."], continues_prefix=True)
    assert not re.fullmatch(continuation_regex(ev), " and the heist.")
    done = await Explainer(Prompts(), TITLES, grammar="words").explain(llm, ev, max_tokens=90)
    r = llm.requests[0]
    assert r.prefix == opener(ev) and r.prefix.startswith(("Since you liked", "If you liked", "Because you liked"))
    assert r.regex == continuation_regex(ev) and r.max_tokens < 90
    assert done.source == "llm" and done.text == r.prefix + ", a heist film where mercenaries chase a mysterious briefcase across France."
    assert re.fullmatch(r.regex, done.text[len(r.prefix):])
    llm = ScriptedLLM([GOOD_RONIN])  # a backend without it is asked for the whole text
    await Explainer(Prompts(), TITLES).explain(llm, ev, max_tokens=90)
    assert llm.requests[0].prefix == "" and llm.requests[0].max_tokens == 90


async def test_the_frames_grammar_admits_whole_evidence_phrases_only():
    import re

    from agent.explain.verbalize import opener

    ev = evidence("5", request="a tense heist film please")  # Ronin, history Alien then Heat
    clause = ", an action and crime film about car chase, and it matches your request for heist."
    llm = ScriptedLLM([clause], continues_prefix=True)
    done = await Explainer(Prompts(), TITLES).explain(llm, ev, max_tokens=90)
    rx = llm.requests[0].regex
    assert re.fullmatch(rx, clause) and done.source == "llm", done.diagnostics
    assert done.text == opener(ev) + clause + " " + ev.plot  # the plot sentence is appended by code, not decoded
    for broken in (", a heist as the car.",                         # words re-assembled: not a phrase of the evidence
                   ", a film about mercenaries chase France.",      # plot words as a topic
                   ", a war film.",                                 # a genre the film does not have
                   " because both have briefcase.",                 # a keyword Heat does not share
                   ", a 1998 action film. Mercenaries chase a briefcase.",  # the plot, changed
                   ", a crime film."):  # the year and first two genres are fixed by code, not chosen
        assert not re.fullmatch(rx, broken), broken
    assert re.fullmatch(rx, " because both are about heist.")
    # whatever the grammar admits, the strict verifier passes (every phrase is the evidence's)
    for text in (", an action and crime film about briefcase and car chase.", " because both are action and crime films, "
                 "and it matches your request for heist.", ", which matches your request for heist.", ", an action and crime film."):
        assert re.fullmatch(rx, text), text
        assert verify(opener(ev) + text + " " + ev.plot, ev, TITLES) == [], text


def test_openers_vary_over_films_and_fit_the_regex():
    import re

    from agent.explain.verbalize import opener, vocabulary_regex

    evs = [evidence(i) for i in ("3", "4", "5", "6")]
    assert len({opener(ev).split()[0] for ev in evs}) > 1
    for ev in evs:
        assert re.fullmatch(vocabulary_regex(ev), opener(ev) + f", a film about {ev.themes[0]}.")
        assert not re.fullmatch(vocabulary_regex(ev), opener(ev) + f", a film about {ev.themes[0]}. It is good.")


def test_a_history_film_whose_title_extends_the_films_is_no_role_error():
    first = Item("31", "Spider-Man", 2002, ("Action",))
    third = Item("32", "Spider-Man 3", 2007, ("Action",))
    ev = Evidence("31", first.title, first.label, 2002, first.genres,
                  links=(Link("32", third.label, genres=("Action",), liked=True),), history_labels=(third.label,))
    titles = TitleIndex([first, third])
    assert verify("Since you liked Spider-Man 3 (2007), you may enjoy Spider-Man (2002) because both are action films.",
                  ev, titles) == []
    assert "role:you liked Spider-Man" in verify("Since you liked Spider-Man (2002), you may enjoy Spider-Man (2002) "
                                                 "because both are action films.", ev, titles)


def test_a_sequel_whose_title_extends_the_films_is_no_role_error():
    part2 = Item("21", "Back to the Future Part II", 1989, ("Adventure", "Comedy"))
    part3 = Item("22", "Back to the Future Part III", 1990, ("Adventure", "Comedy"))
    titles = TitleIndex([part2, part3])
    ev = Evidence("21", part2.title, part2.label, 1989, part2.genres,
                  links=(Link("22", part3.label, ("delorean",), ("Adventure", "Comedy"), liked=True),),
                  history_labels=(part3.label,))
    assert verify("Since you liked Back to the Future Part III (1990), you may enjoy Back to the Future Part II (1989), "
                  "a comedy with a delorean.", ev, titles) == []
    assert any(p.startswith("role:") for p in verify(
        "Since you liked Back to the Future Part II (1989), you may enjoy Back to the Future Part III (1990), "
        "a comedy with a delorean.", ev, titles))


async def test_a_text_cut_inside_a_long_title_is_never_shown():
    hp = Item("31", "Harry Potter and the Sorcerer's Stone (a.k.a. Harry Potter and the Philosopher's Stone)", 2001,
              ("Adventure", "Fantasy"))
    ev = Evidence("5", "Ronin", "Ronin (1998)", 1998, ("Action", "Crime"), plot="Mercenaries chase a case.",
                  links=(Link("31", hp.label, ("magic",), ("Adventure",), liked=True),))
    long = "Since you liked " + hp.label + ", you may enjoy Ronin (1998), " + "a crime film where mercenaries chase a case " * 4 + "."
    explainer = Explainer(Prompts(), TitleIndex([hp, RONIN]), max_chars=240)
    shown, problems = explainer.check(long, ev)
    assert not shown.endswith("(a.k.a.") and any(p.startswith("unfinished") for p in problems)
    done = await explainer.explain(ScriptedLLM([long, long]), ev, max_tokens=60)
    assert done.source == "facts"


def test_the_copied_plot_sentence_is_no_claim_of_the_writer():
    """The frames grammar appends the evidence's plot verbatim: its own repeated words and genre
    words are the catalog's ("his war on crime"), and a reason film's title is no shared claim."""
    dark = Item("41", "The Dark Knight", 2008, ("Action", "Crime"))
    logan = Item("42", "Logan", 2017, ("Action",))
    titles = TitleIndex([dark, logan, RONIN])
    plot = "Batman raises the stakes in his war on crime and his city."
    ev = Evidence("41", dark.title, dark.label, 2008, dark.genres, plot=plot,
                  links=(Link("42", logan.label, genres=("Action",), liked=True),),
                  reasons=(Reason("sequence", "Ronin (1998)"),), history_labels=(logan.label,))
    text = ("Because you liked Logan (2017), you may like The Dark Knight (2008) because both are action films, "
            "and it is commonly watched after Ronin (1998). " + plot)
    assert verify(text, ev, titles) == []
    # the same words written by the model (not the evidence's sentence) are still checked
    assert any(p.startswith(("genre:war", "repetitive")) for p in verify(
        "Because you liked Logan (2017), you may like The Dark Knight (2008), a war film about his war and his city.",
        ev, titles))


def test_the_frames_prompt_leaves_out_the_plot_it_appends_itself():
    ev = evidence("5")
    frames = Explainer(Prompts(), TITLES).messages(ev)[1]["content"]
    words = Explainer(Prompts(), TITLES, grammar="words").messages(ev)[1]["content"]
    assert ev.plot in words and "Plot:" in words
    assert ev.plot not in frames and "Plot:" not in frames and "Heat (1995)" in frames


def test_a_plot_that_names_the_film_is_still_appended():
    """"Men in Black follows ..." shares "men in black" with the opener's label: that is the
    title, not a plot already told."""
    from agent.explain.evidence import Evidence

    ev = Evidence("9", "Men in Black", "Men in Black (1997)", 1997, ("Sci-Fi",),
                  plot="Men in Black follows the exploits of agents Kay and Jay.")
    done = Explainer(Prompts(), TITLES).complete("You may enjoy Men in Black (1997), a sci-fi film.", ev)
    assert done.endswith(" " + ev.plot)


def test_a_keyword_after_about_is_no_title():
    """"about time travel" (a keyword) holds the title "About Time"; "about a boy" is "About a
    Boy": a false alarm when the evidence has the keyword, an invented title when it does not."""
    titles = TitleIndex([*SIX_FILMS, Item("90", "About Time", 2013), Item("91", "About a Boy", 2002)])
    ev = Evidence("5", "Ronin", "Ronin (1998)", 1998, ("Action",), themes=("time travel", "boy"))
    ok = "You may enjoy Ronin (1998), an action film about a boy and time travel."
    assert verify(ok, ev, titles) == []
    assert verify("You may enjoy Ronin (1998), an action film about time travel.", ev, titles) == []
    bare = dataclasses.replace(ev, themes=())
    assert any(p.startswith("title:") for p in verify(ok, bare, titles))
