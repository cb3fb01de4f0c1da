"""The conversation as a whole: what the assistant already showed, and what the user refers back to.

    conv = read_conversation(messages, titles, catalog)
    conv.answers    # {message index: films of that assistant turn}  (served lines, JSON, or item ids)
    conv.shown      # every film recommended so far, oldest first: never recommended again
    conv.refs       # {message index: [TitleMatch]}  "#2", "the second one", "that one" -> a film
    conv.anchors    # {message index: item ids}  "more like #2", "something like Alien"
    conv.diverse    # the last user turn asks for "something different"
    conv.asked      # the clarifying question was already asked in this conversation
    conv.remarks    # lines for the user about the last turn: which remake or spelling was taken,
                    # names that match nothing, what "that one" was taken to mean

The turns come read by agent/understand (titles first, then references on the rest).
Earlier answers are read from Marquee's own answer format (`1. Title (Year): explanation`, or the
JSON list) or, exactly, from the extension field `marquee_recommendations` of an assistant
message (item ids, or objects with `item_id`). References point into the latest answer before the
turn: "#2", "number 2", "the second one", "the last one"; "that one", "it" after a verb ("I've
seen it", "more like that") mean the film the previous user turn referred to, else the first
film of that answer (said in `remarks`). A reference is read exactly like a named title by
agent/constraints, so "I've seen #1" is seen, "didn't like the second one" disliked, "not #3"
excluded, "which of #1 or #3?" a choice set.
People ("not Tom Cruise") cannot be filtered: the catalog lists no cast, and the answer says so.
Left out: references to answers before the latest one ("the first film you suggested"), ranges
("the first two").
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from agent.phrases import GENRE_LEXICON, answer_items
from agent.titles import TitleIndex, TitleMatch
from agent.types import Item

CLARIFYING_QUESTION = ("One question, so the next list fits better: is there a film you loved lately, "
                       "or a genre, mood or decade you are in the mood for?")

_ORDINALS = {"first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3, "fourth": 4, "4th": 4, "fifth": 5,
             "5th": 5, "sixth": 6, "6th": 6, "seventh": 7, "7th": 7, "eighth": 8, "8th": 8, "ninth": 9, "9th": 9,
             "tenth": 10, "10th": 10, "last": -1}
_NUMBER_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
                 "ten": 10}
_REF = re.compile(
    r"(?:(?<!#)#\s?|\bnumber\s+|\bno\.\s?)(?P<n>\d{1,2}|" + "|".join(_NUMBER_WORDS) + r")\b"
    r"|\bthe\s+(?P<o>" + "|".join(_ORDINALS) + r")(?:\s+(?:one|film|movie|pick|suggestion|recommendation|option))?\b"
    r"(?!\s+(?:time|place|half|two|three|few|of\s+(?:all|them)))(?!\s*#)"
    r"|\b(?P<p>(?:that|this)\s+(?:one|film|movie))\b"
    r"|(?:" + "|".join(f"(?<={w})" for w in (
        r"\bseen", r"\bsaw", r"\bwatched", r"\bliked", r"\bloved", r"\benjoyed", r"\bhated", r"\bdisliked",
        "n't like", "not like", "n't love", "n't enjoy", "more like", "thing like", "similar to")) + r")"
    r"\s+(?P<it>it|that|this)\b(?!\s+(?:kind|sort|type|genre|much|too|one|film|movie|is|was|before\s+in))",
    re.I)
_PERSON = re.compile(  # "not Tom Cruise", "nothing with Nicolas Cage": people, whom the catalog does not list
    r"\b(?:no|not|without|nothing\s+(?:with|starring|by)|anything\s+but|avoid)\s+(?:with\s+|starring\s+|by\s+)?"
    r"(?P<name>[A-Z][a-z'’]+(?:\s+[A-Z][a-z'’]+)+)", re.I)
_ANCHOR = re.compile(r"\b(?:more|something|anything|films?|movies?|ones?|others?|stuff|else)\s+(?:just\s+)?like\s*$"
                     r"|\bsimilar\s+to\s*$|\b(?:vein|style|spirit)\s+of\s*$|\b(?:more|others?)\s+of\s*$", re.I)
_SIMILAR = re.compile(r"\b(?:something|anything|more|films?|movies?|ones?|others?)\s+(?:(?:very|quite|really|just)\s+)?"
                      r"similar\b(?!\s+to\b)", re.I)
DIFFERENT = re.compile(
    r"\bsomething\s+(?:completely\s+|totally\s+|quite\s+|a\s+bit\s+|very\s+|really\s+)?different\b"
    r"|\b(?:mix|shake|switch|change)\s+(?:it|things)\s+up\b|\bsurprise\s+me\b|\b(?:more|some)\s+variety\b"
    r"|\bdifferent\s+(?:kinds?|genres?|types?|sorts?)\b|\bsomething\s+else\s+entirely\b"
    r"|\bnot\s+(?:more\s+)?like\s+(?:these|those|them)\b", re.I)


@dataclass(frozen=True)
class Conversation:
    answers: dict[int, tuple[Item, ...]] = field(default_factory=dict)
    shown: tuple[str, ...] = ()
    refs: dict[int, tuple[TitleMatch, ...]] = field(default_factory=dict)
    anchors: dict[int, tuple[str, ...]] = field(default_factory=dict)
    diverse: bool = False
    asked: bool = False
    remarks: tuple[str, ...] = ()

    @property
    def last_answer(self) -> tuple[Item, ...]:
        return self.answers[max(self.answers)] if self.answers else ()


def answer_films(msg: dict, titles: TitleIndex, catalog: dict[str, Item]) -> list[Item]:
    """The films of one assistant message: the `marquee_recommendations` extension when present
    (exact ids), else its text (served lines or the JSON list)."""
    ext = msg.get("marquee_recommendations")
    if isinstance(ext, list):
        ids = [str(x.get("item_id")) if isinstance(x, dict) else str(x) for x in ext]
        return [catalog[i] for i in ids if i in catalog]
    return answer_items(msg.get("content") or "", titles, catalog)


def references(text: str, answer: tuple[Item, ...], previous: tuple[TitleMatch, ...],
               remarks: list[str] | None = None, named: tuple[TitleMatch, ...] = ()) -> list[TitleMatch]:
    """The films one user turn refers to in `answer` (the latest assistant answer before it),
    as TitleMatch objects spanning the reference words (how="reference").

    >>> films = (Item("3", "Aliens", 1986), Item("6", "The Thing", 1982))
    >>> [(m.text, m.item.title) for m in references("more like #2, I've seen the first one", films, ())]
    [('#2', 'The Thing'), ('the first one', 'Aliens')]

    "it", "that one" after a film this turn names (`named`: its title matches) is that film: "I
    loved The Godfather. Something like it" asks for films like The Godfather, answer or none.

    >>> godfather = TitleMatch(Item("858", "The Godfather", 1972), (8, 21), "The Godfather", False, "exact")
    >>> said = "I loved #############. Something like it"
    >>> [(m.text, m.item.title) for m in references(said, films, (), named=(godfather,))]
    [('it', 'The Godfather')]
    """
    out: list[TitleMatch] = []
    for m in _REF.finditer(text):
        group = m.lastgroup
        span = m.span(group) if group == "it" else m.span()
        words = text[span[0]: span[1]]
        nearest = max((t for t in named if t.span[1] <= span[0]), key=lambda t: t.span, default=None) \
            if group in ("it", "p") else None
        if nearest is not None:  # the nearest film named before it in this turn
            out.append(TitleMatch(nearest.item, span, words, False, "reference"))
            continue
        if not answer:
            if remarks is not None and group in ("n", "o"):
                remarks.append(f"'{words}' refers to an earlier list, and I have not suggested any films yet.")
            continue
        if group in ("n", "o"):
            raw = m.group(group).lower()
            k = int(raw) if raw.isdigit() else _NUMBER_WORDS.get(raw) or _ORDINALS[raw]
            k = len(answer) if k == -1 else k
            if not 1 <= k <= len(answer):
                if remarks is not None:
                    remarks.append(f"My last list had {len(answer)} film{'s' if len(answer) != 1 else ''}, "
                                   f"so '{words}' points at none of them.")
                continue
            item = answer[k - 1]
        else:  # "that one", "it": what the previous turn pointed at, else the top film
            if previous:
                item = previous[-1].item
            else:
                item = answer[0]
                if remarks is not None and len(answer) > 1:
                    remarks.append(f"By '{words}' I took {item.label}, the first film of my last list.")
        out.append(TitleMatch(item, span, words, False, "reference"))
    return out


def title_remarks(matches: list[TitleMatch]) -> list[str]:
    """What to tell the user about how the films they named were read: typos and remakes.

    >>> a, b = Item("11", "Dune", 1984), Item("12", "Dune", 2000)
    >>> title_remarks([TitleMatch(a, (0, 4), "Dune", True, "popular", (b,))])
    ["'Dune' could be Dune (1984) or Dune (2000); I took Dune (1984), the most watched. Give the year for the other."]
    """
    out = []
    for m in matches:
        name, item, others, how = m.text, m.item, m.others, m.how
        if how == "typo":
            out.append(f"I read '{name}' as {item.label}.")
        elif others and how in ("popular", "context"):
            every = sorted((item, *others), key=lambda i: (i.year or 0, i.item_id))
            if len(every) > 4:  # "Star Wars": name a few, not all nine
                every = [item, *sorted(others, key=lambda i: (i.year or 0, i.item_id))[:3]]
                labels = ", ".join(i.label for i in every) + f" and {len(others) - 3} more"
            else:
                labels = ", ".join(i.label for i in every[:-1]) + " or " + every[-1].label
            why = "the most watched" if how == "popular" else "going by what you said"
            out.append(f"'{name}' could be {labels}; I took {item.label}, {why}. Give the year for the other"
                       f"{'s' if len(others) > 1 else ''}.")
    return out


def read_conversation(messages: list[dict], titles: TitleIndex, catalog: dict[str, Item], *,
                      turns: dict | None = None, answers: dict[int, tuple[Item, ...]] | None = None,
                      ref_remarks: list[str] | None = None) -> Conversation:
    """The conversation from its turns as agent/understand read them once (message index -> Turn;
    `ref_remarks`: what the last turn's references could not point at); read here when not given."""
    if turns is None:
        from agent.understand import read_turns  # the reader imports this module

        ref_remarks = []
        turns, answers = read_turns(messages, titles, catalog, ref_remarks)
    answers = answers or {}
    anchors: dict[int, tuple[str, ...]] = {}
    shown: dict[str, None] = {}
    asked = False
    for idx, msg in enumerate(messages):
        if msg.get("role") == "assistant":
            asked = asked or CLARIFYING_QUESTION in (msg.get("content") or "")
            shown.update(dict.fromkeys(i.item_id for i in answers.get(idx, ())))
    remarks: list[str] = list(ref_remarks or ())
    for idx, turn in turns.items():
        text = turn.text
        anchored = [m.item.item_id for m in turn.matches if _ANCHOR.search(text[max(0, m.span[0] - 40): m.span[0]])]
        similar = _SIMILAR.search(turn.masked or text)
        if similar:  # "I liked The Matrix. Something similar": the films named before it
            anchored += [m.item.item_id for m in turn.titles if m.span[1] <= similar.start()]
        if anchored:
            anchors[idx] = tuple(dict.fromkeys(anchored))
    last = turns[max(turns)] if turns else None
    if last is not None:
        remarks += title_remarks([*last.titles, *last.listed])
        for name in (last.choice[1] if last.choice else ()):
            remarks.append(f"'{name}' is not a film in the catalog, so I chose among the others.")
        for p in _PERSON.finditer(last.masked):
            name = p.group("name")
            if name[0].isupper() and not any(w.lower() in GENRE_LEXICON for w in name.split()):
                remarks.append(f"I cannot leave out films by person ('{name}'): the catalog lists no cast "
                               "or crew.")
    return Conversation(answers=dict(answers), shown=tuple(shown), refs={i: t.refs for i, t in turns.items()},
                        anchors=anchors, diverse=bool(last is not None and DIFFERENT.search(last.text)), asked=asked,
                        remarks=tuple(dict.fromkeys(remarks)))
