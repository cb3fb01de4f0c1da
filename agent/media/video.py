"""Trailer video -> keyframes at scene changes -> image captioner, plus the audio transcript.

    frames, info = keyframes(Path("trailer.mp4"))         # [Keyframe(t=0.75, image=<PIL>, score=0.0), ...]
    VideoDescriber(OfflineDescriber(), load_transcriber()).describe(Path("trailer.mp4"))
    # {"texts": {"Trailer text": "THE HEIST", "Trailer looks": "3 scenes in 4.5 s; 0:00 ...", "Trailer says": "..."},
    #  "details": {"duration": 4.5, "scenes": 3, "keyframes": [...], "speech": {...}}}

Scene changes: frames are sampled (4 per second) and shrunk; a cut is where the mean absolute
HSV difference to the previous sample exceeds `threshold` (PySceneDetect's content detector,
same 0-255 scale and default 27), at least `min_scene` seconds after the last cut. Each scene's
keyframe is its middle sample, so fades at the cut are avoided. With more scenes than
`max_keyframes`, the longest scenes are kept. Keyframe texts carry their time ("0:07 ...").
Speech comes from the same file; a video without an audio stream simply has no "Trailer says".
Left out: shot-type classification, subtitles tracks, audio events (music, explosions).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from agent.errors import CorruptMedia, EmptyMedia, MediaError, UnreadableMedia, UnsupportedMedia
from agent.media.base import Engine, ImageCaptioner, check_pixels, label

VERSION = "1"


@dataclass(frozen=True)
class Keyframe:
    t: float  # seconds
    image: object  # PIL RGB image, at most `frame_side` px on its long side
    score: float  # content change that opened this scene (0 for the first)


def _stamp(t: float) -> str:
    """Seconds -> "m:ss".

    >>> _stamp(75.4)
    '1:15'
    """
    return f"{int(t) // 60}:{int(t) % 60:02d}"


def keyframes(path: Path, *, threshold: float = 27.0, sample_fps: float = 4.0, min_scene: float = 0.8,
              max_keyframes: int = 8, frame_side: int = 640) -> tuple[list[Keyframe], dict]:
    """One keyframe per scene (see module docstring) and {"duration", "scenes", "cuts"}."""
    import av
    import cv2

    path = Path(path)
    if not path.is_file():
        raise UnreadableMedia(f"{path}: not found or not a regular file")
    if path.stat().st_size == 0:
        raise EmptyMedia(f"{path}: zero-length file")
    scenes: list[tuple[float, float, list]] = []  # (start, open score, [(t, image)])
    start, open_score, current = 0.0, 0.0, []
    prev, next_t, last_t = None, 0.0, 0.0
    cuts = []
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise EmptyMedia(f"{path}: no video stream")
            stream = container.streams.video[0]
            if stream.codec_context is None:  # the container names a codec this ffmpeg cannot decode
                raise UnsupportedMedia(f"{path}: no decoder here for its video codec")
            check_pixels(path, stream.codec_context.width, stream.codec_context.height)
            stream.thread_type = "AUTO"
            for frame in container.decode(stream):
                t = float(frame.time) if frame.time is not None else next_t
                last_t = max(last_t, t)
                if t + 1e-6 < next_t:
                    continue
                next_t = t + 1.0 / sample_fps
                scale = min(1.0, frame_side / max(frame.width, frame.height))
                w, h = max(2, int(frame.width * scale) // 2 * 2), max(2, int(frame.height * scale) // 2 * 2)
                img = frame.to_image(width=w, height=h)
                hsv = cv2.cvtColor(np.asarray(img.resize((64, 36))), cv2.COLOR_RGB2HSV).astype(np.int16)
                score = float(np.abs(hsv - prev).mean()) if prev is not None else 0.0
                prev = hsv
                if score >= threshold and t - start >= min_scene and current:
                    scenes.append((start, open_score, current))
                    cuts.append(round(t, 2))
                    start, open_score, current = t, score, []
                current.append((t, img))
                if len(current) > 64:  # long scene: thin it out; the middle stays (nearly) the middle
                    current = current[::2]
    except MediaError:
        raise
    except av.error.DecoderNotFoundError:
        raise UnsupportedMedia(f"{path}: no decoder here for its video codec") from None
    except (av.error.FFmpegError, ValueError, OSError) as e:
        raise CorruptMedia(f"{path}: video cannot be decoded ({type(e).__name__}: {e})") from None
    if current:
        scenes.append((start, open_score, current))
    if not scenes:
        raise EmptyMedia(f"{path}: no decodable video frames")
    duration = last_t + 1.0 / sample_fps
    ends = [s[0] for s in scenes[1:]] + [duration]
    chosen = sorted(range(len(scenes)), key=lambda i: -(ends[i] - scenes[i][0]))[:max_keyframes]
    out = []
    for i in sorted(chosen):
        _, score, samples = scenes[i]
        t, img = samples[len(samples) // 2]
        out.append(Keyframe(round(t, 2), img, round(score, 1)))
    return out, {"duration": round(duration, 2), "scenes": len(scenes), "cuts": cuts}


class VideoDescriber:
    """Keyframes -> any ImageCaptioner; audio -> any SpeechToText (or none). One file at a time."""

    def __init__(self, captioner: ImageCaptioner, transcriber=None, *, max_keyframes: int = 8, threshold: float = 27.0):
        import av

        self.captioner, self.transcriber = captioner, transcriber
        self.max_keyframes, self.threshold = max_keyframes, threshold
        parts = {"frames": captioner.engine.to_json()}
        if transcriber is not None:
            parts["speech"] = transcriber.engine.to_json()
        self.engine = Engine(
            "video-describer", VERSION, {"pyav": av.__version__},
            {"max_keyframes": max_keyframes, "threshold": threshold, "parts": parts},
        )

    def describe(self, path: Path) -> dict:
        frames, info = keyframes(path, threshold=self.threshold, max_keyframes=self.max_keyframes)
        results = self.captioner.describe_batch([f.image for f in frames])
        texts: dict[str, str] = {}
        seen_lines: list[str] = []
        per_kind: dict[str, list[str]] = {}
        for f, r in zip(frames, results, strict=True):
            for kind, text in r.texts.items():
                if kind == "text":  # words on screen: each distinct line once, in order of appearance
                    for line in text.split(" / "):
                        if line.lower() not in {s.lower() for s in seen_lines}:
                            seen_lines.append(line)
                elif kind == "looks":  # keep the palette and tone clauses: the rest is too long per frame
                    per_kind.setdefault(kind, []).append(f"{_stamp(f.t)} " + "; ".join(text.split("; ")[:2]))
                else:
                    per_kind.setdefault(kind, []).append(f"{_stamp(f.t)} {text}")
        if seen_lines:
            texts[label("trailer", "text")] = " / ".join(seen_lines)
        for kind, items in per_kind.items():
            head = f"{info['scenes']} scenes in {info['duration']:.0f} s; " if kind == "looks" else ""
            texts[label("trailer", kind)] = head + " | ".join(items)
        details = {**info, "keyframes": [{"t": f.t, "score": f.score, "texts": r.texts, "details": r.details}
                                         for f, r in zip(frames, results, strict=True)]}
        if self.transcriber is not None:
            (speech,) = self.transcriber.transcribe_files([path])
            if isinstance(speech, EmptyMedia):  # no audio track: a missing modality, not a failure
                details["speech"] = {"missing": speech.message}
            elif isinstance(speech, MediaError):
                details["speech"] = {"error": {"type": type(speech).__name__, "message": speech.message}}
            else:
                details["speech"] = speech.to_json()
                if speech.text:
                    texts[label("trailer", "speech")] = speech.text
        return {"texts": texts, "details": details}
