"""agent/protocol (data sets of every format, the split), agent/tuning, evals/fusion, and the any-catalog evals."""

import json

import pytest

from agent.protocol.data import leave_last_two, load_events, load_item_titles, resolve_dataset


def write_ml1m(d):
    d.mkdir()
    (d / "movies.dat").write_text("1::Toy Story (1995)::Animation|Children's|Comedy\n2::Heat (1995)::Action|Crime\n",
                                  encoding="latin-1")
    (d / "ratings.dat").write_text("1::1::5::978300760\n1::2::3::978302109\n", encoding="latin-1")
    return d


def write_ml100k(d):
    d.mkdir()
    (d / "u.item").write_text("1|Toy Story (1995)|01-Jan-1995||http://x|0|0|0|1|1|1" + "|0" * 13 + "\n",
                              encoding="latin-1")
    (d / "u.data").write_text("196\t1\t3\t881250949\n")
    return d


def write_pair(d):
    d.mkdir()
    (d / "catalog.jsonl").write_text(json.dumps({"id": "a", "title": "Heat", "genres": ["Crime"]}) + "\n")
    (d / "interactions.jsonl").write_text(json.dumps({"user_id": "u", "item_id": "a", "timestamp": 3}) + "\n")
    return d


@pytest.mark.parametrize("make, log, event, title", [
    (write_ml1m, "ratings.dat", ("1", "1", 5.0, 978300760), ("2", "Heat (1995)")),
    (write_ml100k, "u.data", ("196", "1", 3.0, 881250949), ("1", "Toy Story (1995)")),
    (write_pair, "interactions.jsonl", ("u", "a", None, 3), ("a", "Heat")),
])
def test_every_format_resolves_loads_and_has_titles(tmp_path, make, log, event, title):
    d = make(tmp_path / "data")
    ds = resolve_dataset(str(d))
    assert ds.interactions.name == log and ds.catalog is not None and not ds.is_demo
    assert load_events(ds)[0] == event
    assert load_item_titles(ds)[title[0]] == title[1]


def test_catalog_loaders_read_the_old_releases(tmp_path):
    from agent.catalog import load_catalog

    ml1m = load_catalog(write_ml1m(tmp_path / "ml1m"))
    assert (ml1m[0].title, ml1m[0].year, ml1m[0].genres) == ("Toy Story", 1995, ("Animation", "Children's", "Comedy"))
    ml100k = load_catalog(write_ml100k(tmp_path / "ml100k"))
    assert ml100k[0].genres == ("Animation", "Children's", "Comedy")


@pytest.mark.parametrize("args, message", [
    (("missing",), "not found"),
    (("{d}/catalog.jsonl",), "pass its interaction log"),
    (("{d}/catalog.jsonl", "{d}/nope.csv"), "interaction log"),
])
def test_resolve_errors_say_what_to_give(tmp_path, args, message):
    d = write_pair(tmp_path / "pair")
    with pytest.raises(FileNotFoundError, match=message):
        resolve_dataset(*[a.format(d=d) if "{d}" in a else str(tmp_path / a) for a in args])


def test_catalog_with_explicit_log(tmp_path):
    d = write_pair(tmp_path / "pair")
    ds = resolve_dataset(str(d / "catalog.jsonl"), str(d / "interactions.jsonl"))
    assert ds.catalog == d / "catalog.jsonl" and load_events(ds) == [("u", "a", None, 3)]


def test_bare_log_has_no_catalog(tmp_path):
    log = tmp_path / "log.csv"
    log.write_text("user_id,item_id,timestamp\nu1,a,3\n")
    assert resolve_dataset(str(log)).catalog is None


def test_tuned_weights_apply_unless_set_explicitly(settings):
    from agent.tuning import apply_tuned, read_tuned, write_tuned

    assert apply_tuned(settings) is settings  # nothing tuned: unchanged
    path = write_tuned(settings, {"weight_history": 0.25, "weight_sasrec": 4.0}, {"data": "x"})
    assert path.parent.name == settings.collection and read_tuned(settings)["chosen_on"]["weight_sasrec"] == {"data": "x"}
    s = apply_tuned(settings)
    assert (s.weight_history, s.weight_sasrec) == (0.25, 4.0)
    explicit = settings.model_copy(update={"weight_history": 2.0})  # as if given as an argument or MARQUEE_*
    assert apply_tuned(explicit).weight_history == 2.0 and apply_tuned(explicit).weight_sasrec == 4.0
    with pytest.raises(ValueError, match="not tunable"):
        write_tuned(settings, {"model": 1.0}, {})


def test_fusion_ranks_match_the_retriever(settings, embedder, ratings_csv):
    """evals/fusion's matrix RRF gives each item the rank Retriever.retrieve gives it, for every weight point."""
    from agent.catalog import load_interactions
    from agent.ingest import ingest, open_store
    from agent.retrieval import CoOccurrence, RetrievalWeights, Retriever, Transitions
    from agent.types import HistoryEntry, UserHistory
    from evals.fusion import UserLists, grid
    from tests.conftest import SIX_FILMS

    items = {i.item_id: i for i in SIX_FILMS}
    store = open_store(settings, embedder)
    ingest(SIX_FILMS, store, embedder, progress=False)
    ev = load_interactions(ratings_csv)
    co = CoOccurrence(ev)
    tr = Transitions([["1", "3", "6"], ["2", "5"], ["1", "2", "4"]])
    h = UserHistory("x", (HistoryEntry("1", True),))
    lists = Retriever(store, embedder, items, co, tr, weights=RetrievalWeights(query=0, sasrec=0)).lists("", h, 5, set(h.seen))
    for w in grid(False)[::5]:
        r = Retriever(store, embedder, items, co, tr, weights=RetrievalWeights(query=0, **w))
        order = [c.item.item_id for c in r.retrieve("", h, 5)]
        for pos, target in enumerate(order):
            u = UserLists({n: [i for i, _ in v] for n, v in lists.items()}, target, r.rrf_k)
            assert u.rank(w) == pos + 1, (w, target)


def test_collection_is_named_by_content(tmp_path, catalog_jsonl, ratings_csv):
    from agent.protocol.pipeline import dataset_settings

    ds = resolve_dataset(str(catalog_jsonl), str(ratings_csv))
    a, b = dataset_settings(ds), dataset_settings(ds)
    assert a.collection == b.collection and a.collection.startswith("marquee-") and a.tmdb is None and a.media == []
    with open(catalog_jsonl, "a") as f:
        f.write(json.dumps({"id": "99", "title": "New Film"}) + "\n")
    assert dataset_settings(ds).collection != a.collection


def test_split_of_a_jsonl_log(tmp_path):
    rows = [{"user_id": f"u{u}", "item_id": f"i{i}", "timestamp": 10 * u + i} for u in range(6) for i in range(6)]
    log = tmp_path / "log.jsonl"
    log.write_text("".join(json.dumps(r) + "\n" for r in rows))
    s = leave_last_two(load_events(str(log)))
    assert s.stats == {"users": 6, "items": 6, "interactions": 36} and s.test["u0"] == "i5" and s.val["u0"] == "i4"


def tiny_pair(d, films: int = 60, users: int = 20):
    """A catalog JSONL + log that survives the 5-core: user u rated films (3u + j) % films, j < 20, in order."""
    d.mkdir()
    genres = ["Horror", "Comedy", "Drama"]
    with open(d / "catalog.jsonl", "w") as f:
        for k in range(films):
            f.write(json.dumps({"id": f"m{k}", "title": f"Film {k}", "genres": [genres[k % 3]],
                                "overview": f"a {genres[k % 3].lower()} story number {k}"}) + "\n")
    with open(d / "interactions.jsonl", "w") as f:
        for u in range(users):
            for j in range(20):
                f.write(json.dumps({"user_id": f"u{u}", "item_id": f"m{(3 * u + j) % films}", "rating": 4.0,
                                    "timestamp": j}) + "\n")
    return d


def test_evals_run_every_system_on_a_catalog_that_is_not_the_demo(tmp_path, monkeypatch, embedder):
    """evals.run on a JSONL pair: baselines and the agent's retrievers in one run (collection by content hash),
    sasrec rows once a model is trained, tuned weights saved beside the collection and used on the next run."""
    import agent.embedding
    from agent.sequential import main as train_main
    from evals.run import main as evals_main

    monkeypatch.setattr(agent.embedding, "load_embedder", lambda name: embedder)
    monkeypatch.setenv("MARQUEE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("MARQUEE_CHROMA_PATH", str(tmp_path / "chroma"))
    d = tiny_pair(tmp_path / "films")
    assert evals_main(["--data", str(d), "--out", str(tmp_path / "run1")]) == 0
    r1 = json.loads((tmp_path / "run1" / "results.json").read_text())
    assert r1["split"] == {"users": 20, "items": 60, "interactions": 400}
    assert {"popularity", "content (embeddings)", "agent retriever (fused)"} <= set(r1["systems"])
    assert r1["collection"].startswith("marquee-") and any("sasrec" in n for n in r1["notes"])
    assert train_main(["--data", str(d), "--epochs", "2", "--eval-every", "1", "--dim", "8", "--heads", "1",
                       "--max-len", "8"]) == 0
    assert evals_main(["--data", str(d), "--tune-retriever", "--out", str(tmp_path / "tune")]) == 0
    tuned = json.loads((tmp_path / "home" / "collections" / r1["collection"] / "retrieval.json").read_text())
    assert set(tuned["settings"]) == {"weight_history", "weight_collab", "weight_sequence", "weight_sasrec"}
    assert evals_main(["--data", str(d), "--out", str(tmp_path / "run2")]) == 0
    r2 = json.loads((tmp_path / "run2" / "results.json").read_text())
    assert "sasrec (trained sequential)" in r2["systems"] and r2["weights_file"]
    assert r2["retriever_weights"] == tuned["settings"]


def test_evals_note_what_a_bare_log_skips(tmp_path, capsys):
    from evals.run import main as evals_main

    d = tiny_pair(tmp_path / "films")
    assert evals_main(["--data", str(d / "interactions.jsonl"), "--out", str(tmp_path / "run")]) == 0
    r = json.loads((tmp_path / "run" / "results.json").read_text())
    assert "agent retriever (fused)" not in r["systems"] and "without a catalog" in r["notes"][0]
    assert "note: agent systems skipped" in capsys.readouterr().out


def test_serve_cli_gives_a_catalog_its_own_collection(tmp_path, monkeypatch, catalog_jsonl, capsys):
    import uvicorn

    import serve

    seen = {}
    monkeypatch.setattr(serve, "create_app", lambda s: seen.setdefault("settings", s))
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: None)
    assert serve.main(["--catalog", str(catalog_jsonl)]) == 0
    s = seen["settings"]
    assert s.collection.startswith("marquee-") and s.interactions is None and s.tmdb is None
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{not json\n")
    assert serve.main(["--catalog", str(bad)]) == 2 and "catalog error" in capsys.readouterr().err


def test_tune_retriever_chooses_the_rrf_constant_when_asked(tmp_path, monkeypatch, embedder):
    """--rrf-k 5,60: every grid row names its constant, the best one is saved (an int) and the next run uses it."""
    import agent.embedding
    from evals.run import main as evals_main

    monkeypatch.setattr(agent.embedding, "load_embedder", lambda name: embedder)
    monkeypatch.setenv("MARQUEE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("MARQUEE_CHROMA_PATH", str(tmp_path / "chroma"))
    d = tiny_pair(tmp_path / "films")
    assert evals_main(["--data", str(d), "--tune-retriever", "--rrf-k", "5,60", "--out", str(tmp_path / "tune")]) == 0
    rows = json.loads((tmp_path / "tune" / "retriever_weights.json").read_text())
    assert {r["rrf_k"] for r in rows} == {5, 60} and len(rows) % 2 == 0
    run = json.loads(next((tmp_path / "home" / "collections").glob("*/retrieval.json")).read_text())
    assert run["settings"]["rrf_k"] == rows[0]["rrf_k"] and isinstance(run["settings"]["rrf_k"], int)
    assert run["chosen_on"]["rrf_k"]["rrf_k_grid"] == [5, 60]
    assert evals_main(["--data", str(d), "--out", str(tmp_path / "run")]) == 0
    assert json.loads((tmp_path / "run" / "results.json").read_text())["rrf_k"] == rows[0]["rrf_k"]
    with pytest.raises(SystemExit):
        evals_main(["--data", str(d), "--tune-retriever", "--rrf-k", "0,x", "--out", str(tmp_path / "bad")])
