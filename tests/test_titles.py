import pytest

from agent.titles import TitleIndex
from tests.conftest import SIX_FILMS
from agent.types import Item

EXTRA = [Item("10", "Up", 2009, ("Animation",)), Item("11", "Dune", 1984), Item("12", "Dune", 2021),
         Item("13", "Alien³ (a.k.a. Alien 3)", 1992)]


@pytest.fixture
def index():
    return TitleIndex(SIX_FILMS + EXTRA, popularity={"11": 50, "12": 10})


@pytest.mark.parametrize(
    "text, expected",
    [
        ("I loved Alien and Heat. What should I watch tonight?", ["1", "2"]),
        ("something like the thing or toy story", ["4"]),  # lower-case one-word titles are not matched
        ("Something like The Thing or Toy Story", ["6", "4"]),
        ("I want to go Up", []),  # a common word is not a title unless quoted
        ('I liked "Up"', ["10"]),
        ("Dune (2021) was great", ["12"]),
        ("Dune was great", ["11"]),  # ambiguous: the most watched one
        ("Alien 3 was bad", ["13"]),  # a.k.a. alias
        ("Aliens, then Alien again", ["3", "1"]),
    ],
)
def test_find(index, text, expected):
    assert [m.item.item_id for m in index.find(text)] == expected


def test_ambiguity_is_reported(index):
    (m,) = index.find("Dune")
    assert m.ambiguous and m.text == "Dune"


# ---- request text (strict): titles over the whole text, with evidence ---------------------------
TRICKY = [
    Item("20", "Who's Afraid of Virginia Woolf?", 1966), Item("21", "Dr. Strangelove or: How I Learned to Stop Worrying and Love the Bomb", 1964),
    Item("22", "Airplane!", 1980), Item("23", "...And Justice for All", 1979),
    Item("24", "Raiders of the Lost Ark (Indiana Jones and the Raiders of the Lost Ark)", 1981),
    Item("25", "Seven (a.k.a. Se7en)", 1995), Item("26", "The Hidden Fortress (Kakushi-toride no san-akunin)", 1958),
    Item("27", "The Hidden", 1987), Item("28", "Fortress", 1992), Item("29", "The Sixth Sense", 1999),
    Item("30", "2012", 2009), Item("31", "Argo", 2012), Item("32", "Always", 1989), Item("33", "10", 1979),
    Item("34", "9", 2009), Item("35", "Anything Else", 2003), Item("36", "The Heat", 2013), Item("37", "Quest", 2017),
    Item("38", "50/50", 2011), Item("39", "When Harry Met Sally...", 1989), Item("40", "Star Wars: Episode IV - A New Hope", 1977),
    Item("41", "Star Wars: Episode V - The Empire Strikes Back", 1980), Item("42", "Horror", 2003),
    Item("45", "The Watch", 2012),
]


@pytest.fixture
def tricky():
    return TitleIndex(SIX_FILMS + EXTRA + TRICKY, popularity={"40": 90, "41": 80, "2": 70, "36": 5})


@pytest.mark.parametrize(
    "text, expected",
    [
        # punctuation inside or around the title joins the span
        ("Who's Afraid of Virginia Woolf?, Heat or Alien?", [("20", "Who's Afraid of Virginia Woolf?"), ("2", "Heat"), ("1", "Alien")]),
        ("Dr. Strangelove or Airplane!", [("21", "Dr. Strangelove"), ("22", "Airplane!")]),
        ("I loved ...And Justice for All and When Harry Met Sally...", [("23", "...And Justice for All"), ("39", "When Harry Met Sally...")]),
        # alternate titles in parentheses, whole or alone
        ("Raiders of the Lost Ark (Indiana Jones and the Raiders of the Lost Ark)",
         [("24", "Raiders of the Lost Ark (Indiana Jones and the Raiders of the Lost Ark)")]),
        ("Raiders of the Lost Ark (1981) and Seven (a.k.a. Se7en)", [("24", "Raiders of the Lost Ark"), ("25", "Seven (a.k.a. Se7en)")]),
        ("I liked Se7en", [("25", "Se7en")]),
        # a title holding another title, or an ordinal, is taken whole
        ("The Hidden Fortress is great", [("26", "The Hidden Fortress")]),
        ("The Hidden and Fortress", [("27", "The Hidden"), ("28", "Fortress")]),
        ("I loved The Sixth Sense", [("29", "The Sixth Sense")]),
        # a year after a title is the title's
        ("Argo (2012) or Heat", [("31", "Argo"), ("2", "Heat")]),
        ("2012 (2009) was loud", [("30", "2012")]),
        # a subtitle's head names the film when it is no title of its own
        ("Star Wars tonight?", [("40", "Star Wars")]),
        ("Heat, not The Heat", [("2", "Heat"), ("36", "The Heat")]),  # as written, article included
        ("which: 50/50 or Alien", [("38", "50/50"), ("1", "Alien")]),  # a compact name
    ],
)
def test_strict_find_reads_titles_whole(tricky, text, expected):
    assert [(m.item.item_id, m.text) for m in tricky.find(text, typos=True, strict=True)] == expected


@pytest.mark.parametrize(
    "text",
    [
        "Always recommend something good",  # an ordinary word at a sentence start
        "I always watch films like that",
        "10**9 is a big number",  # bare numbers
        "give me 10 films, 9 would do",
        "In 2012 I watched a lot",
        "Would you recommend anything else?",  # a phrase of ordinary words, not title case
        "Horror films from the 80s",  # a genre word
        "Flurbo Quest sounds made up",  # one word of a longer name
        "something like the sixth one",
        "Should I watch 2046 things?",  # a year counts only when it is the film's: no The Watch
    ],
)
def test_strict_find_needs_evidence(tricky, text):
    assert tricky.find(text, typos=True, strict=True) == ()


@pytest.mark.parametrize(
    "text, expected, evidence",
    [
        ('I loved "Always"', "32", "quoted"),
        ("Always (1989) was sweet", "32", "year"),
        ("I liked 10 (1979)", "33", "year"),
        ("I loved Anything Else", "35", "capitalised"),
        ('"Horror" (2003)', "42", "quoted"),
    ],
)
def test_strict_find_takes_ordinary_words_with_evidence(tricky, text, expected, evidence):
    (m,) = tricky.find(text, typos=True, strict=True)
    assert (m.item.item_id, m.evidence) == (expected, evidence)


def test_typo_work_is_bounded_per_text(tricky, monkeypatch):
    """An 8,000-character message of capitalised words spends at most MAX_TYPO_PROBES fuzzy look-ups."""
    from agent import titles as mod

    calls = []
    real = mod.TitleIndex.fuzzy_lookup
    monkeypatch.setattr(mod.TitleIndex, "fuzzy_lookup", lambda self, name: calls.append(name) or real(self, name))
    text = " ".join(f"Zorblax{i} Quentaris{i}, Merovian{i}." for i in range(300))[:8000]
    tricky.find(text, typos=True, strict=True)
    assert 0 < len(calls) <= mod.MAX_TYPO_PROBES


# words common in the catalog's plot text make lower-case phrases and sentence-start words ordinary
PLOTS = [Item(str(100 + i), f"Filler {i}", 2000, overview="A life at home, one date night after another.")
         for i in range(5)]
WORDY = TRICKY + PLOTS + [Item("50", "Life", 1999), Item("51", "Home Alone", 1990), Item("52", "Date Night", 2010),
                          Item("53", "An Unforgettable Summer", 1994), Item("54", "Summer Rental", 1985),
                          Item("55", "Oh, God!", 1977)]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Life is beautiful, what should I watch", []),  # capitalised only by position, and a plot word
        ("I loved Life", ["50"]),  # capitalised inside the sentence
        ("Life is my favourite film", ["50"]),  # at a sentence start, with talk about a film after it
        ("Life, Heat or Alien?", ["50", "2", "1"]),  # or a list of titles
        ("home alone tonight, something fun", []),
        ("I loved Home Alone", ["51"]),
        ("a date night film please", []),
        ("something like toy story", ["4"]),  # a word the plots do not use
        ("Unforgettable, Summer Rental or Heat", ["54", "2"]),  # no title across a comma it lacks
        ("I loved Oh, God!", ["55"]),  # a comma the title has
    ],
)
def test_strict_find_reads_ordinary_english_as_english(text, expected):
    idx = TitleIndex(SIX_FILMS + WORDY)
    assert [m.item.item_id for m in idx.find(text, typos=True, strict=True)] == expected
