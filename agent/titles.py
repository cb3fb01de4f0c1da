"""Find catalog titles named in free text: "I loved Alien and Heat" -> [Alien (1979), Heat (1995)].

How: every title (and its "a.k.a." alias) is normalised (lower case, accents and punctuation
dropped, a leading article removed) into an index. The text is scanned for word n-grams that
match an index key, longest match first, left to right. Ambiguous keys (several films share a
title: remakes) pick the film named with a year right after it ("Dune (2021)", "Dune 1984"), else
one that fits the turn's context (a year or decade elsewhere in the text, "the original" / "the
remake"), else the most watched one; `TitleMatch.how` says which rule picked it, so the answer
can say so. Single-word matches must be capitalised in the text and not a common word, so
"watch it tonight" does not find the film "It".
Typos (`find(text, typos=True)`, for user text only): a run of capitalised words (or a quoted
phrase) that matches no title is compared with every title key of similar length (rapidfuzz's ratio,
0-100); a key of 6+ characters at >= 88 that beats the
runner-up is taken ("Termnator" -> The Terminator), marked how="typo".
Left out: asking back on ambiguity (the pick is stated instead), typos in lower-case text.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache

from rapidfuzz import fuzz

from agent.types import Item

_ARTICLES = ("the ", "a ", "an ")
_AKA = re.compile(r"\s*\((?:a\.k\.a\.|aka)\s+([^)]*)\)", re.I)
_WORD = re.compile(r"[A-Za-z0-9À-ÿ'’&]+")
# Capitalised at a sentence start or common enough that a bare one-word match is unsafe.
_COMMON = frozenset(
    """a an and any are as at be best but by can could do does for from give good have he her
    here him his how i if in is it its just like me more most my new no not now of on one or
    our out please recommend should show similar so some something than that the their them
    then there these they this tonight too up us want was watch we what when which who why
    will with would you your yes hi hello thanks thank also maybe really very love loved liked
    enjoyed films film movie movies seen watched today night both great next suggest suggestions
    what's whats i'm im i've ive""".split()
)
_MAX_WORDS = 12


def normalise(text: str) -> str:
    """Lower-case, strip accents and punctuation, drop a leading article.

    >>> normalise("The Lord of the Rings: The Two Towers")
    'lord of the rings the two towers'
    >>> normalise("Amélie")
    'amelie'
    """
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    words = _WORD.findall(text.lower().replace("’", "'"))
    s = " ".join(w.replace("'", "") for w in words)
    for art in _ARTICLES:
        if s.startswith(art):
            s = s[len(art):]
            break
    return s


@dataclass(frozen=True)
class TitleMatch:
    item: Item
    span: tuple[int, int]  # character offsets in the text
    text: str
    ambiguous: bool  # several catalog films share this title
    how: str = "exact"  # "exact" | "year" (a year after it) | "context" | "popular" (ambiguous) | "typo" | "reference"
    others: tuple[Item, ...] = ()  # the films it could also have meant (ambiguous or typo)


class TitleIndex:
    def __init__(self, items: list[Item], popularity: dict[str, int] | None = None):
        self._by_key: dict[str, list[Item]] = defaultdict(list)
        pop = popularity or {}
        for it in items:
            base = _AKA.sub("", it.title)
            keys = {normalise(base)}
            keys.update(normalise(a) for a in _AKA.findall(it.title))
            for key in keys:
                if key:
                    self._by_key[key].append(it)
        for key, its in self._by_key.items():
            its.sort(key=lambda i: -pop.get(i.item_id, 0))

        self._keys_by_len: dict[int, list[str]] = defaultdict(list)
        for key in self._by_key:
            self._keys_by_len[len(key)].append(key)
        self.find = lru_cache(maxsize=4096)(self._find)  # the same turns are read by several stages

    def lookup(self, title: str) -> list[Item]:
        return list(self._by_key.get(normalise(title), ()))

    def fuzzy_lookup(self, name: str) -> tuple[list[Item], str | None]:
        """(films, key) of the one title key that `name` is a likely typo of, else ([], None).

        >>> idx = TitleIndex([Item("1", "The Terminator", 1984), Item("2", "Terminal", 2004)])
        >>> [i.label for i in idx.fuzzy_lookup("Termnator")[0]], idx.fuzzy_lookup("Heath")[0]
        (['The Terminator (1984)'], [])
        """
        key = normalise(name)
        if len(key) < 6 or key in self._by_key:
            return [], None
        lo, hi = int(len(key) * 0.8), int(len(key) * 1.25) + 1
        scored = sorted(((_similarity(key, k), k) for n in range(lo, hi + 1) for k in self._keys_by_len.get(n, ())
                         if len(k) >= 6), reverse=True)
        if not scored or scored[0][0] < FUZZY_MIN:
            return [], None
        best = scored[0][1]
        if " " not in key and (best.rstrip("s") == key.rstrip("s") or best[0] != key[0]):
            return [], None  # one word: a plural ("Airplanes are fun") or a different first letter is no typo
        if len(scored) > 1 and scored[1][0] >= scored[0][0] - 2 and scored[1][1] != scored[0][1]:
            return [], None  # two keys fit about equally: no guess
        return list(self._by_key[scored[0][1]]), scored[0][1]

    def _find(self, text: str, typos: bool = False) -> tuple[TitleMatch, ...]:
        """Titles mentioned in `text`, in order of appearance, without overlaps or repeats
        (cached: call it as `find(text, typos=False)`)."""
        tokens = [(m.group(0), m.start(), m.end()) for m in _WORD.finditer(text)]
        matches: list[TitleMatch] = []
        seen: set[str] = set()
        i = 0
        while i < len(tokens):
            hit = None
            for n in range(min(_MAX_WORDS, len(tokens) - i), 0, -1):
                words = [t[0] for t in tokens[i : i + n]]
                key = normalise(" ".join(words))
                if key not in self._by_key:
                    continue
                quoted = _quoted(text, tokens[i][1], tokens[i + n - 1][2])
                if (" " not in key or key in _COMMON) and not quoted:
                    w = words[-1]  # "The Thing": the key word, after any article
                    if not (w[0].isupper() or w[0].isdigit()) or w.lower() in _COMMON:
                        continue
                hit = (n, key)
                break
            how = "exact"
            if hit is None and typos:
                hit = self._typo_at(text, tokens, i)
                how = "typo"
            if hit is None:
                i += 1
                continue
            n, key = hit
            start, end = tokens[i][1], tokens[i + n - 1][2]
            candidates = self._by_key[key]
            item = None
            if len(candidates) > 1:
                item, how = _pick_by_year(candidates, text[end : end + 8]), "year"
                if item is None:
                    item, how = _pick_by_context(candidates, text, start), "context"
                if item is None:
                    item, how = candidates[0], "popular"
            item = item or candidates[0]
            if item.item_id not in seen:
                seen.add(item.item_id)
                others = tuple(c for c in candidates if c is not item)
                matches.append(TitleMatch(item, (start, end), text[start:end], len(candidates) > 1, how, others))
            i += n
        return tuple(matches)

    def _typo_at(self, text: str, tokens: list[tuple[str, int, int]], i: int) -> tuple[int, str] | None:
        """(words, key) of a likely misspelt title starting at token i: capitalised words (small
        joining words allowed inside) or a quoted phrase, longest first."""
        word = tokens[i][0]
        if not (word[0].isupper() or word[0].isdigit()) or (word.lower() in _COMMON and word.lower() not in _JOINERS):
            return None
        run = 1
        while i + run < len(tokens) and run < _MAX_WORDS:
            w = tokens[i + run][0]
            if not (w[0].isupper() or w[0].isdigit() or w.lower() in _JOINERS):
                break
            if re.search(r"[.!?,;:]", text[tokens[i + run - 1][2]: tokens[i + run][1]]):
                break  # a run stops at punctuation: "Termnator, Heat"
            run += 1
        for n in range(run, 0, -1):
            if tokens[i + n - 1][0].lower() in _JOINERS:
                continue
            words = [t[0] for t in tokens[i: i + n]]
            if all(w.lower() in _COMMON for w in words):
                continue
            found, key = self.fuzzy_lookup(" ".join(words))
            if found:
                return n, key
        return None


def has_content(text: str) -> bool:
    """True when text has a word beyond filler ("I loved and. What should I watch tonight?" has none).

    >>> has_content("I loved and . What should I watch tonight?")
    False
    >>> has_content("something tense, not horror")
    True
    """
    return any(w.lower() not in _COMMON for w in _WORD.findall(text))


def _quoted(text: str, start: int, end: int) -> bool:
    """True when text[start:end] stands inside quotes: '"Up"' or '“Her”'."""
    before, after = text[start - 1 : start], text[end : end + 1]
    return bool(before) and before in "\"'“‘«" and bool(after) and after in "\"'”’»"


FUZZY_MIN = 88  # similarity (0-100) a typo must reach
_JOINERS = frozenset({"of", "the", "and", "a", "an", "in", "on", "to", "&", "for", "at", "from", "with"})
_ERA = re.compile(r"\b(?:(?P<y>(?:18|19|20)\d\d)|(?:(?P<c>19|20)|')?(?P<d>\d)0'?s)\b")
_ORIGINAL = re.compile(r"\b(?:original|first|old|older|classic)\s+(?:one\s+|version\s+)?$", re.I)
_NEWER = re.compile(r"\b(?:new|newer|newest|latest|recent|remake(?:\s+of)?)\s+(?:one\s+|version\s+)?$", re.I)


def _similarity(a: str, b: str) -> float:
    """0-100: rapidfuzz's ratio (difflib's measure, in C++).

    >>> round(_similarity("termnator", "terminator"))
    95
    """
    return float(fuzz.ratio(a, b))


def _pick_by_context(candidates: list[Item], text: str, start: int) -> Item | None:
    """The remake the turn points at: "the original Dune" (oldest), "the new Dune" (newest), or a
    year or decade named anywhere in the text ("Dune, the 80s one"). None when nothing says.

    >>> films = [Item("1", "Dune", 1984), Item("2", "Dune", 2021)]
    >>> [_pick_by_context(films, t, t.index("Dune")).year for t in ("the new Dune", "the Dune from the 80s")]
    [2021, 1984]
    """
    before = text[max(0, start - 30): start]
    dated = sorted((c for c in candidates if c.year), key=lambda c: c.year)
    if not dated:
        return None
    if _ORIGINAL.search(before):
        return dated[0]
    if _NEWER.search(before):
        return dated[-1]
    for m in _ERA.finditer(text):
        if m.group("y"):
            lo = hi = int(m.group("y"))
        else:
            century = m.group("c") or ("20" if int(m.group("d")) <= 2 else "19")
            lo = int(century + m.group("d") + "0")
            hi = lo + 9
        hit = [c for c in dated if lo <= c.year <= hi]
        if len(hit) == 1:
            return hit[0]
    return None


def _pick_by_year(candidates: list[Item], after: str) -> Item | None:
    m = re.match(r"\s*\(?((?:19|20)\d\d)\)?", after)
    if not m or len(candidates) < 2:
        return None
    year = int(m.group(1))
    return next((c for c in candidates if c.year == year), None)
