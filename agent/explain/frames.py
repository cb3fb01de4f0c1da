"""The phrase grammar of the verbalizer's clause ("frames"): the model chooses which facts to say and
in what order; each fact is written as a whole phrase of the evidence, never re-assembled word by word.

    rx = frames_regex(ev, link=ev.links[0], room=170)   # what may follow the opener
    # "Since you liked Heat (1995), you may enjoy Ronin (1998)" +
    #   ", an action and crime film about mercenaries, which is commonly watched after Heat (1995).
    #    Mercenaries chase a mysterious briefcase across France."

Why phrases and not words: under the word grammar (verbalize.continuation_regex) every word was
true and the 135M pack still composed them into false or broken statements ("the FBI agent and the
Interpol detective are a team of illusionists", "a heist as the car"), which no word check can see.
Here a statement can only be one the evidence makes:

  identity   ", a|an <genres> film" (the first two genres, fixed; "of N minutes" when a
             runtime bound was asked for), optionally " about <keyword>( and <keyword>)?" with the
             film's own keywords that read as a topic (`topic_keywords`: no meta keyword, no
             adjective, no name: "about Chicago" is not what The Fugitive is about), each bare or
             with its article ("about a heist" / "about friendship": the model's choice)
  shared     " because both are <shared genres> films" | " because both are <shared adjective keyword>"
             ("atmospheric") | " because both are about <shared topic keyword>" ("mafia"), for the
             opener's history film only; one or two keywords, never the same twice
  more       ", and it is <a reason naming a viewer's film>" ("commonly watched after Heat (1995)")
             | ", and it matches your request for <request words>", one or both (", which ..."
             when it is the whole clause)
  plot       the evidence's plot sentence, verbatim, as a second sentence, whenever it fits (served:
             appended by code after the model's clause, `verbalize.Explainer.complete`)

The clause is ((identity | shared) [more] | which) "." plot.
"""

from __future__ import annotations

import re

from agent.explain.evidence import Evidence, Link
from agent.explain.words import GENRE_WORDS, META_KEYWORD, apart, article, is_adjective, topic_keywords

__all__ = ["META_KEYWORD", "is_adjective", "topic_keywords", "frames_regex", "frame_variants"]

_RX_SPECIAL = set("\\.^$|?*+()[]{}-/")


def _rx(text: str) -> str:
    """`text` as a literal regex for the engine's grammar compiler (which warns on escapes such as
    re.escape's "\\&": only the regex metacharacters are escaped)."""
    return "".join("\\" + c if c in _RX_SPECIAL else c for c in text)


def _alt(options) -> str:
    opts = sorted({_rx(o) for o in options if o}, key=lambda a: (-len(a), a))
    return "(" + "|".join(opts) + ")" if opts else ""


GENRE_SAID = {"IMAX": "IMAX", "Children": "children's", "Film-Noir": "film noir"}


def _genre_run(genres) -> str:
    """The film's first two genres as said in a sentence ("action and crime"; "" for none). Fixed
    by code, not chosen by the model: which two of three genres, or in which order, says nothing
    the card's genre line does not, and each such choice cost the jump-forward decoder a model call.

    >>> _genre_run(("Action", "Crime", "Thriller")), _genre_run(("Children",)), _genre_run(())
    ('action and crime', "children's", '')
    """
    g = [GENRE_SAID.get(x, x.lower()) for x in genres if x != "(no genres listed)"][:2]
    return " and ".join(g)


def _one_or_two(options) -> str:
    """One option, or two different ones joined by "and" (never "police and police", nor "alien
    and aliens")."""
    opts = sorted(set(options))
    return _alt([*opts, *(f"{a} and {b}" for a in opts for b in opts if a != b and apart(a, b))])


# Topics said bare only: mass nouns and plurals by their ending or a short list, gerunds and
# phrases ("saving the world", "loss of mother", "dying and death"):
# "about a wartime", "about a claustrophobia", "about a black people" are wrong where the bare
# topic is not.
_MASS = re.compile(r"(ness|ism|ia|ity|hood|dom|\wship|ance|ence|ense|ure|ery|time|ics|ing|tion|ology|ment|vu|s|people)$"
                   r"| of | and |^\w+ing\b|(^| )(love|sex|rape|alcohol|life|police|magic|travel|abuse|metal|winter|summer|"
                   r"sport|military|death|art|money|food|nature|fear|hope|revenge|power|crime|justice|evil|"
                   r"space|time|history|youth|faith|greed|guilt|grief|jealousy|music|dance|poetry|humor|humour|gore|slapstick|telepathy|golf|tennis|baseball|football|basketball|soccer|hockey|rugby|"
                   r"chess|poker|karate|kung fu|surfing|sailing)$"
                   r"|(\w{3,}|\bwo)men$|(^| )(children|mice|geese|teeth|feet|lice|oxen)$", re.I)  # irregular plurals: "about cavemen"
# count nouns with a mass-noun ending: "a space station", "a secret mission", "a dance competition"
_COUNT = frozenset("station mission vacation expedition competition invention operation election nation plantation "
                   "ship relationship princess actress mistress waitress hostess goddess business bus "
                   "boss virus circus".split())


def _mass(topic: str) -> bool:
    """Said bare only (see `_MASS`).

    >>> [_mass(t) for t in ("time travel", "friendship", "space station", "heist", "secret mission", "boss", "dark humor",
    ...                     "cavemen", "children", "omen")]
    [True, True, False, False, False, False, True, True, True, False]
    """
    return bool(_MASS.search(topic)) and topic.split()[-1].lower() not in _COUNT


def _topics(options, counted=()) -> str:
    """One or two topics, each bare or with its indefinite article ("about a heist", "about
    friendship"): count noun or mass noun is the model's choice (a teacher's, learnt by the
    adapter), the article's form is the code's (`article`). The regex is built from parts, so
    two topics with article options stay small.

    >>> import re
    >>> rx = _topics(["heist", "friendship"])
    >>> [bool(re.fullmatch(rx, t)) for t in ("a heist", "friendship and a heist", "an heist", "a heist and a heist")]
    [True, True, False, False]
    >>> bool(re.fullmatch(_topics(["alien", "aliens"]), "alien and aliens"))
    False
    >>> [bool(re.fullmatch(_topics([t]), "a " + t)) for t in ("wartime", "claustrophobia", "loss of mother", "black people",
    ...                                                       "suspense", "aliens", "sex", "dying and death",
    ...                                                       "saving the world", "friendship", "con man", "ship")]
    [False, False, False, False, False, False, False, False, False, False, True, True]

    A count noun of `_COUNT`, or one the catalog's prose counts (`counted`: `Evidence.counted`),
    keeps its article: "about a mother son relationship", "about a terrorist", never "about
    mother son relationship", "both are about terrorist".

    >>> [bool(re.fullmatch(_topics(["mother son relationship"]), t)) for t in ("a mother son relationship", "mother son relationship")]
    [True, False]
    >>> [bool(re.fullmatch(_topics(["terrorist"], ("terrorist",)), t)) for t in ("a terrorist", "terrorist")]
    [True, False]
    """
    opts = sorted(set(options))

    def one(t: str) -> str:
        if not t[:1].islower() or _mass(t):
            return _rx(t)
        a = f"{_rx(article(t))} "
        head = t.split()[-1].lower()
        return (a if head in _COUNT or head in counted else f"({a})?") + _rx(t)  # "about mother son relationship"
    pairs = []
    for a in opts:
        others = [one(b) for b in opts if b != a and apart(a, b)]
        pairs.append(one(a) + (f"( and {_alt_raw(others)})?" if others else ""))
    return _alt_raw(pairs)


def identity_phrase_regex(ev: Evidence, topics: list[str], topic_required: bool = False) -> str:
    """", an action and crime film( about <topics>)?"; `topic_required`: the topic is not optional
    ("" when the film has none)."""
    run = _genre_run(ev.genres)
    if not run:  # the year alone says nothing the opener's "Ronin (1998)" did not
        return ""
    kinds = _rx(f"{article(run)} {run}")  # "an action and crime" (no year: the opener's label has it)
    minutes = f"( of {ev.runtime} minutes)?" if ev.runtime else ""
    if topic_required and not topics:
        return ""
    said = _topics(topics, ev.counted) if topics else ""
    about = (f" about {said}" if topic_required else f"( about {said})?") if topics else ""
    return ", " + kinds + " film" + minutes + about


def shared_phrase_regex(ev: Evidence, link: Link | None, genres: bool = True) -> str:
    """" because both are <shared genres> films | <adjective> | about <topics>"; `genres=False`:
    the shared keywords only."""
    if link is None:
        return ""
    alts = []
    run = _genre_run(link.genres) if genres else ""
    if run:
        alts.append("are " + _rx(run) + " films")
    keywords = [k for k in link.themes if not META_KEYWORD.search(k) and not any(w in GENRE_WORDS for w in k.split())]
    adjectives = [k for k in keywords if is_adjective(k)]
    topics = topic_keywords(keywords, [ev.plot])  # no adjective: those are "both are X"
    if adjectives:
        alts.append("are " + _one_or_two(adjectives))
    if topics:
        alts.append("are about " + _topics(topics, ev.counted))
    return " because both " + _alt_raw(alts) if alts else ""


def more_phrase_regex(ev: Evidence, link: Link | None = None) -> str:
    """", and it is <a reason naming a viewer's film>" and/or ", and it matches your request for <words>".
    A reason naming the opener's own film (`link`) is left out: "Since you liked Heat (1995), you may
    enjoy Ronin (1998), ... commonly watched after Heat (1995)" says the film twice."""
    facts = [_alt(f"is {r.text}" for r in ev.reasons if r.film and (link is None or r.film != link.label))]
    asked = [w for w in ev.request_words if w.lower() not in GENRE_WORDS]  # "a comedy film, and it matches
    if asked:                                                              # your request for comedy" says it twice
        facts.append("matches your request for " + _one_or_two(asked))
    facts = [x for x in facts if x]
    if not facts:
        return ""
    return ", and it " + _alt_raw(facts if len(facts) == 1 else [*facts, f"{facts[0]} and {facts[1]}"])


def frames_regex(ev: Evidence, link: Link | None = None, room: int = 240, plot: bool = True) -> str:
    """What the verbalizer may write after its opener, as a regex (see the module docstring).
    `link`: the history film the opener names (None: "You may enjoy X"). `room`: characters left
    after the opener; the plot sentence is written (it is the evidence's own sentence: the choice
    of what to say is the clause before it) when it fits beside a short clause. `plot=False`: the
    clause only (the served Explainer appends the plot sentence itself: `Explainer.complete`).

    >>> import re
    >>> from agent.explain.evidence import Evidence, Link, Reason
    >>> ev = Evidence("5", "Ronin", "Ronin (1998)", 1998, ("Action", "Crime"), plot="Mercenaries chase a case.",
    ...               links=(Link("2", "Heat (1995)", ("heist", "tense"), ("Crime",), liked=True),),
    ...               themes=("mercenary", "held captive"), reasons=(Reason("sequence", "Alien (1979)"),))
    >>> ok = lambda t: bool(re.fullmatch(frames_regex(ev, ev.links[0]), t))
    >>> ok(", an action and crime film about mercenary, and it is commonly watched after Alien (1979). Mercenaries chase a case.")
    True
    >>> ok(" because both are about heist. Mercenaries chase a case."), ok(" because both are tense. Mercenaries chase a case.")
    (True, True)
    >>> ok(" because both are crime films, and it is commonly watched after Alien (1979). Mercenaries chase a case.")
    True
    >>> ok(" because both are crime films, and it is commonly watched after Heat (1995). Mercenaries chase a case.")
    False
    >>> ok(" because both are about heist."), ok(", a film about held captive. Mercenaries chase a case.")
    (False, False)
    >>> ok(" because both are about mercenary. Mercenaries chase a case."), ok(". Mercenaries chase a case.")
    (False, False)
    >>> ok(" because both are about heist and heist. Mercenaries chase a case.")
    False
    """
    topics = topic_keywords(ev.themes, [ev.plot], ev.title)
    firsts = [x for x in (identity_phrase_regex(ev, topics), shared_phrase_regex(ev, link)) if x]
    more = more_phrase_regex(ev, link)
    plot = f" {_rx(ev.plot)}" if plot and ev.plot and len(ev.plot) + 60 <= room else ""
    alts = []
    if firsts:
        alts.append(_alt_raw(firsts) + (f"({more})?" if more else ""))
    if more:
        alts.append(_which(more))
    if not alts:  # a bare catalog entry (no genre, year, reason or request word): the verifier refuses it
        alts.append(", a film")
    return _alt_raw(alts) + r"\." + plot


def frame_variants(ev: Evidence, link: Link | None = None) -> list[str]:
    """Sub-grammars of `frames_regex(ev, link, plot=False)`, one per kind of fact the clause can
    open with beyond genres: the identity phrase with its topic ("a crime film about mercenaries"),
    the shared keyword or topic ("because both are about heist"), the reason or request alone
    (", which is commonly watched after Heat (1995)"). Each is a restriction of the served
    grammar (every text it admits, the served regex admits), so a teacher decoded under one
    writes a clause the served model can write. Empty kinds are left out.

    >>> import re
    >>> from agent.explain.evidence import Evidence, Link, Reason
    >>> ev = Evidence("5", "Ronin", "Ronin (1998)", 1998, ("Action", "Crime"), plot="Mercenaries chase a case.",
    ...               links=(Link("2", "Heat (1995)", ("heist",), ("Crime",), liked=True),),
    ...               themes=("mercenary",), reasons=(Reason("sequence", "Alien (1979)"),))
    >>> vs = frame_variants(ev, ev.links[0])
    >>> len(vs), all(re.fullmatch(frames_regex(ev, ev.links[0], plot=False), t) for t in (
    ...     ", an action and crime film about mercenary.", " because both are about heist.",
    ...     ", which is commonly watched after Alien (1979)."))
    (3, True)
    >>> [bool(re.fullmatch(v, " because both are crime films.")) for v in vs]
    [False, False, False]
    """
    more = more_phrase_regex(ev, link)
    tail = f"({more})?" if more else ""
    heads = (identity_phrase_regex(ev, topic_keywords(ev.themes, [ev.plot], ev.title), topic_required=True),
             shared_phrase_regex(ev, link, genres=False))
    return [h + tail + r"\." for h in heads if h] + ([_which(more) + r"\."] if more else [])


def _which(more: str) -> str:
    """The `more` phrase as the whole clause: ", which is commonly watched after Heat (1995)"."""
    return more.replace(", and it ", ", which ", 1)


def _alt_raw(regexes: list[str]) -> str:
    return "(" + "|".join(regexes) + ")"
