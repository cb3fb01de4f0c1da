"""evals/requests.py: requests built from catalog facts, their relevant sets and the choice questions."""

from agent.types import Item
from evals.requests import build_requests, choice_requests, ndcg_at, precision_at
from tests.conftest import SIX_FILMS

ITEMS = {i.item_id: i for i in SIX_FILMS}
ODD = [Item("10", "Dr. Strangelove or: How I Learned to Stop Worrying and Love the Bomb", 1964, ("Comedy", "War")),
       Item("11", "Who's Afraid of Virginia Woolf?", 1966, ("Drama",)),
       Item("12", "Raiders of the Lost Ark (Indiana Jones and the Raiders of the Lost Ark)", 1981, ("Action",))]


def test_relevant_sets_come_from_the_facts():
    reqs = build_requests(ITEMS, {}, {i: 20 for i in ITEMS})
    by_kind = {}
    for r in reqs:
        by_kind.setdefault(r.kind, []).append(r)
    horror = [r for r in by_kind["genre"] if "scary" in r.text or "horror" in r.text]
    assert horror and all(set(r.relevant) == {"1", "3", "6"} for r in horror)
    assert {r.half for r in reqs} == {"tune", "held-out"}
    assert all(r.user is None for r in reqs)  # no user has 20 rated films here


def test_choice_questions_name_real_titles_and_only_them():
    import random

    items = {**ITEMS, **{i.item_id: i for i in ODD}}
    reqs = choice_requests(items, {i: 50 for i in items}, random.Random(3), 30)
    assert len(reqs) == 30
    for r in reqs:
        assert 2 <= len(r.named) <= 4 and set(r.named) == set(r.relevant)
        for i in r.named:  # each film is typed by its main title (or its full catalog title)
            main = items[i].title.split(" (")[0]
            assert main in r.text
    assert any(i in r.named for r in reqs for i in ("10", "11", "12"))  # punctuation titles are picked


def test_metrics_count_misses():
    assert precision_at(["1", "2"], {"1"}) == 0.2
    assert ndcg_at(["9", "1"], {"1": 1.0}) < ndcg_at(["1", "9"], {"1": 1.0}) == 1.0
