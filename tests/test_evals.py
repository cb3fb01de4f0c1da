"""Evals: the split protocol, hand-computed metrics, and the reference baselines."""

import json
import math
from pathlib import Path
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


def _fake_results():
    sys_a = {"recall@5": 0.1, "recall@10": 0.2, "recall@20": 0.3, "ndcg@5": 0.05, "ndcg@10": 0.08, "ndcg@20": 0.1,
             "mrr@10": 0.06, "latency_p50_ms": 1.0, "users": 10, "validity": {}}
    sys_b = dict(sys_a, model="pack:x", ranking="one-pass",
                 validity={"parse_failures": 0.0, "candidate_errors": 0.0, "history_errors": 0.0, "duplicates": 0.0,
                           "out_of_catalog": 0.0, "filled": 0.0},
                 prior_sweep={"0.0": {"recall@10": 0.2, "ndcg@10": 0.08, "mrr@10": 0.06},
                              "2.0": {"recall@10": 0.25, "ndcg@10": 0.09, "mrr@10": 0.07}},
                 explanations={"n": 50, "share_llm": 0.4, "usr": 0.9, "div": 1.2, "fcr": 0.1, "fmr": 0.8,
                               "grounded_claim_share": 0.95, "hallucinated_title_rate": 0.0, "distinct2": 0.7,
                               "template_share": 0.3, "len_chars_mean": 150.0})
    return {"data": "movielens-small", "target": "val", "seed": 0, "split": {"users": 10}, "split_checksum": "x",
            "commit": "abc", "systems": {"retriever": sys_a, "retriever + LLM one-pass": sys_b}}


def test_report_has_validity_sweep_explanations_and_plots(tmp_path):
    pytest.importorskip("matplotlib")
    from evals.run import report_md, write_plots

    res = _fake_results()
    md = report_md(res)
    assert "| retriever + LLM one-pass | 0 | 0 | 0 | 0 | 0 | 0% |" in md
    assert "| 2.0 | 0.2500 | 0.0900 | 0.0700 |" in md
    assert "| retriever + LLM one-pass | 50 | 0.400 | 0.900 | 1.200 |" in md
    files = write_plots(res, tmp_path)
    assert files == ["ranking.png", "prior_sweep.png"]
    assert all((tmp_path / f).read_bytes()[:4] == b"\x89PNG" for f in files)


def test_prior_order_matches_the_served_formula(tmp_path):
    from types import SimpleNamespace

    from agent.ranking import order_by_label_scores
    from agent.types import Candidate, Item, RankedItem
    from evals.run import journal_path, prior_order

    cands = [Candidate(Item(str(i), f"F{i}"), 1.0) for i in range(4)]
    lps = [-2.0, -0.3, -1.0, -0.2]
    for w in (0.0, 0.5, 2.0, 8.0):
        served = order_by_label_scores(cands, lps, prior_weight=0.0)
        out = SimpleNamespace(candidates=cands, items=[RankedItem(c.item, r + 1, "", "facts", p) for r, (c, p) in enumerate(served)])
        expected = [c.item.item_id for c, _ in order_by_label_scores(cands, lps, prior_weight=w)]
        assert prior_order(out, w) == expected
    assert journal_path(tmp_path, "LLM one-pass + LoRA (a, 5 users)").name == "llm-one-pass-lora-a-5-users.jsonl"


def test_paired_comparison_reads_journals_and_sweeps(tmp_path, capsys):
    from evals.paired import main as paired_main, per_user

    for run, vals in (("a", [0.0, 0.5, 1.0]), ("b", [1.0, 0.5, 1.0])):
        (tmp_path / run / "journal").mkdir(parents=True)
        lines = [json.dumps({"user": str(i), "kind": "rank", "metrics": {"ndcg@10": v},
                             "sweep": {"4.0": {"ndcg@10": v / 2}}, "retrieval": {"ndcg@10": 1.0 - v}})
                 for i, v in enumerate(vals)]
        lines.append(json.dumps({"user": "0", "kind": "explain"}))  # explanation lines are not rank lines
        (tmp_path / run / "journal" / "x.jsonl").write_text("\n".join(lines) + "\n{cut")
    assert per_user(tmp_path / "a", -1, "ndcg@10") == {"0": 0.0, "1": 0.5, "2": 1.0}
    assert per_user(tmp_path / "a", 4, "ndcg@10")["2"] == 0.5
    with pytest.raises(SystemExit):
        per_user(tmp_path / "a", 8, "ndcg@10")
    assert paired_main([str(tmp_path / "a"), str(tmp_path / "b")]) == 0
    out = capsys.readouterr().out
    assert "3 users" in out and "B - A +0.3333" in out and "better for 1 users, worse for 0" in out
    assert per_user(tmp_path / "a", -1, "ndcg@10", retrieval=True) == {"0": 1.0, "1": 0.5, "2": 0.0}
    assert paired_main([str(tmp_path / "a"), str(tmp_path / "a"), "--a-retrieval"]) == 0  # the LLM vs its retriever
    assert "A 0.5000, B 0.5000" in capsys.readouterr().out
