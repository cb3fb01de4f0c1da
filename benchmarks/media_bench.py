"""Media-to-text throughput per stage on this machine: items/second, printed as a table.

    python benchmarks/media_bench.py                       # 100 posters from ../shared/data/posters (or generated cards)
    python benchmarks/media_bench.py --n 300 --workers 2 --out benchmarks/results/media_bench.json
    python benchmarks/media_bench.py --hf /path/to/blip    # also time a real vision-language model directory

Stages: image decode; OCR (RapidOCR); face detection (dlib HOG); looks (palette, tone, edges);
the whole offline describer, in one process and through `agent.media.run` with N worker
processes (includes their start-up); speech to text (faster-whisper tiny.en on eSpeak NG clips);
keyframe extraction and a whole trailer (keyframes + describer + transcript) on generated
test-pattern videos. Every stage runs on the same inputs after one warm-up item. Run it with
`OMP_NUM_THREADS=1` on a shared machine; numbers vary with load, so say what else was running.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def timed(fn, items, warmup: bool = True) -> tuple[float, float]:
    """(items/s, seconds) of fn over items, after one untimed warm-up call."""
    if warmup and items:
        fn(items[0])
    t = time.perf_counter()
    for x in items:
        fn(x)
    dt = time.perf_counter() - t
    return (len(items) / dt if dt else float("inf")), dt


def poster_paths(n: int, tmp: Path) -> tuple[list[Path], str]:
    shared = REPO.parent / "shared" / "data" / "posters"
    if shared.is_dir():
        from agent.media.run import discover

        files = [p for _, p in discover(shared, "poster")[:n]]
        return files, f"{len(files)} MovieLens poster thumbnails (256 px tall)"
    from PIL import Image, ImageDraw, ImageFont

    out = []
    for i in range(n):
        img = Image.new("RGB", (170, 256), (i * 37 % 255, i * 91 % 255, 120))
        ImageDraw.Draw(img).text((10, 20), f"FILM {i}", fill="white", font=ImageFont.load_default(size=28))
        img.save(tmp / f"{i}.jpg")
        out.append(tmp / f"{i}.jpg")
    return out, f"{n} generated title cards (170x256)"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=100, help="posters per image stage")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--clips", type=int, default=5, help="speech clips / trailers per audio-video stage")
    ap.add_argument("--hf", help="also time this vision-language model (hub id or directory)")
    ap.add_argument("--out", type=Path, help="write the results as JSON")
    args = ap.parse_args(argv)

    from agent.media.base import load_image
    from agent.media.cache import MediaCache
    from agent.media.describer import OfflineDescriber
    from agent.media.faces import FaceDetector
    from agent.media.looks import measure, render
    from agent.media.ocr import PosterOCR
    from agent.media.run import TaskSpec, discover, run

    rows: list[dict] = []
    load_before = os.getloadavg()

    def add(stage: str, unit: str, rate: float, seconds: float, n: int, note: str = "") -> None:
        rows.append({"stage": stage, "unit": unit, "per_s": round(rate, 2), "seconds": round(seconds, 2), "n": n, "note": note})
        print(f"  {stage}: {rate:.2f} {unit}/s", file=sys.stderr)

    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        (tmp / "cards").mkdir()
        paths, source = poster_paths(args.n, tmp / "cards")
        images = [load_image(p) for p in paths]
        arrays = [np.asarray(im) for im in images]
        r, s = timed(load_image, paths)
        add("image decode (PIL)", "images", r, s, len(paths))
        ocr = PosterOCR()
        r, s = timed(ocr.read, arrays)
        add("OCR (RapidOCR PP-OCRv6 small, 1 thread)", "images", r, s, len(arrays))
        faces = FaceDetector()
        r, s = timed(faces.detect, arrays)
        add("faces (dlib HOG, upsample 1)", "images", r, s, len(arrays))
        r, s = timed(lambda a: render(measure(a)), arrays)
        add("looks (palette, tone, edges)", "images", r, s, len(arrays))
        describer = OfflineDescriber()
        r, s = timed(describer.describe, images)
        add("offline describer, 1 process", "images", r, s, len(images))
        folder = paths[0].parent
        jobs = discover(folder, "poster")[: args.n]
        with MediaCache(tmp / "cache.sqlite") as cache:
            rep = run(jobs, TaskSpec("poster"), cache=cache, out=None, workers=args.workers, progress=False)
        add(f"offline describer, run() with {args.workers} workers (incl. start-up)", "images",
            rep.derived / rep.seconds, rep.seconds, rep.derived)
        with MediaCache(tmp / "cache.sqlite") as cache:
            rep = run(jobs, TaskSpec("poster"), cache=cache, out=None, workers=args.workers, progress=False)
        add("re-run, all cached (hash + lookup)", "images", rep.files / rep.seconds, rep.seconds, rep.files)
        if args.hf:
            from agent.media.hf_captioner import HFCaptioner

            cap = HFCaptioner(args.hf)
            batches = [images[i : i + cap.batch_size] for i in range(0, len(images), cap.batch_size)]
            t = time.perf_counter()
            for b in batches:
                cap.describe_batch(b)
            s = time.perf_counter() - t
            add(f"HF captioner {args.hf} ({cap.device}, batch {cap.batch_size})", "images", len(images) / s, s, len(images))

        try:
            from agent.media.audio import load_audio, load_transcriber
            from agent.media.synth import SpeechUnavailable, make_video, speech_wav
            from agent.media.video import VideoDescriber, keyframes
        except ImportError as e:
            print(f"  audio/video stages skipped: {e}", file=sys.stderr)
        else:
            lines = ["The crew meets a detective in Los Angeles.", "Nobody leaves this town alive.",
                     "One last job, and then we are done for good.", "They never saw the storm coming.",
                     "Every family has a secret it would kill to keep."]
            try:
                clips = [speech_wav(lines[i % len(lines)], tmp / f"line{i}.wav") for i in range(args.clips)]
            except SpeechUnavailable as e:
                clips = []
                print(f"  speech stages skipped: {e}", file=sys.stderr)
            stt = load_transcriber("tiny.en")
            if clips:
                audio = [load_audio(c) for c in clips]
                seconds_of_audio = sum(len(a) for a in audio) / 16000
                r, s = timed(lambda a: stt.transcribe_batch([a]), audio)
                add("speech to text (faster-whisper tiny.en int8, 1 thread)", "clips", r, s, len(audio),
                    f"{seconds_of_audio / s:.1f} s of audio per s")
            videos = [make_video(tmp / f"v{i}.mp4", speech=clips[i] if clips else None, size=(640, 360), fps=24)
                      for i in range(args.clips)]
            r, s = timed(keyframes, videos)
            add("keyframes (640x360, 24 fps, 4.5 s, 3 scenes)", "videos", r, s, len(videos))
            vd = VideoDescriber(describer, stt)
            r, s = timed(vd.describe, videos)
            add("whole trailer: keyframes + describer + transcript", "videos", r, s, len(videos))

    cpu = f"{os.cpu_count()} cores, {platform.machine()}"
    load = f"load average {load_before[0]:.1f} before, {os.getloadavg()[0]:.1f} after"
    print(f"\nMedia throughput on this machine ({cpu}; OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}; "
          f"{load}); images: {source}\n")
    print("| stage | items/s | n | seconds | note |\n|---|---|---|---|---|")
    for row in rows:
        print(f"| {row['stage']} | {row['per_s']} {row['unit']}/s | {row['n']} | {row['seconds']} | {row['note']} |")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"machine": cpu, "load": load, "images": source, "rows": rows}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
