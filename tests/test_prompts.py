import pytest
from jinja2 import UndefinedError
from jinja2.exceptions import SecurityError

from agent.prompts import Prompts, candidate_view
from agent.types import Candidate, HistoryEntry, UserHistory
from tests.conftest import SIX_FILMS

ITEMS = {i.item_id: i for i in SIX_FILMS}


def test_render_request_contains_data_verbatim():
    p = Prompts()
    hist = UserHistory("7", (HistoryEntry("1", True), HistoryEntry("4", False)))
    msgs = p.render_request(request="tense, {{ 7*7 }} {% raw %}", history=hist,
                            candidates=[Candidate(ITEMS["2"], 1.0), Candidate(ITEMS["5"], 0.5)],
                            items=ITEMS, n=2, history_limit=20, max_chars=200)
    assert [m["role"] for m in msgs] == ["system", "user"]
    user = msgs[1]["content"]
    assert "tense, {{ 7*7 }} {% raw %}" in user  # user text is data, never template code
    assert "[2] Heat (1995)" in user and "[5] Ronin (1998)" in user
    assert "- Alien (1979) [Horror, Sci-Fi] (liked)" in user
    assert "- Toy Story (1995)" in user and "Toy Story (1995) [Animation, Children, Comedy] (liked)" not in user
    assert "exactly 2" in msgs[0]["content"]


def test_missing_variable_is_an_error():
    with pytest.raises(UndefinedError):
        Prompts().render("user.j2", request="x", history=[], n=2)  # no candidates


def test_sandbox_blocks_python_internals(tmp_path):
    (tmp_path / "evil.j2").write_text("{{ ''.__class__.__mro__[1].__subclasses__() }}")
    with pytest.raises(SecurityError):
        Prompts(tmp_path).render("evil.j2")


def test_candidate_view_clips_overview():
    v = candidate_view(ITEMS["1"], overview_chars=20)
    assert v["overview"].endswith("…") and len(v["overview"]) <= 21


def test_a_year_is_not_read_as_the_film_named_after_it():
    from agent.grounding import Facts, check
    from agent.titles import TitleIndex
    from agent.types import Item

    film_2012 = Item("9", "2012", 2009, ("Action", "Sci-Fi"), "The world ends.")
    comedy = Item("10", "Ted", 2012, ("Comedy",), "A boy's teddy bear comes to life.")
    titles = TitleIndex([film_2012, comedy])
    assert check("A 2012 comedy film: a boy's teddy bear comes to life.", Facts(comedy, (), ""), titles) == []
    assert any(p.startswith("year:") for p in check("A 2013 comedy film about a teddy bear.", Facts(comedy, (), ""), titles))


def test_degenerate_explanations_fail_the_check():
    from agent.grounding import Facts, check
    from agent.types import Item

    it = Item("10", "Ted", 2012, ("Comedy",), "A boy's teddy bear comes to life.")
    loop = "It is a comedy about a teddy bear, and it is a comedy about a teddy bear."
    assert "repetitive:a phrase repeats" in check(loop, Facts(it, (), ""))
    assert any(p.startswith("echo:") for p in check("The viewer's request: a comedy with a teddy bear.", Facts(it, (), "")))
    assert check("A 2012 comedy: a boy's teddy bear comes to life.", Facts(it, (), "")) == []
