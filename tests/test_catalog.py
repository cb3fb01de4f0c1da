import json

import pytest

from agent.catalog import build_histories, load_catalog, load_interactions, load_jsonl, split_title
from agent.errors import CatalogError
from tests.conftest import REPO

DEMO = REPO / "data" / "demo"


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("Heat (1995)", ("Heat", 1995)),
        ("Matrix, The (1999)", ("The Matrix", 1999)),
        ("Shawshank Redemption, The (1994)", ("The Shawshank Redemption", 1994)),
        ("Babylon 5", ("Babylon 5", None)),
        ("Cosmos (1980– )", ("Cosmos", 1980)),
    ],
)
def test_split_title(raw, expected):
    assert split_title(raw) == expected


def test_jsonl_roundtrip(catalog_jsonl):
    items = load_jsonl(catalog_jsonl)
    assert [i.item_id for i in items] == ["1", "2", "3", "4", "5", "6"]
    assert items[1].label == "Heat (1995)" and items[1].runtime == 170


@pytest.mark.parametrize(
    "line, message",
    [
        ("{not json", "not valid JSON"),
        ('["a list"]', "expected a JSON object"),
        ('{"title": "No id"}', "missing 'id'"),
        ('{"id": "1", "title": ""}', "missing or empty 'title'"),
        ('{"id": "1", "title": "X", "year": "1999"}', "'year' must be an integer"),
        ('{"id": "1", "title": "X", "genres": [1, 2]}', "'genres' must be a list of strings"),
        ('{"id": "1", "title": "X"}\n{"id": "1", "title": "Y"}', "duplicate id"),
    ],
)
def test_jsonl_errors_name_the_line(tmp_path, line, message):
    p = tmp_path / "bad.jsonl"
    p.write_text(line + "\n")
    with pytest.raises(CatalogError, match=message) as e:
        load_jsonl(p)
    assert "bad.jsonl:" in str(e.value)


def test_missing_catalog_is_a_clear_error(tmp_path):
    with pytest.raises(CatalogError, match="not found"):
        load_catalog(tmp_path / "nope.jsonl")
    with pytest.raises(CatalogError, match="don't know how"):
        load_catalog(tmp_path / "catalog.parquet")


def test_histories_order_and_likes(ratings_csv):
    h = build_histories(load_interactions(ratings_csv), like_threshold=4.0)
    assert [e.item_id for e in h["7"].entries] == ["1", "2", "4"]
    assert [e.liked for e in h["7"].entries] == [True, True, False]
    assert h["7"].seen == {"1", "2", "4"}


def test_bad_interaction_row(tmp_path):
    p = tmp_path / "r.csv"
    p.write_text("userId,movieId,rating,timestamp\n1,2,great,3\n")
    with pytest.raises(CatalogError, match="r.csv:2"):
        load_interactions(p)


def test_jsonl_interactions(tmp_path):
    p = tmp_path / "log.jsonl"
    p.write_text(json.dumps({"user_id": "u", "item_id": "i", "timestamp": 5}) + "\n")
    (ev,) = load_interactions(p)
    assert ev.rating is None and ev.timestamp == 5
    assert build_histories([ev])["u"].entries[0].liked  # implicit feedback counts as a like


@pytest.mark.skipif(not (DEMO / "movielens-small" / "movies.csv").exists(), reason="demo data not in this checkout")
def test_demo_catalog_joins_tmdb():
    items = load_catalog(DEMO / "movielens-small", DEMO / "tmdb" / "tmdb_movielens.jsonl")
    assert len(items) == 9742
    assert sum(1 for i in items if i.overview) == 3537
    by_id = {i.item_id: i for i in items}
    assert by_id["1214"].label == "Alien (1979)" and "Nostromo" in by_id["1214"].overview
