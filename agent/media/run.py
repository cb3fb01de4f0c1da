"""Batch runs: a folder of media named by item id -> one JSONL file of derived text with provenance.

    spec = TaskSpec("poster")                               # or "trailer", "audio"; captioner="hf:<id or dir>"
    jobs = discover(Path("posters"), "poster")              # [("1", Path("posters/1.jpg")), ...]
    report = run(jobs, spec, cache=MediaCache(...), out=Path("posters.jsonl"), workers=2)

Each output line is one file:
    {"item_id": "1", "task": "poster", "source": "posters/1.jpg", "sha256": "...", "bytes": 15871,
     "engine": {"name": "offline-describer", "version": "1", "components": {...}, "params": {...}},
     "created": "2025-01-01T12:00:00Z", "texts": {"Poster text": "TOY / STORY", "Poster looks": "..."},
     "details": {...}}
or, for a file that could not be described, "texts": {} and
    "error": {"type": "CorruptMedia", "code": "corrupt", "message": "1.jpg: image data is broken (...)"}

Work is cached by content hash (cache.py), so a re-run, or a run after an interruption, only does
the files not yet done. Files go to `workers` processes in small batches (each process loads its
own engines; on 2 cores two workers nearly halve the wall time of OCR); results are written by
this process only. A bad file never stops the run: its MediaError is recorded and the rest go on;
an unexpected exception in one file is recorded as an "InternalError" (not cached, so it is
retried next time). Left out: watching folders, remote storage.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from agent.errors import MediaError, UnreadableMedia
from agent.media.base import Engine, label, now_iso
from agent.media.cache import MediaCache, sha256_file

Task = Literal["poster", "trailer", "audio"]
IMAGE_EXT = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff"}
VIDEO_EXT = {".mp4", ".mkv", ".webm", ".mov", ".avi", ".m4v", ".mpg", ".mpeg", ".ts"}
AUDIO_EXT = {".wav", ".mp3", ".m4a", ".flac", ".ogg", ".opus", ".aac"} | VIDEO_EXT
EXTENSIONS = {"poster": IMAGE_EXT, "trailer": VIDEO_EXT, "audio": AUDIO_EXT}


@dataclass(frozen=True)
class TaskSpec:
    """Everything a worker process needs to build the same engines (picklable)."""

    task: Task
    captioner: str = "offline"  # "offline" | "hf:<hub id or local dir>"
    whisper: str = "tiny.en"  # faster-whisper size, hub id or CTranslate2 dir
    device: str = "auto"  # "auto" | "cpu" | "cuda"
    threads: int = 1  # threads per worker for OCR / whisper
    max_keyframes: int = 8
    prompt: str | None = None  # HF captioner prompt (chat VLMs, Florence-2 task tokens)

    def build(self) -> MediaTask:
        if self.task == "poster":
            return ImageTask(self.task, self._captioner())
        from agent.media.audio import load_transcriber

        transcriber = load_transcriber(self.whisper, device=self.device, threads=self.threads)
        if self.task == "audio":
            return AudioTask(self.task, transcriber)
        from agent.media.video import VideoDescriber

        return VideoTask(self.task, VideoDescriber(self._captioner(), transcriber, max_keyframes=self.max_keyframes))

    def _captioner(self):
        if self.captioner == "offline":
            from agent.media.describer import OfflineDescriber

            return OfflineDescriber(threads=self.threads)
        if self.captioner.startswith("hf:"):
            from agent.media.hf_captioner import HFCaptioner

            return HFCaptioner(self.captioner[3:], device=self.device, prompt=self.prompt)
        raise ValueError(f"unknown captioner {self.captioner!r}: use 'offline' or 'hf:<model id or dir>'")


def _error(e: Exception) -> dict:
    if isinstance(e, MediaError):
        return {"type": type(e).__name__, "code": e.code, "message": e.message}
    return {"type": "InternalError", "code": "internal", "message": f"{type(e).__name__}: {e}"}


@dataclass
class MediaTask:
    """A built task: `process` maps paths to {"texts": {label: text}, "details": {...}} or {"error": {...}}."""

    task: str
    engine: Engine = field(init=False)

    def process(self, paths: list[Path]) -> list[dict]:
        raise NotImplementedError


@dataclass
class ImageTask(MediaTask):
    captioner: object

    def __post_init__(self):
        self.engine = self.captioner.engine

    def process(self, paths: list[Path]) -> list[dict]:
        try:
            results = self.captioner.describe_files(paths)
        except Exception:  # one image broke the batch: redo one by one so only that file fails
            results = []
            for p in paths:
                try:
                    results.extend(self.captioner.describe_files([p]))
                except Exception as e:
                    results.append(e)
        out = []
        for r in results:
            if isinstance(r, Exception):
                out.append({"error": _error(r)})
            else:
                out.append({"texts": {label(self.task, k): v for k, v in r.texts.items() if v}, "details": r.details})
        return out


@dataclass
class AudioTask(MediaTask):
    transcriber: object

    def __post_init__(self):
        self.engine = self.transcriber.engine

    def process(self, paths: list[Path]) -> list[dict]:
        out = []
        for p, r in zip(paths, self.transcriber.transcribe_files(paths), strict=True):
            if isinstance(r, Exception):
                out.append({"error": _error(r)})
            else:
                texts = {label("trailer", "speech"): r.text} if r.text else {}
                out.append({"texts": texts, "details": {"speech": r.to_json()}})
        return out


@dataclass
class VideoTask(MediaTask):
    describer: object

    def __post_init__(self):
        self.engine = self.describer.engine

    def process(self, paths: list[Path]) -> list[dict]:
        out = []
        for p in paths:
            try:
                out.append(self.describer.describe(p))
            except Exception as e:
                out.append({"error": _error(e)})
        return out


def discover(directory: Path, task: Task) -> list[tuple[str, Path]]:
    """Files in `directory` named <item_id>.<ext> for the task's extensions, in natural id order."""
    directory = Path(directory)
    if not directory.is_dir():
        raise UnreadableMedia(f"{directory}: not a directory")
    files = [p for p in directory.iterdir() if p.suffix.lower() in EXTENSIONS[task] and not p.name.startswith(".")]
    key = lambda p: (0, int(p.stem), "") if p.stem.isdigit() else (1, 0, p.stem)  # noqa: E731
    return [(p.stem, p) for p in sorted(files, key=key)]


# --- worker processes -----------------------------------------------------------------------------
_WORKER: MediaTask | None = None  # the task built once per worker process (see _init_worker)


def _init_worker(spec: TaskSpec) -> None:
    global _WORKER
    os.environ.setdefault("OMP_NUM_THREADS", str(spec.threads))
    _WORKER = spec.build()


def _work(paths: list[Path]) -> list[dict]:
    assert _WORKER is not None
    return _WORKER.process(paths)


@dataclass
class RunReport:
    files: int = 0
    derived: int = 0  # described in this run
    cached: int = 0  # found in the cache (no work)
    errors: int = 0  # files recorded with an error (this run or cached)
    seconds: float = 0.0
    error_types: dict[str, int] = field(default_factory=dict)

    def line(self) -> str:
        rate = f", {self.derived / self.seconds:.2f} files/s" if self.derived and self.seconds else ""
        errs = f" ({', '.join(f'{k}: {v}' for k, v in sorted(self.error_types.items()))})" if self.errors else ""
        return (f"{self.files} files: {self.derived} described, {self.cached} from cache, {self.errors} errors{errs}; "
                f"{self.seconds:.1f} s{rate}")


def run(
    jobs: list[tuple[str, Path]],
    spec: TaskSpec,
    *,
    cache: MediaCache,
    out: Path | None,
    workers: int = 1,
    batch_size: int = 8,
    source_root: Path | None = None,
    retry_errors: bool = False,
    progress: bool = True,
    task: MediaTask | None = None,
    on_record: Callable[[dict], None] | None = None,
) -> RunReport:
    """Describe every job (cache first), write `out` (JSONL, atomically) and return counts.

    `task` may be passed pre-built (tests, single process); otherwise it is built from `spec`.
    """
    t0 = time.perf_counter()
    task = task or spec.build()
    fp = task.engine.fingerprint
    report = RunReport(files=len(jobs))
    results: dict[int, dict] = {}  # job index -> cached/derived result
    meta: dict[int, tuple[str, int]] = {}  # job index -> (sha256, bytes)
    todo: list[int] = []
    for i, (_, path) in enumerate(jobs):
        try:
            meta[i] = (sha256_file(path), path.stat().st_size)
        except OSError as e:
            results[i] = {"created": now_iso(), "error": _error(UnreadableMedia(f"{path}: {e.strerror or e}"))}
            continue
        hit = cache.get(meta[i][0], spec.task, fp)
        if hit is not None and not (retry_errors and "error" in hit):
            results[i] = hit
            report.cached += 1
        else:
            todo.append(i)

    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(jobs), initial=len(jobs) - len(todo), desc=f"media {spec.task}", unit="file", file=sys.stderr)

    def finish(batch: list[int], outs: list[dict]) -> None:
        for i, r in zip(batch, outs, strict=True):
            r = {"created": now_iso(), **r}
            results[i] = r
            report.derived += 1
            if r.get("error", {}).get("type") != "InternalError":
                cache.put(meta[i][0], spec.task, fp, r)
        if bar:
            bar.update(len(batch))

    batches = [todo[s : s + batch_size] for s in range(0, len(todo), batch_size)]
    try:
        if workers <= 1 or len(batches) <= 1:
            for b in batches:
                finish(b, task.process([jobs[i][1] for i in b]))
        else:
            import multiprocessing as mp

            # spawn, not fork: the parent has loaded ONNX Runtime / torch, whose thread pools do not survive fork
            with ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn"), initializer=_init_worker,
                                     initargs=(spec,)) as pool:
                pending: dict[Future, list[int]] = {}
                queue = list(batches)
                while queue or pending:
                    while queue and len(pending) < 2 * workers:  # keep workers busy without queueing everything
                        b = queue.pop(0)
                        pending[pool.submit(_work, [jobs[i][1] for i in b])] = b
                    done, _ = wait(pending, return_when=FIRST_COMPLETED)
                    for f in done:
                        finish(pending.pop(f), f.result())
    finally:
        if bar:
            bar.close()
        report.seconds = time.perf_counter() - t0
        records = []
        for i, (item_id, path) in enumerate(jobs):
            if i not in results:
                continue  # interrupted before this file: the next run does it
            rec = _record(item_id, path, spec.task, meta.get(i), task.engine, results[i], source_root)
            records.append(rec)
            if "error" in rec:
                report.errors += 1
                t = rec["error"]["type"]
                report.error_types[t] = report.error_types.get(t, 0) + 1
            if on_record:
                on_record(rec)
        if out is not None:
            write_jsonl(out, records)
    return report


def _record(item_id, path: Path, task: str, meta, engine: Engine, result: dict, root: Path | None) -> dict:
    source = str(path)
    if root is None:
        source = path.name
    else:  # the path as found (a symlink keeps its own name), else resolved
        for p, r in ((Path(os.path.abspath(path)), Path(os.path.abspath(root))), (path.resolve(), root.resolve())):
            try:
                source = str(p.relative_to(r))
                break
            except ValueError:
                continue
    rec = {"item_id": item_id, "task": task, "source": source, "sha256": meta[0] if meta else None,
           "bytes": meta[1] if meta else None, "engine": engine.to_json(), "created": result.get("created"),
           "texts": result.get("texts", {})}
    if "error" in result:  # name the file as `source` does, not by this machine's absolute path
        rec["error"] = {**result["error"], "message": result["error"]["message"].replace(str(path), source)}
    else:
        rec["details"] = result.get("details", {})
    return rec


def write_jsonl(path: Path, records: list[dict]) -> None:
    """Atomic: a reader never sees a half-written file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n")
    os.replace(tmp, path)
