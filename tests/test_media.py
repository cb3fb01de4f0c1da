"""agent/media images, cache, batch runs, and the way derived text reaches items, documents and prompts.

Tiny generated images only; the OCR engine and face detector are the real offline ones (skipped
with a reason where `marquee[media]` is not installed)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from agent.catalog import attach_media, default_media, load_catalog
from agent.errors import CatalogError, CorruptMedia, EmptyMedia, MediaError, UnreadableMedia
from agent.ingest import item_document, item_metadata
from agent.media.base import Engine, ImageCaptioner, ImageText, label, load_image
from agent.media.cache import MediaCache, sha256_file
from agent.media.looks import colour_name, measure, render
from agent.media.records import read_media_text
from agent.media.run import ImageTask, TaskSpec, discover, run
from agent.prompts import candidate_view
from tests.conftest import REPO, SIX_FILMS

SHARED_POSTERS = REPO.parent / "shared" / "data" / "posters"


def title_card(path: Path, text: str = "HEAT", bg=(10, 15, 70), size=(340, 512)) -> Path:
    img = Image.new("RGB", size, bg)
    draw = ImageDraw.Draw(img)
    font = ImageFont.load_default(size=72)
    draw.text((40, 40), text, fill=(255, 255, 255), font=font)
    img.save(path)
    return path


def bad_files(d: Path) -> dict[str, type[MediaError]]:
    """item id -> the error its file must give."""
    (d / "10.jpg").write_bytes(b"")  # zero length
    (d / "11.png").write_text("not an image at all")
    good = d / "tmp_good.jpg"
    Image.new("RGB", (64, 96), (200, 0, 0)).save(good)
    (d / "12.jpg").write_bytes(good.read_bytes()[:200])  # truncated JPEG
    good.unlink()
    Image.new("RGB", (4, 4)).save(d / "13.png")  # too small to describe
    return BAD


BAD = {"10": EmptyMedia, "11": CorruptMedia, "12": CorruptMedia, "13": EmptyMedia}


class MeanColour(ImageCaptioner):
    """Fake captioner: reports the mean colour; counts how many images it saw."""

    def __init__(self, version: str = "1", explode_on: tuple[int, int, int] | None = None):
        self.engine = Engine("fake-mean-colour", version)
        self.seen = 0
        self.explode_on = explode_on

    def describe_batch(self, images):
        out = []
        for im in images:
            self.seen += 1
            mean = tuple(int(v) for v in np.asarray(im).reshape(-1, 3).mean(axis=0))
            if self.explode_on and mean == self.explode_on:
                raise RuntimeError("boom")
            out.append(ImageText({"looks": f"mean colour {mean}"}, {"mean": mean}))
        return out


@pytest.fixture(scope="module")
def describer():
    pytest.importorskip("rapidocr", reason="OCR engine not installed: pip install 'marquee[media]'")
    pytest.importorskip("dlib", reason="face detector not installed: pip install 'marquee[media]'")
    from agent.media.describer import OfflineDescriber

    return OfflineDescriber()


# --- base ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("modality, kind, expected", [
    ("poster", "text", "Poster text"), ("poster", "looks", "Poster looks"), ("poster", "caption", "Poster shows"),
    ("trailer", "speech", "Trailer says"), ("trailer", "text", "Trailer text"),
])
def test_labels(modality, kind, expected):
    assert label(modality, kind) == expected


def test_engine_fingerprint_changes_with_any_part():
    base = Engine("e", "1", {"lib": "1.0"}, {"p": 1})
    assert base.fingerprint == Engine("e", "1", {"lib": "1.0"}, {"p": 1}).fingerprint
    for other in (Engine("e", "2", {"lib": "1.0"}, {"p": 1}), Engine("e", "1", {"lib": "1.1"}, {"p": 1}),
                  Engine("e", "1", {"lib": "1.0"}, {"p": 2})):
        assert other.fingerprint != base.fingerprint


def test_load_image_errors_are_typed(tmp_path):
    expected = bad_files(tmp_path)
    for item_id, err in expected.items():
        path = next(tmp_path.glob(f"{item_id}.*"))
        with pytest.raises(err) as e:
            load_image(path)
        assert path.name in e.value.message
    with pytest.raises(UnreadableMedia):
        load_image(tmp_path / "missing.jpg")


def test_describe_files_isolates_bad_files(tmp_path):
    bad_files(tmp_path)
    good = tmp_path / "1.png"
    Image.new("RGB", (40, 60), (10, 200, 10)).save(good)
    cap = MeanColour()
    results = cap.describe_files([tmp_path / "10.jpg", good, tmp_path / "11.png"])
    assert isinstance(results[0], EmptyMedia) and isinstance(results[2], CorruptMedia)
    assert results[1].texts == {"looks": "mean colour (10, 200, 10)"}


# --- looks ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("rgb, name", [
    ((0, 0, 0), "black"), ((255, 255, 255), "white"), ((128, 128, 128), "grey"), ((220, 20, 20), "red"),
    ((20, 160, 40), "green"), ((30, 60, 220), "blue"), ((10, 20, 80), "dark blue"), ((240, 220, 30), "yellow"),
    ((120, 70, 30), "brown"), ((250, 140, 10), "orange"), ((140, 40, 200), "purple"),
])
def test_colour_names(rgb, name):
    assert colour_name(rgb) == name


@pytest.mark.parametrize("fill, words", [
    ((5, 5, 5), ["mostly black", "very dark", "black-and-white"]),
    ((250, 250, 250), ["mostly white", "very bright"]),
    ((200, 20, 20), ["mostly red", "vivid colours"]),
])
def test_looks_of_flat_images(fill, words):
    pytest.importorskip("cv2")
    text = render(measure(np.full((90, 60, 3), fill, dtype=np.uint8)))
    for w in words:
        assert w in text


def test_looks_never_claims_missing_faces():
    m = measure(np.full((60, 40, 3), 128, dtype=np.uint8))
    assert "face" not in render(m, faces={"count": 0, "largest_height": 0.0})
    assert "two faces, the largest a close-up" in render(m, faces={"count": 2, "largest_height": 0.5})


# --- the offline describer (real OCR + face detector) ---------------------------------------------
def test_describer_reads_a_title_and_describes_looks(describer, tmp_path):
    (r,) = describer.describe_files([title_card(tmp_path / "t.png", "HEAT")])
    assert "HEAT" in r.texts["text"]
    assert r.texts["looks"].startswith("mostly dark blue")
    assert "text at the top" in r.texts["looks"]
    assert r.details["ocr"][0][0] == "HEAT" and r.details["faces"]["count"] == 0
    assert describer.engine.components["rapidocr"] and describer.engine.components["dlib"]


def test_describer_plain_image_has_no_text(describer):
    r = describer.describe(Image.new("RGB", (120, 180), (240, 240, 240)))
    assert "text" not in r.texts and r.texts["looks"]


@pytest.mark.skipif(not (SHARED_POSTERS / "296.jpg").exists(), reason="shared poster fixtures not present")
def test_describer_on_a_real_poster(describer):
    r = describer.describe(load_image(SHARED_POSTERS / "296.jpg"))  # Pulp Fiction
    assert "PULP" in r.texts["text"].replace(" ", "")
    assert "one face" in r.texts["looks"]


# --- cache and batch runs -----------------------------------------------------------------------
def make_folder(d: Path) -> Path:
    d.mkdir()
    for i, c in enumerate([(255, 0, 0), (0, 255, 0), (0, 0, 255)], start=1):
        Image.new("RGB", (30, 45), c).save(d / f"{i}.png")
    bad_files(d)
    (d / "notes.txt").write_text("ignored: not an image extension")
    return d


def run_fake(folder, tmp_path, cap, **kw):
    with MediaCache(tmp_path / "cache.sqlite") as cache:
        return run(discover(folder, "poster"), TaskSpec("poster"), cache=cache, out=tmp_path / "out.jsonl",
                   task=ImageTask("poster", cap), source_root=folder.parent, progress=False, **kw)


def test_discover_natural_order(tmp_path):
    folder = make_folder(tmp_path / "posters")
    assert [i for i, _ in discover(folder, "poster")] == ["1", "2", "3", "10", "11", "12", "13"]


def test_run_writes_provenance_and_typed_errors(tmp_path):
    folder = make_folder(tmp_path / "posters")
    report = run_fake(folder, tmp_path, MeanColour())
    assert (report.files, report.derived, report.cached, report.errors) == (7, 7, 0, 4)
    recs = {r["item_id"]: r for r in map(json.loads, (tmp_path / "out.jsonl").read_text().splitlines())}
    good = recs["1"]
    assert good["texts"] == {"Poster looks": "mean colour (255, 0, 0)"}
    assert good["source"] == "posters/1.png" and good["sha256"] == sha256_file(folder / "1.png")
    assert good["engine"]["name"] == "fake-mean-colour" and good["created"].endswith("Z")
    assert good["bytes"] == (folder / "1.png").stat().st_size
    for item_id, err in BAD.items():
        assert recs[item_id]["error"]["type"] == err.__name__ and recs[item_id]["texts"] == {}
        assert str(tmp_path) not in recs[item_id]["error"]["message"]  # named like `source`, not by absolute path


def test_rerun_does_no_work_and_engine_change_redoes(tmp_path):
    folder = make_folder(tmp_path / "posters")
    run_fake(folder, tmp_path, MeanColour())
    first = (tmp_path / "out.jsonl").read_text()
    again = MeanColour()
    report = run_fake(folder, tmp_path, again)
    assert again.seen == 0 and report.cached == 7 and report.derived == 0
    assert (tmp_path / "out.jsonl").read_text() == first
    (folder / "1.png").rename(folder / "5.png")  # renamed, same bytes: still cached
    moved = MeanColour()
    assert run_fake(folder, tmp_path, moved).cached == 7 and moved.seen == 0
    newer = MeanColour(version="2")
    assert run_fake(folder, tmp_path, newer).derived == 7 and newer.seen == 3


def test_interrupted_run_resumes(tmp_path):
    folder = make_folder(tmp_path / "posters")

    class Interrupting(MeanColour):
        def describe_batch(self, images):
            if self.seen >= 1:
                raise KeyboardInterrupt
            return super().describe_batch(images)

    with pytest.raises(KeyboardInterrupt):
        run_fake(folder, tmp_path, Interrupting(), batch_size=1)
    done = [json.loads(l)["item_id"] for l in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert done == ["1"]  # what finished is written (and cached)
    rest = MeanColour()
    report = run_fake(folder, tmp_path, rest, batch_size=1)
    assert report.cached == 1 and report.derived == 6 and rest.seen == 2


def test_an_unexpected_crash_fails_one_file_and_is_retried(tmp_path):
    folder = make_folder(tmp_path / "posters")
    report = run_fake(folder, tmp_path, MeanColour(explode_on=(0, 255, 0)), batch_size=3)
    recs = {r["item_id"]: r for r in map(json.loads, (tmp_path / "out.jsonl").read_text().splitlines())}
    assert recs["2"]["error"]["type"] == "InternalError" and "boom" in recs["2"]["error"]["message"]
    assert "error" not in recs["1"] and "error" not in recs["3"]  # the rest of its batch survived
    assert report.errors == 5
    fixed = MeanColour()
    run_fake(folder, tmp_path, fixed)
    assert fixed.seen == 1  # internal errors are not cached; media errors are


def test_parallel_workers_match_single_process(describer, tmp_path):
    folder = tmp_path / "posters"
    folder.mkdir()
    for i, word in enumerate(["HEAT", "RONIN", "ALIEN"], start=1):
        title_card(folder / f"{i}.png", word, bg=(30 * i, 20, 100))
    Path(folder / "9.jpg").write_bytes(b"")
    jobs = discover(folder, "poster")
    outs = []
    for workers in (1, 2):
        with MediaCache(tmp_path / f"cache{workers}.sqlite") as cache:
            report = run(jobs, TaskSpec("poster"), cache=cache, out=tmp_path / f"out{workers}.jsonl", workers=workers,
                         batch_size=1, progress=False, task=None if workers > 1 else ImageTask("poster", describer))
        assert report.derived == 4 and report.errors == 1
        outs.append([{k: r[k] for k in ("item_id", "texts")} for r in map(json.loads, (tmp_path / f"out{workers}.jsonl").open())])
    assert outs[0] == outs[1]
    assert [r["texts"].get("Poster text") for r in outs[0]] == ["HEAT", "RONIN", "ALIEN", None]


# --- derived text -> items, documents, metadata, prompts --------------------------------------------
def write_media(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_records_reach_items_documents_metadata_and_prompts(tmp_path, catalog_jsonl):
    media = write_media(tmp_path / "m.jsonl", [
        {"item_id": "2", "texts": {"Poster looks": "mostly black; dark", "Poster text": "HEAT"}},
        {"item_id": "2", "texts": {"Trailer says": "Nobody leaves."}},
        {"item_id": "4", "texts": {}, "error": {"type": "CorruptMedia", "message": "x"}},
        {"item_id": "99", "texts": {"Poster text": "NOT IN THE CATALOG"}},
    ])
    items = {it.item_id: it for it in load_catalog(catalog_jsonl, media=[media])}
    heat = items["2"]
    assert heat.media_text == (("Poster text", "HEAT"), ("Trailer says", "Nobody leaves."), ("Poster looks", "mostly black; dark"))
    assert items["4"].media_text == () and items["1"].media_text == ()
    doc = item_document(heat)
    assert "Poster text: HEAT. Trailer says: Nobody leaves. Poster looks: mostly black; dark." in doc
    assert item_metadata(heat, "h")["modalities"] == "|poster_text|trailer_says|poster_looks|"
    assert item_metadata(items["1"], "h")["modalities"] == ""
    view = candidate_view(heat)
    assert ("Poster text", "HEAT") in view["media"] and ("Trailer says", "Nobody leaves.") in view["media"]


def test_catalog_media_text_wins_over_files(tmp_path):
    media = write_media(tmp_path / "m.jsonl", [{"item_id": "2", "texts": {"Poster text": "FROM FILE", "Poster looks": "red"}}])
    items = [SIX_FILMS[1].__class__(**{**SIX_FILMS[1].__dict__, "media_text": (("Poster text", "FROM CATALOG"),)})]
    (heat,) = attach_media(items, [media])
    assert heat.media_text == (("Poster text", "FROM CATALOG"), ("Poster looks", "red"))


@pytest.mark.parametrize("content, match", [("{not json\n", "not valid JSON"), ('{"texts": {}}\n', "item_id")])
def test_bad_media_file_names_the_line(tmp_path, content, match):
    p = tmp_path / "m.jsonl"
    p.write_text(content)
    with pytest.raises(CatalogError, match=match):
        read_media_text([p])
    with pytest.raises(CatalogError, match="not found"):
        read_media_text([tmp_path / "missing.jsonl"])


def test_demo_media_only_for_the_demo_catalog(catalog_jsonl):
    assert default_media(catalog_jsonl) == []
    demo = REPO / "data" / "demo"
    shipped = demo / "media" / "posters.jsonl"
    assert default_media(demo / "movielens-small") == ([shipped] if shipped.exists() else [])


@pytest.mark.skipif(not (REPO / "data/demo/media/posters.jsonl").exists(), reason="demo poster text not built")
def test_shipped_demo_poster_text():
    shipped = REPO / "data/demo/media/posters.jsonl"
    recs = [json.loads(l) for l in shipped.open()]
    assert len(recs) > 3000 and all(r["sha256"] and r["engine"]["name"] == "offline-describer" for r in recs)
    items = {it.item_id: it for it in load_catalog(REPO / "data/demo/movielens-small", REPO / "data/demo/tmdb/tmdb_movielens.jsonl")}
    toy = dict(items["1"].media_text)
    assert "STORY" in toy["Poster text"] and toy["Poster looks"]
    assert sum(1 for it in items.values() if it.media_text) == sum(1 for r in recs if r["texts"])
