"""The strict verifier: a text passes only when the evidence supports every word of it.

    verify(text, evidence, titles) -> []                       # passes
                                   -> ["word:villain", "title:The Lion King", ...]   # kind:detail

Checks, each a problem kind:
  unfinished  empty, under MIN_CHARS, or not ending a sentence
  person      speaks of "the viewer" / "the user" in the third person (it must say "you")
  echo        prompt scaffolding copied ("Recommended film:", "Plot:", "facts", a field list)
  repetitive  a 3-word phrase twice, one content word (titles aside) twice in a sentence or thrice in all
  name        a capitalised word inside a sentence that no evidence string capitalises and that is
              no word of a keyword ("Same A", "Iron Kamikakushi": invented names made of allowed
              words; "Disney" from the keyword "disney" is fine)
  title       a catalog film named that is neither the film explained nor one of its evidence links,
              unless the evidence states those words (a reason's film, "a true story" in the plot)
  role        "you liked/watched X" where X is not one of the viewer's films (e.g. the film explained),
              or "you may enjoy X" where X is not the film explained (e.g. the viewer's own film)
  number      a number (year, runtime) the evidence does not state
  genre       a genre word that is neither the film's nor a shared genre of a link
  shared      "both are/have <words>" where a word is no genre or keyword the film shares with the
              history film(s) the text names (all links when it names none): "because both are
              action and romance" for a link that shares only action
  word        any other content word (lemmatised; CONNECTORS aside) that no evidence string has
  empty       no evidence word besides the titles (bare title, generic praise) and no plot sentence
Blind spots: the relations between supported words ("Heat's plot" told of the recommended film
passes when the words are all in the evidence), negation, and word order.
"""

from __future__ import annotations

import re

from agent.explain.evidence import Evidence
from agent.explain.words import CONNECTOR_LEMMAS, GENRE_WORDS, lemma, lemmas, tokens
from agent.titles import TitleIndex, normalise

MIN_CHARS = 20
_THIRD = re.compile(r"\b(the|this|that|a) (viewer|user|reader|person|audience)s?\b|\bviewer's\b|\buser's\b", re.I)
_ECHO = re.compile(r"recommended film|you asked for:|both have:|\babout:|\bplot:|\bexample\b|\banswers?\b|"
                   r"\bfacts?\b|\bevidence\b|\bone or two sentences\b", re.I)
_YOU_ENJOY = re.compile(r"\b(?:you(?:'ll| will| may| might| would| could| should)?\s+(?:also\s+)?(?:enjoy|like|love|want)|"
                        r"watch|try)\s+", re.I)
_YOU_LIKED = re.compile(r"\byou(?:'ve| have)?\s+(?:really\s+|also\s+)?(?:liked|loved|enjoyed|watched|saw|seen|rated)\s+",
                        re.I)


def _support(ev: Evidence) -> set[str]:
    out: set[str] = set()
    for t in ev.texts:
        out |= lemmas(t)
    return out | _genre_lemmas((*ev.genres, *(g for x in ev.links for g in x.genres)))


def _genre_lemmas(genres) -> set[str]:
    """The lemmas that name `genres` ("comedic" and "comedy" for Comedy; "science fiction" for Sci-Fi)."""
    out: set[str] = set()
    for g in genres:
        out |= {lemma(w) for w, genre in GENRE_WORDS.items() if genre == g}
        if g == "Sci-Fi":
            out |= {"science", "fiction"}
    return out


def _allowed_genres(ev: Evidence) -> set[str]:
    return set(ev.genres) | {g for x in ev.links for g in x.genres}


def verify(text: str, ev: Evidence, titles: TitleIndex | None = None) -> list[str]:
    """Problems of `text` as an explanation of `ev`'s film (empty list: it passes)."""
    problems: list[str] = []
    t = " ".join(text.split())
    if len(t) < MIN_CHARS or not t.endswith((".", "!", '."', "!\"", "?")):
        problems.append("unfinished:" + (t[-20:] or "empty"))
    if _THIRD.search(t):
        problems.append("person:" + _THIRD.search(t).group(0))
    if _ECHO.search(t):
        problems.append("echo:" + _ECHO.search(t).group(0))
    rest = t
    if ev.plot and len(ev.plot) > MIN_CHARS and ev.plot in rest:
        # the evidence's plot sentence, copied whole (the frames grammar appends it): the catalog's
        # writing, not a claim of the writer; its words are supported, and its own "his ... his",
        # "Corleone ... Corleone" or "war on crime" are no repetition or genre claim of the text
        # (cut before the titles are: a title inside it would leave it unrecognised)
        rest = rest.replace(ev.plot, " ")
    copied_plot = rest != t
    rest = without_titles(rest, ev)  # what the repetition, genre and fact checks read
    problems += _repetition(rest)
    names = {normalise(ev.title)} | {normalise(x.label.rsplit(" (", 1)[0]) for x in ev.links}
    named_spans: list[tuple[int, int]] = []
    if titles is not None:
        link_ids = {x.item_id for x in ev.links}
        reason_texts = {r.text for r in ev.reasons}
        stated = " " + "  ".join(normalise(x) for x in ev.texts if x not in reason_texts) + " "  # word-bounded, one string at a time
        reason_films = {normalise(r.film.rsplit(" (", 1)[0]) for r in ev.reasons if r.film}
        topic_spans = _topic_spans(t, ev)
        for m in titles.find(t):
            named_spans.append(m.span)
            said = normalise(m.text)
            if any(a <= m.span[0] and m.span[1] <= b for a, b in topic_spans):
                continue  # the frames grammar's "about time travel" / "about a boy" is a keyword, not "About Time" / "About a Boy"
            if m.item.item_id == ev.item_id or m.item.item_id in link_ids or said in names:
                continue
            if said in reason_films or (said and f" {said} " in stated):
                continue  # the evidence says it: a reason's film ("often watched after Total Recall"), a plot phrase ("a true story");
                # a part of a reason's title is not ("Jurassic Park" for The Lost World: Jurassic Park)
            if _YEAR_ONLY.fullmatch(m.text.strip()) and int(m.text.strip()[-4:]) in _years(ev):
                continue  # "a 1995 comedy" names no film "1995"
            problems.append(f"title:{m.text}")
    problems += _roles(t, ev, titles)
    numbers = {str(y) for y in _years(ev)} | ({str(ev.runtime)} if ev.runtime else set())
    numbers |= {n for s in ev.texts for n in re.findall(r"\d+", s)}
    for n in re.findall(r"\d+", t):
        if n not in numbers and n.rstrip("s") not in numbers:
            problems.append(f"number:{n}")
    low = rest.lower()
    allowed = {g.lower() for g in _allowed_genres(ev)}
    for w in {w.lower() for w in tokens(low)}:
        g = GENRE_WORDS.get(w)
        if g and g.lower() not in allowed:
            problems.append(f"genre:{w}")
    if "science fiction" in low and "sci-fi" not in allowed:
        problems.append("genre:science fiction")
    problems += _shared_claims(t, ev, rest)
    support = _support(ev)
    unsupported = []
    for w in tokens(t):
        lw = lemma(w)
        if w.isdigit() or lw in CONNECTOR_LEMMAS or w.lower() in GENRE_WORDS or lw in support:
            continue
        if "-" in w and all(lemma(p) in support or lemma(p) in CONNECTOR_LEMMAS for p in w.split("-") if p):
            continue
        if w not in unsupported:
            unsupported.append(w)
    problems += [f"word:{w}" for w in unsupported]
    said_reason = any(r.film and r.text.lower() in t.lower() for r in ev.reasons)  # "often watched by people who watched Heat (1995)"
    if not said_reason and not copied_plot and not any(lemma(w) in support and lemma(w) not in CONNECTOR_LEMMAS and not w.isdigit()
                                   for w in tokens(rest)):
        problems.append("empty:no fact beyond the titles")  # "You may enjoy Heat (1995)." says nothing
    return problems + _names(rest, ev)


_BOTH = re.compile(r"\bboth (?:are|have|share|feature)\b([^.;!?]*)", re.I)
_CLAUSE_END = re.compile(r",(?! and\b| or\b)|, and it\b|\b(?:which|where|who|because|since|while|but)\b", re.I)
_GENERIC_SHARED = frozenset(lemma(w) for w in "film films movie movies story stories".split())


def _shared_claims(t: str, ev: Evidence, rest: str | None = None) -> list[str]:
    """Words claimed as shared ("both are crime and drama") that the named links do not share.

    >>> from agent.explain.evidence import Link
    >>> ev = Evidence("5", "Ronin", "Ronin (1998)", 1998, ("Action", "Crime"), plot="Mercenaries chase a case.",
    ...               links=(Link("2", "Heat (1995)", ("heist",), ("Crime",), liked=True),))
    >>> _shared_claims("Since you liked Heat (1995), you may enjoy Ronin, as both are crime films with a heist.", ev)
    []
    >>> _shared_claims("Since you liked Heat (1995), you may enjoy Ronin, as both are action and crime, which chase.", ev)
    ['shared:action']
    >>> _shared_claims("You may enjoy Ronin, as both have mercenaries.", ev)
    ['shared:mercenaries']
    """
    low = t.lower()
    named = [x for x in ev.links if x.label.lower() in low or x.label.rsplit(" (", 1)[0].lower() in low] or list(ev.links)
    ok = {lemma(w) for x in named for th in x.themes for w in tokens(th)}
    ok |= _genre_lemmas(g for x in named for g in x.genres)
    out = []
    for m in _BOTH.finditer(rest if rest is not None else t):  # titles (a reason's film) are no shared words
        clause = _CLAUSE_END.split(m.group(1), maxsplit=1)[0]
        for w in tokens(clause):
            lw = lemma(w)
            if lw in CONNECTOR_LEMMAS or lw in _GENERIC_SHARED or lw in ok or w.isdigit():
                continue
            if f"shared:{w.lower()}" not in out:
                out.append(f"shared:{w.lower()}")
    return out


_YEAR_ONLY = re.compile(r"(?:(?:the|a|an)\s+)?(?:19|20)\d\d", re.I)


def _years(ev: Evidence) -> set[int]:
    ys = {ev.year} if ev.year else set()
    for x in ev.links:
        m = re.search(r"\((\d{4})\)$", x.label)
        if m:
            ys.add(int(m.group(1)))
    return ys


def _topic_spans(t: str, ev: Evidence) -> list[tuple[int, int]]:
    """Spans of `t` that say "about [a|an] <a keyword of the evidence>" (the film's or a link's).

    >>> ev = Evidence("3", "Toy Story", "Toy Story (1995)", 1995, ("Animation",), themes=("boy", "time travel"))
    >>> t = "You may enjoy Toy Story (1995), an animation film about a boy and time travel."
    >>> [t[a:b] for a, b in _topic_spans(t, ev)]
    ['about a boy']
    """
    out = []
    for th in {*ev.themes, *(x for link in ev.links for x in link.themes)}:
        if th:
            out += [m.span() for m in re.finditer(r"\babout (?:an? )?" + re.escape(th) + r"\b", t, re.I)]
    return out


def _starts_with_title(text: str, title: str) -> bool:
    """`text` (normalised) begins with the whole title: "back to the future part iii" does not begin
    with "back to the future part ii"."""
    return text.startswith(title) and (len(text) == len(title) or text[len(title)] == " ")


def _roles(t: str, ev: Evidence, titles: TitleIndex | None) -> list[str]:
    """'you liked X': X must be one of the viewer's films (a link, or at least their history)."""
    out = []
    own = {normalise(x.label.rsplit(" (", 1)[0]) for x in ev.links}
    history = {normalise(lab.rsplit(" (", 1)[0]) for lab in ev.history_labels} | own
    for m in _YOU_ENJOY.finditer(t):  # "you may enjoy X": X must be the film explained
        after = t[m.end(): m.end() + 80]
        if titles is None or _starts_with_title(normalise(after), normalise(ev.title)):
            continue
        for tm in titles.find(after):
            if tm.span[0] <= 4 and tm.item.item_id != ev.item_id and normalise(tm.text) != normalise(ev.title):
                out.append(f"role:recommends {tm.text}")
            break
    for m in _YOU_LIKED.finditer(t):
        after = t[m.end(): m.end() + 80]
        said = normalise(after)
        if any(len(h) > len(normalise(ev.title)) and _starts_with_title(said, h) for h in history):
            continue  # a longer history title that begins with the film's: "you liked Spider-Man 3" for Spider-Man
        if _starts_with_title(said, normalise(ev.title)) and normalise(ev.title) not in history:
            out.append(f"role:you liked {ev.title}")
            continue
        if titles is None:
            continue
        for tm in titles.find(after):
            if tm.span[0] > 2:
                break  # only the title right after the verb
            if normalise(tm.text) not in history and tm.item.item_id not in {x.item_id for x in ev.links}:
                out.append(f"role:you liked {tm.text}")
    return out


def without_titles(t: str, ev: Evidence) -> str:
    """The text with the film's, the links' and the reasons' film labels and titles cut out (a title
    is no repetition and no genre claim: "War of the Worlds (2005)" says nothing of war films)."""
    named = [x.label for x in ev.links] + [r.film for r in ev.reasons if r.film]
    for name in sorted({ev.label, ev.title, *named, *(x.rsplit(" (", 1)[0] for x in named)}, key=len, reverse=True):
        # word-bounded: "Psycho" is cut from "you liked Psycho", not from "a psychological thriller"
        t = re.sub(r"(?<!\w)" + re.escape(name) + r"(?!\w)", " ", t, flags=re.I) if name else t
    return t


def _repetition(t: str) -> list[str]:
    words = [w.lower() for w in tokens(t)]
    grams = [tuple(words[i: i + 3]) for i in range(len(words) - 2)]
    if len(grams) != len(set(grams)):
        return ["repetitive:a phrase repeats"]
    counts: dict[str, int] = {}
    for sentence in re.split(r"[.!?]\s+", t):  # twice in one sentence ("both a commonly and a commonly")
        seen: dict[str, int] = {}
        for w in tokens(sentence.lower()):
            lw = lemma(w)
            if lw not in CONNECTOR_LEMMAS and len(lw) > 2:
                seen[lw] = seen.get(lw, 0) + 1
                counts[lw] = counts.get(lw, 0) + 1
        rep = [w for w, c in seen.items() if c >= 2]
        if rep:
            return [f"repetitive:{rep[0]}"]
    rep = [w for w, c in counts.items() if c >= 3]  # or three times in the whole text
    return [f"repetitive:{rep[0]}"] if rep else []


_SENTENCE_START = re.compile(r"(?:^|[.!?:])$")


def _names(t: str, ev: Evidence) -> list[str]:
    """Capitalised words not at a sentence start that the evidence never writes capitalised.

    Titles are cut out before (see _without_titles); "You" and "I" are always fine."""
    capitalised = {w for s in ev.texts for w in re.findall(r"\b[A-Z][\w'’-]*", s)}
    # a keyword's own words, capitalised, are its proper name ("disney" -> Disney, "chicago" -> Chicago);
    # allowed words strung into a new name ("Same A") are not
    keyword_words = {w for k in (*ev.themes, *(th for x in ev.links for th in x.themes)) for w in k.lower().split()}
    out = []
    for m in re.finditer(r"\b[A-Z][\w'’-]*", t):
        w = m.group(0)
        if w in ("You", "I", "It", "If") or w in capitalised or w.lower() in keyword_words or \
                _SENTENCE_START.search(t[: m.start()].rstrip()):
            continue
        if f"name:{w}" not in out:
            out.append(f"name:{w}")
    return out
