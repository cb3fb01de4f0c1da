"""agent/sequential.py: the SASRec retriever learns an order, saves, loads, resumes, and joins the fusion."""

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from agent.sequential import SASRecConfig, SequentialModel, evaluate, train  # noqa: E402

N = 24  # items "0".."23"; every user walks them in order from a random start: the next item is certain


def cyclic(users: int = 40, length: int = 14, seed: int = 0) -> dict[str, list[str]]:
    rng = np.random.default_rng(seed)
    out = {}
    for u in range(users):
        s = int(rng.integers(N))
        out[f"u{u}"] = [str((s + i) % N) for i in range(length)]
    return out


TINY = dict(dim=16, layers=1, heads=1, max_len=8, dropout=0.0, lr=0.01, batch_size=8, eval_every=5, patience=50,
            threads=1)


def split_of(seqs):
    train_part = {u: s[:-1] for u, s in seqs.items()}
    val = {u: s[-1] for u, s in seqs.items()}
    return train_part, val


def test_learns_the_next_item_and_round_trips(tmp_path):
    train_part, val = split_of(cyclic())
    items = [str(i) for i in range(N)]
    m = train(train_part, items, val, SASRecConfig(epochs=40, **TINY), tmp_path / "m.pt", progress=False)
    assert m.meta["val_ndcg@10"] > 0.8  # chance (random order of 24 unseen-ish items) is ~0.15
    assert m.top(["5", "6", "7"], 1, exclude={"5", "6", "7"})[0][0] == "8"
    again = SequentialModel.load(tmp_path / "m.pt")
    np.testing.assert_allclose(again.scores(["1", "2"]), m.scores(["1", "2"]), rtol=1e-5)
    assert (tmp_path / "m.json").is_file() and (tmp_path / "m.ckpt").is_file()
    assert evaluate(again, train_part, val)["ndcg@10"] == pytest.approx(m.meta["val_ndcg@10"])


def test_resume_continues_to_the_same_weights(tmp_path):
    train_part, val = split_of(cyclic(users=16, length=10))
    items = [str(i) for i in range(N)]
    full = train(train_part, items, val, SASRecConfig(epochs=10, **TINY), tmp_path / "a.pt", progress=False)
    train(train_part, items, val, SASRecConfig(epochs=5, **TINY), tmp_path / "b.pt", progress=False)  # "interrupted"
    resumed = train(train_part, items, val, SASRecConfig(epochs=10, **TINY), tmp_path / "b.pt", resume=True,
                    progress=False)
    for k, v in full.net.state_dict().items():
        torch.testing.assert_close(resumed.net.state_dict()[k], v)
    assert resumed.meta["epochs_run"] == 10
    with pytest.raises(ValueError, match="another configuration"):
        train(train_part, items, val, SASRecConfig(epochs=10, **{**TINY, "dim": 8}), tmp_path / "b.pt", resume=True,
              progress=False)


@pytest.mark.parametrize("history, expect", [([], []), (["unknown"], [])])
def test_no_known_item_no_list(tmp_path, history, expect):
    train_part, val = split_of(cyclic(users=8, length=6))
    m = train(train_part, [str(i) for i in range(N)], val, SASRecConfig(epochs=1, **TINY), tmp_path / "m.pt",
              progress=False)
    assert m.top(history, 5, set()) == expect


def test_missing_model_is_none(tmp_path):
    assert SequentialModel.load(tmp_path / "nothing.pt") is None


@pytest.mark.parametrize("weight, listed", [(1.0, True), (0.0, False)])
def test_joins_the_fusion_as_one_list(tmp_path, settings, embedder, weight, listed):
    from agent.ingest import ingest, open_store
    from agent.retrieval import RetrievalWeights, Retriever
    from agent.types import HistoryEntry, UserHistory
    from tests.conftest import SIX_FILMS

    seqs = {f"u{k}": [str(1 + (k + i) % 6) for i in range(6)] for k in range(12)}
    train_part, val = split_of(seqs)
    m = train(train_part, [str(i) for i in range(1, 7)], val, SASRecConfig(epochs=10, **TINY), tmp_path / "m.pt",
              progress=False)
    store = open_store(settings, embedder)
    ingest(SIX_FILMS, store, embedder, progress=False)
    r = Retriever(store, embedder, {i.item_id: i for i in SIX_FILMS}, weights=RetrievalWeights(sasrec=weight), sasrec=m)
    h = UserHistory("x", (HistoryEntry("1", True), HistoryEntry("2", True)))
    lists = r.lists("", h, 5, set(h.seen))
    assert ("sasrec" in lists) is listed
    if listed:
        assert not {"1", "2"} & {i for i, _ in lists["sasrec"]}
        assert any("sasrec" in c.sources for c in r.retrieve("", h, 4))


def test_server_without_a_model_has_no_list(make_recommender):
    rec = make_recommender()
    assert rec.retriever.sasrec is None  # nothing trained for the test collection: the server still builds


def test_server_loads_the_collection_model(tmp_path, settings, make_recommender):
    from agent.protocol.data import leave_last_two
    from agent.sequential import model_path

    log = tmp_path / "full.csv"  # 8 users x 6 films: survives the protocol's 5-core
    rows = [(u, i, 3 + (u + i) % 3, 100 * u + ((i * 5 + u) % 6)) for u in range(8) for i in range(1, 7)]
    log.write_text("userId,movieId,rating,timestamp\n" + "".join(f"{u},{i},{r},{t}\n" for u, i, r, t in rows))
    split = leave_last_two([(str(u), str(i), float(r), t) for u, i, r, t in rows])
    s = settings.model_copy(update={"interactions": log})
    train(split.train, split.items, split.val, SASRecConfig(epochs=1, **TINY), model_path(s),
          data_checksum=split.checksum, progress=False)
    assert make_recommender(interactions=log).retriever.sasrec is not None
    other = tmp_path / "other.csv"  # another log: the model was not trained on it, so it is not used
    other.write_text(log.read_text().replace(",100\n", ",999\n", 1) + "0,1,4,5\n")
    assert make_recommender(interactions=other).retriever.sasrec is None


def test_refit_runs_the_chosen_epochs_on_more_of_the_log_and_is_preferred_for_its_target(tmp_path, settings):
    from agent.protocol.data import leave_last_two
    from agent.sequential import load_for, model_path, refit, refit_sequences

    seqs = cyclic(users=20, length=10)
    split = leave_last_two([(u, i, 4.0, t) for u, s in seqs.items() for t, i in enumerate(s)])
    s = settings.model_copy(update={"home": tmp_path})
    base = train(split.train, split.items, split.val, SASRecConfig(epochs=10, **TINY), model_path(s),
                 data_checksum=split.checksum, progress=False)
    u = sorted(split.train)[0]
    assert refit_sequences(split, "test")[u] == [*split.train[u], split.val[u]]  # the test history, never its target
    assert refit_sequences(split, "serve")[u] == seqs[u]
    r = refit(split, base, "test", model_path(s, "test"), progress=False)
    assert r.meta["refit_for"] == "test" and r.meta["epochs_run"] == base.meta["best_epoch"]
    assert r.meta["val_ndcg@10"] is None  # no validation: the validation item is training data here
    assert load_for(s, split.checksum, "test").meta.get("refit_for") == "test"
    assert not load_for(s, split.checksum, "val").meta.get("refit_for")
    assert not load_for(s, split.checksum, "serve").meta.get("refit_for")  # no serve refit yet: the base model
    assert load_for(s, "another-log", "test") is None  # neither matches: no list
