import pytest

from agent.catalog import load_interactions
from agent.ingest import ingest, open_store
from agent.retrieval import CoOccurrence, Retriever
from agent.types import HistoryEntry, UserHistory
from tests.conftest import SIX_FILMS

ITEMS = {i.item_id: i for i in SIX_FILMS}


def make(settings, embedder, ratings_csv, collab=True):
    store = open_store(settings, embedder)
    ingest(SIX_FILMS, store, embedder, progress=False)
    co = CoOccurrence(load_interactions(ratings_csv)) if collab else None
    return Retriever(store, embedder, ITEMS, co)


def test_never_returns_seen(settings, embedder, ratings_csv):
    r = make(settings, embedder, ratings_csv)
    hist = UserHistory("7", (HistoryEntry("1", True), HistoryEntry("2", True)))
    for query in ("", "alien spaceship horror", "heist"):
        cands = r.retrieve(query, hist, k=10)
        assert not {c.item.item_id for c in cands} & {"1", "2"}
        assert len(cands) == 4


def test_query_only_finds_semantic_match(settings, embedder, ratings_csv):
    r = make(settings, embedder, ratings_csv)
    cands = r.retrieve("toys come to life pixar", UserHistory(None), k=2)
    assert cands[0].item.item_id == "4" and cands[0].sources == ("query",)


def test_history_signals_are_fused(settings, embedder, ratings_csv):
    r = make(settings, embedder, ratings_csv)
    hist = UserHistory("x", (HistoryEntry("1", True),))
    cands = r.retrieve("", hist, k=5)
    by_id = {c.item.item_id: c for c in cands}
    # users 8 watched Alien together with Aliens and The Thing: collaborative signal
    assert "collab" in by_id["3"].sources and "history" in by_id["3"].sources
    assert cands[0].item.item_id in {"3", "6"}
    assert [c.score for c in cands] == sorted((c.score for c in cands), reverse=True)


def test_cooccurrence_scores(ratings_csv):
    co = CoOccurrence(load_interactions(ratings_csv))
    top = dict(co.top({"1": 1.0}, k=10, exclude={"1"}))
    # Alien (1) shares one viewer with each of 2, 3, 4, 6 and none with 5; item 2 has two viewers
    assert set(top) == {"2", "3", "4", "6"}
    assert top["3"] == top["4"] == top["6"] == pytest.approx(2 ** -0.5, rel=1e-4)
    assert top["2"] == pytest.approx(0.5, rel=1e-4)
    assert co.top({"unknown": 1.0}, k=3, exclude=set()) == []


def test_transitions_follow_the_last_items():
    from agent.retrieval import Transitions

    t = Transitions([["a", "b", "c"], ["a", "b", "d"], ["x", "c"]])
    top = dict(t.top(["z", "a"], k=5, exclude={"a"}))
    # after "a": "b" twice at distance 1, "c" and "d" once each at distance 2
    assert top == {"b": 2.0, "c": 1.0, "d": 1.0}
    top = dict(t.top(["a", "b"], k=5, exclude={"a", "b"}))
    # last item "b" (weight 1): c, d once; previous "a" (weight 0.5): c, d once more at distance 2
    assert top == {"c": 1.5, "d": 1.5}
    assert t.top(["unknown"], 5, set()) == []


def test_sequence_signal_in_fusion(settings, embedder, ratings_csv):
    from agent.retrieval import RetrievalWeights, Transitions

    store = open_store(settings, embedder)
    ingest(SIX_FILMS, store, embedder, progress=False)
    seq = Transitions([["1", "3", "6"], ["1", "3"]])
    r = Retriever(store, embedder, ITEMS, None, seq, weights=RetrievalWeights(query=0, history=0, collab=0, sequence=1))
    cands = r.retrieve("", UserHistory("u", (HistoryEntry("1", True),)), k=5)
    assert [c.item.item_id for c in cands] == ["3", "6"] and cands[0].sources == ("sequence",)
