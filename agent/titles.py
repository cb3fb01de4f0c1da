"""Find catalog titles named in free text: "I loved Alien and Heat" -> [Alien (1979), Heat (1995)].

How: every title (and its "a.k.a." alias) is normalised (lower case, accents and punctuation
dropped, a leading article removed) into an index. The text is scanned for word n-grams that
match an index key, longest match first, left to right. Ambiguous keys (several films share a
title) pick the film named with a year in the text ("Dune (2021)", "Dune 1984"), else the most
watched one. Single-word matches must be capitalised in the text and not a common word, so
"watch it tonight" does not find the film "It".
Left out: typo tolerance and asking back on ambiguity (issue 7).
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass

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

    def lookup(self, title: str) -> list[Item]:
        return list(self._by_key.get(normalise(title), ()))

    def find(self, text: str) -> list[TitleMatch]:
        """Titles mentioned in `text`, in order of appearance, without overlaps or repeats."""
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
            if hit is None:
                i += 1
                continue
            n, key = hit
            start, end = tokens[i][1], tokens[i + n - 1][2]
            candidates = self._by_key[key]
            item = _pick_by_year(candidates, text[end : end + 8]) or candidates[0]
            if item.item_id not in seen:
                seen.add(item.item_id)
                matches.append(TitleMatch(item, (start, end), text[start:end], len(candidates) > 1))
            i += n
        return matches


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


def _pick_by_year(candidates: list[Item], after: str) -> Item | None:
    m = re.match(r"\s*\(?((?:19|20)\d\d)\)?", after)
    if not m or len(candidates) < 2:
        return None
    year = int(m.group(1))
    return next((c for c in candidates if c.year == year), None)
