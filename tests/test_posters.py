"""agent/posters.py and the routes around it: which poster file is served for an item (record
sources and the posters folder, never a path outside it), GET /v1/items/{id}/poster (image, cache
headers, 304, OpenAI-shaped 404s), and GET / serving the chat page and its static files."""

from __future__ import annotations

import json
import os
from pathlib import Path

import httpx
import pytest

from agent.posters import PosterIndex, posters_dir, read_poster_sources
from serve import create_app
from tests.conftest import ScriptedLLM, answer_json

PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                    "1f15c4890000000d49444154789c6360f8cf00000301010018dd8db40000000049454e44ae426082")


@pytest.fixture
def art(tmp_path: Path) -> dict:
    """<tmp>/art/posters with record-named files, a <item_id>.png file, a file outside the folder and
    a symlink pointing out of it; <tmp>/media.jsonl with poster records (as `python -m agent.media` writes)."""
    root = tmp_path / "art" / "posters"
    root.mkdir(parents=True)
    (root / "alien.png").write_bytes(PNG)
    (root / "sub").mkdir()
    (root / "sub" / "heat.png").write_bytes(PNG)
    (root / "4.png").write_bytes(PNG)  # no record: found by item id
    (root / "notes.txt").write_text("not an image")
    (tmp_path / "art" / "secret.png").write_bytes(PNG)  # outside the posters folder
    os.symlink(tmp_path / "art" / "secret.png", root / "link.png")
    records = [
        {"item_id": "1", "task": "poster", "source": "posters/alien.png", "texts": {"Poster text": "ALIEN"}},
        # relative to the folder itself
        {"item_id": "2", "task": "poster", "source": "sub/heat.png", "texts": {"Poster text": "HEAT"}},
        {"item_id": "3", "task": "poster", "source": "posters/../secret.png", "texts": {"Poster text": "X"}},
        {"item_id": "5", "task": "poster", "source": "posters/link.png", "texts": {"Poster text": "X"}},
        {"item_id": "6", "task": "poster", "source": "posters/notes.txt", "texts": {"Poster text": "X"}},
        {"item_id": "6", "task": "trailer", "source": "posters/alien.png", "texts": {"Trailer says": "X"}},
        {"item_id": "6", "task": "poster", "source": "posters/alien.png", "texts": {}, "error": {"message": "bad"}},
    ]
    media = tmp_path / "media.jsonl"
    media.write_text("".join(json.dumps(r) + "\n" for r in records))
    return {"root": root, "media": media}


@pytest.mark.parametrize("item_id, expected", [
    ("1", "alien.png"),         # the record's source, relative to the folder's parent
    ("2", "sub/heat.png"),      # ... or relative to the folder itself
    ("4", "4.png"),             # no record: <item_id>.<image suffix> in the folder
    ("3", None),                # a record pointing outside the folder
    ("5", None),                # a symlink inside the folder pointing outside it
    ("6", None),                # not an image; a trailer record; an error record
    ("../secret", None),        # an id that looks like a path
    ("404", None),              # nothing at all
])
def test_find_serves_only_files_inside_the_posters_folder(settings, art, item_id, expected):
    s = settings.model_copy(update={"posters_dir": art["root"], "media": [art["media"]]})
    hit = PosterIndex.build(s).find(item_id)
    assert (hit.relative_to(art["root"].resolve()).as_posix() if hit else None) == expected


def test_no_folder_means_no_posters(settings, art, tmp_path):
    assert posters_dir(settings) is None  # a non-demo catalog without a setting
    assert PosterIndex.build(settings.model_copy(update={"media": [art["media"]]})).find("1") is None
    missing = settings.model_copy(update={"posters_dir": tmp_path / "nowhere"})
    assert PosterIndex.build(missing).find("4") is None


def test_read_poster_sources_names_a_missing_file(tmp_path):
    from agent.errors import CatalogError

    with pytest.raises(CatalogError, match="MARQUEE_MEDIA"):
        read_poster_sources([tmp_path / "gone.jsonl"])


def test_empty_env_means_no_posters_dir(monkeypatch):
    from agent.config import Settings

    monkeypatch.setenv("MARQUEE_POSTERS_DIR", "")
    assert Settings().posters_dir is None


@pytest.fixture
async def http(make_recommender, settings, art):
    s = settings.model_copy(update={"posters_dir": art["root"], "media": [art["media"]]})
    app = create_app(s, make_recommender(ScriptedLLM([answer_json()])))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        yield c


async def test_poster_route_serves_the_image_with_cache_headers(http):
    r = await http.get("/v1/items/1/poster")
    assert r.status_code == 200 and r.content == PNG
    assert r.headers["content-type"] == "image/png"
    assert "max-age" in r.headers["cache-control"] and r.headers["etag"]
    again = await http.get("/v1/items/1/poster", headers={"If-None-Match": r.headers["etag"]})
    assert again.status_code == 304 and again.content == b""


@pytest.mark.parametrize("path, code", [
    ("/v1/items/3/poster", "poster_not_found"),    # catalog item, no servable poster
    ("/v1/items/999/poster", "item_not_found"),    # not in the catalog
    ("/v1/items/..%2F..%2Fetc%2Fpasswd/poster", None),
])
async def test_poster_route_404s_are_openai_shaped(http, path, code):
    r = await http.get(path)
    assert r.status_code == 404
    err = r.json()["error"]
    assert set(err) == {"message", "type", "param", "code"} and err["message"]
    if code is not None:
        assert err["code"] == code and err["param"] == "item_id"


@pytest.mark.parametrize("path, kind, needle", [
    ("/", "text/html", 'role="log"'),
    ("/web/app.js", "javascript", "/v1/chat/completions"),
    ("/web/style.css", "text/css", ":focus-visible"),
])
async def test_page_and_static_files(http, path, kind, needle):
    r = await http.get(path)
    assert r.status_code == 200 and kind in r.headers["content-type"] and needle in r.text


async def test_unknown_static_file_is_an_openai_404(http):
    r = await http.get("/web/nope.js")
    assert r.status_code == 404 and r.json()["error"]["type"] == "not_found_error"
