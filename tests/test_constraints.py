"""Reading hard constraints from a conversation: tables of phrases, multi-turn refinement, false positives."""

import pytest

from agent.constraints import CHOICE, DISLIKED, EXCLUDED, LIKED, SEEN, UNSEEN, Constraints, parse_conversation, strip_constraints
from agent.titles import TitleIndex
from agent.types import Item
from tests.conftest import SIX_FILMS

EXTRA = [Item("7", "Horror Express", 1972, ("Horror",), runtime=88),
         Item("8", "2001: A Space Odyssey", 1968, ("Sci-Fi",), runtime=149),
         Item("9", "Sleepless in Seattle", 1993, ("Comedy", "Drama", "Romance"), runtime=105)]
FILMS = SIX_FILMS + EXTRA
CATALOG = {i.item_id: i for i in FILMS}
TITLES = TitleIndex(FILMS)
NONE = Constraints()


def parse(*turns: str) -> Constraints:
    """User turns; a turn starting with 'A:' is the assistant's."""
    msgs = [{"role": "assistant", "content": t[2:].strip()} if t.startswith("A:") else {"role": "user", "content": t}
            for t in turns]
    return parse_conversation(msgs, TITLES, CATALOG)


def fields(c: Constraints) -> dict:
    keys = ("exclude_genres", "include_genres", "max_runtime", "min_runtime", "year_min", "year_max", "only_items")
    out = {k: getattr(c, k) for k in keys if getattr(c, k) not in (None, frozenset(), ())}
    return {k: sorted(v) if isinstance(v, frozenset) else v for k, v in out.items()}


@pytest.mark.parametrize(
    "text, expected",
    [
        # genres
        ("something tense, not horror", {"exclude_genres": ["Horror"]}),
        ("no horror please", {"exclude_genres": ["Horror"]}),
        ("nothing scary, my kids are watching", {"exclude_genres": ["Horror"]}),
        ("not in the mood for comedy or horror", {"exclude_genres": ["Comedy", "Horror"]}),
        ("anything but comedies", {"exclude_genres": ["Comedy"]}),
        ("I hate horror", {"exclude_genres": ["Horror"]}),
        ("no war films", {"exclude_genres": ["War"]}),
        ("I'd like a comedy", {"include_genres": ["Comedy"]}),
        ("some sci-fi tonight", {"include_genres": ["Sci-Fi"]}),
        ("a funny sci-fi movie", {"include_genres": ["Comedy", "Sci-Fi"]}),  # any of them
        ("something scary", {"include_genres": ["Horror"]}),
        ("Not horror please, something funny", {"exclude_genres": ["Horror"], "include_genres": ["Comedy"]}),
        # runtime
        ("under two hours", {"max_runtime": 120}),
        ("less than 90 minutes", {"max_runtime": 90}),
        ("no longer than an hour and a half", {"max_runtime": 90}),
        ("at least 2h, but under 2.5 hours", {"min_runtime": 120, "max_runtime": 150}),
        ("100 minutes or less", {"max_runtime": 100}),
        # years
        ("from the 80s", {"year_min": 1980, "year_max": 1989}),
        ("late 90s action", {"year_min": 1995, "year_max": 1999}),
        ("an 80s or 90s thriller", {"year_min": 1980, "year_max": 1999, "include_genres": ["Thriller"]}),
        ("something after 2000", {"year_min": 2001}),
        ("since 1995", {"year_min": 1995}),
        ("before 1980", {"year_max": 1979}),
        ("between 1980 and 1990", {"year_min": 1980, "year_max": 1990}),
        ("films from 1995", {"year_min": 1995, "year_max": 1995}),
        ("anything recent", {"year_min": 1994}),  # the six-film catalog's newest film is from 1998
        # a choice set
        ("which of these should I watch: Alien, Heat or Ronin?", {"only_items": ("1", "2", "5")}),
        ("which of these: alien, heat or ronin?", {"only_items": ("1", "2", "5")}),  # lower case, looked up exactly
        ("Should I watch Heat or Ronin tonight?", {"only_items": ("2", "5")}),
        ("Alien or Aliens, which one?", {"only_items": ("1", "3")}),
    ],
)
def test_single_turn(text, expected):
    assert fields(parse(text)) == expected


@pytest.mark.parametrize(
    "text",
    [
        "I loved Horror Express, what else?",  # a title, not an exclusion
        "I loved 2001: A Space Odyssey",  # nor a year
        "Sleepless in Seattle was lovely",
        "I'm in my 30s and like thrillers",  # an age, and a taste rather than a request
        "I have no problem with horror",
        "I loved Alien, a horror classic",  # describes the history
        "no war",  # "war" needs "film(s)"
        "I watched it over two nights",
        "I loved Alien and Heat, which should I watch next?",  # named films joined by "and": history
        "What should I watch tonight?",
        "It's a mystery to me",
    ],
)
def test_false_positives_do_not_constrain(text):
    assert fields(parse(text)) == {}


def test_genres_in_a_between_phrase_are_no_choice_set():
    assert fields(parse("something between a comedy and a drama")) == {"include_genres": ["Comedy", "Drama"]}


@pytest.mark.parametrize(
    "turns, expected",
    [
        (["something scary", "actually, not horror"], {"exclude_genres": ["Horror"]}),
        (["no horror", "ok fine, a horror film then"], {"include_genres": ["Horror"]}),
        (["no horror", "a comedy"], {"exclude_genres": ["Horror"], "include_genres": ["Comedy"]}),
        (["a comedy", "some sci-fi instead"], {"include_genres": ["Sci-Fi"]}),  # a new include replaces the old
        (["no horror", "and no war films"], {"exclude_genres": ["Horror", "War"]}),  # exclusions add up
        (["under two hours", "under 90 minutes"], {"max_runtime": 90}),
        (["over 90 minutes", "under 2 hours"], {"min_runtime": 90, "max_runtime": 120}),
        (["from the 80s", "after 1985"], {"year_min": 1986, "year_max": 1989}),
        (["from the 80s", "actually the 90s"], {"year_min": 1990, "year_max": 1999}),
        (["after 2000", "before 1980"], {"year_max": 1979}),  # a contradicting older bound goes
        # "shorter": than the shortest film of the previous answer (The Thing, 109 min)
        (["I loved Alien", "A: Here is what I would watch next:\n\n1. Aliens (1986): A 1986 film.\n2. The Thing (1982): x.",
          "something shorter"], {"max_runtime": 108}),
        (["I loved Alien", 'A: {"recommendations": [{"item_id": "3"}, {"item_id": "2"}]}', "longer ones"], {"min_runtime": 171}),
        (["which of these should I watch: Alien, Heat or Ronin?", "A: 1. Heat (1995): x", "nothing scary"],
         {"only_items": ("1", "2", "5"), "exclude_genres": ["Horror"]}),
        (["which of these should I watch: Alien, Heat or Ronin?", "A: 1. Heat (1995): x", "something else please"], {}),
    ],
)
def test_later_turns_refine_earlier_ones(turns, expected):
    assert fields(parse(*turns)) == expected


@pytest.mark.parametrize(
    "text, roles",
    [
        ("I loved Alien and Heat", [("1", LIKED), ("2", LIKED)]),
        ("I've seen Alien and Heat", [("1", SEEN), ("2", SEEN)]),
        ("I didn't like Heat", [("2", DISLIKED)]),
        ("I've seen Alien, loved Heat", [("1", SEEN), ("2", LIKED)]),
        ("I loved Alien but didn't like Aliens", [("1", LIKED), ("3", DISLIKED)]),
        ("I watched Alien and loved it", [("1", LIKED)]),
        ("Alien, which I've already seen", [("1", SEEN)]),
        ("I haven't seen Alien yet", [("1", UNSEEN)]),
        ("I've seen Alien but not Aliens", [("1", SEEN), ("3", UNSEEN)]),
        ("something like Alien but not Aliens", [("1", LIKED), ("3", EXCLUDED)]),
        ("which of these should I watch: Alien, Heat or Ronin?", [("1", CHOICE), ("2", CHOICE), ("5", CHOICE)]),
    ],
)
def test_named_film_roles(text, roles):
    c = parse(text)
    assert list(c.roles) == roles
    assert c.exclude_items == {i for i, r in roles if r in (SEEN, DISLIKED, EXCLUDED)}


def test_a_later_turn_changes_a_films_role():
    c = parse("which of these should I watch: Alien, Heat or Ronin?", "A: 1. Heat (1995): x", "I've seen Heat")
    assert dict(c.roles)["2"] == SEEN and "2" in c.exclude_items
    assert c.describe(CATALOG) == "not Heat (1995); only among Alien (1979), Ronin (1998)"


@pytest.mark.parametrize(
    "turns, note",
    [
        (["which of these: Alien, Flurbo Quest or Heat?"], "'Flurbo Quest' is not a film in the catalog; choosing among the others"),
        (["a western"], "no film in the catalog has the genre 'western'; not applied"),
        (["something shorter"], "'shorter' needs an earlier answer with known runtimes; not applied"),
        (["anything recent"], "'recent' read as 1994 or later (the catalog's newest film is from 1998)"),
    ],
)
def test_notes_say_what_was_not_understood(turns, note):
    c = parse(*turns)
    assert note in c.notes


def test_unmatched_choice_names_keep_the_rest():
    c = parse("which of these: Alien, Flurbo Quest or Heat?")
    assert c.only_items == ("1", "2")


def test_describe_and_allows():
    c = parse("I didn't like Alien. Something from the 90s, under 2 hours, no horror")
    assert c.describe() == "excluding Horror; runtime <= 120 min; years 1990-1999"
    assert c.describe(CATALOG).endswith("; not Alien (1979)")
    assert [i.item_id for i in FILMS if c.allows(i)] == ["4", "9"]  # Toy Story 81 min, Sleepless 105 min
    assert not Constraints() and Constraints(exclude_items=frozenset({"1"}))
    assert not Constraints(roles=(("1", LIKED),))  # named liked films alone constrain nothing new


@pytest.mark.parametrize(
    "text, expected",
    [
        ("something tense, not horror, under two hours", "something tense, ,"),
        ("I didn't like Alien, something from the 80s", "I Alien, something"),
        ("not Horror Express", "not Horror Express"),  # a title is never cut here
    ],
)
def test_strip_constraints(text, expected):
    assert strip_constraints(text, TITLES) == expected


# ---- "which of these" over titles with punctuation, alternate titles, years, ordinary words -----
from tests.test_titles import EXTRA as TITLE_EXTRA, TRICKY  # noqa: E402

BIG = SIX_FILMS + TITLE_EXTRA + TRICKY + [Item("43", "Her", 2013), Item("44", "11:14", 2003)]
BIG_CATALOG = {i.item_id: i for i in BIG}
BIG_TITLES = TitleIndex(BIG, popularity={"2": 70, "36": 5, "11": 50})


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Which of these: Who's Afraid of Virginia Woolf?, Heat or Alien?", ("20", "2", "1")),
        ("Which of these: Dr. Strangelove, Airplane! or ...And Justice for All?", ("21", "22", "23")),
        ("which of these: Raiders of the Lost Ark (1981), Seven (a.k.a. Se7en) or Heat?", ("24", "25", "2")),
        ("which of these: Raiders of the Lost Ark (Indiana Jones and the Raiders of the Lost Ark) (1981), Alien",
         ("24", "1")),
        ("Which should I watch: The Hidden Fortress, The Sixth Sense or Argo (2012)?", ("26", "29", "31")),
        ("which of these: Always, 10 or 9?", ("32", "33", "34")),  # ordinary words and numbers, named in a list
        ("which of these: her, alien", ("43", "1")),  # lower case, looked up exactly
        ("Which one of these tonight?\n- Her\n- When Harry Met Sally...\n- 50/50", ("43", "39", "38")),
        ("Help me choose between Argo (2012), Always and 11:14.", ("31", "32", "44")),
        ("Should I watch 10 or Heat?", ("33", "2")),
        ("Airplane!, Always or Dune (2021), which one should I watch?", ("22", "32", "12")),
        ("Which of these: Heat (1995), Dune (1984) or Dune (2021)?", ("2", "11", "12")),
        ("Seven (a.k.a. Se7en), Heat and Airplane!: which one tonight?", ("25", "2", "22")),  # the cue after the list
        ("The Hidden Fortress, Argo (2012) and Heat - which film first?", ("26", "31", "2")),
    ],
)
def test_which_of_these_reads_the_set_exactly(text, expected):
    c = parse_conversation([{"role": "user", "content": text}], BIG_TITLES, BIG_CATALOG)
    assert c.only_items == expected
    assert not [n for n in c.notes if "not a film" in n]


@pytest.mark.parametrize(
    "text, expected, unknown",
    [
        ("which of these: Flurbo Quest, Heat or Alien?", ("2", "1"), "Flurbo Quest"),  # "Quest" alone is no match
        ("which of these: Raiders of the Lost Ark (1985), Gorblax (1981) or Heat?", ("24", "2"), "Gorblax"),
    ],
)
def test_a_name_matching_nothing_gets_a_note_with_its_name(text, expected, unknown):
    c = parse_conversation([{"role": "user", "content": text}], BIG_TITLES, BIG_CATALOG)
    assert c.only_items == expected
    assert f"'{unknown}' is not a film in the catalog; choosing among the others" in c.notes


@pytest.mark.parametrize(
    "text",
    [
        "Always recommend films from the 80s",  # "Always" is no film Always
        "10**9 is a lot, something tense",  # no films 10 and 9
        "Would you recommend anything else?",
        "I want something between a comedy and a drama",
    ],
)
def test_ordinary_words_are_no_named_films(text):
    c = parse_conversation([{"role": "user", "content": text}], BIG_TITLES, BIG_CATALOG)
    assert c.roles == () and c.only_items == ()


@pytest.mark.parametrize(
    "text, expected",
    [
        ("which of these should i watch: say anything..., 2046?", ("60", "61")),  # "2046" is no year of the first
        ("which of these: oh, god!, state and main or l.a. story?", ("62", "63", "64")),  # separators inside titles
        ("Should I watch 2012 (2009) or Heat?", ("30", "2")),  # no film The Watch (2012)
    ],
)
def test_lower_case_lists_with_separators_inside_titles(text, expected):
    films = BIG + [Item("60", "Say Anything...", 1989), Item("61", "2046", 2004), Item("62", "Oh, God!", 1977),
                   Item("63", "State and Main", 2000), Item("64", "L.A. Story", 1991), Item("65", "The Watch", 2012)]
    c = parse_conversation([{"role": "user", "content": text}], TitleIndex(films), {i.item_id: i for i in films})
    assert c.only_items == expected


def test_list_reading_is_bounded_on_hostile_input(monkeypatch):
    """Thousands of list items or cues: at most MAX_CUES cues and MAX_ITEMS items a list are read."""
    from agent import understand as mod

    calls = []
    real = mod._list_item
    monkeypatch.setattr(mod, "_list_item", lambda *a, **kw: calls.append(a[1]) or real(*a, **kw))
    for text in ("which of these: " + ", ".join(f"Zorblax {i}" for i in range(2000)),
                 "between Heat and " * 500):
        calls.clear()
        parse_conversation([{"role": "user", "content": text}], BIG_TITLES, BIG_CATALOG)
        assert len(calls) <= mod.MAX_CUES * mod.MAX_ITEMS * 3  # an item, and two joins with the next ones
