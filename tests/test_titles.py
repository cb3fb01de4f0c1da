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
