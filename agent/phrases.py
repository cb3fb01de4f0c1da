"""The phrase readers behind agent/constraints: what one user turn says about genres, runtime,
years and the films it names. Regular expressions over the turn with catalog titles masked.

    masked = mask_titles(text, titles.find(text))      # "not ############## please"
    genre_mentions(masked)    -> (excluded words, included words, exclusion spans)
    runtime_mentions(masked)  -> (max minutes, min minutes, spans)
    year_mentions(masked, newest_year) -> (year_min, year_max, spans, notes)
    roles(masked, matches)    -> {item_id: "liked" | "seen" | "disliked" | "excluded" | "unseen"}
    lifts(masked)             -> (genre words allowed again, runtime lifted?, years lifted?)

Each reader knows a closed list of patterns and nothing else: no model, no fuzzy matching, no
moods beyond "scary" and "funny". Folding the turns of a conversation is agent/constraints' job.
"""

from __future__ import annotations

import json
import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterable

from agent.grounding import GENRE_WORDS
from agent.titles import _AKA, TitleIndex, TitleMatch, normalise
from agent.types import Item

LIKED, SEEN, DISLIKED, EXCLUDED, UNSEEN, CHOICE = "liked", "seen", "disliked", "excluded", "unseen", "choice"
RECENT_YEARS = 5

# ---- vocabulary -------------------------------------------------------------------------------
GENRE_LEXICON: dict[str, str] = {
    **GENRE_WORDS,
    "scary": "Horror", "funny": "Comedy", "cartoon": "Animation", "cartoons": "Animation",
    "kids": "Children", "children's": "Children", "scifi": "Sci-Fi", "sci fi": "Sci-Fi",
    "comedies": "Comedy", "thrillers": "Thriller", "westerns": "Western", "musicals": "Musical",
    "documentaries": "Documentary", "dramas": "Drama", "romances": "Romance", "mysteries": "Mystery",
    "fantasies": "Fantasy", "adventures": "Adventure", "horrors": "Horror",
}
_PLURALS = frozenset({"comedies", "thrillers", "westerns", "musicals", "documentaries", "dramas", "romances",
                      "mysteries", "fantasies", "cartoons", "horrors"})
_NEEDS_NOUN = frozenset({"war", "children", "kids", "children's", "imax"})  # "no war" / "no kids" are no genre requests
_G = "(?:" + "|".join(re.escape(w).replace(r"\ ", r"\s+") for w in sorted(GENRE_LEXICON, key=len, reverse=True)) + ")"
_GW = rf"(?<![\w-]){_G}(?![\w-])"
_NOUN = r"(?:films?|movies?|flicks?|ones?|pictures?|stuff)"
_FILL = (r"(?:a|an|any|more|too|very|overly|really|so|as|that|particularly|especially|the|of|kind\s+of|sort\s+of|"
         r"super|remotely|even)")
_NEG = (r"(?:not\s+in\s+the\s+mood\s+for|not\s+a\s+(?:big\s+)?fan\s+of|anything\s+but|other\s+than|rather\s+than|"
        r"instead\s+of|no\s+more|don'?t\s+want|do\s+not\s+want|didn'?t\s+like|did\s+not\s+like|don'?t\s+like|"
        r"do\s+not\s+like|can'?t\s+stand|cannot\s+stand|tired\s+of|sick\s+of|not\s+into|not|no|nothing|none|"
        r"without|avoid|except|skip|hate|dislike)")
_EXCLUDE = re.compile(
    rf"\b{_NEG}(?:\s+{_FILL})*\s+(?P<list>{_GW}(?:\s+{_NOUN})?(?:\s*(?:,\s*(?:or|and|nor)?|/|\bor\b|\band\b|\bnor\b)\s*"
    rf"(?:{_FILL}\s+)*{_GW}(?:\s+{_NOUN})?)*)", re.I)
# "an 80s thriller", "a late 90s or 2000s comedy"
_DECADE_MOD = r"(?:(?:early|mid|late)[-\s]+)?(?:19|20)?'?\d0'?s(?:\s+(?:or|and)\s+(?:19|20)?'?\d0'?s)?"
_INCLUDE = [
    re.compile(rf"\b(?:a|an|some|another|any|only|more|just)\s+(?:(?:good|great|fun|light|classic|decent|nice|proper|"
               rf"real|old|little|solid|clever|smart|dark|feel-good)\s+)?(?:{_DECADE_MOD}\s+)?"
               rf"(?P<g>{_GW}(?:\s+{_GW})*)(?!\s+(?:to\s+me|queen|of\s+a)\b)", re.I),
    re.compile(rf"(?P<g>{_GW}(?:\s+{_GW})*)\s+{_NOUN}\b", re.I),
    re.compile(rf"\b(?:something|anything)\s+(?:(?:really|very|properly|genuinely|a\s+bit|a\s+little)\s+)?"
               rf"(?P<g>{_GW})", re.I),
    re.compile(rf"\b(?:in\s+the\s+mood\s+for|looking\s+for|fancy|prefer|craving)\s+(?:{_FILL}\s+)*(?P<g>{_GW})", re.I),
    re.compile(r"(?<![\w-])(?P<g>" + "|".join(sorted(_PLURALS)) + r")(?![\w-])", re.I),
]
_FOR_KIDS = re.compile(r"\bfor\s+(?:the\s+|my\s+|our\s+)?(?:kids|children)\b|\b(?:kid|family)-friendly\b", re.I)
_NEGATED_BEFORE = re.compile(r"\b(?:not|no|nothing|without|never|don'?t|didn'?t|avoid|hate)\b(?:\s+\w+){0,2}\s*$", re.I)
# past verbs describe the history, present taste ("I like thrillers") is a taste: neither asks for a genre
_HISTORY_VERB = re.compile(r"\b(?:loved|liked|enjoyed|adored|watched|saw|seen|hated|disliked|rewatched)\b"
                           r"|\b(?:i|we|and|also)\s+(?:really\s+|also\s+|usually\s+|generally\s+)?(?:like|love|enjoy)\b"
                           r"|\b(?:i'm|i\s+am)\s+(?:a\s+(?:big\s+)?fan\s+of|into)\b", re.I)
_CLAUSE_END = re.compile(r"[.!?;\n]+|\bbut\b", re.I)

_NUMBERS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
            "nine": 9, "ten": 10, "a couple of": 2, "couple of": 2, "sixty": 60, "seventy": 70, "eighty": 80,
            "ninety": 90, "a hundred": 100, "hundred": 100}
_NUM = r"(?:\d+(?:\.\d+)?|" + "|".join(
    re.escape(w).replace(r"\ ", r"\s+") for w in sorted(_NUMBERS, key=len, reverse=True)) + ")"
_DUR = (rf"(?:(?P<hh>\d+)\s*h\s*(?P<hm2>[0-5]\d)\b"
        rf"|(?P<h>{_NUM})(?P<ahalf>\s+and\s+a\s+half)?\s*(?:hours?|hrs?|(?<=\d)h|(?<=\d\s)h)\b"
        rf"(?:\s*(?:and\s+)?(?:(?P<half>a\s+half)|(?P<hm>\d+)\s*(?:minutes?|mins?|m)\b))?"
        rf"|(?P<m>{_NUM})\s*(?:minutes?|mins?|(?<=\d)m)\b|(?P<halfhour>half\s+an\s+hour))")
_MAX_CUE = (r"under|less\s+than|shorter\s+than|at\s+most|no\s+more\s+than|no\s+longer\s+than|not\s+more\s+than|"
            r"not\s+longer\s+than|not\s+over|max(?:imum)?(?:\s+of)?|up\s+to|within|below|tops")
_MIN_CUE = (r"no\s+less\s+than|not\s+less\s+than|no\s+shorter\s+than|not\s+shorter\s+than|over|more\s+than|"
            r"longer\s+than|at\s+least|min(?:imum)?(?:\s+of)?|above")
_RUNTIME = re.compile(rf"\b(?:(?P<max>{_MAX_CUE})|(?P<min>{_MIN_CUE}))\s+{_DUR}"
                      rf"|{_DUR.replace('?P<', '?P<s')}\s+(?:(?P<smax>or\s+(?:less|shorter|under)|max|tops|at\s+most)"
                      rf"|(?P<smin>or\s+(?:more|longer|over)|plus|at\s+least|minimum))\b", re.I)
SHORTER = re.compile(r"\bshorter\b(?!\s+than)", re.I)
# a mood asked away ("not too violent", "nothing scary", "without much gore"): cut from the search
# text and the soft terms, which would otherwise pull exactly those films closer
NEGATED_MOOD = re.compile(
    r"\b(?:not|nothing|never|none|no)\s+(?:too\s+|very\s+|so\s+|overly\s+|that\s+|super\s+|really\s+|particularly\s+"
    r"|excessively\s+|especially\s+)?(?P<mood>violent|gory|scary|dark|sad|depressing|bloody|intense|heavy|serious|sappy|"
    r"cheesy|graphic|explicit|sexy|creepy|disturbing|brutal|silly|childish|loud|slow|complicated|romantic|weird|"
    r"mushy|grim|bleak|gruesome|frightening|tense|violence|gore|blood|swearing|nudity)\b"
    r"|\b(?:without|less)\s+(?:too\s+much\s+|much\s+|a\s+lot\s+of\s+|any\s+)?(?P<less>violence|gore|blood|swearing|nudity|"
    r"sex|romance|violent|gory|scary|sad)\b", re.I)
LONGER = re.compile(r"(?<!no )(?<!any )(?<!not )\blonger\b(?!\s+than)", re.I)

_Y = r"(?:18|19|20)\d\d"
_DECADE_WORDS = {"twenties": 2, "thirties": 3, "forties": 4, "fifties": 5, "sixties": 6, "seventies": 7,
                 "eighties": 8, "nineties": 9}
_DECADE = re.compile(
    r"(?<![\w'])(?:(?:from|in)\s+)?(?:the\s+)?(?:(?P<q>early|mid|late)[-\s]+)?"
    r"(?:(?P<c>19|20)(?P<d4>\d)0'?s|'?(?P<d2>\d)0'?s|(?P<dw>"
    + "|".join(_DECADE_WORDS) + r"))(?![\w-])", re.I)
_AGE = re.compile(  # "in my 30s" is an age
    r"\b(?:my|our|his|her|their|your|in\s+(?:my|our|his|her|their|your))\s+(?:(?:early|mid|late)[-\s]+)?$", re.I)
_YEARS = [  # (pattern, kind): after = Y+1.., since = Y.., before = ..Y-1, until = ..Y, exact, range
    (re.compile(rf"\bbetween\s+(?P<a>{_Y})\s+and\s+(?P<b>{_Y})\b"
                rf"|\b(?:from\s+)?(?P<a2>{_Y})\s*(?:-|–|to|until)\s*(?P<b2>{_Y})\b", re.I), "range"),
    (re.compile(rf"\b(?:after|post-?|later\s+than|newer\s+than)\s*(?P<y>{_Y})\b", re.I), "after"),
    (re.compile(rf"\b(?:since|from)\s+(?P<y>{_Y})\s+(?:on|onwards?|or\s+later|and\s+later|forward)\b"
                rf"|\b(?:since)\s+(?P<y2>{_Y})\b|\b(?P<y3>{_Y})\s*(?:\+|or\s+later|and\s+later|onwards?|or\s+newer)",
                re.I), "since"),
    (re.compile(rf"\b(?:before|pre-?|older\s+than|earlier\s+than|prior\s+to)\s*(?P<y>{_Y})\b", re.I), "before"),
    (re.compile(rf"\b(?:until|up\s+to|through)\s+(?P<y>{_Y})\b"
                rf"|\b(?P<y2>{_Y})\s+(?:or\s+earlier|and\s+earlier|or\s+before|or\s+older)\b", re.I), "until"),
    (re.compile(rf"\b(?:from|released\s+in|made\s+in|came\s+out\s+in)\s+(?P<y>{_Y})\b(?!'?s)", re.I), "exact"),
]
_RECENT = re.compile(
    r"\b(?:something|anything|a|only|more|fairly|pretty|relatively|quite|very|reasonably)\s+recent\b|\brecent\s+"
    r"(?:films?|movies?|ones?|releases?|stuff|titles?)\b|\brecently\s+released\b|\bnew\s+releases?\b"
    r"|\b(?:last|past)\s+(?:few|couple\s+of|\d+|two|three|five|ten)\s+years\b", re.I)

_ROLE_CUE = re.compile(
    r"(?P<unseen>\b(?:haven'?t|have\s+not|never|not\s+yet|hasn'?t|yet\s+to)\s+(?:\w+\s+)?(?:seen|watched|see|watch)\b)"
    r"|(?P<disliked>\b(?:didn'?t|did\s+not|don'?t|do\s+not)\s+(?:really\s+)?(?:like|enjoy|love|care\s+for)\b"
    r"|\b(?:hated|disliked|hate|dislike|couldn'?t\s+stand|can'?t\s+stand|not\s+a\s+(?:big\s+)?fan\s+of"
    r"|wasn'?t\s+a\s+fan\s+of)\b)"
    r"|(?P<seen>(?<!you )\b(?:seen|watched|saw|rewatched)\b)"
    r"|(?P<liked>\b(?:loved?|liked?|enjoy(?:ed)?|adored?|favou?rites?)\b)", re.I)
_EXCLUDE_BEFORE = re.compile(r"\b(?:not|except(?:\s+for)?|other\s+than|anything\s+but|apart\s+from)\s*$", re.I)
_ROLE_AFTER = re.compile(
    r"^[^#]*?(?:(?P<seen>\balready\s+(?:seen|watched)|\b(?:seen|watched)\s+(?:it|that|them|those)\b)"
    r"|(?P<disliked>\b(?:didn'?t|did\s+not)\s+(?:like|enjoy)\s+(?:it|that|them)\b|\bhated\s+(?:it|that|them)\b)"
    r"|(?P<liked>\b(?:loved|liked|enjoyed)\s+(?:it|that|them)\b))", re.I)

CHOICE_DROP = re.compile(
    r"\b(?:something|anything|others?|more)\s+else\b"
    r"|\bother\s+(?:films?|movies?|options?|suggestions?|ideas?|ones?)\b"
    r"|\bsomething\s+different\b|\b(?:recommend|suggest)\b|\bnone\s+of\s+(?:these|those|them)\b|\bneither\b", re.I)
_OK = r"(?:fine|ok|okay|alright|all\s+right|good|allowed|back\s+on(?:\s+the\s+table)?)"
_LIFT_GENRE = re.compile(
    rf"(?P<a>{_GW}(?:\s+{_NOUN})?(?:\s*(?:,|/|\bor\b|\band\b)\s*{_GW}(?:\s+{_NOUN})?)*)\s+(?:is|are|'s|would\s+be)\s+"
    rf"(?:(?:actually|now|also|totally|really)\s+)?{_OK}\b"
    rf"|\b(?:don'?t|do\s+not)\s+mind\s+(?:(?:some|a\s+bit\s+of|a|an)\s+)?(?P<b>{_GW})"
    rf"|\b(?:ok|okay|fine)\s+with\s+(?:(?:some|a|an)\s+)?(?P<c>{_GW})", re.I)
_LIFT_RUNTIME = re.compile(
    r"\bany\s+(?:length|runtime|running\s+time)\b|\b(?:length|runtime|running\s+time)\s+(?:doesn'?t|does\s+not)\s+"
    r"matter\b|\blong(?:er)?\s+(?:ones?\s+|films?\s+|movies?\s+)?(?:is|are)\s+(?:fine|ok|okay)\b", re.I)
_LIFT_YEARS = re.compile(
    r"\bany\s+(?:decade|era|year|period)\b|\b(?:the\s+)?(?:decade|era|year|age)\s+(?:doesn'?t|does\s+not)\s+matter\b"
    r"|\bold(?:er)?\s+(?:ones?\s+|films?\s+|movies?\s+)?(?:is|are)\s+(?:fine|ok|okay)\b", re.I)
_ANSWER_LINE = re.compile(r"^\s*\d+\.\s+(?:(?P<label>.+?)\s+\((?P<year>\d{4})\)|(?P<title>[^:\n]+?))\s*:", re.M)


# ---- one turn ---------------------------------------------------------------------------------
def mask_titles(text: str, matches: Iterable[TitleMatch]) -> str:
    """Replace each title (and a year right after it) by '#', keeping offsets.

    >>> from agent.types import Item
    >>> idx = TitleIndex([Item("1", "Horror Express", 1972)])
    >>> mask_titles("not Horror Express (1972) please", idx.find("not Horror Express (1972) please"))
    'not ##################### please'
    """
    out = list(text)
    for m in matches:
        start, end = m.span
        tail = re.match(r"\s*\(?(?:18|19|20)\d\d\)?", text[end:])
        end += tail.end() if tail else 0
        out[start:end] = "#" * (end - start)
    return "".join(out)


def _genre_names(text: str, start: int, end: int) -> list[str]:
    """Lexicon words in text[start:end], in order; a word that needs a noun ("war") counts only
    when one follows it ("war films")."""
    out = []
    for m in re.compile(_GW, re.I).finditer(text, start, end):
        word = re.sub(r"\s+", " ", m.group(0).lower())
        if word in _NEEDS_NOUN and not re.match(rf"\s+{_NOUN}\b", text[m.end():], re.I):
            continue
        out.append(word)
    return out


def genre_mentions(masked: str) -> tuple[list[str], list[str], list[tuple[int, int]]]:
    """(excluded words, included words, spans of the exclusion phrases) in one masked turn.

    >>> genre_mentions("Something tense, but nothing scary or gory, and no war films")[:2]
    (['scary', 'war'], [])
    >>> genre_mentions("I'm in the mood for a funny sci-fi movie")[:2]
    ([], ['funny', 'sci-fi'])
    >>> genre_mentions("I loved it, a horror classic. No, I have no problem with horror")[:2]
    ([], [])
    """
    excluded, spans = [], []
    for m in _EXCLUDE.finditer(masked):
        excluded += _genre_names(masked, *m.span("list"))
        spans.append(m.span())
    included, taken = [], []
    for pat in _INCLUDE:
        for m in pat.finditer(masked):
            s, e = m.span("g")
            if any(a < e and s < b for a, b in spans + taken) or _NEGATED_BEFORE.search(masked[max(0, s - 40): s]):
                continue
            clause_start = max((c.end() for c in _CLAUSE_END.finditer(masked, 0, s)), default=0)
            if _HISTORY_VERB.search(masked[clause_start:s]):
                continue  # "I loved Alien, a horror film" describes the history; it asks for nothing
            included += _genre_names(masked, s, e)
            taken.append((s, e))
    for m in _FOR_KIDS.finditer(masked):
        if not _NEGATED_BEFORE.search(masked[max(0, m.start() - 40): m.start()]):
            included.append("kids")
    return excluded, included, spans


def _duration(m: re.Match, p: str = "") -> int | None:
    g = lambda k: m.group(p + k)  # noqa: E731
    num = lambda s: float(s) if s[0].isdigit() else _NUMBERS[re.sub(r"\s+", " ", s.lower())]  # noqa: E731
    if g("hh"):
        return int(g("hh")) * 60 + int(g("hm2"))
    if g("h"):
        minutes = num(g("h")) * 60 + (30 if g("ahalf") or g("half") else 0) + (int(g("hm")) if g("hm") else 0)
        return round(minutes)
    if g("m"):
        return round(num(g("m")))
    if g("halfhour"):
        return 30
    return None


def runtime_mentions(masked: str) -> tuple[int | None, int | None, list[tuple[int, int]]]:
    """(max, min, spans) in minutes from one masked turn.

    >>> runtime_mentions("something under two hours")[:2], runtime_mentions("less than 90 minutes please")[:2]
    ((120, None), (90, None))
    >>> runtime_mentions("at least an hour and a half, but no longer than 2h30")[:2]
    (150, 90)
    >>> runtime_mentions("I watched it over two nights")[:2]
    (None, None)
    """
    hi = lo = None
    spans = []
    for m in _RUNTIME.finditer(masked):
        if m.group("max") or m.group("min"):
            minutes, is_max = _duration(m), bool(m.group("max"))
        else:
            minutes, is_max = _duration(m, "s"), bool(m.group("smax"))
        if not minutes or minutes > 600:
            continue
        if is_max:
            hi = minutes
        else:
            lo = minutes
        spans.append(m.span())
    return hi, lo, spans


def year_mentions(masked: str, newest: int | None) -> tuple[int | None, int | None, list[tuple[int, int]], list[str]]:
    """(year_min, year_max, spans, notes) from one masked turn; `newest` is the catalog's newest year.

    >>> year_mentions("an 80s or early 90s thriller", 2018)[:2], year_mentions("something after 2000", 2018)[:2]
    ((1980, 1994), (2001, None))
    >>> year_mentions("she is in her 30s", 2018)[:2], year_mentions("anything recent", 2018)[:2]
    ((None, None), (2014, None))
    """
    lo = hi = None
    spans, notes = [], []
    decades = []
    for m in _DECADE.finditer(masked):
        if _AGE.search(masked[: m.start()]):
            continue
        if m.group("c"):
            start = int(m.group("c") + m.group("d4") + "0")
        else:
            d = int(m.group("d2")) if m.group("d2") else _DECADE_WORDS[m.group("dw").lower()]
            start = 2000 + d * 10 if d <= 1 else 1900 + d * 10
        q = (m.group("q") or "").lower()
        first, last = {"early": (0, 4), "mid": (3, 7), "late": (5, 9)}.get(q, (0, 9))
        decades.append((start + first, start + last))
        spans.append(m.span())
    if decades:
        lo, hi = min(a for a, _ in decades), max(b for _, b in decades)
    for pat, kind in _YEARS:
        for m in pat.finditer(masked):
            if any(a < m.end() and m.start() < b for a, b in spans):
                continue
            spans.append(m.span())
            ys = [int(v) for k, v in m.groupdict().items() if v and k.startswith(("y", "a", "b"))]
            if kind == "range":
                lo, hi = min(ys), max(ys)
            elif kind == "after":
                lo = ys[0] + 1
            elif kind == "since":
                lo = ys[0]
            elif kind == "before":
                hi = ys[0] - 1
            elif kind == "until":
                hi = ys[0]
            else:
                lo = hi = ys[0]
    for m in _RECENT.finditer(masked):
        if newest is None:
            continue
        lo = newest - RECENT_YEARS + 1
        spans.append(m.span())
        notes.append(f"'recent' read as {lo} or later (the catalog's newest film is from {newest})")
    return lo, hi, spans, notes


def negated_moods(masked: str) -> tuple[str, ...]:
    """The moods a turn asks away, lower-cased, in order.

    >>> negated_moods("a crime film, not too violent and without much gore")
    ('violent', 'gore')
    """
    return tuple(dict.fromkeys((m.group("mood") or m.group("less")).lower() for m in NEGATED_MOOD.finditer(masked)))


def strip_constraint_spans(masked: str) -> list[tuple[int, int]]:
    """Spans of the exclusion, runtime, year, lifting and seen/disliked phrases of one masked turn."""
    spans = genre_mentions(masked)[2] + runtime_mentions(masked)[2] + year_mentions(masked, None)[2]
    spans += [m.span() for m in (*SHORTER.finditer(masked), *LONGER.finditer(masked), *NEGATED_MOOD.finditer(masked))]
    spans += [m.span() for pat in (_LIFT_GENRE, _LIFT_RUNTIME, _LIFT_YEARS) for m in pat.finditer(masked)]
    spans += [m.span() for m in _ROLE_CUE.finditer(masked) if m.lastgroup != LIKED]  # "I didn't like", "I've seen"
    return spans


def strip_constraints(text: str, titles: TitleIndex | None = None) -> str:
    """The text without its exclusion, runtime, year and seen/disliked phrases (what is embedded
    for search: "not horror" would pull horror films closer). Titles are never touched.

    >>> strip_constraints("something tense, not horror, under two hours")
    'something tense, ,'
    >>> strip_constraints("A crime film but not too violent"), strip_constraints("a comedy, nothing scary, without much gore")
    ('A crime film but', 'a comedy, ,')
    """
    masked = mask_titles(text, titles.find(text, typos=True, strict=True)) if titles is not None else text
    out = list(text)
    for a, b in strip_constraint_spans(masked):
        out[a:b] = " " * (b - a)
    return " ".join("".join(out).split())


def _clauses(masked: str) -> list[tuple[int, int]]:
    """Clause spans: split at sentence punctuation and "but" (titles are masked, so their dots stay)."""
    cuts = [0, *[x for c in _CLAUSE_END.finditer(masked) for x in c.span()], len(masked)]
    return list(zip(cuts[::2], cuts[1::2], strict=True))


def roles(masked: str, matches: list[TitleMatch]) -> dict[str, str]:
    """item_id -> role for the films named in one turn: the nearest cue before the film in its
    clause ("I've seen Alien and Heat": both seen), else a cue right after it ("Alien, which I've
    already seen"); no cue means liked, as before constraints existed."""
    out = {}
    clauses = _clauses(masked)
    starts = [a for a, _ in clauses]
    every = list(_ROLE_CUE.finditer(masked))  # read once: a pasted list of 600 films stays linear
    cue_at = [c.start() for c in every]
    for i, m in enumerate(matches):
        s = m.span[0]
        k = max(bisect_right(starts, s) - 1, 0)
        before = masked[clauses[k][0]: s]
        j = bisect_left(cue_at, s) - 1
        while j >= 0 and every[j].end() > s:
            j -= 1
        cues = [every[j]] if j >= 0 and every[j].start() >= clauses[k][0] else []
        role = cues[-1].lastgroup if cues else LIKED
        if _EXCLUDE_BEFORE.search(before[-80:]):
            prev = list(_ROLE_CUE.finditer(masked[slice(*clauses[k - 1])])) if k else []
            # "I've seen Alien but not Aliens": Aliens is unseen, not excluded
            seen_before = prev and prev[-1].lastgroup == SEEN and before.strip().lower() == "not"
            role = UNSEEN if seen_before else EXCLUDED
        elif role in (LIKED, SEEN):
            end = min(matches[i + 1].span[0] if i + 1 < len(matches) else len(masked), clauses[k][1])
            after = _ROLE_AFTER.search(masked[m.span[1]: end])
            if after and (not cues or role == SEEN):
                role = after.lastgroup  # "I watched Alien and loved it": liked
        out[m.item.item_id] = role
    return out


def lifts(masked: str) -> tuple[list[str], bool, bool]:
    """What a turn allows again: (genre words, runtime bounds lifted?, year bounds lifted?).

    >>> lifts("ok, horror is fine now"), lifts("I don't mind some comedy")[0], lifts("any length is fine")[1:]
    ((['horror'], False, False), ['comedy'], (True, False))
    """
    words = []
    for m in _LIFT_GENRE.finditer(masked):
        g = next(k for k in "abc" if m.group(k))
        words += [re.sub(r"\s+", " ", w.lower()) for w in re.findall(_GW, m.group(g), re.I)]
    return words, bool(_LIFT_RUNTIME.search(masked)), bool(_LIFT_YEARS.search(masked))


def _pick(items: list[Item], text: str) -> Item | None:
    year = re.search(r"\b((?:18|19|20)\d\d)\b", text)
    if year:
        return next((it for it in items if it.year == int(year.group(1))), items[0] if items else None)
    return items[0] if items else None


def answer_items(content: str, titles: TitleIndex, catalog: dict[str, Item]) -> list[Item]:
    """The films of an assistant answer: served text lines or the JSON list."""
    try:
        recs = json.loads(content).get("recommendations", [])
        found = [catalog[str(r["item_id"])] for r in recs if isinstance(r, dict) and str(r.get("item_id")) in catalog]
        if found:
            return found
    except (ValueError, AttributeError, TypeError):
        pass
    out = []
    for m in _ANSWER_LINE.finditer(content):
        title = m.group("label") or m.group("title")
        # "Sunset Blvd. (a.k.a. Sunset Boulevard) (1950)": the index holds the title and its alias apart
        found = titles.lookup(title) or titles.lookup(_AKA.sub("", title))
        hit = _pick(found, m.group("year") or "")
        if hit is not None:
            out.append(hit)
    return out


def catalog_genre(word: str, vocab: set[str]) -> str | None:
    canon = GENRE_LEXICON[word]
    if canon in vocab:
        return canon
    key = normalise(canon).replace(" ", "")
    keys = (key, normalise(word).replace(" ", ""))
    return next((g for g in sorted(vocab) if normalise(g).replace(" ", "") in keys), None)
