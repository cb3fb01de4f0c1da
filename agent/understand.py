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

from agent.constraints import CHOICE, DISLIKED, EXCLUDED, LIKED, SEEN, Constraints, parse_conversation
from agent.conversation import DIFFERENT, Conversation, answer_films, read_conversation, references
from agent.phrases import (
    GENRE_LEXICON, _genre_names, catalog_genre, choice, genre_mentions, mask_titles, strip_constraint_spans,
)
from agent.titles import _ORDINARY, TitleIndex, TitleMatch, has_content
from agent.types import Item, SoftPreferences

_POPULAR = re.compile(
    r"\b(?:popular|well[-\s]known|crowd[-\s]pleasers?|blockbusters?|mainstream|famous|best[-\s]known|"
    r"everyone\s+(?:has\s+seen|loves)|big\s+hits?|a\s+hit|highly\s+rated|top[-\s]rated|"
    r"much[-\s]loved|beloved|acclaimed)\b", re.I)
_OBSCURE = re.compile(
    r"\b(?:hidden\s+gems?|obscure|underrated|under[-\s]the[-\s]radar|little[-\s]known|lesser[-\s]known|"
    r"(?:not|less)\s+(?:so\s+|too\s+|very\s+)?(?:well[-\s]known|popular|mainstream|famous)|"
    r"off\s+the\s+beaten\s+(?:path|track)|(?:haven'?t|never)\s+heard\s+of|deep\s+cuts?|overlooked|"
    r"unknown|niche|undiscovered|forgotten)\b", re.I)
_NOT_OBSCURE = re.compile(r"\b(?:not|nothing|no)\s+(?:too\s+|very\s+|so\s+)?(?:obscure|niche|unknown)\b", re.I)
_SOFT_GENRES = {"family": "Children", "families": "Children", "romcom": "Romance", "rom-com": "Romance",
                "animated": "Animation", "cartoon": "Animation", "scary": "Horror", "funny": "Comedy"}
_NOT_TERMS = _ORDINARY | frozenset(
    """film films movie movies flick flicks picture pictures stuff something anything one ones watch
    watching tonight evening night afternoon weekend hour hours minute minutes mood feel feeling kind
    sort type recommend recommendation recommendations suggest suggestion looking want wanted fancy
    prefer craving like liked love loved enjoy enjoyed seen watched saw good great nice fun whole
    bit lot really quite very gem gems hidden obscure popular underrated classic classics known""".split()
) | frozenset(GENRE_LEXICON) | frozenset(_SOFT_GENRES)
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
                                remarks if users and idx == users[-1] else None))
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
    films, notes = [], []
    for t in turns.values():
        for m in t.matches:
            if m.item.item_id in roles:
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
    ("not horror" would pull horror closer), "something different" and "hidden gem" cut (they say
    nothing about the content); "" when only filler words remain.

    >>> search_text("something tense, not horror, under two hours")
    'something tense, ,'
    """
    if isinstance(turn, str):
        named = titles.find(turn, typos=True, strict=True) if titles is not None else ()
        turn = Turn(0, turn, named, (), masked=mask_titles(turn, named))
    out = list(turn.text)
    spans = [m.span for m in turn.matches] + strip_constraint_spans(turn.masked)
    spans += [m.span() for m in re.finditer(r"#+", turn.masked)]  # films and a year after them
    spans += [m.span() for pat in (DIFFERENT, _POPULAR, _OBSCURE) for m in pat.finditer(turn.masked)]
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
    return SoftPreferences(genres=tuple(genres), terms=tuple(terms), popularity=popularity, decade=decade)
