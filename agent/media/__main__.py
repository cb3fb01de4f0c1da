"""CLI: python -m agent.media {posters,trailers,audio,show} ...

    python -m agent.media posters /path/to/posters --out data/demo/media/posters.jsonl --workers 2
    python -m agent.media trailers /path/to/trailers --out trailers.jsonl --captioner hf:Salesforce/blip-image-captioning-base
    python -m agent.media audio /path/to/clips --out speech.jsonl --whisper small
    python -m agent.media show poster.jpg          # derived text + provenance for one file, no cache

Files are named <item_id>.<ext>. Runs are cached by content hash (<MARQUEE_HOME>/media-cache.sqlite)
and resumable: stop with Ctrl-C and run the same command again.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from agent.config import Settings
from agent.errors import MarqueeError

TASKS = {"posters": "poster", "trailers": "trailer", "audio": "audio"}


def _common(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--captioner", default="offline", help="'offline' (OCR + looks) or 'hf:<model id or dir>'")
    ap.add_argument("--prompt", help="prompt for chat VLMs / Florence-2 task token (hf captioner)")
    ap.add_argument("--whisper", default="tiny.en", help="faster-whisper model: size, hub id or CTranslate2 dir")
    ap.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    ap.add_argument("--threads", type=int, default=1, help="threads per worker (OCR, whisper)")
    ap.add_argument("--max-keyframes", type=int, default=8)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m agent.media", description="derive searchable text from media")
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name in TASKS:
        p = sub.add_parser(name, help=f"describe a folder of {name} named <item_id>.<ext>")
        p.add_argument("directory", type=Path)
        p.add_argument("--out", type=Path, required=True, help="JSONL file to write (replaced atomically)")
        p.add_argument("--workers", type=int, default=1, help="processes (2 on a 2-core machine)")
        p.add_argument("--batch-size", type=int, default=8)
        p.add_argument("--limit", type=int, help="only the first N files")
        p.add_argument("--cache", type=Path, help="cache file (default <MARQUEE_HOME>/media-cache.sqlite)")
        p.add_argument("--retry-errors", action="store_true", help="describe again files that failed before")
        p.add_argument("--no-progress", action="store_true")
        _common(p)
    p = sub.add_parser("show", help="describe one file and print the result (no cache)")
    p.add_argument("file", type=Path)
    p.add_argument("--task", choices=sorted(set(TASKS.values())), help="default: from the file extension")
    _common(p)
    args = ap.parse_args(argv)

    from agent.media.run import EXTENSIONS, MediaCache, TaskSpec, discover, run

    try:
        if args.cmd == "show":
            task = args.task or next((t for t in ("poster", "trailer", "audio") if args.file.suffix.lower() in EXTENSIONS[t]), None)
            if task is None:
                raise MarqueeError(f"cannot tell the task from {args.file.name!r}: pass --task")
            spec = TaskSpec(task, args.captioner, args.whisper, args.device, args.threads, args.max_keyframes, args.prompt)
            built = spec.build()
            result = built.process([args.file])[0]
            print(json.dumps({"engine": built.engine.to_json(), **result}, indent=2, ensure_ascii=False))
            return 1 if "error" in result else 0
        spec = TaskSpec(TASKS[args.cmd], args.captioner, args.whisper, args.device, args.threads, args.max_keyframes,
                        args.prompt)
        jobs = discover(args.directory, spec.task)
        if args.limit:
            jobs = jobs[: args.limit]
        cache_path = args.cache or Settings().home / "media-cache.sqlite"
        with MediaCache(cache_path) as cache:
            report = run(jobs, spec, cache=cache, out=args.out, workers=args.workers, batch_size=args.batch_size,
                         source_root=args.directory.parent, retry_errors=args.retry_errors,
                         progress=not args.no_progress)
    except KeyboardInterrupt:
        print("[media] interrupted: finished files are cached; run the same command to resume", file=sys.stderr)
        return 130
    except MarqueeError as e:
        print(f"[media] error: {e.message}", file=sys.stderr)
        return 2
    print(f"[media] {args.out}: {report.line()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
