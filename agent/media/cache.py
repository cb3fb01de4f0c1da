"""Content-hash cache of derived media text: re-running on unchanged media does no work.

    cache = MediaCache(home / "media-cache.sqlite")
    cache.get(sha256, "poster", engine.fingerprint)      # -> stored result dict or None
    cache.put(sha256, "poster", engine.fingerprint, result)
    sha256_file(path)                                    # hex digest, streamed

Keyed by (content sha256, task, engine fingerprint): renaming or moving a file costs nothing, a
changed file or a different engine/version/parameter derives again. Errors are cached too (the
same bytes fail the same way); `python -m agent.media ... --retry-errors` ignores cached errors.
SQLite in WAL mode; every `put` commits, so an interrupted run loses at most the files in flight.
Only the parent process writes (workers return results), so there is no write contention.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

_SCHEMA = """
create table if not exists results (
    sha256 text not null, task text not null, engine text not null,
    created text not null, result text not null,
    primary key (sha256, task, engine)
)"""


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


class MediaCache:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path)
        self._db.execute("pragma journal_mode=wal")
        self._db.execute(_SCHEMA)
        self._db.commit()

    def get(self, sha256: str, task: str, engine: str) -> dict | None:
        row = self._db.execute(
            "select result from results where sha256=? and task=? and engine=?", (sha256, task, engine)
        ).fetchone()
        return json.loads(row[0]) if row else None

    def put(self, sha256: str, task: str, engine: str, result: dict) -> None:
        self._db.execute(
            "insert or replace into results values (?, ?, ?, ?, ?)",
            (sha256, task, engine, result.get("created", ""), json.dumps(result, ensure_ascii=False)),
        )
        self._db.commit()

    def count(self) -> int:
        return self._db.execute("select count(*) from results").fetchone()[0]

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> MediaCache:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
