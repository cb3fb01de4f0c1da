"""Living user profiles, the text half: a short natural-language interest profile per user, written
by the LLM, checked against the user's history, updated incrementally in the background.

    writer = ProfileWriter(settings, items, titles, prompts, llm)
    result = await writer.write(previous="", history=h, new=[])        # first profile, from the history
    result = await writer.write(previous=text, history=h, new=events)  # update: old text + new events only
    result.text, result.source ("llm" | "facts"), result.problems

    updater = ProfileUpdater(store, history_of, writer, debounce_s)
    updater.schedule(user)   # after new events: one rewrite once the user has been quiet for debounce_s

Grounding: the LLM's text is checked with agent/grounding.check against the user's history as if
the history were one film: every genre word must be a genre of a history film, every catalog title
one of the history's films, every year or decade a history film's, every capitalised name found in
the history's text, and it must mention at least one of the history's genres, tags or titles. A
text that fails (or an LLM error) is replaced by one built from facts (prompts/facts_profile.j2):
the top genres and tags of the liked films, two liked films, the genres of disliked films that
the liked ones lack. Blind spots, as for explanations: moods ("slow-burn"), negation ("avoids
horror" passes when any history film is horror), paraphrase.

Incremental: the store remembers the last event each written text has taken in (auto_seq); an
update shows the LLM the current text and only the events after it, never the whole history again.
The user's own text (PUT) is never overwritten: the writer keeps updating the auto text beside it.
Left out: summarising histories longer than PROFILE_HISTORY films in the first profile.
"""

from __future__ import annotations

import asyncio
import logging
import re
import uuid
import weakref
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from agent.config import Settings
from agent.errors import MarqueeError
from agent.grounding import GENRE_WORDS, Facts, check, tidy
from agent.llm.base import LLM, GenerationRequest
from agent.profiles import ProfileStore, Profile, StoredEvent
from agent.prompts import Prompts
from agent.titles import TitleIndex
from agent.types import Item, UserHistory

log = logging.getLogger("marquee.profiles")
PROFILE_HISTORY = 30  # films shown to the LLM for a first profile (most recent), and new events per update
CHECK_HISTORY = 300  # most recent history films a profile may draw on (bounds the check's cost)
NO_GENRE = "(no genres listed)"
# the prompt's own lines copied back ("- liked: Heat (1995) [...]", "Current profile: ..."): every
# word of them is in the history, so the grounding check alone would pass a copied film list
PROMPT_ECHO = re.compile(r"(?im)(?:^|[.;]\s+)[-*\u2022]\s|\b(?:liked|disliked|watched|skipped|rated\s+[\d.]+)\s*:"
                         r"|\bcurrent profile\s*:|\bnew activity\b|\bfilms the viewer\b")


@dataclass(frozen=True)
class WriteResult:
    text: str
    source: str  # "llm" | "facts"
    problems: tuple[str, ...] = ()  # why the LLM's text was rejected ("genre:western", "llm:error ..."), if it was
    llm_text: str = ""  # what the LLM wrote, rejected or not ("" without an LLM call)


def _verb(entry) -> str:
    if entry.disliked:
        return "disliked"
    if entry.rating is not None:
        return f"rated {entry.rating:g}"
    return "liked" if entry.liked else "watched"


def _event_verb(e: StoredEvent) -> str:
    return f"rated {e.rating:g}" if e.type == "rated" else e.type


class ProfileWriter:
    def __init__(self, settings: Settings, items: dict[str, Item], titles: TitleIndex, prompts: Prompts,
                 llm: LLM | None):
        self.settings = settings
        self.items = items
        self.titles = titles
        self.prompts = prompts
        self.llm = llm
        # genre names as written in the catalog ("Sci-Fi"), so checks can read them as genre words
        self._genre_re = re.compile(r"\b(" + "|".join(sorted((re.escape(g) for g in GENRE_WORDS.values()),
                                                             key=len, reverse=True)) + r")\b")

    # ---- facts ---------------------------------------------------------------------------------
    def history_items(self, history: UserHistory, limit: int = CHECK_HISTORY) -> list[Item]:
        return [self.items[e.item_id] for e in history.entries[-limit:] if e.item_id in self.items]

    def facts_profile(self, history: UserHistory) -> str:
        """A profile in which every word comes from the history (see the module docstring); "" for no history."""
        entries = [e for e in history.entries[-CHECK_HISTORY:] if e.item_id in self.items]
        if not entries:
            return ""
        liked = [self.items[e.item_id] for e in entries if e.liked]
        disliked = [self.items[e.item_id] for e in entries if e.disliked]
        base = liked or [self.items[e.item_id] for e in entries if not e.disliked]
        genres = Counter(g for it in base for g in it.genres if g != NO_GENRE)
        top = [g for g, _ in genres.most_common(3)]
        tags = Counter(t.lower() for it in base for t in dict.fromkeys((*it.tags[:5], *it.keywords[:5])))
        common = [t for t, c in tags.most_common(3) if c >= 2 and len(t) <= 24]
        bad = Counter(g for it in disliked for g in it.genres if g != NO_GENRE and g not in genres)
        verb = "Likes" if liked else "Has watched"
        examples = [it.label for it in base[-2:][::-1]]
        for n_ex, n_tags in ((2, 3), (1, 2), (0, 0)):  # shorten until it fits
            text = self.prompts.render("facts_profile.j2", verb=verb, genres=top, tags=common[:n_tags],
                                       examples=examples[:n_ex], avoids=[g for g, _ in bad.most_common(2)])
            if len(text) <= self.settings.profile_chars:
                return text
        return tidy(text, self.settings.profile_chars)

    def check(self, text: str, history: UserHistory) -> list[str]:
        """Problems of a profile text against the user's history (empty list: grounded)."""
        hist = self.history_items(history)
        if not hist:
            return ["empty:no history to ground the profile in"]
        if PROMPT_ECHO.search(text):
            return ["echo:the text repeats the prompt's film list instead of describing the viewer"]
        pooled = Item(
            "__profile__", "", None, tuple(dict.fromkeys(g for it in hist for g in it.genres)),
            " ".join(it.overview for it in hist), " ".join(it.tagline for it in hist),
            tuple(dict.fromkeys(t for it in hist for t in it.tags)), tuple(dict.fromkeys(k for it in hist for k in it.keywords)),
        )
        # "Likes Sci-Fi and Action" is genre talk, not a name: genre names are checked as genre words
        plain = self._genre_re.sub(lambda m: m.group(1).lower(), text)
        return check(plain, Facts(pooled, tuple(hist)), self.titles)

    # ---- the LLM ----------------------------------------------------------------------------
    def prompt(self, previous: str, history: UserHistory, new: list[StoredEvent]) -> list[dict[str, str]]:
        if previous:
            films = [self._view(e.item_id, _event_verb(e)) for e in new[-PROFILE_HISTORY:] if e.item_id in self.items]
        else:
            films = [self._view(e.item_id, _verb(e)) for e in history.entries[-PROFILE_HISTORY:] if e.item_id in self.items]
        return [
            {"role": "system", "content": self.prompts.render("profile_system.j2", max_chars=self.settings.profile_chars)},
            {"role": "user", "content": self.prompts.render("profile_user.j2", previous=previous, films=films)},
        ]

    def _view(self, item_id: str, verb: str) -> dict:
        it = self.items[item_id]
        return {"verb": verb, "label": it.label, "genres": [g for g in it.genres if g != NO_GENRE],
                "tags": list(dict.fromkeys((*it.tags[:3], *it.keywords[:2])))}

    def clean(self, raw: str) -> str:
        """The model's answer as a profile: one paragraph, no "Profile:" label or quotes, capped."""
        text = raw.strip().split("\n\n")[0]
        text = re.sub(r"^(?:\**\s*)?(?:updated |new |viewer(?:'s)? |interest )*profile\s*:\**\s*", "", text, flags=re.I)
        text = text.strip().strip('"').strip()
        return tidy(text, self.settings.profile_chars) if text else ""

    async def write(self, previous: str, history: UserHistory, new: list[StoredEvent], *, request_id: str = ""
                    ) -> WriteResult:
        """A new profile text: the LLM's when it passes the check, else the fact-built one."""
        problems: list[str] = []
        raw = ""
        if self.llm is not None:
            req = GenerationRequest(self.prompt(previous, history, new), max_tokens=self.settings.profile_chars // 3 + 16,
                                    temperature=0.0, request_id=request_id or f"profile-{uuid.uuid4().hex}",
                                    stop=["\n\n"])
            try:
                raw = (await self.llm.complete(req)).text
            except MarqueeError as e:
                log.warning("profile LLM call failed: %s", e.message)
                problems.append(f"llm:error {type(e).__name__}")
            if not problems:
                text = self.clean(raw)
                problems = self.check(text, history) if text else ["empty:no text"]
                if not problems:
                    return WriteResult(text, "llm", (), raw)
        return WriteResult(self.facts_profile(history), "facts", tuple(problems), raw)


class ProfileUpdater:
    """Debounced background rewrites, one at a time per user. `history_of(user)` gives the merged
    history (catalog + events); the store gives the previous text and the events after it.
    Bounded: at most `max_pending` users wait for a rewrite (beyond that schedule() declines and
    the user's next GET resumes it), `concurrent` rewrites call the LLM at once, per-user locks
    live only while in use (weak values), and store calls run in threads, off the event loop."""

    def __init__(self, store: ProfileStore, history_of: Callable[[str], UserHistory | None], writer: ProfileWriter,
                 debounce_s: float, max_pending: int = 1000, concurrent: int = 2):
        self.store = store
        self.history_of = history_of
        self.writer = writer
        self.debounce_s = debounce_s
        self.max_pending = max_pending
        self._timers: dict[str, asyncio.Task] = {}  # user -> a task still in its debounce sleep
        self._tasks: set[asyncio.Task] = set()
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
        self._writing = asyncio.Semaphore(concurrent)

    def pending(self, user_id: str) -> bool:
        lock = self._locks.get(user_id)
        return user_id in self._timers or (lock is not None and lock.locked())

    def schedule(self, user_id: str, delay: float | None = None) -> bool:
        """(Re)start the user's debounce timer; a rewrite already running is never interrupted.
        False (nothing scheduled) when max_pending rewrites are already waiting."""
        old = self._timers.pop(user_id, None)
        if old is not None:
            old.cancel()
        else:
            live = sum(1 for t in self._tasks if not t.cancelling())  # a re-armed timer's old task may linger
            if live >= self.max_pending:
                log.warning("profile rewrite for user %r not scheduled: %d pending (MARQUEE_MAX_PROFILE_REWRITES)",
                            user_id, live)
                return False
        task = asyncio.get_running_loop().create_task(self._run(user_id, self.debounce_s if delay is None else delay))
        self._timers[user_id] = task
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return True

    async def _run(self, user_id: str, delay: float) -> None:
        await asyncio.sleep(delay)  # a newer schedule() cancels the task here
        if self._timers.get(user_id) is asyncio.current_task():
            del self._timers[user_id]  # past the debounce: no longer cancellable
        try:
            await self.update(user_id)
        except Exception:  # a background job: log it, the next event retries
            log.exception("profile update for user %r failed", user_id)

    async def update(self, user_id: str) -> Profile | None:
        """Bring the user's written profile up to date with their events (no-op when it is)."""
        lock = self._locks.get(user_id)
        if lock is None:
            lock = self._locks[user_id] = asyncio.Lock()
        async with lock, self._writing:
            prof = await asyncio.to_thread(self.store.profile, user_id)
            last = await asyncio.to_thread(self.store.last_seq, user_id)
            history = await asyncio.to_thread(self.history_of, user_id)
            if history is None or not history.entries:
                return prof
            previous = prof.auto_text if prof else ""
            if previous and prof.auto_seq >= last:
                return prof
            new = await asyncio.to_thread(self.store.events, user_id, prof.auto_seq) if previous else []
            result = await self.writer.write(previous, history, new, request_id=f"profile-{uuid.uuid4().hex}")
            if not result.text:
                return prof
            return await asyncio.to_thread(self.store.set_auto, user_id, result.text, result.source, last, result.problems)

    async def drain(self) -> None:
        """Wait for every scheduled and running rewrite (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self) -> None:
        for t in list(self._tasks):
            t.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)
        self._timers.clear()
