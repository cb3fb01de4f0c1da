"""Living user profiles, the storage half: interaction events and profile texts in one SQLite file.

    store = ProfileStore(settings.profiles_file)
    store.add(user, [Event("e1", "296", "liked"), ...])   -> AddResult(stored=("e1",), duplicates=())
    store.events(user, after=0)                          -> [StoredEvent, ...] oldest first
    store.profile(user)                                   -> Profile | None
    merge_history(catalog_history, events, ...)          -> UserHistory the recommender uses

Events: watched, rated (with a rating), liked, disliked, skipped; each names a catalog item and
has an event id chosen by the client. Writes are idempotent per (user, event id): the same id with
the same payload is a no-op reported as a duplicate; the same id with another payload is a
Conflict (409). A batch is all or nothing. The file is in WAL mode with synchronous=FULL, so a
write that returned survives a crash or restart.

How events become history (merge_history), newest opinion wins:
  watched   seen, not liked (as "I've seen X" in the chat); never recommended again
  rated     seen; liked when rating >= like_threshold, disliked when <= dislike_threshold
  liked     seen and liked: joins the history vector, co-occurrence and sequence signals
  disliked  seen and disliked: never an anchor, pushes the history vector away (agent/retrieval)
  skipped   not history (the user did not watch it): left out of recommendations for skip_days
Event items go after the catalog history (they are the newest), in (timestamp, arrival) order.

Profile texts: `auto` (written by agent/profile_text, LLM or fact-built, with the last event seq
it has seen, so updates are incremental) and `user` (a PUT; never overwritten by the writer).
The text used in prompts and retrieval is the user's when there is one, else the auto text.
Left out: deleting events, per-event retraction, multi-process writers beyond SQLite's own locking.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from agent.errors import Conflict
from agent.types import HistoryEntry, UserHistory

EVENT_TYPES = ("watched", "rated", "liked", "disliked", "skipped")
SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,   -- arrival order, the incremental profile's cursor
    user_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    item_id TEXT NOT NULL,
    type TEXT NOT NULL,
    rating REAL,
    ts INTEGER NOT NULL,                     -- the event's time (client's, else arrival), seconds
    payload TEXT NOT NULL,                   -- canonical JSON of what the client sent: idempotency check
    received_at REAL NOT NULL,
    UNIQUE (user_id, event_id)
);
CREATE INDEX IF NOT EXISTS events_by_user ON events (user_id, seq);
CREATE TABLE IF NOT EXISTS profiles (
    user_id TEXT PRIMARY KEY,
    auto_text TEXT NOT NULL DEFAULT '',
    auto_source TEXT NOT NULL DEFAULT '',    -- 'llm' | 'facts'
    auto_seq INTEGER NOT NULL DEFAULT 0,     -- last event seq the auto text has taken in
    auto_updated_at REAL,
    auto_problems TEXT NOT NULL DEFAULT '[]',  -- why the last LLM text was rejected (grounding), if it was
    user_text TEXT,                          -- the user's own edit; NULL: none
    user_updated_at REAL,
    version INTEGER NOT NULL DEFAULT 0       -- +1 on every change of either text
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


@dataclass(frozen=True)
class Event:
    """One interaction as a client sends it; `timestamp` None means "now" (set when stored)."""

    event_id: str
    item_id: str
    type: str  # one of EVENT_TYPES
    rating: float | None = None  # "rated" only
    timestamp: int | None = None

    def payload(self) -> str:
        return json.dumps({"item_id": self.item_id, "type": self.type, "rating": self.rating,
                           "timestamp": self.timestamp}, sort_keys=True)


@dataclass(frozen=True)
class StoredEvent:
    seq: int
    event_id: str
    item_id: str
    type: str
    rating: float | None
    timestamp: int


@dataclass(frozen=True)
class AddResult:
    stored: tuple[str, ...]  # event ids written now
    duplicates: tuple[str, ...]  # event ids already stored with the same payload


@dataclass(frozen=True)
class Profile:
    user_id: str
    auto_text: str = ""
    auto_source: str = ""  # "llm" | "facts" | "" (none yet)
    auto_seq: int = 0
    auto_updated_at: float | None = None
    auto_problems: tuple[str, ...] = ()
    user_text: str | None = None
    user_updated_at: float | None = None
    version: int = 0

    @property
    def edited(self) -> bool:
        return self.user_text is not None

    @property
    def text(self) -> str:
        """What prompts and retrieval use: the user's own text wins over the written one."""
        return self.user_text if self.user_text is not None else self.auto_text

    @property
    def source(self) -> str:
        return "user" if self.edited else self.auto_source


class ProfileStore:
    """Thread-safe (one connection behind a lock; calls are short). Open it once per process."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")  # a returned write is on disk
        with self._lock:
            self._db.executescript(_SCHEMA)
            self._db.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # ---- events ---------------------------------------------------------------------------
    def add(self, user_id: str, events: list[Event], now: float | None = None) -> AddResult:
        """Store new events, all or nothing. Raises Conflict (nothing stored) when an event id is
        already taken by another payload, in the store or earlier in this batch."""
        now = time.time() if now is None else now
        stored, dups, batch = [], [], {}
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for i, e in enumerate(events):
                    payload = e.payload()
                    prev = batch.get(e.event_id)
                    if prev is None:
                        row = self._db.execute("SELECT payload FROM events WHERE user_id=? AND event_id=?",
                                               (user_id, e.event_id)).fetchone()
                        prev = row[0] if row else None
                    if prev is not None:
                        if prev != payload:
                            raise Conflict(f"event_id {e.event_id!r} is already stored for user {user_id!r} with a "
                                           f"different payload ({prev}); use a new event_id for a new event",
                                           param=f"events.{i}.event_id", code="event_conflict")
                        dups.append(e.event_id)
                        continue
                    ts = e.timestamp if e.timestamp is not None else int(now)
                    self._db.execute(
                        "INSERT INTO events (user_id, event_id, item_id, type, rating, ts, payload, received_at) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        (user_id, e.event_id, e.item_id, e.type, e.rating, ts, payload, now))
                    batch[e.event_id] = payload
                    stored.append(e.event_id)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return AddResult(tuple(stored), tuple(dups))

    def events(self, user_id: str, after: int = 0, limit: int | None = None, newest: bool = False) -> list[StoredEvent]:
        """The user's events with seq > after, oldest first (or the newest `limit`, still oldest first)."""
        sql = "SELECT seq, event_id, item_id, type, rating, ts FROM events WHERE user_id=? AND seq>? ORDER BY seq"
        args: tuple = (user_id, after)
        if limit is not None:
            sql += " DESC LIMIT ?" if newest else " LIMIT ?"
            args += (limit,)
        with self._lock:
            rows = self._db.execute(sql, args).fetchall()
        out = [StoredEvent(*r) for r in rows]
        return out[::-1] if newest and limit is not None else out

    def counts(self, user_id: str) -> dict[str, int]:
        """Events per type, every type present (0 when none)."""
        with self._lock:
            rows = self._db.execute("SELECT type, COUNT(*) FROM events WHERE user_id=? GROUP BY type", (user_id,)).fetchall()
        found = dict(rows)
        return {t: int(found.get(t, 0)) for t in EVENT_TYPES}

    def count_upto(self, user_id: str, seq: int) -> int:
        """How many of the user's events have seq <= `seq` (those a written profile has taken in)."""
        with self._lock:
            row = self._db.execute("SELECT COUNT(*) FROM events WHERE user_id=? AND seq<=?", (user_id, seq)).fetchone()
        return int(row[0])

    def last_seq(self, user_id: str) -> int:
        with self._lock:
            row = self._db.execute("SELECT MAX(seq) FROM events WHERE user_id=?", (user_id,)).fetchone()
        return int(row[0] or 0)

    # ---- profile texts ----------------------------------------------------------------------
    def profile(self, user_id: str) -> Profile | None:
        with self._lock:
            row = self._db.execute(
                "SELECT auto_text, auto_source, auto_seq, auto_updated_at, auto_problems, user_text, user_updated_at, "
                "version FROM profiles WHERE user_id=?", (user_id,)).fetchone()
        if row is None:
            return None
        a_text, a_src, a_seq, a_at, problems, u_text, u_at, version = row
        return Profile(user_id, a_text, a_src, a_seq, a_at, tuple(json.loads(problems)), u_text, u_at, version)

    def set_auto(self, user_id: str, text: str, source: str, seq: int, problems: tuple[str, ...] = (),
                 now: float | None = None) -> Profile:
        """The writer's new text, having taken in every event up to `seq`. Leaves the user's text alone."""
        now = time.time() if now is None else now
        with self._lock:
            self._db.execute(
                "INSERT INTO profiles (user_id, auto_text, auto_source, auto_seq, auto_updated_at, auto_problems, version) "
                "VALUES (?, ?, ?, ?, ?, ?, 1) ON CONFLICT (user_id) DO UPDATE SET auto_text=excluded.auto_text, "
                "auto_source=excluded.auto_source, auto_seq=excluded.auto_seq, auto_updated_at=excluded.auto_updated_at, "
                "auto_problems=excluded.auto_problems, version=profiles.version + 1",
                (user_id, text, source, seq, now, json.dumps(list(problems))))
        return self.profile(user_id)

    def set_user_text(self, user_id: str, text: str | None, now: float | None = None) -> Profile:
        """The user's own text (None or "" clears it: the written profile is used again)."""
        now = time.time() if now is None else now
        text = text if text else None
        with self._lock:
            self._db.execute(
                "INSERT INTO profiles (user_id, user_text, user_updated_at, version) VALUES (?, ?, ?, 1) "
                "ON CONFLICT (user_id) DO UPDATE SET user_text=excluded.user_text, "
                "user_updated_at=excluded.user_updated_at, version=profiles.version + 1",
                (user_id, text, now))
        return self.profile(user_id)


def merge_history(base: UserHistory | None, user_id: str, events: list[StoredEvent], *, like_threshold: float,
                  dislike_threshold: float, skip_days: float, profile: str = "", now: float | None = None
                  ) -> UserHistory:
    """The catalog's history for the user plus their stored events (see the module docstring).

    >>> ev = [StoredEvent(1, "a", "5", "liked", None, 10), StoredEvent(2, "b", "6", "rated", 1.0, 11),
    ...       StoredEvent(3, "c", "7", "skipped", None, 12), StoredEvent(4, "d", "1", "watched", None, 13)]
    >>> h = merge_history(UserHistory("u", (HistoryEntry("1", True, 5.0),)), "u", ev, like_threshold=4,
    ...                   dislike_threshold=2, skip_days=30, now=100)
    >>> [(e.item_id, e.liked, e.disliked) for e in h.entries]
    [('1', True, False), ('5', True, False), ('6', False, True)]
    >>> sorted(h.excluded)
    ['7']
    """
    now = time.time() if now is None else now
    entries: dict[str, HistoryEntry] = {e.item_id: e for e in (base.entries if base else ())}  # keeps order
    skipped: set[str] = set()
    for e in sorted(events, key=lambda e: (e.timestamp, e.seq)):
        if e.type == "skipped":
            if skip_days > 0 and now - e.timestamp <= skip_days * 86400:
                skipped.add(e.item_id)
            continue
        if e.type == "watched":
            if e.item_id not in entries:  # "seen it" adds nothing to a known opinion
                entries[e.item_id] = HistoryEntry(e.item_id, liked=False)
            continue
        if e.type == "rated":
            new = HistoryEntry(e.item_id, liked=e.rating >= like_threshold, rating=e.rating,
                               disliked=e.rating <= dislike_threshold)
        else:  # liked / disliked
            new = HistoryEntry(e.item_id, liked=e.type == "liked", disliked=e.type == "disliked")
        entries.pop(e.item_id, None)  # the newest opinion moves to the end (most recent)
        entries[e.item_id] = new
    return UserHistory(user_id, tuple(entries.values()), profile=profile, excluded=frozenset(skipped - set(entries)))
