"""Find catalog titles named in free text: "I loved Alien and Heat" -> [Alien (1979), Heat (1995)].

How: every title is indexed under several normalised keys (lower case, accents and punctuation
dropped, a leading article removed): the display title, the title without its trailing
parentheses, each parenthesised alternate title ("Raiders of the Lost Ark (Indiana Jones and the
Raiders of the Lost Ark)", "Seven (a.k.a. Se7en)"), and, as a weaker key, the part before a
subtitle ("Dr. Strangelove or: How I Learned ..." -> "Dr. Strangelove") when that is no title of
its own (request text only). The text is scanned left to right for the longest word span that matches a key, so a
title that contains another title or an ordinal ("The Hidden Fortress", "The Sixth Sense") is
taken whole; punctuation that ends the catalog title ("Who's Afraid of Virginia Woolf?",
"Airplane!") or starts it ("...And Justice for All") joins the span, and a year right after a
title ("Argo (2012)") belongs to it: it picks among remakes and is never the film "2012".
Ambiguous keys (remakes) pick the film named with a year right after it ("Dune (2021)"), else one
that fits the turn's context (a year or decade elsewhere in the text, "the original" / "the
remake"), else the most watched one; `TitleMatch.how` says which rule picked it.

Evidence: a span counts as a title only when something says it is meant as one
(`TitleMatch.evidence`): quotes, the film's year after it (give or take one), title-like
capitalisation, or a multi-word phrase. In request text (`find(text, strict=True)`, what
agent/understand reads) more is asked: an ordinary word, a genre word or a bare number needs
quotes or the year ("Always recommend ..." is no film Always (1989), "10**9" no films 10 and 9);
a lower-case phrase of under 4 words needs a word beyond function words, genre words and the words
common in the catalog's own plot text ("date night", "a scary movie" are no films; "toy story",
"back to the future" are); a word capitalised only by its place at a sentence start needs to be
rare in that plot text ("Life is beautiful", "Taken together" are no films; "Heat was great" is);
one capitalised word of a longer name is no title ("Flurbo Quest" is not Quest (2017)). List
items after "which of these:" are read by agent/understand with their own evidence (the list).
Typos (`typos=True`, user text only): a run of capitalised words (or a quoted phrase) that
matches no title is compared, by rapidfuzz's ratio (0-100, in C++ through `process.extract`),
with the title keys of similar length; a key of 6+ characters at >= 88 that beats the runner-up
is taken ("Termnator" -> The Terminator), marked how="typo". The work is bounded per text
(`MAX_TYPO_PROBES` probes of at most `_MAX_TYPO_WORDS` words), so a long message costs
milliseconds, not seconds.
Left out: asking back on ambiguity (the pick is stated instead), typos in lower-case text.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_left, bisect_right
from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache

from rapidfuzz import fuzz, process

from agent.types import Item

_ARTICLES = ("the ", "a ", "an ")
_AKA = re.compile(r"\s*\((?:a\.k\.a\.|aka)\s+([^)]*)\)", re.I)
_TRAILING_PAREN = re.compile(r"\s*\(([^()]*)\)\s*$")
_SUBTITLE = re.compile(r"\s+or:\s+|:\s+|\s+-\s+")
_WORD = re.compile(r"(?:[^\W_]|['’&])+")  # letters and digits of any script, apostrophes, "&"
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
# Ordinary English beyond _COMMON: function words, adverbs and the verbs of a request. In request
# text a one-word title from this list needs quotes or a year ("Always recommend ..."), and so does
# a phrase made only of these words ("anything else").
_ORDINARY = _COMMON | frozenset(
    """about above after again against ago ahead all almost alone along already always am
    among another anyone anything anyway anywhere around ask asked away back because been before
    behind being below beside besides better between beyond big both bring came come comes coming
    did didn't doesn't don't done down during each either else enough even ever every everyone
    everything except far few find first found further get gets getting go goes going gone got
    had has hasn't haven't having help her hers herself himself hmm hey how's however i'd i'll
    into isn't itself keep kind know last late later least less let let's little look looking
    lot lots made make many may might mine mind much must myself need needs never nobody none
    nor nothing nowhere off often oh ok okay old once only onto other others otherwise ours
    over own perhaps quite rather right said same say see seem seems she since sometimes
    somewhere soon still such sure take tell than thats that's themselves there's therefore
    thing things think those though through thus till time to together told tomorrow took toward
    towards try trying under unless until upon used very wait was wasn't way well went were
    weren't what whatever whenever where whether while whom whose without won't yeah yet you'd
    you'll you're yourself""".split()
) - {"thing", "things"}  # "The Thing" keeps its title word
_MAX_WORDS = 30  # longest key considered, in words
_MAX_TYPO_WORDS = 6  # longest run of capitalised words tried as a typo
MAX_TYPO_PROBES = 48  # fuzzy look-ups per text, at most
_YEAR_AFTER = re.compile(r"\s*\((?:18|19|20)\d\d\)|\s(?:18|19|20)\d\d(?![\d\w:])")
_FILM_TALK = re.compile(
    r"\s+(?:is|was|'s)\s+(?:(?:just|still|really|so|such|truly)\s+)?(?:my|a|an|one|great|amazing|brilliant|awesome|"
    r"good|fun|fantastic|excellent|wonderful|superb|incredible|the\s+best)\b"
    r"|\s+(?:made|scared|blew|left|gave)\s+me\b", re.I)
_LIST_NEXT = re.compile(r"\s+(?:and|or)\s+[A-Z\"“]|,\s+[A-Z\"“]")  # "Alien, Heat or Ronin?"
_HARD_GAP = re.compile(r"[,;:!?/()\[\]\n]|\s-\s")
_ABBREV = frozenset({"dr", "mr", "mrs", "ms", "st", "jr", "sr", "vs", "vol", "no", "pt"})


def normalise(text: str) -> str:
    """Lower-case, strip accents and punctuation, drop a leading article.

    >>> normalise("The Lord of the Rings: The Two Towers")
    'lord of the rings the two towers'
    >>> normalise("Amélie")
    'amelie'
    """
    words = [_norm_word(w) for w in _WORD.findall(text)]
    s = " ".join(w for w in words if w)
    for art in _ARTICLES:
        if s.startswith(art):
            s = s[len(art):]
            break
    return s


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in text if not unicodedata.combining(ch))


def _norm_word(word: str) -> str:
    """One word as keys hold it: accents folded, lower case, only letters, digits and "&".

    >>> _norm_word("Who's"), _norm_word("Amélie"), _norm_word("8½")
    ('whos', 'amelie', '812')
    """
    return "".join(ch for ch in _fold(word).lower() if ch.isalnum() or ch == "&")


def title_keys(title: str) -> tuple[dict[str, str], dict[str, str]]:
    """(full keys, subtitle-prefix keys) of one display title, each key -> the text it comes from.

    >>> sorted(title_keys("Raiders of the Lost Ark (Indiana Jones and the Raiders of the Lost Ark)")[0])
    ['indiana jones and the raiders of the lost ark', 'raiders of the lost ark', 'raiders of the lost ark indiana jones and the raiders of the lost ark']
    >>> sorted(title_keys("Seven (a.k.a. Se7en)")[0]), sorted(title_keys("Dr. Strangelove or: How I Learned to Stop Worrying")[1])
    (['se7en', 'seven', 'seven a k a se7en'], ['dr strangelove'])
    """
    full = {normalise(title): title, normalise(_AKA.sub("", title)): _AKA.sub("", title)}
    base = title
    while (m := _TRAILING_PAREN.search(base)) and m.start() > 0:
        alt = re.sub(r"^(?:a\.k\.a\.|aka)\s+", "", m.group(1), flags=re.I)
        full.setdefault(normalise(alt), alt)
        base = base[: m.start()]
    full.setdefault(normalise(base), base)
    short = {}
    head = _SUBTITLE.split(base, maxsplit=1)[0]
    if head != base and len(normalise(head).split()) >= 2 and normalise(head) not in full:
        short[normalise(head)] = head
    full.pop("", None)
    return full, short


def _hard_gaps(text: str, tokens: list[tuple[str, int, int]]) -> frozenset[int]:
    """Indexes g of the gaps between tokens g and g + 1 that hold a list separator or a bracket.

    >>> t = "Oh, God!"
    >>> _hard_gaps(t, [(m.group(0), m.start(), m.end()) for m in _WORD.finditer(t)])
    frozenset({0})
    """
    return frozenset(g for g in range(len(tokens) - 1)
                     if _HARD_GAP.search(text, tokens[g][2], tokens[g + 1][1]))


@dataclass(frozen=True)
class TitleMatch:
    item: Item
    span: tuple[int, int]  # character offsets in the text
    text: str
    ambiguous: bool  # several catalog films share this title
    how: str = "exact"  # "exact" | "year" (a year after it) | "context" | "popular" (ambiguous) | "typo" | "reference" | "list"
    others: tuple[Item, ...] = ()  # the films it could also have meant (ambiguous or typo)
    evidence: str = ""  # why it counts as a title: "quoted" | "year" | "capitalised" | "phrase" | "list" | "typo" | "reference"


class TitleIndex:
    def __init__(self, items: list[Item], popularity: dict[str, int] | None = None):
        self._by_key: dict[str, list[Item]] = defaultdict(list)
        self._short: dict[str, list[Item]] = defaultdict(list)
        self._edges: dict[str, tuple[set[str], set[str]]] = defaultdict(lambda: (set(), set()))  # key -> (heads, tails)
        self.popularity = popularity or {}
        self._gaps: dict[str, set[frozenset[int]]] = defaultdict(set)  # key -> where its titles have a separator
        for it in items:
            full, short = title_keys(it.title)
            for table, keys in ((self._by_key, full), (self._short, short)):
                for key, source in keys.items():
                    if it not in table[key]:
                        table[key].append(it)
                    toks = [(m.group(0), m.start(), m.end()) for m in _WORD.finditer(source)]
                    if len(toks) > 1 and _norm_word(toks[0][0]) in ("the", "a", "an") and not key.startswith(
                            _norm_word(toks[0][0]) + " "):
                        toks = toks[1:]  # the key has no article
                    self._gaps[key].add(_hard_gaps(source, toks))
            lead = re.match(r"^[.…]+", it.title)
            tail = re.search(r"[?!.…]+$", _TRAILING_PAREN.sub("", _AKA.sub("", it.title)))
            for key in full | short:
                if lead:
                    self._edges[key][0].add(lead.group(0))
                if tail:
                    self._edges[key][1].add(tail.group(0))
        for key in [k for k in self._short if k in self._by_key]:
            del self._short[key]
        for table in (self._by_key, self._short):
            for its in table.values():
                its.sort(key=lambda i: -self.popularity.get(i.item_id, 0))
        self._prefixes = {" ".join(k.split()[:n]) for table in (self._by_key, self._short) for k in table
                          for n in range(1, min(len(k.split()), _MAX_WORDS) + 1)}
        # words common in the catalog's own plot text: a lower-case phrase of them only ("date night",
        # "home alone") is ordinary English in a request, unless it runs 4+ words ("back to the future")
        df: dict[str, int] = defaultdict(int)
        described = 0
        for it in items:
            if it.overview or it.tagline:
                described += 1
                for w in set(_WORD.findall(f"{it.overview} {it.tagline}".lower())):
                    df[_norm_word(w)] += 1
        cut = max(3, described * 3 // 1000)
        self._usual = frozenset(w for w, c in df.items() if c > cut)
        self._fuzzy_keys = sorted((k for k in self._by_key if len(k) >= 6), key=len)
        self._fuzzy_lens = [len(k) for k in self._fuzzy_keys]
        self.find = lru_cache(maxsize=4096)(self._find)  # the same turns are read by several stages

    def lookup(self, title: str) -> list[Item]:
        """Films whose title (or alternate title, or title before its subtitle) is `title`."""
        key = normalise(title)
        return list(self._by_key.get(key) or self._short.get(key) or ())

    def fuzzy_lookup(self, name: str) -> tuple[list[Item], str | None]:
        """(films, key) of the one title key that `name` is a likely typo of, else ([], None).

        >>> idx = TitleIndex([Item("1", "The Terminator", 1984), Item("2", "Terminal", 2004)])
        >>> [i.label for i in idx.fuzzy_lookup("Termnator")[0]], idx.fuzzy_lookup("Heath")[0]
        (['The Terminator (1984)'], [])
        """
        key = normalise(name)
        if len(key) < 6 or key in self._by_key or key in self._short:
            return [], None
        lo = bisect_left(self._fuzzy_lens, int(len(key) * 0.8))
        hi = bisect_right(self._fuzzy_lens, int(len(key) * 1.25) + 1)
        scored = process.extract(key, self._fuzzy_keys[lo:hi], scorer=fuzz.ratio, score_cutoff=FUZZY_MIN - 2, limit=2)
        if not scored or scored[0][1] < FUZZY_MIN:
            return [], None
        best = scored[0][0]
        if " " not in key and (best.rstrip("s") == key.rstrip("s") or best[0] != key[0]):
            return [], None  # one word: a plural ("Airplanes are fun") or a different first letter is no typo
        if len(scored) > 1 and scored[1][1] >= scored[0][1] - 2:
            return [], None  # two keys fit about equally: no guess
        return list(self._by_key[best]), best

    def _find(self, text: str, typos: bool = False, strict: bool = False) -> tuple[TitleMatch, ...]:
        """Titles mentioned in `text`, in order of appearance, without overlaps or repeats
        (cached: call it as `find(text, typos=False, strict=False)`). `strict`: request text,
        where ordinary words, genre words and numbers need quotes or a year (module docstring)."""
        tokens = [(m.group(0), m.start(), m.end()) for m in _WORD.finditer(text)]
        norm = [_norm_word(t[0]) for t in tokens]
        matches: list[TitleMatch] = []
        seen: set[str] = set()
        probes = [MAX_TYPO_PROBES if typos else 0]
        i = 0
        while i < len(tokens):
            hit = self._longest_at(text, tokens, norm, i, strict)
            how = "exact"
            if hit is None and probes[0] > 0:
                hit = self._typo_at(text, tokens, i, probes)
                how = "typo"
            if hit is None:
                i += 1
                continue
            n, key, evidence, candidates = hit
            start, end = self._edges_of(text, key, tokens[i][1], tokens[i + n - 1][2])
            item = None
            if len(candidates) > 1:
                item, how = _pick_by_year(candidates, text[end: end + 8]), "year"
                if item is None:  # "Heat" is Heat, not The Heat: the title as written, article included
                    written = " ".join(norm[i: i + n])
                    same = [c for c in candidates if _bare_key(c.title) == written]
                    item, how = (same[0], "exact") if len(same) == 1 else (None, how)
                if item is None:
                    item, how = _pick_by_context(candidates, text, start), "context"
                if item is None:
                    item, how = candidates[0], "popular"
            item = item or candidates[0]
            if item.item_id not in seen:
                seen.add(item.item_id)
                others = tuple(c for c in candidates if c is not item)
                matches.append(TitleMatch(item, (start, end), text[start:end], len(candidates) > 1, how, others,
                                          evidence))
            year = _YEAR_AFTER.match(text, end)
            stop = year.end() if year else end  # "Argo (2012)": the year is the title's, not the film "2012"
            i += n
            while i < len(tokens) and tokens[i][1] < stop:
                i += 1
        return tuple(matches)

    def _longest_at(self, text: str, tokens: list[tuple[str, int, int]], norm: list[str], i: int,
                    strict: bool) -> tuple[int, str, str, list[Item]] | None:
        """(words, key, evidence, films) of the longest title with evidence starting at token i."""
        first = i + 1 if norm[i] in ("the", "a", "an") and i + 1 < len(tokens) else i  # keys carry no article
        best = None
        for n in range(1, min(_MAX_WORDS, len(tokens) - first) + 1):
            key = " ".join(norm[first: first + n])
            if key not in self._prefixes:
                break
            films = self._by_key.get(key) or (self._short.get(key) if strict else None)  # heads: requests only
            if not films:
                continue
            hard = _hard_gaps(text, tokens[first: first + n])
            if hard and not any(hard <= allowed for allowed in self._gaps.get(key, ())):
                continue  # "Unforgettable, Summer Rental" is no "An Unforgettable Summer": a comma its title lacks
            span = first - i + n
            evidence = self._evidence(text, tokens, i, span, key, strict, films)
            if evidence:
                best = (span, key, evidence, films)
        if best is None and first != i:
            return None  # "The Hidden" is tried from "Hidden" on the next token anyway
        return best

    def _evidence(self, text: str, tokens: list[tuple[str, int, int]], i: int, n: int, key: str, strict: bool,
                  films: list[Item]) -> str:
        """Why tokens[i: i + n] (key `key`, naming `films`) is meant as a title, or "" when nothing
        says so. A year counts when it is one of the films' (give or take one): "watch 2046" is no
        film The Watch."""
        start, end = self._edges_of(text, key, tokens[i][1], tokens[i + n - 1][2])
        if _quoted(text, start, end):
            return "quoted"
        after = _YEAR_AFTER.match(text, end)
        year = bool(after) and any(f.year and abs(f.year - int(re.sub(r"\D", "", after.group(0)))) <= 1 for f in films)
        words = key.split()
        shown = [t[0] for t in tokens[i: i + n]]
        content = [w for w in shown if w.lower() not in ("the", "a", "an")] or shown
        if len(words) == 1:
            w = content[-1]  # "The Thing": the key word, after any article
            if strict and (w.isdigit() or w.lower() in _ORDINARY or w.lower() in _GENRE_WORDS):
                # "Always recommend", "10**9", "Horror films"; "watch 2012 (2009)" is no The Watch (2012)
                return "year" if year and after.group(0).strip().startswith("(") else ""
            if not (w[0].isupper() or w[0].isdigit()) or (w.lower() in _COMMON and not strict):
                return "year" if year and strict else ""
            if year:
                return "year"
            if strict and _in_longer_name(text, tokens, i, n):
                return ""  # "Flurbo Quest", "Heath Ledger": one word of a longer name is no title
            if strict and _sentence_start(text, start) and _norm_word(w) in self._usual:
                # "Life is beautiful", "Home alone tonight": capitalised by position only, unless
                # what follows talks about a film ("Alien is my favourite", "Alien was great")
                return "capitalised" if _FILM_TALK.match(text, end) or _LIST_NEXT.match(text, end) else ""
            return "capitalised"
        if key in _COMMON or (strict and all(w in _ORDINARY or w.isdigit() for w in words)):
            # "anything else": title case past the first word, or a year, says it is a title
            if year:
                return "year"
            if not re.search(r"\s", text[start:end]) and (end == len(text) or not text[end].isalnum()):
                return "phrase"  # "50/50", "9/11", "11:14": one compact name
            if any(w[0].isupper() for w in content[1:]) or (not _sentence_start(text, start) and content[0][0].isupper()):
                return "capitalised"
            return ""
        if year:
            return "year"
        if strict and len(words) < 4 and not any(w[0].isupper() for w in content[1:]) and not (
                content[0][0].isupper() and not _sentence_start(text, start)) and all(
                w in _ORDINARY or w in _GENRE_WORDS or w in self._usual or w.isdigit() for w in words):
            return ""  # "a scary movie", "date night", "home alone tonight": lower-case ordinary words
        return "phrase"

    def _edges_of(self, text: str, key: str, start: int, end: int) -> tuple[int, int]:
        """The span widened by punctuation that starts or ends the catalog title ("Airplane!")."""
        heads, tails = self._edges.get(key, ((), ()))
        for t in sorted(tails, key=len, reverse=True):
            if text.startswith(t, end):
                end += len(t)
                break
        close = re.compile(r"[.!?…]*\)").match(text, end)
        if close and text.count("(", start, end) > text.count(")", start, end):
            end = close.end()  # "Seven (a.k.a. Se7en)", "(Mon père, ce héros.)": the closing parenthesis
        for h in sorted(heads, key=len, reverse=True):
            if text[:start].endswith(h):
                start -= len(h)
                break
        return start, end

    def _typo_at(self, text: str, tokens: list[tuple[str, int, int]], i: int,
                 probes: list[int]) -> tuple[int, str, str, list[Item]] | None:
        """(words, key, "typo", films) of a likely misspelt title starting at token i: capitalised
        words (small joining words allowed inside), longest first; each look-up spends a probe."""
        word = tokens[i][0]
        if not (word[0].isupper() or word[0].isdigit()) or (word.lower() in _COMMON and word.lower() not in _JOINERS):
            return None
        run = 1
        while i + run < len(tokens) and run < _MAX_TYPO_WORDS:
            w = tokens[i + run][0]
            if not (w[0].isupper() or w[0].isdigit() or w.lower() in _JOINERS):
                break
            if text[tokens[i + run - 1][2]: tokens[i + run][1]].strip(" "):
                break  # a run stops at punctuation or a line end: "Termnator, Heat", "- Made\n- Heat"
            run += 1
        for n in range(run, 0, -1):
            if tokens[i + n - 1][0].lower() in _JOINERS:
                continue
            words = [t[0] for t in tokens[i: i + n]]
            if all(w.lower() in _COMMON for w in words) or len(normalise(" ".join(words))) < 6:
                continue
            if probes[0] <= 0:
                return None
            probes[0] -= 1
            found, key = self.fuzzy_lookup(" ".join(words))
            if found:
                return n, key, "typo", found
        return None


def has_content(text: str) -> bool:
    """True when text has a word beyond filler ("I loved and. What should I watch tonight?" has none).

    >>> has_content("I loved and . What should I watch tonight?")
    False
    >>> has_content("something tense, not horror")
    True
    """
    return any(w.lower() not in _COMMON for w in _WORD.findall(text))


def _bare_key(title: str) -> str:
    """A title's words as written, article kept: "The Heat" -> "the heat"."""
    return " ".join(w for w in (_norm_word(x) for x in _WORD.findall(_TRAILING_PAREN.sub("", _AKA.sub("", title)))) if w)


def _in_longer_name(text: str, tokens: list[tuple[str, int, int]], i: int, n: int) -> bool:
    """True when a capitalised word joins tokens[i: i + n] by a plain space: "Flurbo Quest".

    >>> toks = [(m.group(0), m.start(), m.end()) for m in _WORD.finditer("I met Flurbo Quest, Heat")]
    >>> _in_longer_name("I met Flurbo Quest, Heat", toks, 3, 1), _in_longer_name("I met Flurbo Quest, Heat", toks, 4, 1)
    (True, False)
    """
    def joined(a: int, b: int, other: int) -> bool:
        word = tokens[other][0]
        return text[tokens[a][2]: tokens[b][1]] == " " and word[0].isupper() and word.lower() not in _ORDINARY
    before = i > 0 and joined(i - 1, i, i - 1)
    after = i + n < len(tokens) and joined(i + n - 1, i + n, i + n)
    return bool(before or after)


def _quoted(text: str, start: int, end: int) -> bool:
    """True when text[start:end] stands inside quotes: '"Up"' or '“Her”'."""
    before, after = text[start - 1: start] if start else "", text[end: end + 1]
    return bool(before) and before in "\"'“‘«" and bool(after) and after in "\"'”’»"


def _sentence_start(text: str, start: int) -> bool:
    """True when nothing but a sentence end (or the start of the text) comes before `start`.

    >>> _sentence_start("Always recommend", 0), _sentence_start("Hi. Always", 4), _sentence_start("Dr. Strangelove", 4)
    (True, True, False)
    """
    before = text[:start].rstrip(" \t\"'“‘(")
    if not before or before[-1] in "\n!?:;":
        return True
    if before[-1] == ".":
        word = re.search(r"(\w+)\.$", before)
        return not (word and word.group(1).lower() in _ABBREV)
    return False


FUZZY_MIN = 88  # similarity (0-100) a typo must reach
_JOINERS = frozenset({"of", "the", "and", "a", "an", "in", "on", "to", "&", "for", "at", "from", "with"})
_GENRE_WORDS = frozenset(
    """action adventure animation animated children comedy comedies crime documentary documentaries drama dramas
    fantasy horror musical musicals mystery romance romantic thriller thrillers war western westerns noir
    imax kids family cartoon cartoons scary funny comedic romcom sci fi scifi gory""".split())
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
