"""Evals: the split protocol, hand-computed metrics, and the reference baselines."""

import math
import random

import numpy as np
import pytest

from evals.baselines import EASE, Popularity, Transitions
from evals.data import NAMED, k_core, leave_last_two, load_events
from evals.metrics import all_metrics, mrr_at, ndcg_at, recall_at, sample_negatives, sampled_metrics


@pytest.mark.parametrize(
    "ranked, target, k, r, n, m",
    [
        (["t", "a", "b"], "t", 10, 1.0, 1.0, 1.0),
        (["a", "b", "t"], "t", 10, 1.0, 0.5, 1 / 3),
        (["a", "b", "t"], "t", 2, 0.0, 0.0, 0.0),
        (["a", "b", "c", "t"], "t", 5, 1.0, 1 / math.log2(5), 0.25),
        ([], "t", 10, 0.0, 0.0, 0.0),
    ],
)
def test_metrics_by_hand(ranked, target, k, r, n, m):
    assert recall_at(ranked, target, k) == r
    assert ndcg_at(ranked, target, k) == pytest.approx(n)
    assert mrr_at(ranked, target, k) == pytest.approx(m)


def test_all_metrics_keys():
    assert set(all_metrics(["a"], "a")) == {"recall@5", "recall@10", "recall@20", "ndcg@5", "ndcg@10", "ndcg@20", "mrr@10"}


def test_sampled_metrics_and_negatives():
    rng = random.Random(1)
    negs = sample_negatives([str(i) for i in range(100)], {"0", "1"}, 19, rng)
    assert len(set(negs)) == 19 and not {"0", "1"} & set(negs)
    scores = {x: 0.0 for x in negs} | {"0": 1.0}
    assert sampled_metrics(scores, "0", negs) == {"hr@1": 1.0, "ndcg@10": 1.0}
    with pytest.raises(ValueError):
        sample_negatives(["a", "b"], {"a"}, 2, rng)


def test_k_core_is_iterative():
    ev = [("u1", "i1", 1.0, 1), ("u1", "i2", 1.0, 2), ("u2", "i1", 1.0, 1), ("u2", "i2", 1.0, 2), ("u3", "i1", 1.0, 1)]
    # 2-core: u3 has one event -> dropped; then i1 still has 2 users
    assert {e[0] for e in k_core(ev, 2)} == {"u1", "u2"}


def test_split_orders_by_time_then_id():
    ev = [("u", str(i), 1.0, t) for i, t in [(3, 5), (1, 5), (2, 1), (4, 9)]]
    s = leave_last_two(ev, min_count=1)
    assert s.train["u"] == ["2", "1"] and s.val["u"] == "3" and s.test["u"] == "4"
    assert s.history("u", "test") == ["2", "1", "3"]


needs_demo = pytest.mark.skipif(not NAMED["movielens-small"].exists(), reason="demo data not in this checkout")


@needs_demo
def test_reference_split_counts():
    s = leave_last_two(load_events("movielens-small"))
    assert s.stats == {"users": 610, "items": 3650, "interactions": 90274}


@needs_demo
@pytest.mark.parametrize("make, r10, n10", [
    (lambda seq, items: Popularity(seq, items), 0.0443, 0.0211),
    (lambda seq, items: EASE(seq, items, 100.0), 0.0852, 0.0402),
    (lambda seq, items: Transitions(seq, items), 0.1164, None),  # NDCG differs from the reference by tie order
])
def test_reference_baselines(make, r10, n10):
    s = leave_last_two(load_events("movielens-small"))
    scorer = make(s.fit_sequences("test"), s.items)
    rows = []
    for u in sorted(s.train):
        h = s.history(u, "test")
        x = scorer.score(h).astype(float)
        x[[scorer.index[i] for i in h]] = -np.inf
        top = [s.items[j] for j in np.argsort(-x, kind="stable")[:10]]
        rows.append((recall_at(top, s.test[u], 10), ndcg_at(top, s.test[u], 10)))
    assert np.mean([r for r, _ in rows]) == pytest.approx(r10, abs=5e-5)
    if n10 is not None:
        assert np.mean([n for _, n in rows]) == pytest.approx(n10, abs=5e-5)


def test_loads_movielens_100k_and_generic_logs(tmp_path):
    ml100k = tmp_path / "ml-100k"
    ml100k.mkdir()
    (ml100k / "u.data").write_text("196\t242\t3\t881250949\n186\t302\t3\t891717742\n")
    (ml100k / "u.item").write_text("242|Kolya (1996)|24-Jan-1997||http://x|0\n")
    assert load_events(str(ml100k)) == [("196", "242", 3.0, 881250949), ("186", "302", 3.0, 891717742)]
    from evals.data import load_item_titles

    assert load_item_titles(str(ml100k)) == {"242": "Kolya (1996)"}
    log = tmp_path / "log.csv"
    log.write_text("user_id,item_id,timestamp\nu1,a,3\n")
    assert load_events(str(log)) == [("u1", "a", None, 3)]
    with pytest.raises(FileNotFoundError, match="movielens-small"):
        load_events(str(tmp_path / "missing"))
