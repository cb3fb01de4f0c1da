"""Bad media end to end: a corrupt image, a zero-byte file, an unsupported codec, a 20,000-pixel
image and a path that does not exist are each recorded with a typed reason, the rest of the run
goes on, and the store never holds half an item (an item keeps the modalities that worked; a
failed embedding batch writes nothing)."""

from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from agent.catalog import load_catalog
from agent.errors import CorruptMedia, TooLargeMedia
from agent.ingest import ingest, ingest_media, item_document, open_store
from agent.media.base import Engine, ImageCaptioner, ImageText, load_image
from agent.media.cache import MediaCache
from agent.media.run import ImageTask, TaskSpec, discover, run
from tests.conftest import SIX_FILMS, HashEmbedder


def png_header(path: Path, width: int, height: int) -> Path:
    """A tiny PNG whose header declares width x height (its pixel data is a few bytes: decoding
    it would fail, so a TooLargeMedia proves the size was refused from the header)."""
    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
                     + chunk(b"IEND", b""))
    return path


class MeanColour(ImageCaptioner):
    def __init__(self):
        self.engine = Engine("fake-mean-colour", "1")
        self.seen = 0

    def describe_batch(self, images):
        self.seen += len(images)
        return [ImageText({"looks": f"mean {int(np.asarray(im).mean())}"}) for im in images]


def read_records(path: Path) -> dict[str, dict]:
    return {r["item_id"]: r for r in map(json.loads, path.read_text().splitlines())}


@pytest.mark.parametrize("width, height, words", [(20_000, 20_000, "exceeds limit"), (20_000, 3_000, "60 megapixels")])
def test_huge_images_are_refused_from_the_header(tmp_path, width, height, words):
    with pytest.raises(TooLargeMedia, match=words) as e:
        load_image(png_header(tmp_path / "big.png", width, height))
    assert e.value.code == "too_large" and "big.png" in e.value.message
    with pytest.raises(CorruptMedia):  # 49 MP passes the size check, then its few bytes of data fail to decode
        load_image(png_header(tmp_path / "ok.png", 7_000, 7_000))


def test_each_bad_poster_is_recorded_and_the_run_goes_on(tmp_path):
    folder = tmp_path / "posters"
    folder.mkdir()
    Image.new("RGB", (30, 45), (255, 0, 0)).save(folder / "1.png")
    (folder / "2.jpg").write_bytes(b"\xff\xd8\xff\xe0" + b"not really a jpeg" * 40)  # corrupt
    (folder / "3.jpg").write_bytes(b"")  # zero bytes
    png_header(folder / "4.png", 20_000, 20_000)  # a 20,000-pixel image
    (folder / "5.webp").symlink_to(tmp_path / "gone.webp")  # a path that does not exist
    Image.new("RGB", (30, 45), (0, 0, 255)).save(folder / "6.png")
    cap = MeanColour()
    with MediaCache(tmp_path / "cache.sqlite") as cache:
        report = run(discover(folder, "poster"), TaskSpec("poster"), cache=cache, out=tmp_path / "posters.jsonl",
                     task=ImageTask("poster", cap), source_root=tmp_path, progress=False, batch_size=2)
    recs = read_records(tmp_path / "posters.jsonl")
    assert cap.seen == 2 and report.files == 6 and report.errors == 4
    assert recs["1"]["texts"] == {"Poster looks": "mean 85"} and recs["6"]["texts"] == {"Poster looks": "mean 85"}
    expected = {"2": ("CorruptMedia", "image"), "3": ("EmptyMedia", "zero-length"),
                "4": ("TooLargeMedia", "exceeds limit"), "5": ("UnreadableMedia", "No such file")}
    for item_id, (kind, words) in expected.items():
        err = recs[item_id]["error"]
        assert err["type"] == kind and words in err["message"] and recs[item_id]["texts"] == {}, err
        assert err["message"].startswith(f"posters/{item_id}."), err  # names the file as `source` does


def test_each_bad_trailer_is_recorded_and_the_run_goes_on(tmp_path):
    pytest.importorskip("av", reason="PyAV not installed: pip install 'marquee[media]'")
    from agent.media.run import VideoTask
    from agent.media.synth import make_video
    from agent.media.video import VideoDescriber
    from tests.test_media_av import FakeCaptioner, FakeSTT, unsupported_codec_video

    folder = tmp_path / "trailers"
    folder.mkdir()
    make_video(folder / "1.mp4")
    (folder / "2.mp4").write_bytes(b"")
    (folder / "3.mp4").write_bytes(b"\x00\x01not a video" * 100)
    unsupported_codec_video(folder / "4.avi")
    (folder / "5.mkv").symlink_to(tmp_path / "gone.mkv")
    task = VideoTask("trailer", VideoDescriber(FakeCaptioner(), FakeSTT()))
    with MediaCache(tmp_path / "cache.sqlite") as cache:
        report = run(discover(folder, "trailer"), TaskSpec("trailer"), cache=cache, out=tmp_path / "t.jsonl",
                     task=task, source_root=tmp_path, progress=False)
    recs = read_records(tmp_path / "t.jsonl")
    assert report.errors == 4 and recs["1"]["texts"]["Trailer text"] == "THE HEIST"
    expected = {"2": ("EmptyMedia", "zero-length"), "3": ("CorruptMedia", "cannot be decoded"),
                "4": ("UnsupportedMedia", "no decoder"), "5": ("UnreadableMedia", "No such file")}
    for item_id, (kind, words) in expected.items():
        err = recs[item_id]["error"]
        assert err["type"] == kind and words in err["message"], err


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_an_item_keeps_the_modalities_that_worked(settings, embedder, catalog_jsonl, tmp_path):
    """Documented choice: a failed medium drops only its own lines; the item is ingested with the rest."""
    posters = write_jsonl(tmp_path / "p.jsonl", [
        {"item_id": "2", "texts": {}, "error": {"type": "CorruptMedia", "code": "corrupt", "message": "2.jpg: broken"}},
        {"item_id": "3", "texts": {"Poster text": "ALIENS", "Poster looks": "mostly blue"}},
        {"item_id": "4", "texts": {}, "error": {"type": "TooLargeMedia", "code": "too_large", "message": "4.png: big"}},
    ])
    trailers = write_jsonl(tmp_path / "t.jsonl", [
        {"item_id": "2", "texts": {"Trailer says": "Nobody leaves."}},
        {"item_id": "3", "texts": {}, "error": {"type": "UnsupportedMedia", "code": "unsupported_codec", "message": "x"}},
        {"item_id": "4", "texts": {}, "error": {"type": "EmptyMedia", "code": "empty", "message": "4.mp4: zero-length"}},
    ])
    items = load_catalog(catalog_jsonl, media=[posters, trailers])
    store = open_store(settings, embedder)
    assert ingest(items, store, embedder, progress=False).embedded == 6
    meta = store.metadatas()
    assert meta["2"]["modalities"] == "|trailer_says|"
    assert meta["3"]["modalities"] == "|poster_text|poster_looks|"
    assert meta["4"]["modalities"] == ""
    docs = dict(zip(*(store._col.get(ids=["2", "3", "4"], include=["documents"])[k] for k in ("ids", "documents")), strict=True))
    assert "Trailer says: Nobody leaves." in docs["2"] and "Poster" not in docs["2"]
    assert not any(w in d for d in docs.values() for w in ("broken", "zero-length", "Error", "Media"))
    media = open_store(settings, embedder, media=True)
    assert ingest_media(items, media, embedder, progress=False).embedded == 3
    assert sorted(media._col.get()["ids"]) == ["2#trailer_says", "3#poster_looks", "3#poster_text"]


class FailsOnBatch(HashEmbedder):
    """The test embedder (same name, same vectors) that raises on its n-th batch."""

    def __init__(self, n: int):
        self.n, self.calls = n, 0

    def embed_batch(self, texts):
        self.calls += 1
        if self.calls == self.n:
            raise RuntimeError("embedding backend died")
        return super().embed_batch(texts)


def test_a_failed_embedding_batch_leaves_no_partial_items(settings, embedder):
    store = open_store(settings, embedder)
    with pytest.raises(RuntimeError, match="backend died"):
        ingest(SIX_FILMS, store, FailsOnBatch(2), batch_size=2, progress=False)
    got = store._col.get(include=["documents", "metadatas", "embeddings"])
    assert sorted(got["ids"]) == ["1", "2"]  # the first batch whole, the failed one not at all
    by_id = {it.item_id: it for it in SIX_FILMS}
    for i, doc, meta, vec in zip(got["ids"], got["documents"], got["metadatas"], got["embeddings"], strict=True):
        assert doc == item_document(by_id[i]) and meta["content_hash"] and meta["modalities"] == ""
        assert np.allclose(vec, embedder.embed_one(doc), atol=1e-6)
    r = ingest(SIX_FILMS, store, embedder, batch_size=2, progress=False)
    assert (r.embedded, r.unchanged, store.count()) == (4, 2, 6)
