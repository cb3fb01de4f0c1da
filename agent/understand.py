"""The request read once: one pass over the conversation into one typed `Understanding`.

    u = understand(messages, titles, catalog)
    u.films         # every film named or pointed at, with its role: liked | seen | disliked | excluded
                    # | unseen | choice, `anchor` for "more like X", the words it was read from and why
    u.choice        # a "which of these" set (item ids, in the order named), u.unknown: names matching nothing
    u.constraints   # hard constraints (agent/constraints.Constraints): retrieval filters on them
    u.soft          # agent.types.SoftPreferences: genres, mood/theme words, popularity, decade (ranks, never filters)
    u.search        # the text embedded for semantic search; u.anchors: "more like" item ids
    u.request       # the last user turn with "#2" written out: the request the prompts show
    u.remarks       # said to the person before the list: what was taken as a film, typos, remakes, references

Order of reading, for each user turn (`read_turns`): catalog titles over the WHOLE text first
(agent/titles, strict: longest, best-supported spans, alternate titles and punctuation inside;
a word counts as a title only with evidence), then, on the text with those titles masked,
references into the answer before the turn ("the sixth one", never inside "The Sixth Sense"),
then a "which of these" list (its items, split only outside titles, may name films the first pass
left, looked up by name), and last the phrase readers of agent/phrases (roles, genres, runtime,
years) on the text with every film masked. Turns are read once and handed to the folding code of
agent/constraints and agent/conversation, which used to re-read the text each.
Left out: cast and crew (not in the data; a remark says so), moods as hard constraints (they are
`soft.terms`), ranges of references ("the first two").
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from itertools import islice

from agent.constraints import DISLIKED, EXCLUDED, LIKED, SEEN, Constraints, parse_conversation
from agent.conversation import DIFFERENT, Conversation, answer_films, read_conversation, references
from agent.phrases import (
    _GW, GENRE_LEXICON, _genre_names, _pick, catalog_genre, genre_mentions, mask_titles, negated_moods,
    strip_constraint_spans,
)
from agent.titles import _ORDINARY, TitleIndex, TitleMatch, has_content
from agent.types import Item, SoftPreferences

_POPULAR = re.compile(
    r"\b(?:popular|well[-\s]known|crowd[-\s]pleasers?|blockbusters?|mainstream|famous|best[-\s]known|"
    r"everyone\s+(?:has\s+seen|loves)|big\s+hits?|highly\s+rated|top[-\s]rated|"
    r"much[-\s]loved|beloved|acclaimed)\b", re.I)
_OBSCURE = re.compile(
    r"\b(?:hidden\s+gems?|obscure|underrated|under[-\s]the[-\s]radar|little[-\s]known|lesser[-\s]known|"
    r"(?:not|less)\s+(?:so\s+|too\s+|very\s+)?(?:well[-\s]known|popular|mainstream|famous)|"
    r"off\s+the\s+beaten\s+(?:path|track)|(?:haven'?t|never)\s+heard\s+of|deep\s+cuts?|overlooked|"
    r"niche|undiscovered)\b", re.I)
_NOT_OBSCURE = re.compile(r"\b(?:not|nothing|no)\s+(?:too\s+|very\s+|so\s+)?(?:obscure|niche|unknown)\b", re.I)
_SOFT_GENRES = {"family": "Children", "families": "Children", "romcom": "Romance", "rom-com": "Romance",
                "animated": "Animation", "cartoon": "Animation", "scary": "Horror", "funny": "Comedy"}
_NOT_TERMS = _ORDINARY | frozenset(
    """film films movie movies flick flicks picture pictures stuff something anything one ones watch
    watching tonight evening night afternoon weekend hour hours minute minutes mood feel feeling kind
    sort type recommend recommendation recommendations suggest suggestion looking want wanted fancy
    prefer craving like liked love loved enjoy enjoyed seen watched saw good great nice fun whole
    bit lot really quite very gem gems hidden obscure popular underrated classic classics known mainstream
    blockbuster blockbusters famous niche overlooked acclaimed beloved rated radar crowd pleaser pleasers
    undiscovered lesser little-known well-known deep cuts""".split()
) | frozenset(GENRE_LEXICON) | frozenset(_SOFT_GENRES)
MAX_CUES = 6  # "which" / "between" / "should I watch" cues read per turn
MAX_ITEMS = 100  # list items looked up by name per list (titles the whole-text pass found always count)
_CHOICE_CUE = re.compile(
    r"\bwhich\b|\b(?:choose|pick|decide)\s+between\b|\bbetween\b"
    r"|\bshould\s+I\s+(?:watch|see|pick|choose|go\s+(?:for|with))\b", re.I)
_COLON = re.compile(r":(?=\s|$)")  # "11:14" is a title, no list
_CHOICE_AFTER = re.compile(r"which\s+(?:one|film|movie|first)\b", re.I)  # right after a list of films
_CHOICE_STRONG = re.compile(r"\bwhich\s+(?:one\s+)?of\s+(?:these|those|them|the\s+following|the\s+\w+)\b", re.I)
_CHOICE_SPLIT = re.compile(r",|;|/|\n|\bor\b|\band\b|\bvs\.?|\bversus\b|\beither\b", re.I)
_CHOICE_FILLER = re.compile(
    r"^(?:maybe|perhaps|the\s+film|the\s+movie|or|and)\s+|[\"'“”‘’«».?!:()\s]+$|^[\"'“”‘’«»(\s]+", re.I)
ROLE_PHRASES = {LIKED: ("as a film you liked", "as films you liked"), SEEN: ("as seen", "as seen"),
                DISLIKED: ("as a film you did not like", "as films you did not like"),
                EXCLUDED: ("as a film to leave out", "as films to leave out")}


@dataclass(frozen=True)
class Turn:
    """One user turn, read once."""
    index: int  # message index
    text: str
    titles: tuple[TitleMatch, ...]  # catalog titles, found over the whole text first
    refs: tuple[TitleMatch, ...]  # "#2", "the second one": films of the answer before the turn
    listed: tuple[TitleMatch, ...] = ()  # films named in a "which of these" list that the title pass left
    choice: tuple[tuple[str, ...], tuple[str, ...]] | None = None  # (item ids, names matching no film)
    masked: str = ""  # the text with every film above masked by '#' (offsets kept)

    @property
    def matches(self) -> list[TitleMatch]:
        return sorted([*self.titles, *self.refs, *self.listed], key=lambda m: m.span[0])


@dataclass(frozen=True)
class NamedFilm:
    item: Item
    role: str  # liked | seen | disliked | excluded | unseen | choice (the latest role over the conversation)
    text: str  # the words it was read from ("Termnator", "#2")
    turn: int  # message index
    how: str  # exact | year | context | popular | typo | reference | list (agent/titles.TitleMatch.how)
    evidence: str  # quoted | year | capitalised | phrase | list | typo | reference
    anchor: bool = False  # "more like X": retrieval anchors on it

    def as_dict(self) -> dict:
        return {"item_id": self.item.item_id, "label": self.item.label, "text": self.text, "role": self.role,
                "anchor": self.anchor, "turn": self.turn, "how": self.how, "evidence": self.evidence}


@dataclass(frozen=True)
class Understanding:
    films: tuple[NamedFilm, ...]
    constraints: Constraints
    soft: SoftPreferences
    search: str  # "" when the request says nothing to search for
    anchors: tuple[str, ...]
    request: str
    conversation: Conversation
    remarks: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    unknown: tuple[str, ...] = ()  # names in the last turn's "which of these" list that match no film
    turns: dict[int, Turn] = field(default_factory=dict, repr=False)

    @property
    def choice(self) -> tuple[str, ...]:
        return self.constraints.only_items

    @property
    def named(self) -> tuple[TitleMatch, ...]:
        """Films named by title (not by reference) in every user turn, in order."""
        return tuple(m for t in self.turns.values() for m in sorted([*t.titles, *t.listed], key=lambda m: m.span[0]))

    def as_dict(self) -> dict:
        """What was understood, as /v1/render shows it (beyond the OpenAI spec)."""
        s = self.soft
        return {"films": [f.as_dict() for f in self.films], "choice": list(self.choice), "unknown": list(self.unknown),
                "anchors": list(self.anchors), "search": self.search, "request": self.request,
                "soft": {"genres": list(s.genres), "terms": list(s.terms), "popularity": s.popularity,
                         "decade": s.decade},
                "remarks": list(self.remarks)}


def read_turns(messages: list[dict], titles: TitleIndex, catalog: dict[str, Item],
               remarks: list[str] | None = None) -> tuple[dict[int, Turn], dict[int, tuple[Item, ...]]]:
    """(user turns by message index, the films of each assistant answer); `remarks` collects what
    the last user turn's references could not point at."""
    turns: dict[int, Turn] = {}
    answers: dict[int, tuple[Item, ...]] = {}
    answer: tuple[Item, ...] = ()
    previous: tuple[TitleMatch, ...] = ()
    users = [i for i, m in enumerate(messages) if m.get("role") == "user"]
    for idx, msg in enumerate(messages):
        text = msg.get("content") or ""
        if msg.get("role") == "assistant":
            films = tuple(answer_films(msg, titles, catalog))
            if films:
                answers[idx] = answer = films
            continue
        if msg.get("role") != "user":
            continue
        named = titles.find(text, typos=True, strict=True)
        refs = tuple(references(mask_titles(text, named), answer, previous,
                                remarks if users and idx == users[-1] else None, named=tuple(named)))
        both = sorted([*named, *refs], key=lambda m: m.span[0])
        found = choice(text, mask_titles(text, both), both, titles)
        listed = tuple(found[2]) if found else ()
        turns[idx] = Turn(idx, text, named, refs, listed, (tuple(found[0]), tuple(found[1])) if found else None,
                          mask_titles(text, [*both, *listed]))
        previous = refs or previous
    return turns, answers


def understand(messages: list[dict], titles: TitleIndex, catalog: dict[str, Item]) -> Understanding:
    """The whole conversation read once (module docstring). Pure: no history, no store."""
    ref_remarks: list[str] = []
    turns, answers = read_turns(messages, titles, catalog, ref_remarks)
    conv = read_conversation(messages, titles, catalog, turns=turns, answers=answers, ref_remarks=ref_remarks)
    constraints = parse_conversation(messages, titles, catalog, turns=turns, answers=answers)
    roles = dict(constraints.roles)
    anchored = {a for ids in conv.anchors.values() for a in ids}
    films, notes, taken = [], [], set()
    for t in turns.values():
        for m in t.matches:
            if m.item.item_id in roles and (t.index, m.item.item_id) not in taken:  # once a turn
                taken.add((t.index, m.item.item_id))
                films.append(NamedFilm(m.item, roles[m.item.item_id], m.text, t.index, m.how, m.evidence or m.how,
                                       m.item.item_id in anchored))
            if m.how in ("popular", "context") and m.others:
                notes.append(f"'{m.text}' matches several films; assumed {m.item.label}")
            elif m.how == "typo":
                notes.append(f"'{m.text}' read as {m.item.label}")
    asking, search, anchors = asking_turn(turns, conv, titles)
    last = turns[max(turns)] if turns else None
    soft = soft_preferences(turns[asking] if asking is not None else None, last, catalog, constraints, search)
    said = list(conv.remarks)
    if last is not None:
        said += taken_as(last, roles)
    unknown = last.choice[1] if last is not None and last.choice else ()
    return Understanding(tuple(films), constraints, soft, search, anchors, spelled_out(last), conv,
                         tuple(dict.fromkeys(said)), tuple(dict.fromkeys(notes)), tuple(unknown), turns)


def taken_as(turn: Turn, roles: dict[str, str]) -> list[str]:
    """What the person is told was taken as a film in their last turn, by role.

    >>> a, h = Item("1", "Alien", 1979), Item("2", "Heat", 1995)
    >>> t = Turn(0, "", (TitleMatch(a, (0, 5), "Alien", False), TitleMatch(h, (6, 10), "Heat", False)), ())
    >>> taken_as(t, {"1": "liked", "2": "seen"})
    ['I took Alien (1979) as a film you liked.', 'I took Heat (1995) as seen.']
    >>> taken_as(Turn(0, "", t.titles, (), choice=(("1", "2"), ())), {"1": "choice", "2": "choice"})
    ['Choosing among Alien (1979) and Heat (1995).']
    """
    named = [m for m in sorted([*turn.titles, *turn.listed], key=lambda m: m.span[0])]
    out = []
    choice_ids = list(turn.choice[0]) if turn.choice else []
    if choice_ids:
        labels = {m.item.item_id: m.item.label for m in turn.matches}
        out.append("Choosing among " + _and([labels[i] for i in choice_ids if i in labels]) + ".")
    for role, phrase in ROLE_PHRASES.items():
        these = list(dict.fromkeys(m.item.label for m in named if roles.get(m.item.item_id) == role
                                   and m.item.item_id not in choice_ids))
        if these:
            out.append(f"I took {_and(these)} {phrase[len(these) > 1]}.")
    return out


def _and(labels: list[str]) -> str:
    return labels[0] if len(labels) == 1 else ", ".join(labels[:-1]) + " and " + labels[-1]


def search_text(turn: Turn | str, titles: TitleIndex | None = None) -> str:
    """The turn as embedded for semantic search: films named or referred to cut out (their words
    would pull in namesakes: "Heat" -> "Dead Heat"), exclusion, runtime, year and role phrases cut
    ("not horror" would pull horror closer), "something different" cut (it says nothing about the
    content; "hidden gem" stays: the retrieval stage reads it as well as soft.popularity); "" when
    only filler words remain.

    >>> search_text("something tense, not horror, under two hours")
    'something tense, ,'
    """
    if isinstance(turn, str):
        named = titles.find(turn, typos=True, strict=True) if titles is not None else ()
        turn = Turn(0, turn, named, (), masked=mask_titles(turn, named))
    out = list(turn.text)
    spans = [m.span for m in turn.matches] + strip_constraint_spans(turn.masked)
    spans += [m.span() for m in re.finditer(r"#+", turn.masked)]  # films and a year after them
    spans += [m.span() for m in DIFFERENT.finditer(turn.masked)]
    for a, b in spans:
        out[a:b] = " " * (b - a)
    text = " ".join("".join(out).split())
    return text if has_content(text) else ""


def asking_turn(turns: dict[int, Turn], conv: Conversation, titles: TitleIndex
                ) -> tuple[int | None, str, tuple[str, ...]]:
    """(message index, search text, anchors) of the latest user turn that asks for something: one
    with text to search for or a "more like" anchor ("a tense heist film" ... "something shorter":
    the heist film is still what is asked for)."""
    for idx in sorted(turns, reverse=True):
        anchors = conv.anchors.get(idx, ())
        search = search_text(turns[idx], titles)
        if search or anchors:
            return idx, search, anchors
    return None, "", ()


def spelled_out(turn: Turn | None) -> str:
    """The turn with its references written as the films they mean ("more like #2" -> "more like
    The Terminator (1984)"): the request as the prompts show it."""
    if turn is None:
        return ""
    text = turn.text
    for r in sorted(turn.refs, key=lambda r: -r.span[0]):
        text = text[: r.span[0]] + r.item.label + text[r.span[1]:]
    return text.strip()


def soft_preferences(asking: Turn | None, last: Turn | None, catalog: dict[str, Item],
                     constraints: Constraints, search: str | None = None) -> SoftPreferences:
    """Genres and mood/theme words of the asking turn, popularity and decade of the conversation's
    latest say. Genres the conversation excludes never come back as soft ones."""
    vocab = {g for it in catalog.values() for g in it.genres}
    genres: list[str] = []
    terms: list[str] = []
    if asking is not None:
        masked = list(asking.masked)
        for a, b in genre_mentions(asking.masked)[2]:  # "not horror" is a hard exclusion, no soft genre
            masked[a:b] = " " * (b - a)
        masked = "".join(masked)
        words = _genre_names(masked, 0, len(masked))
        words += [w for w in _SOFT_GENRES if re.search(rf"(?<![\w-]){re.escape(w)}(?![\w-])", masked, re.I)]
        for w in words:
            g = catalog_genre(w, vocab) if w in GENRE_LEXICON else (_SOFT_GENRES[w] if _SOFT_GENRES[w] in vocab else None)
            if g and g not in constraints.exclude_genres and g not in genres:
                genres.append(g)
        for w in re.findall(r"[a-z][a-z'-]+", (search if search is not None else search_text(asking)).lower()):
            if w not in _NOT_TERMS and w.strip("'-") not in _NOT_TERMS and w not in terms and len(w) > 2:
                terms.append(w)
    popularity = None
    for t in (last, asking):
        if t is None or popularity:
            continue
        if _NOT_OBSCURE.search(t.masked):
            popularity = "popular"
        elif _OBSCURE.search(t.masked):
            popularity = "obscure"
        elif _POPULAR.search(t.masked):
            popularity = "popular"
    decade = None
    lo, hi = constraints.year_min, constraints.year_max
    if lo is not None and hi is not None and lo // 10 == hi // 10:
        decade = lo // 10 * 10
    avoid = negated_moods(asking.masked) if asking is not None else ()
    return SoftPreferences(genres=tuple(genres), terms=tuple(terms), popularity=popularity, decade=decade, avoid=avoid)


# ---- "which of these": the list, split only outside the films found -------------------------
def choice(text: str, masked: str, matches: list[TitleMatch], titles: TitleIndex
           ) -> tuple[list[str], list[str], list[TitleMatch]] | None:
    """(item ids in order, names not in the catalog, films read from the list by name) when the
    turn asks to choose among films; `matches` are the turn's titles and references, found over
    the whole text first and masked in `masked`, so punctuation and "or" inside a title never
    split the list ("Who's Afraid of Virginia Woolf?, Heat or Alien?").

    Lists are read after a colon ("which of these should I watch: A, B or C?", also one item a
    line: "- A"), after "between" or "should I watch", or as the titles of a "which" sentence
    joined by "or" ("Alien or Heat, which one?"). Only a list after a colon is trusted to hold
    names the whole-text pass did not take (lower case, an ordinary word, a bare number: looked
    up exactly, with a year after it, or as a likely typo) and names that match no film: elsewhere
    a phrase like "a comedy or a drama" is no list. The films looked up by name come back as
    TitleMatch objects (how "list", "year", "popular" or "typo"; evidence "list").

    >>> from agent.types import Item
    >>> idx = TitleIndex([Item("1", "Always", 1989), Item("2", "Heat", 1995), Item("3", "10", 1979)])
    >>> t = "Which of these: always, 10 (1979) or Flurbo?"
    >>> ids, unknown, listed = choice(t, t, [], idx)
    >>> ids, unknown, [m.text for m in listed]
    (['1', '3'], ['Flurbo'], ['always', '10'])
    """
    for cue in islice(_CHOICE_CUE.finditer(masked), MAX_CUES):  # bounded work on hostile input
        sent_start = max((c.end() for c in re.finditer(r"[.!?\n]+", masked[: cue.start()])), default=0)
        sent_end = _list_end(masked, cue.end())
        found_colon = _COLON.search(masked, cue.end(), sent_end)
        colon = found_colon.start() if found_colon else -1
        if colon < 0 and re.match(r"[^\n]*?[?:]\s*\n\s*(?:[-*•]|\d+[.)])\s", masked[cue.end():]):
            colon = masked.index("\n", cue.end()) - 1  # "Which of these should I watch?\n- Alien\n- Heat"
        if colon >= 0 and re.match(r"\s*\n\s*(?:[-*•]|\d+[.)])\s", masked[colon + 1:]):
            sent_end = _bullets_end(masked, colon + 1)
        word = cue.group(0).lower()
        if colon >= 0:
            a, b = colon + 1, sent_end
        elif word.endswith("between") or word.startswith("should"):
            a, b = cue.end(), sent_end
        else:  # "Alien or Heat, which one?": the titles of the sentence, joined by "or"
            inside = [t for t in matches if sent_start <= t.span[0] < sent_end]
            if len(inside) >= 2 and _CHOICE_STRONG.search(masked[cue.start(): sent_end]):
                return [t.item.item_id for t in inside], [], []
            # "Alien, Heat and Ronin: which one tonight?": a list right before the cue may be joined by "and"
            after_list = (len(inside) >= 2 and _CHOICE_AFTER.match(masked, cue.start())
                          and re.search(r"[:,;\u2013\u2014-]\s*$", masked[sent_start: cue.start()]))
            a, b = (sent_start, cue.start()) if after_list else (sent_start, sent_end)
            if not after_list and not re.search(r"\bor\b", masked[a:b], re.I):
                continue
        ids, unknown, listed = [], [], []
        bounds = [a, *[x for m in _CHOICE_SPLIT.finditer(masked, a, b) for x in m.span()], b]
        segments = list(zip(bounds[::2], bounds[1::2], strict=True))
        k, looked = 0, 0
        while k < len(segments):
            s, e = segments[k]
            inside = [t for t in matches if s <= t.span[0] < e]
            if inside or looked >= MAX_ITEMS:  # items found by the title pass always count; look-ups are bounded
                ids += [t.item.item_id for t in inside]
                k += 1
                continue
            looked += 1
            hit, used = None, 1
            for j in range(min(k + 3, len(segments)), k + 1, -1):  # "oh, god!", "state and main": a title with a separator
                if not any(segments[k][0] <= t.span[0] < segments[j - 1][1] for t in matches):
                    joined = _list_item(text, s, segments[j - 1][1], titles, trusted=colon >= 0, exact=True)
                    if isinstance(joined, TitleMatch) and joined.span[1] <= segments[j - 1][0]:
                        joined = None  # "say anything..., 2046": the last item is no year of the first
                    if isinstance(joined, TitleMatch):
                        hit, used = joined, j - k
                        break
            hit = hit or _list_item(text, s, e, titles, trusted=colon >= 0)
            if isinstance(hit, TitleMatch):
                ids.append(hit.item.item_id)
                listed.append(hit)
            elif hit:
                unknown.append(hit)
            k += used
        if ids and len(ids) + len(unknown) >= 2 and (colon >= 0 or len(ids) > len(listed)):
            return list(dict.fromkeys(ids)), unknown, listed
    return None


def _list_end(masked: str, start: int) -> int:
    """Where a list that starts at `start` ends: the first sentence end not followed by more of
    the list ("Airplane!, Heat": the "!" of an unmatched title is no end), not an abbreviation."""
    for m in re.finditer(r"[!?]+|\n|\.(?=\s|$)", masked[start:]):
        at = start + m.start()
        if m.group(0) != "\n" and re.match(r"\s*(?:,|;|/|\bor\b|\band\b)", masked[at + len(m.group(0)):], re.I):
            continue
        if m.group(0) == "." and re.search(r"\b(?:dr|mr|mrs|ms|st|jr|vs|vol|pt|[a-z]\.[a-z])$", masked[:at], re.I):
            continue
        return at
    return len(masked)


def _bullets_end(masked: str, start: int) -> int:
    """The end of a run of bullet lines ("- Alien", "2. Heat") after `start`."""
    end = start
    for m in re.finditer(r"\n\s*(?:[-*•]|\d+[.)])\s[^\n]*", masked[start:]):
        if start + m.start() != end and masked[end: start + m.start()].strip():
            break
        end = start + m.end()
    return end


def _list_item(text: str, s: int, e: int, titles: TitleIndex, trusted: bool = True,
               exact: bool = False) -> TitleMatch | str | None:
    """One list item the whole-text pass did not take: a film looked up by name, its name when it
    matches no film, or None when it holds no name ("maybe", a genre word). Outside a list after a
    colon (`trusted` False) only a capitalised name, a number or a name with a year is looked up,
    exactly, and a name that matches nothing is no name."""
    raw = text[s:e]
    name = re.sub(r"^\s*(?:[-*•]|\d+[.)])\s+", "", raw)
    year_m = re.search(r"\s*(?:\(((?:18|19|20)\d\d)\)|\s((?:18|19|20)\d\d))[\s?.!:]*$", name)
    bare = name[: year_m.start()] if year_m and year_m.start() > 0 else name
    bare = _CHOICE_FILLER.sub("", _CHOICE_FILLER.sub("", bare.strip()))
    year = (year_m.group(1) or year_m.group(2)) if year_m and year_m.start() > 0 else ""
    if not bare or (not trusted and not (re.search(r"[A-Z0-9]", bare) or year)):
        return None
    found, how = titles.lookup(bare), "list"  # an exact title, even an ordinary word: "Her", "Always"
    if not found and exact:
        return None
    if not found:
        if not trusted or not has_content(bare) or (re.search(_GW, bare, re.I) and not re.search(r"[A-Z]", bare[1:])):
            return None
        found, how = titles.fuzzy_lookup(bare)[0], "typo"
    if not found:
        return bare.strip("\"'“”‘’«»() ")
    hit = _pick(found, year)
    if year and hit.year == int(year):
        how = "year" if len(found) > 1 else how
    elif len(found) > 1 and how == "list":
        how = "popular"
    at = s + max(raw.find(bare), 0)
    return TitleMatch(hit, (at, at + len(bare)), bare, len(found) > 1, how,
                      tuple(f for f in found if f is not hit), "list")
