"""The verbalizer (evidence -> one or two sentences to "you"), the fact fallback, and `Explainer`,
which runs one film's explanation: candidates in parallel -> verify -> the best passing one, or the fallback.

    explainer = Explainer(prompts, titles, max_chars=240)
    done = await explainer.explain(llm, evidence, max_tokens=90, temperature=0.0)
    done.text, done.source ("llm" | "facts"), done.diagnostics (why a text was rejected; for logs
    and the `marquee` extension, never for the person reading)

The verbalizer prompt (prompts/verbalize_system.j2 + verbalize_user.j2) holds the evidence only:
no history list, no full entry. Its system message is the same for every film, so the five
requests of an answer share a prefix (vLLM's prefix cache). With `constrain` (the default) the
verbalizer decodes under a regex: with `grammar="frames"` (the default) the phrase grammar of
agent/explain/frames.py (whole evidence facts; the plot sentence is appended by `complete`), with
`grammar="words"` `continuation_regex` / `vocabulary_regex` (only the evidence's words, its films'
labels and a few connector words). A backend without regex decoding, e.g. a remote server, writes
freely and the verifier alone decides. Each film gets `samples` candidates at once (the
greedy one, the others at `retry_temperature`), and `retries` further sampled waves when none
passes; of those that pass the verifier the first that
says something beyond genres is shown (`says_more_than_genres`), else the first. When none passes,
an empty answer or an LLM error gives the fallback, written from the evidence by
prompts/facts_explanation.j2 in complete sentences (correct articles, no cut-off plot).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import re
from dataclasses import dataclass

from agent.explain.evidence import Evidence, Link
from agent.explain.frames import GENRE_SAID, META_KEYWORD, frames_regex
from agent.explain.verify import verify, without_titles
from agent.explain.words import (CONNECTOR_LEMMAS, DETERMINERS, FUNCTION_WORDS, GENRE_WORDS, PREPOSITIONS,
                                 REGEX_CONNECTORS, article, fix_articles, join_words, lemma,
                                 protected_spans, tokens)
from agent.llm.base import LLM, GenerationRequest
from agent.prompts import Prompts
from agent.titles import TitleIndex

log = logging.getLogger("marquee.explain")
_END = re.compile(r"[.!?][\"')\]]?(?=\s|$)")


@dataclass(frozen=True)
class Explained:
    text: str
    source: str  # "llm": written by the LLM and passed the verifier; "facts": the evidence fallback
    evidence: Evidence
    diagnostics: tuple[str, ...] = ()  # e.g. "explanation for 5 resampled (word:villain)"
    prompt_tokens: int = 0
    completion_tokens: int = 0


def finish(text: str, max_chars: int, protect: tuple[str, ...] = ()) -> str:
    """Whitespace collapsed, wrapping quotes dropped, cut after the last complete sentence that
    fits in `max_chars`; an unfinished tail is dropped (never marked with "…"). A full stop inside
    a `protect` string (a film's label: "(a.k.a. ...)", "Mr. Smith") ends no sentence.

    >>> finish('  "You liked Heat. It has a long chase and', 80)
    'You liked Heat.'
    >>> finish("One. Two is longer than the cap allows here.", 12), finish("no end", 40)
    ('One.', 'no end')
    >>> finish("You liked Up (a.k.a. Oben) (2009), a film with a long tail.", 30, protect=("Up (a.k.a. Oben) (2009)",))
    'You liked Up (a.k.a. Oben) (20'
    """
    t = " ".join(text.split()).strip()
    if len(t) >= 2 and t[0] == t[-1] == '"':
        t = t[1:-1].strip()
    t = t.lstrip('"').strip()
    inside = protected_spans(t, protect)
    ends = [m.end() for m in _END.finditer(t) if m.end() <= max_chars
            and not any(a < m.start() < b for a, b in inside)]
    if ends and (len(t) > max_chars or ends[-1] < len(t)):
        return t[: ends[-1]].strip()
    return t[:max_chars] if len(t) > max_chars else t


def genre_phrase(genres: tuple[str, ...] | list[str]) -> str:
    """'crime and thriller' for the film's genres, lower-cased (IMAX and Sci-Fi keep their case).

    >>> genre_phrase(("Action", "Crime", "Thriller")), genre_phrase(("Sci-Fi", "IMAX"))
    ('action, crime and thriller', 'sci-fi and IMAX')
    """
    return join_words([g if g == "IMAX" else g.lower() for g in genres])


def genres_said(genres: tuple[str, ...] | list[str]) -> str:
    """The genres as a sentence says them, as the frames grammar does ("children's", "film noir").

    >>> genres_said(("Adventure", "Animation", "Children"))
    "adventure, animation and children's"
    """
    return join_words([GENRE_SAID.get(g, g.lower()) for g in genres])


def fallback_view(ev: Evidence) -> dict:
    """The variables of prompts/facts_explanation.j2, every one taken from the evidence."""
    identity = " ".join(x for x in (str(ev.year) if ev.year else "", genres_said(ev.genres[:3])) if x)
    link = ev.links[0] if ev.links else None
    return {
        "title": ev.title, "label": ev.label,
        "identity": f"{article(identity)} {identity} film" if ev.genres else "",
        "link": None if link is None else {
            "label": link.label, "verb": "liked" if link.liked else "watched",
            # a meta keyword reads as no shared trait ("shares imdb top 250 with Psycho (1960)")
            "themes": join_words([k for k in link.themes if not META_KEYWORD.search(k)][:2]),
            "genres": (lambda g: f"{article(g)} {g} film")(genres_said(link.genres[:3])) if link.genres else "",
            "similar": link.similar},
        "request": join_words(list(ev.request_words[:3])),
        # the anchor reason on the link's own film says the link twice ("... is close to The Godfather
        # (1972), which you liked. It is close to The Godfather (1972), as you asked.")
        "reason": next((r.text for r in ev.reasons if r.kind in ("collab", "sequence", "anchor")
                        and not (r.kind == "anchor" and link is not None and r.film == link.label)), ""),
        "plot": ev.plot,
    }


def fallback_text(ev: Evidence, prompts: Prompts, max_chars: int = 240) -> str:
    """The evidence as one to three complete sentences; optional parts are dropped, last first,
    until the text fits `max_chars` (the plot sentence goes before the film's identity)."""
    view = fallback_view(ev)
    text = ""
    for drop in ((), ("reason",), ("reason", "request"), ("reason", "request", "plot")):
        v = {**view, **{k: "" for k in drop}}
        text = prompts.render("facts_explanation.j2", **v)
        if len(text) <= max_chars:
            return text
    return finish(text, max_chars)


def verbalize_prompt(prompts: Prompts, ev: Evidence, max_chars: int = 240, plot: bool = True) -> list[dict[str, str]]:
    """The verbalizer's messages: a fixed system message (shared prefix), then the evidence.
    `plot=False` is the frames grammar's compact prompt: what its phrases can say and nothing else.
    No plot sentence (code appends it), no media line and no second history film (no phrase says
    them), no closing question (the answer's start is given); ~130 prompt tokens a film instead of
    ~180, and prefill is most of the verbalizer's time on a CPU."""
    return [
        {"role": "system", "content": prompts.render("verbalize_system.j2", max_chars=max_chars)},
        {"role": "user", "content": prompts.render("verbalize_user.j2", ev=fallback_view(ev) | {
            "genres": genre_phrase(ev.genres), "links": [
                {"label": x.label, "verb": "liked" if x.liked else "watched", "themes": list(x.themes),
                 "genres": genre_phrase(x.genres)} for x in ev.links[: None if plot else 1]],
            "request_words": list(ev.request_words), "reasons": [r.text for r in ev.reasons if r.film],
            "themes": list(ev.themes), "media": [list(m) for m in ev.media], "compact": False}
            | ({} if plot else {"plot": "", "media": [], "compact": True}))},
    ]


_RX_SPECIAL = set("\\.^$|?*+()[]{}-/")


def _rx(text: str) -> str:
    return "".join("\\" + c if c in _RX_SPECIAL else c for c in text)


_ROLE_WORDS = frozenset("like liked love loved enjoy enjoyed watch watched".split())  # only in the plan's openers


def _alt(options) -> str:
    return "(" + "|".join(sorted({_rx(o) for o in options if o}, key=lambda a: (-len(a), a))) + ")"


def vocabulary_regex(ev: Evidence) -> str:
    """A regular expression for what the verbalizer may write (fact-constrained decoding; the
    verifier still checks the result). It fixes the plan of the first sentence and leaves the
    words to the model:

        opener: "Since|If|Because you liked <a link>, you may|might enjoy|like <the film>"
                or "You may|might enjoy|like <the film>"
        lead:   how the clause joins: ", a", ", which", " because it", " for its", ... (CLAUSE_LEADS)
        clause: one or more of the evidence's own words (plot, keywords, request words, the
                film's and shared genres, constraints, media), whole reason phrases ("often
                watched after Heat (1995)") and REGEX_CONNECTORS, ending the sentence
        one sentence only: the 135M pack's second sentences were rare (35 of 538 verified texts)
        and mostly word salad ("It, because you may be an at it, by films that are comedy").

    So a film's title is written only where its role is fixed (the viewer's film after "you
    liked", the explained film after "you may enjoy", a reason's film inside its reason), a word
    capitalised mid-sentence only when the evidence capitalises it, a genre word only for the
    film's or a shared genre, and the clause cannot be empty.

    >>> import re
    >>> from agent.explain.evidence import Evidence, Link
    >>> ev = Evidence("5", "Ronin", "Ronin (1998)", 1998, ("Crime",), plot="Mercenaries chase a case in France.",
    ...               links=(Link("2", "Heat (1995)", ("heist",), ("Crime",), liked=True),))
    >>> ok = lambda t: bool(re.fullmatch(vocabulary_regex(ev), t))
    >>> ok("Since you liked Heat (1995), you may enjoy Ronin (1998), a crime film where mercenaries chase a case in France.")
    True
    >>> ok("You may enjoy Ronin, a heist film."), ok("You may enjoy Ronin, a heist film. Mercenaries chase a case.")
    (True, False)
    >>> ok("You liked Ronin (1998), a crime film."), ok("Since you liked Ronin, you may enjoy Heat, a heist film.")
    (False, False)
    >>> ok("You may enjoy Ronin (1998)."), ok("You may enjoy Ronin, a war film."), ok("You may enjoy Ronin, a france case.")
    (False, False, False)
    """
    return plan_regex(ev, continuation_regex)


def plan_regex(ev: Evidence, clause) -> str:
    """The openers (the film explained and a history film in their roles), each followed by
    `clause(ev, link)`: the regex for a backend that writes the whole text."""
    film = _alt({ev.label, ev.title})
    may = "(may|might) (enjoy|like) " + film
    if not ev.links:
        return "You " + may + clause(ev, None)
    plans = []
    for x in ev.links:  # each history film with the clause of what it shares
        link = _alt({x.label, x.label.rsplit(" (", 1)[0]})
        plans.append("(Since|If|Because) you " + ("liked" if x.liked else "watched") + " " + link + ", you " + may
                     + clause(ev, x))
    return "(" + "|".join(["You " + may + clause(ev, None), *plans]) + ")"


def continuation_regex(ev: Evidence, link: Link | None = None) -> str:
    """`vocabulary_regex` after its opener: what the model writes when `opener(ev)` is given.

    Two kinds of clause: a general one (CLAUSE_LEADS, then the evidence's words), or a claim of
    what the film shares with `link` (the opener's history film, by default the first link):
    "because both are crime and thriller", "as both have heist", which may list only the genres
    and keywords the two films really share (the 135M pack wrote "because both are action,
    adventure, mystery, romance and thriller" for a pair sharing two of them).

    >>> import re
    >>> from agent.explain.evidence import Evidence, Link
    >>> ev = Evidence("5", "Ronin", "Ronin (1998)", 1998, ("Action", "Crime"), plot="Mercenaries chase a case.",
    ...               links=(Link("2", "Heat (1995)", ("heist",), ("Crime",), liked=True),))
    >>> ok = lambda t: bool(re.fullmatch(continuation_regex(ev), t))
    >>> ok(" because both are crime films with heist."), ok(" because both are action and crime.")
    (True, False)
    >>> ok(", an action film where mercenaries chase a case."), ok(", which both have mercenaries.")
    (True, False)
    """
    link = link if link is not None else (ev.links[0] if ev.links else None)
    return _word_clause(ev, link)


def _word_clause(ev: Evidence, link: Link | None) -> str:
    allowed_genres = {g.lower() for g in (*ev.genres, *(g for x in ev.links for g in x.genres))}
    sources = [ev.plot, *ev.themes, *ev.genres, " ".join(ev.request_words), ev.constraints,
               *(t for _, t in ev.media), *(t for x in ev.links for t in (*x.themes, *x.genres))]
    if ev.runtime:
        sources.append(f"{ev.runtime} minutes")
    if ev.year:
        sources.append(str(ev.year))
    words = _words(sources, allowed_genres, {str(ev.runtime)} if ev.runtime else set()) | set(REGEX_CONNECTORS)
    words -= _ROLE_WORDS | {"both"}  # "both" only in the shared-facts clause below
    # Not required: a fact beyond genres in the clause. Tried on 8 users (40 films): verified share
    # 85% -> 68%, longer texts, more word salad ("as movie as one of the world are a film by the movie").
    # a reason as a whole phrase, only one naming a film: "close to your request" was filler ("a
    # comedy, which is a close to your request and was a close to your request")
    general = _clause(CLAUSE_LEADS, words, {r.text for r in ev.reasons if r.film})
    if link is None or not (link.genres or link.themes):
        return general
    shared = _words([*link.themes, *link.genres], {g.lower() for g in link.genres})
    both = _clause(tuple(f"{x} {v}" for x in BOTH_LEADS for v in ("are", "have", "share")),
                   shared | {"films", "movies", "stories", "a", "an", "the", "with", "of", "about", "and", "or"})
    return "(" + general + "|" + both + ")"


def _clause(leads: tuple[str, ...], words: set[str], phrases: set[str] = frozenset()) -> str:
    """A lead, then `words` in a shape that rules out the word salad of connectors: a determiner
    or preposition is followed by a content word ("about a heist", never "of an and", "about
    also"), and the sentence ends on a content word. Words of DETERMINERS / PREPOSITIONS /
    FUNCTION_WORDS take those roles; every other word is content (evidence words), but genre words
    and years come only in one run at the start (`genre_run`). `phrases` (reasons: "often watched
    after Heat (1995)") follow a function word or a lead, never a determiner or preposition.

    >>> import re
    >>> rx = _clause((", a",), {"heist", "film", "about", "the", "and", "crime", "also"})
    >>> [bool(re.fullmatch(rx, t)) for t in (", a crime film about the heist.", ", a film about also.",
    ...                                      ", a film about the and heist.", ", a heist film and.")]
    [True, False, False, False]
    >>> [bool(re.fullmatch(rx, t)) for t in (", a crime film about the crime.", ", a heist film about the crime.",
    ...                                      ", a film.", ", a film about the film.", ", a film about the heist.")]
    [False, False, False, False, True]
    >>> rx = _clause((", a", " because it"), {"film", "the", "is", "that", "dark"}, {"often watched after Heat (1995)"})
    >>> [bool(re.fullmatch(rx, t)) for t in (" because it is often watched after Heat (1995).",
    ...     ", a film that is often watched after Heat (1995).", ", a often watched after Heat (1995).",
    ...     ", a dark often watched after Heat (1995).")]
    [True, True, False, False]
    >>> rx = _clause((", a",), {"the", "of", "and", "comedy", "drama"})  # genres only: one run, nothing after
    >>> [bool(re.fullmatch(rx, t)) for t in (", a comedy and drama.", ", a comedy, and the of the drama.")]
    [True, False]
    """
    det = {w for w in words if w.lower() in DETERMINERS}
    prep = {w for w in words if w.lower() in PREPOSITIONS}
    func = {w for w in words if w.lower() in FUNCTION_WORDS} - det - prep
    content = words - det - prep - func
    run = genre_run(content)
    genres, years, nouns = _run_parts(content)
    plain = content - set(genres) - set(years) - set(nouns)
    c = _alt(plain) if plain else ""  # never "()": an empty alternative let "the of the of the" through
    lead = (f"({_alt(func)}{_SEP})*" if func else "") + (f"({_alt(prep)} )?" if prep else "") + \
        (f"({_alt(det)} )?" if det else "")  # what may come before a content word
    lead_det = tuple(x for x in leads if x.rsplit(" ", 1)[-1].lower() in DETERMINERS)
    lead_rest = tuple(x for x in leads if x not in lead_det)
    # Genres, the year and "film" in one run, first and once ("as a 2001 crime drama about ...",
    # "because it is a comedy that ..."): the 135M pack's commonest failures were a genre said twice
    # ("a comedy that was a high school comedy", 47 of 78 fallbacks) and empty or looping generic
    # nouns ("as a movie.", "a film about a film about a film"). The content alternation `c` is
    # written four times below (grammar compile ~0.11 s a film, ~0.044 s before: benchmarks/grammar_compile_bench.py).
    n = _alt(nouns) if nouns else ""
    fl = f"({_alt(func)}{_SEP})+" if func else ""  # a verb or a relative before a reason ("which is ...")
    ph = _alt(phrases) if phrases and func else ""
    steps = [x for x in (c and lead + c, ph and fl + ph) if x]
    unit = "(" + "|".join(steps) + ")" if steps else ""  # one step after a separator
    # After "a"/"an" the clause says what the film is: a genre run or a noun ("a heist film", "a film
    # about ..."), never a plot word alone (the 135M wrote "... Fled (1996) as a cyberhacker",
    # "Back to the Future Part II (1989) as a car race").
    noun_first = n and unit and n + _SEP + unit  # "a film about ...", never a bare "as a movie."
    det_words = "|".join(x for x in (run, c and n and c + " " + n) if x)
    rest_words = "|".join(x for x in (run, c and c + (f"( {n})?" if n else "")) if x)
    head_det = _alt(lead_det) + " " if lead_det else ""
    head_rest = _alt(lead_rest) + " " + lead if lead_rest else ""
    alts = [head_det and det_words and f"{head_det}({det_words})", head_rest and rest_words and f"{head_rest}({rest_words})"]
    if noun_first:  # written once for both kinds of lead (the content alternation is in it)
        alts.append("(" + "|".join(x for x in (head_det, head_rest) if x) + ")" + noun_first)
    alts = [x for x in alts if x]
    if not alts:  # no genre, no evidence word (a bare catalog entry): "a film.", which the verifier refuses
        alts = ["(" + "|".join(x for x in (head_det, head_rest) if x) + ")" + (n or _alt(_RUN_WORDS))]
    starts = "(" + "|".join(alts) + ")"
    if ph and lead_rest:  # "because it is often watched by people who watched Heat (1995)"
        starts = "(" + starts + "|" + _alt(lead_rest) + " " + fl + ph + ")"
    return starts + ("(" + _SEP + unit + ")*" if unit else "") + "[.!]"


_YEAR = re.compile(r"\d{4}")


_RUN_WORDS = frozenset("film films movie movies story stories".split())  # only after a genre or year


def _run_parts(words: set[str]) -> tuple[list[str], list[str], list[str]]:
    """The words of `words` a genre run is made of, sorted: (genre words, years, generic nouns)."""
    return (sorted(w for w in words if w.lower() in GENRE_WORDS), sorted(w for w in words if _YEAR.fullmatch(w)),
            sorted(w for w in words if w.lower() in _RUN_WORDS))


def genre_run(words: set[str]) -> str:
    """The run of genre words (and a year, and a generic noun after them) `words` allow, as a
    regex, without a genre twice: "crime", "crime and drama", "romantic comedy", "2001 crime drama
    film", "1994 film"; two genres in either order, three in sorted order (the alternation stays
    small). "" when `words` has no genre word or year.

    >>> import re
    >>> rx = genre_run({"crime", "drama", "comedic", "comedy", "1999", "film", "heist"})
    >>> [bool(re.fullmatch(rx, t)) for t in ("crime", "drama and crime", "1999 crime drama film", "1999 film",
    ...                                      "comedic comedy", "crime, crime", "film", "heist film")]
    [True, True, True, True, False, False, False, False]
    """
    key = lambda w: GENRE_WORDS.get(w.lower(), w)  # noqa: E731  "comedic" and "comedy" are one genre
    genres, years, nouns = _run_parts(words)
    j = "(, | and | )"
    runs = {_rx(g) for g in genres}
    runs |= {_rx(a) + j + _rx(b) for a in genres for b in genres if key(a) != key(b)}
    runs |= {j.join(map(_rx, c)) for c in itertools.combinations(genres, 3) if len({key(w) for w in c}) == 3}
    noun = f"( {_alt(nouns)})?" if nouns else ""
    alts = []
    if runs:
        alts.append((f"({_alt(years)} )?" if years else "") + "(" + "|".join(sorted(runs)) + ")" + noun)
    if years:
        alts.append(_alt(years) + noun)
    return "(" + "|".join(alts) + ")" if alts else ""


_SEP = "(, | )"


def _words(sources, allowed_genres: set[str], numbers: set[str] = frozenset()) -> set[str]:
    """The words of `sources` a clause may use: lower-cased, a name in its capitals, no genre word
    outside `allowed_genres`, no number but a year or one of `numbers` (the runtime)."""
    words: set[str] = set()
    for t in sources:
        for i, w in enumerate(tokens(t or "")):
            if w.isdigit() and len(w) != 4 and w not in numbers:
                continue
            if len(w) == 1 and not w.isdigit() and w.lower() not in ("a", "i"):
                continue  # "d" of "washington d.c." ended a clause at "washington d."
            g = GENRE_WORDS.get(w.lower())
            if g is not None and g.lower() not in allowed_genres:
                continue  # "war" in a plot is no genre claim the verifier accepts for a non-war film
            proper = i > 0 and w[:1].isupper() and g is None  # "France"; a sentence's first word is not a name
            words.add(w if proper else w.lower())
    return words


# How the clause joins the opener: an apposition or a reason, never a bare "and ..." (the 135M
# pack's "... you may like Spider-Man (2002) and Peter Parker." passed every word check).
CLAUSE_LEADS = (", a", ", an", ", which", " because it", " for its", " for the", " as a", " as an")
BOTH_LEADS = (", since both", ", as both", " because both", " as both")


GRAMMARS = frozenset({"frames", "words"})
_OPENERS = (("Since", "may enjoy"), ("If", "might like"), ("Because", "may like"))


def opener(ev: Evidence) -> str:
    """The first words of the explanation, written by code (the plan): the closest history film
    and the film explained in their roles, varied per film so five cards do not read alike. The
    model continues it under `continuation_regex`, so it writes only the clause of reasons.

    >>> from agent.explain.evidence import Evidence, Link
    >>> ev = Evidence("3", "Ronin", "Ronin (1998)", 1998, ("Crime",), links=(Link("2", "Heat (1995)", liked=True),))
    >>> opener(ev), opener(Evidence("3", "Ronin", "Ronin (1998)", 1998, ("Crime",)))
    ('Since you liked Heat (1995), you may enjoy Ronin (1998)', 'You may enjoy Ronin (1998)')
    """
    conj, may = _OPENERS[sum(map(ord, ev.item_id)) % len(_OPENERS)]
    if not ev.links:
        return f"You {may} {ev.label}"
    x = ev.links[0]
    return f"{conj} you {'liked' if x.liked else 'watched'} {x.label}, you {may} {ev.label}"


class Explainer:
    def __init__(self, prompts: Prompts, titles: TitleIndex | None, max_chars: int = 240, *,
                 samples: int = 2, retries: int = 0, retry_temperature: float = 0.8, constrain: bool = True,
                 frequency_penalty: float = 0.6, grammar: str = "frames"):
        self.prompts = prompts
        self.titles = titles
        self.max_chars = max_chars
        # Candidates written at once per film: the greedy one and samples-1 at retry_temperature.
        # Under vLLM's own regex decoding a wave of two shared one decoding time (5 films: 3.83 s for
        # 5 greedy + 5 sampled vs 3.52 s for 5 greedy, 2-core EPYC); under jump-forward decoding
        # (the default) each candidate costs its own model calls, so one greedy candidate and, only
        # when it fails, a sampled wave (`retries`) is faster (README 'Jump-forward decoding').
        self.samples = max(1, samples)
        self.retries = retries
        self.retry_temperature = retry_temperature
        self.constrain = constrain  # decode within the evidence's vocabulary (vocabulary_regex)
        # Under the vocabulary constraint the 135M pack loops ("a movie that was a movie that was ...");
        # 0.6 per repeat of a generated token stopped it in 6 of 8 probe films (prompt tokens are not penalised).
        self.frequency_penalty = frequency_penalty
        if grammar not in GRAMMARS:
            raise ValueError(f"grammar must be one of {sorted(GRAMMARS)}, not {grammar!r}")
        self.grammar = grammar  # "frames": whole evidence phrases (agent/explain/frames); "words": word by word

    def clause_tokens(self, prefix: str) -> int:
        """Tokens for what follows `prefix`: what is left of the length cap after the opener (~3
        characters a token, and the end)."""
        return max(16, (self.max_chars - len(prefix)) // 3 + 5)

    def messages(self, ev: Evidence) -> list[dict[str, str]]:
        """The verbalizer prompt of one film (without the plot sentence under the frames grammar)."""
        return verbalize_prompt(self.prompts, ev, self.max_chars, plot=self.grammar != "frames")

    def regex(self, ev: Evidence, prefix: str) -> str | None:
        """The decoding constraint of one film: after the opener when the backend continues it
        (`prefix`), else the whole text with its opener; None when decoding is free."""
        if not self.constrain:
            return None
        if self.grammar == "frames":
            if prefix:
                return frames_regex(ev, ev.links[0] if ev.links else None, plot=False)
            return plan_regex(ev, lambda e, x: frames_regex(e, x, plot=False))
        return continuation_regex(ev) if prefix else vocabulary_regex(ev)

    async def _candidates(self, llm: LLM, reqs: list[GenerationRequest], ev: Evidence, prefix: str) -> list:
        """Every request's result, started at once: (output, shown text, verifier problems), or the
        exception it raised. When the first (greedy) one passes the verifier and says more than
        genres nothing better can be chosen: the others are cancelled (their engine work aborted)
        and their places are None, so the answer does not wait for a sample it would not show."""
        tasks = [asyncio.ensure_future(llm.complete(g)) for g in reqs]

        def checked(out):
            return out if isinstance(out, BaseException) else (out, *self.check(self.complete(prefix + out.text, ev), ev))

        try:
            await asyncio.wait([tasks[0]])
            first = checked(tasks[0].exception() or tasks[0].result())
            if len(tasks) > 1 and not isinstance(first, BaseException) and not first[2] \
                    and says_more_than_genres(first[1], ev):
                for t in tasks[1:]:
                    t.cancel()
                await asyncio.gather(*tasks[1:], return_exceptions=True)
                return [first, *(None for _ in tasks[1:])]
            rest = await asyncio.gather(*tasks[1:], return_exceptions=True)
            return [first, *map(checked, rest)]
        except asyncio.CancelledError:
            for t in tasks:
                t.cancel()
            raise

    def complete(self, text: str, ev: Evidence) -> str:
        """Under the frames grammar, the film's plot sentence after the written clause when both fit
        in `max_chars` (the sentence is the catalog's: decoding it token by token under a regex that
        admits only it cost ~35 decoding steps a film for nothing)."""
        t = text.strip()
        if self.grammar != "frames" or not ev.plot or not t.endswith(".") or _shares_phrase(without_titles(t, ev), ev.plot):
            return text  # a text that already tells the plot (a backend writing freely) is not told it twice
        return t + " " + ev.plot if len(t) + 1 + len(ev.plot) <= self.max_chars else text

    def fallback(self, ev: Evidence, *diagnostics: str) -> Explained:
        return Explained(fallback_text(ev, self.prompts, self.max_chars), "facts", ev, tuple(diagnostics))

    def check(self, text: str, ev: Evidence) -> tuple[str, list[str]]:
        """(the text as it would be shown, the verifier's problems)."""
        labels = (ev.label, *(x.label for x in ev.links), *(r.film for r in ev.reasons if r.film))
        shown = finish(fix_articles(text, labels), self.max_chars, protect=labels)  # "a orc" -> "an orc"
        return shown, verify(shown, ev, self.titles)

    def accept_or_fallback(self, text: str, ev: Evidence) -> Explained:
        """A text written elsewhere (the generated-JSON path): kept when it verifies, else the fallback."""
        shown, problems = self.check(text, ev)
        if not problems:
            return Explained(shown, "llm", ev)
        return self.fallback(ev, _why(ev, "replaced", problems))

    async def explain(self, llm: LLM, ev: Evidence, *, max_tokens: int, temperature: float = 0.0,
                      adapter: str | None = None, request_id: str = "") -> Explained:
        messages = self.messages(ev)
        # A backend that continues a given answer start writes only the clause after the opener
        # (fewer tokens to decode; the roles of the titles are fixed); others write it all.
        prefix = opener(ev) if llm.continues_prefix else ""
        regex = self.regex(ev, prefix)
        if prefix:
            max_tokens = min(max_tokens, self.clause_tokens(prefix))
        diagnostics: list[str] = []
        used = [0, 0]
        for wave in range(1 + self.retries):
            temps = [temperature if wave == 0 and i == 0 else max(temperature, self.retry_temperature)
                     for i in range(self.samples)]
            n = wave * self.samples
            reqs = [GenerationRequest(messages=messages, max_tokens=max_tokens, temperature=t, adapter=adapter,
                                      request_id=f"{request_id}-{n + i}" if n + i else request_id, stop=["\n"],
                                      regex=regex, frequency_penalty=self.frequency_penalty, prefix=prefix)
                    for i, t in enumerate(temps)]
            outs = await self._candidates(llm, reqs, ev, prefix)
            passed: list[str] = []
            failed = False
            for i, res in enumerate(outs):
                if res is None:  # not needed: cancelled once the greedy one passed and said more than genres
                    continue
                if isinstance(res, asyncio.CancelledError):
                    raise res
                if isinstance(res, BaseException):  # one film's failure falls back for that film; the answer goes on
                    log.warning("explanation for %s: LLM call failed (%s: %s)", ev.item_id, type(res).__name__, res)
                    diagnostics.append(f"explanation for {ev.item_id}: LLM call failed ({type(res).__name__})")
                    failed = True
                    continue
                out, shown, problems = res
                used[0] += out.prompt_tokens
                used[1] += out.completion_tokens
                if problems:  # the text too: what a developer reads to see why (logs and the marquee extension)
                    diagnostics.append(_why(ev, f"sample {n + i + 1} rejected", problems) + f": {shown[:160]!r}")
                else:
                    passed.append(shown)
            if passed:  # the first candidate that says something beyond genres, else the first
                best = next((t for t in passed if says_more_than_genres(t, ev)), passed[0])
                return Explained(best, "llm", ev, tuple(diagnostics), *used)
            if failed:
                break
        diagnostics.append(f"explanation for {ev.item_id} replaced by the evidence fallback")
        log.info("explanation for %s fell back to facts: %s", ev.item_id, "; ".join(diagnostics))
        done = self.fallback(ev, *diagnostics)
        return Explained(done.text, done.source, ev, done.diagnostics, *used)


def _shares_phrase(text: str, other: str, n: int = 3) -> bool:
    """`text` has a run of `n` words of `other` (lower-cased)."""
    grams = lambda t: {tuple(w) for w in zip(*(tokens(t.lower())[i:] for i in range(n)))}  # noqa: E731
    return bool(grams(text) & grams(other))


def says_more_than_genres(text: str, ev: Evidence) -> bool:
    """The text uses a word of the film's plot, keywords, media, the request or a shared keyword
    (not only genre words and co-watching reasons).

    >>> from agent.explain.evidence import Evidence
    >>> ev = Evidence("5", "Ronin", "Ronin (1998)", 1998, ("Crime",), plot="Mercenaries chase a case.")
    >>> says_more_than_genres("You may enjoy Ronin (1998) as a crime film.", ev)
    False
    >>> says_more_than_genres("You may enjoy Ronin (1998), a crime film where mercenaries chase a case.", ev)
    True
    """
    facts = set()
    for t in (ev.plot, *ev.themes, *ev.request_words, *(m for _, m in ev.media), *(th for x in ev.links for th in x.themes)):
        facts |= {lemma(w) for w in tokens(t or "")}
    facts -= CONNECTOR_LEMMAS | {lemma(w) for w in GENRE_WORDS}
    return any(lemma(w) in facts for w in tokens(without_titles(text, ev)))


def _why(ev: Evidence, what: str, problems: list[str]) -> str:
    return f"explanation for {ev.item_id} {what} ({'; '.join(problems[:4])})"
