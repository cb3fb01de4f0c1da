"""Frozen data that flows between the stages. No behaviour beyond small derived properties.

    Item            one catalog entry (a film) with its text facts
    Interaction     one (user, item, rating, time) event from a log
    UserHistory     what we know a user has seen, oldest first, with likes marked
    Candidate       an item proposed by retrieval, with its fused score and provenance
    RankedItem      a recommendation with its explanation
    Recommendation  the full answer to one request
    SoftPreferences what a request prefers without requiring it (genres, mood/theme words, era, popularity)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # agent/explain imports this module; the annotation only names its type
    from agent.explain.evidence import Evidence


@dataclass(frozen=True)
class Item:
    item_id: str
    title: str  # display title without the year, e.g. "Matrix, The" -> "The Matrix"
    year: int | None = None
    genres: tuple[str, ...] = ()
    overview: str = ""
    tagline: str = ""
    tags: tuple[str, ...] = ()  # user tags (MovieLens tags.csv), most frequent first
    keywords: tuple[str, ...] = ()  # TMDB keywords
    runtime: int | None = None  # minutes
    media_text: tuple[tuple[str, str], ...] = ()  # (modality label, derived text), e.g. ("Poster text", "TOY STORY")

    @property
    def label(self) -> str:
        """'Heat (1995)': how the item is named to users and to the LLM."""
        return f"{self.title} ({self.year})" if self.year else self.title


@dataclass(frozen=True)
class Interaction:
    user_id: str
    item_id: str
    rating: float | None  # None for implicit feedback (watched)
    timestamp: int


@dataclass(frozen=True)
class HistoryEntry:
    item_id: str
    liked: bool  # see README "How ratings map to likes"
    rating: float | None = None
    disliked: bool = False  # said so in the chat ("I didn't like Heat"): never drives retrieval


@dataclass(frozen=True)
class UserHistory:
    user_id: str | None
    entries: tuple[HistoryEntry, ...] = ()  # oldest first
    profile: str = ""  # the user's stored interest profile (agent/profiles), "" when none: no prompt line
    excluded: frozenset[str] = frozenset()  # never recommended but not history, e.g. recently skipped films

    @property
    def seen(self) -> frozenset[str]:
        return frozenset(e.item_id for e in self.entries)

    def recent(self, n: int) -> tuple[HistoryEntry, ...]:
        return self.entries[-n:] if n > 0 else ()


@dataclass(frozen=True)
class SoftPreferences:
    """Preferences read from the request that rank rather than filter (agent/understand.py fills it,
    agent/retrieval.py reads it). Hard limits ("under two hours", "no horror") are Constraints."""
    genres: tuple[str, ...] = ()  # catalog genre names, e.g. ("Animation", "Comedy")
    terms: tuple[str, ...] = ()  # mood/theme words left after titles and constraints are cut, e.g. ("quiet", "heist")
    popularity: str | None = None  # "popular" | "obscure" ("hidden gem", "something obscure") | None
    decade: int | None = None  # 1990 for "from the 90s"
    avoid: tuple[str, ...] = ()  # moods asked away: "not too violent" -> ("violent",); films carrying them go last

    @property
    def empty(self) -> bool:
        return not (self.genres or self.terms or self.popularity or self.decade or self.avoid)


@dataclass(frozen=True)
class Candidate:
    item: Item
    score: float  # fused retrieval score, higher is better
    sources: tuple[str, ...] = ()  # e.g. ("query", "history")


@dataclass(frozen=True)
class RankedItem:
    item: Item
    rank: int  # 1-based
    explanation: str
    explanation_source: str  # "llm": LLM-written, passed agent/explain/verify; "facts": the evidence fallback
    score: float | None = None  # what the order was made with (non-increasing by rank); None: the LLM's own order
    from_llm: bool = True  # True exactly when the LLM wrote the explanation (explanation_source == "llm")
    evidence: Evidence | None = None  # the facts the explanation was written from (agent/explain/evidence)


@dataclass(frozen=True)
class Ranking:
    """The final order of the top n, known as soon as the one-pass ranking forward pass returns and
    before any explanation is written: streamed first, so a client sees its first film at once."""
    items: tuple[Item, ...]
    scores: tuple[float, ...]


@dataclass(frozen=True)
class Recommendation:
    items: tuple[RankedItem, ...]
    query: str
    history: UserHistory
    candidates: tuple[Candidate, ...]
    filled: int = 0  # how many items came from retrieval order because the LLM gave too few valid ones
    dropped: tuple[str, ...] = ()  # why LLM outputs were dropped, e.g. "duplicate:123"
    prompt_tokens: int = 0
    completion_tokens: int = 0
    notes: tuple[str, ...] = field(default_factory=tuple)
    remarks: tuple[str, ...] = ()  # told to the user before the list: how remakes, typos, "#2" were read
    question: str = ""  # one short clarifying question after the list (a vague first request), or ""
    diagnostics: tuple[str, ...] = ()  # for developers only (logs, the `marquee` extension): why texts were replaced
