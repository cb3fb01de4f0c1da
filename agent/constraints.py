"""Hard constraints read from the whole conversation: genres, runtime, years, named films, a choice set.

    c = parse_conversation(messages, titles, catalog)   # every user turn, in order
    c.allows(item)          # True when the item satisfies every constraint
    c.describe()            # "excluding Horror; runtime <= 120 min"  (catalog= adds the named films)

What is read (later turns refine earlier ones; a later bound replaces the same bound):
  genres   "not horror", "no horror or sci-fi", "nothing scary" exclude (they add up over turns);
           "a comedy", "some sci-fi", "westerns", "something funny" include: any of the turn's
           genres, replacing an earlier include. A genre mentioned last as excluded is not
           included, and the other way round.
  runtime  "under two hours", "less than 90 minutes" (<=), "at least 2h" (>=); "something
           shorter"/"longer": than the shortest/longest film of the assistant's previous answer
           (served lines "1. Title (year): ..." or the JSON list).
  years    "from the 80s", "late 90s", "after 2000", "since 1995", "before 1980",
           "between 1990 and 2000", "recent" (the catalog's newest five years).
  films    "I've seen X" (history, not liked), "I didn't like X" (history, disliked), "not X" /
           "except X" (excluded only), "I haven't seen X" (nothing); any other named film is liked
           (agent/recommender puts roles into the history).
  choice   "which of these should I watch: A, B or C?" -> only_items; names that match no catalog
           film get a note. A later turn asking for something else ("other films") drops the set.
  lifting  "horror is fine now", "I don't mind comedy" drop that genre's exclusion; "any length",
           "any decade" drop the runtime or year bounds.
The turns come read by agent/understand (titles over the whole text first, then references to
earlier answers, "#2", "the second one", which act as named films: roles, choice sets).
Conservative by design: only the patterns above count (a genre word alone is no constraint),
catalog titles are masked before reading ("Horror Express" is a film, not an exclusion), ages
("in my 30s") are not decades, and an unclear phrase is left unconstrained.
Left out: moods beyond "scary"/"funny", cast (not in the data); "more like #2" and diversity are
agent/conversation's.
"""

from __future__ import annotations

from dataclasses import dataclass

from agent.phrases import (  # noqa: F401  (the role names are part of this module's interface)
    CHOICE, CHOICE_DROP, DISLIKED, EXCLUDED, GENRE_LEXICON, LIKED, LONGER, SEEN, SHORTER, UNSEEN,
    answer_items, catalog_genre, genre_mentions, lifts, mask_titles, roles, runtime_mentions,
    strip_constraints, year_mentions,
)
from agent.titles import TitleIndex
from agent.types import Item

HISTORY_ROLES = (LIKED, SEEN, DISLIKED)  # named films that become history (and are never recommended)


@dataclass(frozen=True)
class Constraints:
    exclude_genres: frozenset[str] = frozenset()
    include_genres: frozenset[str] = frozenset()  # any one of them
    max_runtime: int | None = None  # minutes, inclusive
    min_runtime: int | None = None
    year_min: int | None = None  # inclusive
    year_max: int | None = None
    exclude_items: frozenset[str] = frozenset()  # item ids never to recommend
    only_items: tuple[str, ...] = ()  # a choice set, in the order named
    roles: tuple[tuple[str, str], ...] = ()  # (item_id, role) for every named film, first mention first
    notes: tuple[str, ...] = ()

    @property
    def metadata(self) -> bool:
        """True when a genre, runtime or year constraint is set (the ones a store can filter on)."""
        return bool(self.exclude_genres or self.include_genres) or any(
            v is not None for v in (self.max_runtime, self.min_runtime, self.year_min, self.year_max))

    def __bool__(self) -> bool:
        return self.metadata or bool(self.exclude_items or self.only_items)

    def matches(self, item: Item) -> bool:
        """Genre, runtime and year constraints only; unknown runtime or year never satisfies a bound.

        >>> c = Constraints(exclude_genres=frozenset({"Horror"}), max_runtime=120)
        >>> c.matches(Item("1", "Heat", 1995, ("Crime",), runtime=170)), c.matches(Item("2", "Up", 2009, runtime=96))
        (False, True)
        >>> c.matches(Item("3", "Unknown length", 2000))
        False
        """
        genres = set(item.genres)
        if genres & self.exclude_genres or (self.include_genres and not genres & self.include_genres):
            return False
        for value, lo, hi in ((item.runtime, self.min_runtime, self.max_runtime),
                              (item.year, self.year_min, self.year_max)):
            if (lo is not None or hi is not None) and value is None:
                return False
            if (lo is not None and value < lo) or (hi is not None and value > hi):
                return False
        return True

    def allows(self, item: Item) -> bool:
        if item.item_id in self.exclude_items or (self.only_items and item.item_id not in self.only_items):
            return False
        return self.matches(item)

    def describe(self, catalog: dict[str, Item] | None = None) -> str:
        """One line for notes and prompts; the named films only when `catalog` is given.

        >>> Constraints(exclude_genres=frozenset({"Horror", "War"}), max_runtime=120, year_min=1980,
        ...             year_max=1989).describe()
        'excluding Horror, War; runtime <= 120 min; years 1980-1989'
        >>> Constraints(include_genres=frozenset({"Comedy", "Sci-Fi"}), min_runtime=90, year_min=2001).describe()
        'only Comedy or Sci-Fi; runtime >= 90 min; year >= 2001'
        """
        parts = []
        if self.exclude_genres:
            parts.append("excluding " + ", ".join(sorted(self.exclude_genres)))
        if self.include_genres:
            parts.append("only " + " or ".join(sorted(self.include_genres)))
        parts += [p for p in (_bounds("runtime", self.min_runtime, self.max_runtime, " min"),
                              _bounds("year", self.year_min, self.year_max, "")) if p]
        if catalog is not None:
            label = lambda ids: ", ".join(catalog[i].label for i in ids if i in catalog)  # noqa: E731
            if self.exclude_items:
                parts.append("not " + label(sorted(self.exclude_items)))
            if self.only_items:
                parts.append("only among " + label(i for i in self.only_items if i not in self.exclude_items))
        return "; ".join(parts)

    def as_dict(self) -> dict:
        return {"exclude_genres": sorted(self.exclude_genres), "include_genres": sorted(self.include_genres),
                "max_runtime": self.max_runtime, "min_runtime": self.min_runtime, "year_min": self.year_min,
                "year_max": self.year_max, "exclude_items": sorted(self.exclude_items),
                "only_items": list(self.only_items), "roles": [list(r) for r in self.roles],
                "notes": list(self.notes), "summary": self.describe()}


def _bounds(name: str, lo: int | None, hi: int | None, unit: str) -> str:
    if lo is not None and hi is not None:
        if lo == hi:
            return f"{name} {lo}{unit}"
        return f"{name}{'s' if name == 'year' else ''} {lo}-{hi}{unit}"
    if hi is not None:
        return f"{name} <= {hi}{unit}"
    if lo is not None:
        return f"{name} >= {lo}{unit}"
    return ""


# ---- the conversation -------------------------------------------------------------------------
def parse_conversation(messages: list[dict], titles: TitleIndex, catalog: dict[str, Item], *,
                       turns: dict | None = None, answers: dict[int, tuple[Item, ...]] | None = None) -> Constraints:
    """Constraints from every user turn, in order; assistant turns supply "shorter"/"longer"'s reference.
    `turns` (message index -> agent.understand.Turn) and `answers` (message index -> films of that
    assistant turn) are the conversation as agent/understand read it once; without them it is read here."""
    if turns is None:
        from agent.understand import read_turns  # the reader imports this module

        turns, answers = read_turns(messages, titles, catalog)
    vocab = {g for it in catalog.values() for g in it.genres}
    newest = max((it.year for it in catalog.values() if it.year), default=None)
    exclude: dict[str, None] = {}
    include: set[str] = set()
    bounds: dict[str, int | None] = {"max_runtime": None, "min_runtime": None, "year_min": None, "year_max": None}
    role_of: dict[str, str] = {}
    only: list[str] = []
    notes: list[str] = []
    last_answer: list[Item] = []
    for idx, msg in enumerate(messages):
        if msg.get("role") == "assistant":
            shown = answers.get(idx) if answers is not None else None
            last_answer = list(shown or ()) or last_answer
            continue
        if idx not in turns:
            continue
        turn = turns[idx]
        matches, masked = turn.matches, turn.masked
        lift_words, lift_runtime, lift_years = lifts(masked)
        for w in lift_words:
            g = catalog_genre(w, vocab) or GENRE_LEXICON[w]
            exclude.pop(g, None)
        if lift_runtime:
            bounds["max_runtime"] = bounds["min_runtime"] = None
        if lift_years:
            bounds["year_min"] = bounds["year_max"] = None
        # genres: the latest mention of a genre decides; a turn's includes replace earlier ones
        ex_words, in_words, _ = genre_mentions(masked)
        turn_in = set()
        for w in in_words:
            g = catalog_genre(w, vocab)
            if g is None:
                notes.append(f"no film in the catalog has the genre '{w}'; not applied")
            else:
                turn_in.add(g)
        for w in ex_words:
            g = catalog_genre(w, vocab) or GENRE_LEXICON[w]
            exclude[g] = None
            turn_in.discard(g)
        if turn_in:
            include = turn_in
            for g in turn_in:
                exclude.pop(g, None)
        include -= set(exclude)
        # runtime and years: a bound set in this turn replaces the same bound; a contradicting older one goes
        hi, lo, _ = runtime_mentions(masked)
        rel = [it.runtime for it in last_answer if it.runtime]
        for pat, word in ((SHORTER, "shorter"), (LONGER, "longer")):
            if pat.search(masked):
                if not rel:
                    notes.append(f"'{word}' needs an earlier answer with known runtimes; not applied")
                elif word == "shorter":
                    hi = min(rel) - 1  # shorter than the shortest film just shown
                else:
                    lo = max(rel) + 1
        y_lo, y_hi, _, y_notes = year_mentions(masked, newest)
        notes += y_notes
        _set_bounds(bounds, "min_runtime", "max_runtime", lo, hi)
        _set_bounds(bounds, "year_min", "year_max", y_lo, y_hi)
        # named films: roles, then a choice set
        if only and CHOICE_DROP.search(masked):
            only = []
        turn_roles = roles(masked, matches)
        if turn.choice is not None:
            ids, unknown = turn.choice
            only = list(ids)
            for i in ids:
                turn_roles[i] = CHOICE
            for name in unknown:
                notes.append(f"'{name}' is not a film in the catalog; choosing among the others")
        for iid, role in turn_roles.items():
            role_of[iid] = role  # the latest role wins; the order stays that of the first mention
    ex_items = frozenset(i for i, r in role_of.items() if r in (SEEN, DISLIKED, EXCLUDED))
    return Constraints(
        exclude_genres=frozenset(exclude), include_genres=frozenset(include),
        max_runtime=bounds["max_runtime"], min_runtime=bounds["min_runtime"],
        year_min=bounds["year_min"], year_max=bounds["year_max"],
        exclude_items=ex_items, only_items=tuple(only),
        roles=tuple(role_of.items()), notes=tuple(dict.fromkeys(notes)),
    )


def _set_bounds(bounds: dict, lo_key: str, hi_key: str, lo: int | None, hi: int | None) -> None:
    if lo is not None:
        bounds[lo_key] = lo
        if bounds[hi_key] is not None and bounds[hi_key] < lo and hi is None:
            bounds[hi_key] = None
    if hi is not None:
        bounds[hi_key] = hi
        if bounds[lo_key] is not None and bounds[lo_key] > hi and lo is None:
            bounds[lo_key] = None

