"""Users' interactions and profiles over HTTP (beyond the OpenAI spec): models and logic, no FastAPI.

    POST /v1/users/{user}/interactions   {"events": [Event, ...]} | Event | [Event, ...]
        Event = {"event_id": str, "item_id": str, "type": "watched"|"rated"|"liked"|"disliked"|"skipped",
                 "rating": number (rated only, 0-5) | null, "timestamp": unix seconds | null (now)}
        -> {"object": "marquee.interactions", "user", "accepted", "stored": [ids], "duplicates": [ids],
            "history_size", "profile_pending"}
    GET  /v1/users/{user}/profile  -> {"object": "marquee.profile", "user", "profile": {...}, "counts": {...},
                                       "history": [the newest events]}
    PUT  /v1/users/{user}/profile   {"text": str | null}  (null or "": back to the written profile)

Errors (OpenAI shape): bad JSON or fields -> 400; more than max_events_per_request events -> 413;
an item not in the catalog -> 404 item_not_found; an event id reused with another payload -> 409
event_conflict; a user nobody knows (GET) -> 404 user_not_found. A batch is all or nothing.
The user id is the OpenAI `user` of chat requests: an id from the interaction log (MovieLens
userId) gets its catalog history merged with the events.
Every SQLite call runs in a worker thread (asyncio.to_thread), never on the event loop: a write
holds `BEGIN IMMEDIATE` with synchronous=FULL (an fsync) and must not stall other requests.
Strings with lone surrogates are refused by the body parser (agent/api/protocol.parse_json);
the typed fields here are strict (`"timestamp": "1"` or `"rating": "4"` are 400s).
"""

from __future__ import annotations

import asyncio
import time
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, Strict, ValidationError, field_validator, model_validator
from typing import Annotated

from agent.errors import InvalidRequest, NotFound, RequestTooLarge
from agent.profile_text import ProfileUpdater, ProfileWriter
from agent.profiles import Event, Profile, ProfileStore
from agent.recommender import Recommender

RECENT_EVENTS = 20  # events listed by GET .../profile
MAX_ID = 128
FUTURE_SLACK_S = 86_400  # a timestamp further ahead than this is a mistake (milliseconds, most often)


class EventIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    event_id: str = Field(min_length=1, max_length=MAX_ID, description="client-chosen; the same id is stored once")
    item_id: str = Field(min_length=1, max_length=MAX_ID, description="a catalog item id", examples=["1"])
    type: Literal["watched", "rated", "liked", "disliked", "skipped"]
    rating: Annotated[float, Strict()] | None = Field(None, ge=0, le=5, description="rated only: 0-5 (MovieLens' scale)")
    timestamp: Annotated[int, Strict()] | None = Field(None, ge=0, description="unix seconds; null: when the server receives it")

    @field_validator("item_id", "event_id", mode="before")
    @classmethod
    def _int_id(cls, v):
        return str(v) if isinstance(v, int) and not isinstance(v, bool) else v  # MovieLens ids are numbers

    @model_validator(mode="after")
    def _rating_matches_type(self):
        if self.type == "rated" and self.rating is None:
            raise ValueError("a 'rated' event needs a rating (0-5)")
        if self.type != "rated" and self.rating is not None:
            raise ValueError(f"only 'rated' events carry a rating; send null for {self.type!r}")
        if self.timestamp is not None and self.timestamp > time.time() + FUTURE_SLACK_S:
            raise ValueError("timestamp is in the future: send unix seconds, not milliseconds")
        return self


class InteractionsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    events: list[EventIn] = Field(min_length=1)


class ProfileIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str | None = Field(..., description="the user's own profile text; null or \"\" clears it")


def _message(e: ValidationError) -> tuple[str, str | None]:
    """'events.0.type: Input should be ...' and its param, from pydantic's first error."""
    first = e.errors()[0]
    loc = ".".join(str(x) for x in first.get("loc", ()))
    msg = str(first.get("msg")).removeprefix("Value error, ")
    return (f"{loc}: {msg}" if loc else msg), (loc or None)


def check_user(user_id: str) -> str:
    """The user id of a path, refused when empty, too long, with control characters, or holding
    U+FFFD: the path's percent-decoding puts that in place of bytes that are not UTF-8 (`%ED%A0%80`),
    so distinct broken ids would otherwise all name the same user."""
    if not user_id or len(user_id) > MAX_ID or any(ord(c) < 32 or ord(c) == 127 for c in user_id):
        raise InvalidRequest(f"user id must be 1-{MAX_ID} printable characters", param="user")
    if "\ufffd" in user_id:
        raise InvalidRequest("user id is not valid UTF-8 (or holds U+FFFD): percent-encode the id's UTF-8 bytes",
                             param="user")
    return user_id


def parse_events(data, limit: int) -> list[EventIn]:
    """The events of a POST body: {"events": [...]}, one event object, or a list of events."""
    if isinstance(data, dict) and "events" not in data:
        data = {"events": [data]}
    elif isinstance(data, list):
        data = {"events": data}
    if not isinstance(data, dict):
        raise InvalidRequest("body must be an event object, a list of events or {\"events\": [...]}")
    if isinstance(data.get("events"), list) and len(data["events"]) > limit:
        raise RequestTooLarge(f"{len(data['events'])} events in one request; the limit is {limit} "
                              "(MARQUEE_MAX_EVENTS_PER_REQUEST): send them in several requests",
                              param="events", code="too_many_events")
    try:
        return InteractionsIn.model_validate(data).events
    except ValidationError as e:
        msg, param = _message(e)
        raise InvalidRequest(msg, param=param) from None


def parse_profile(data, max_chars: int) -> str | None:
    try:
        text = ProfileIn.model_validate(data).text
    except ValidationError as e:
        msg, param = _message(e)
        raise InvalidRequest(msg, param=param) from None
    text = " ".join(text.split()) if text else None
    if text and len(text) > max_chars:
        raise InvalidRequest(f"profile text is {len(text)} characters; the limit is {max_chars} (MARQUEE_PROFILE_CHARS)",
                             param="text", code="profile_too_long")
    return text


class Users:
    """The recommender's profile store, writer and background updater, for the routes."""

    def __init__(self, rec: Recommender):
        if rec.profiles is None:
            rec.profiles = ProfileStore(rec.settings.profiles_file)
        self.rec = rec
        self.store: ProfileStore = rec.profiles
        self.writer = ProfileWriter(rec.settings, rec.items, rec.titles, rec.prompts, rec.llm)
        self.updater = ProfileUpdater(self.store, rec.stored_history, self.writer, rec.settings.profile_debounce_s,
                                      max_pending=rec.settings.max_profile_rewrites)

    async def add(self, user_id: str, data) -> dict:
        s = self.rec.settings
        user_id = check_user(user_id)
        events = parse_events(data, s.max_events_per_request)
        for i, e in enumerate(events):
            if e.item_id not in self.rec.items:
                raise NotFound(f"events.{i}.item_id: no catalog item with id {e.item_id!r}",
                               param=f"events.{i}.item_id", code="item_not_found")
        result = await asyncio.to_thread(
            self.store.add, user_id, [Event(e.event_id, e.item_id, e.type, e.rating, e.timestamp) for e in events])
        if result.stored:
            self.updater.schedule(user_id)
        history = await asyncio.to_thread(self.rec.stored_history, user_id)
        return {"object": "marquee.interactions", "user": user_id, "accepted": len(result.stored),
                "stored": list(result.stored), "duplicates": list(result.duplicates),
                "history_size": len(history.entries) if history else 0,
                "profile_pending": self.updater.pending(user_id)}

    async def get(self, user_id: str) -> dict:
        user_id = check_user(user_id)

        def read():
            return self.rec.stored_history(user_id), self.store.profile(user_id), self.store.last_seq(user_id)

        history, prof, last = await asyncio.to_thread(read)
        if history is None:
            raise NotFound(f"no history or profile for user {user_id!r}: post interactions to "
                           f"/v1/users/{{user}}/interactions or write a profile with PUT", param="user",
                           code="user_not_found")
        stale = bool(history.entries) and (prof is None or not prof.auto_text or prof.auto_seq < last)
        if stale and not self.updater.pending(user_id):
            self.updater.schedule(user_id, delay=0)  # e.g. a catalog user's first look, or after a restart
        return await asyncio.to_thread(self.view, user_id, prof, history, stale)

    async def put(self, user_id: str, data) -> dict:
        user_id = check_user(user_id)
        text = parse_profile(data, self.rec.settings.profile_chars)
        prof = await asyncio.to_thread(self.store.set_user_text, user_id, text)
        history = await asyncio.to_thread(self.rec.stored_history, user_id)
        return await asyncio.to_thread(self.view, user_id, prof, history, self.updater.pending(user_id))

    def view(self, user_id: str, prof: Profile | None, history, pending: bool) -> dict:
        """The GET answer (reads the store: call it in a thread). Before the first written text exists, `text` is the fact-built profile
        (source "facts", not stored) and `pending` is true while the writer works."""
        entries = history.entries if history else ()
        text, source = (prof.text, prof.source) if prof and prof.text else ("", None)
        if not text and entries:
            text, source = self.writer.facts_profile(history), "facts"
        recent = self.store.events(user_id, limit=RECENT_EVENTS, newest=True)
        counts = self.store.counts(user_id)
        base = self.rec.histories.get(user_id)
        return {
            "object": "marquee.profile",
            "user": user_id,
            "profile": {
                "text": text or None,
                "source": source,  # "user" (edited), "llm", "facts" or null
                "edited": bool(prof and prof.edited),
                "version": prof.version if prof else 0,
                "updated_at": (prof.user_updated_at if prof.edited else prof.auto_updated_at) if prof else None,
                "events_seen": self.store.count_upto(user_id, prof.auto_seq) if prof else 0,
                "pending": pending,
                "auto": {"text": prof.auto_text or None, "source": prof.auto_source or None,
                         "updated_at": prof.auto_updated_at, "rejected": list(prof.auto_problems)} if prof else None,
            },
            "counts": {**counts, "events": sum(counts.values()), "catalog_history": len(base.entries) if base else 0,
                       "history": len(entries), "excluded": len(history.excluded) if history else 0},
            "history": [
                {"event_id": e.event_id, "item_id": e.item_id, "title": self.rec.items[e.item_id].label
                 if e.item_id in self.rec.items else None, "type": e.type, "rating": e.rating, "timestamp": e.timestamp}
                for e in recent
            ],
        }
