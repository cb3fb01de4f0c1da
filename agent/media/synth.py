"""Synthetic test media, made offline: ffmpeg test-pattern scenes, a title card, and eSpeak NG speech.

    speech_wav("The crew meets a detective.", tmp / "line.wav")      # 22 kHz mono WAV
    make_video(tmp / "trailer.mp4", title="THE HEIST", speech=tmp / "line.wav")
    # -> 4.5 s MPEG-4 video: SMPTE bars | moving test source | black title card, AAC speech track

For tests and benchmarks only: never a stand-in for real media. Speech comes from the eSpeak NG
library inside the `espeakng-loader` wheel (through ctypes), or from an `espeak-ng` binary on PATH;
`SpeechUnavailable` says neither is there. Video is encoded with PyAV's bundled ffmpeg.
"""

from __future__ import annotations

import ctypes
import shutil
import subprocess
import wave
from pathlib import Path

import numpy as np


class SpeechUnavailable(RuntimeError):
    """No offline text-to-speech here: `pip install espeakng-loader` or `apt-get install espeak-ng`."""


def _espeak_library(text: str, voice: str) -> tuple[np.ndarray, int]:
    import espeakng_loader

    lib = ctypes.CDLL(espeakng_loader.get_library_path())
    lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
    lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
    lib.espeak_Synth.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int, ctypes.c_uint,
                                 ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p]
    rate = lib.espeak_Initialize(2, 0, espeakng_loader.get_data_path().encode(), 0)  # 2 = AUDIO_OUTPUT_SYNCHRONOUS
    if rate <= 0:
        raise SpeechUnavailable("eSpeak NG failed to initialise")
    chunks: list[np.ndarray] = []
    callback_type = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)

    def collect(wav, n, _events):
        if n > 0:
            chunks.append(np.ctypeslib.as_array(wav, shape=(n,)).copy())
        return 0

    keep = callback_type(collect)  # must outlive espeak_Synth
    lib.espeak_SetSynthCallback(keep)
    lib.espeak_SetVoiceByName(voice.encode())
    data = text.encode()
    lib.espeak_Synth(data, len(data) + 1, 0, 1, 0, 0, None, None)  # 1 = POS_CHARACTER
    lib.espeak_Synchronize()
    return (np.concatenate(chunks) if chunks else np.zeros(0, np.int16)), rate


def speech_wav(text: str, path: Path, voice: str = "en-us") -> Path:
    """Speak `text` into a 16-bit mono WAV file."""
    path = Path(path)
    try:
        samples, rate = _espeak_library(text, voice)
    except ImportError:
        exe = shutil.which("espeak-ng")
        if exe is None:
            raise SpeechUnavailable("no offline TTS: `pip install espeakng-loader` or `apt-get install espeak-ng`") from None
        subprocess.run([exe, "-v", voice, "-w", str(path), text], check=True, capture_output=True)
        return path
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples.astype(np.int16).tobytes())
    return path


def _pattern_frames(source: str, size: tuple[int, int], fps: int, seconds: float) -> list[np.ndarray]:
    """Frames of an ffmpeg lavfi test source ("smptebars", "testsrc", ...) as RGB arrays."""
    import av

    graph = av.filter.Graph()
    src = graph.add(source, f"size={size[0]}x{size[1]}:rate={fps}:duration={seconds}")
    sink = graph.add("buffersink")
    src.link_to(sink)
    graph.configure()
    frames = []
    while True:
        try:
            frames.append(sink.pull().to_ndarray(format="rgb24"))
        except (av.error.EOFError, av.error.BlockingIOError):
            return frames


def _title_frames(title: str, size: tuple[int, int], fps: int, seconds: float) -> list[np.ndarray]:
    from PIL import Image, ImageDraw, ImageFont

    img = Image.new("RGB", size, (0, 0, 0))
    draw = ImageDraw.Draw(img)
    font = ImageFont.load_default(size=max(16, size[1] // 6))
    box = draw.textbbox((0, 0), title, font=font)
    draw.text(((size[0] - (box[2] - box[0])) // 2, (size[1] - (box[3] - box[1])) // 2), title, fill=(255, 255, 255), font=font)
    return [np.asarray(img)] * int(round(seconds * fps))


def make_video(path: Path, *, title: str = "THE HEIST", speech: Path | None = None, size: tuple[int, int] = (320, 240),
               fps: int = 12, scene_seconds: float = 1.5) -> Path:
    """Three scenes with hard cuts (SMPTE bars, moving test source, title card), optional speech track."""
    import av

    frames = (_pattern_frames("smptebars", size, fps, scene_seconds) + _pattern_frames("testsrc", size, fps, scene_seconds)
              + _title_frames(title, size, fps, scene_seconds))
    path = Path(path)
    with av.open(str(path), "w") as out:
        vs = out.add_stream("mpeg4", rate=fps)
        vs.width, vs.height, vs.pix_fmt = size[0], size[1], "yuv420p"
        a_in = astream = None
        if speech is not None:
            a_in = av.open(str(speech))
            astream = out.add_stream("aac", rate=22050, layout="mono")
        for arr in frames:
            for packet in vs.encode(av.VideoFrame.from_ndarray(arr, format="rgb24")):
                out.mux(packet)
        for packet in vs.encode():
            out.mux(packet)
        if a_in is not None:
            resampler = av.AudioResampler(format="fltp", layout="mono", rate=22050)
            for frame in a_in.decode(audio=0):
                for f in resampler.resample(frame):
                    f.pts = None
                    for packet in astream.encode(f):
                        out.mux(packet)
            for packet in astream.encode():
                out.mux(packet)
            a_in.close()
    return path


