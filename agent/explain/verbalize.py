"""The verbalizer (evidence -> one or two sentences to "you"), the fact fallback, and `Explainer`,
which runs one film's explanation: generate -> verify -> one resample -> fallback.

    explainer = Explainer(prompts, titles, max_chars=240)
    done = await explainer.explain(llm, evidence, max_tokens=90, temperature=0.0)
    done.text, done.source ("llm" | "facts"), done.diagnostics (why a text was rejected; for logs
    and the `marquee` extension, never for the person reading)

The verbalizer prompt (prompts/verbalize_system.j2 + verbalize_user.j2) holds the evidence only:
no history list, no full entry. Its system message is the same for every film, so the five
requests of an answer share a prefix (vLLM's prefix cache). With `constrain` (the default) the
verbalizer decodes under `vocabulary_regex`: only the evidence's words, its films' labels and a
few connector words can be written (a backend without regex decoding, e.g. a remote server,
writes freely and the verifier alone decides). A text that fails the verifier is
resampled once at `retry_temperature` (> 0, so it is another sample); a second failure, an empty
answer or an LLM error gives the fallback, written from the evidence by prompts/facts_explanation.j2
in complete sentences (correct articles, no cut-off plot).
Left out: choosing among several samples by a score (the first passing one is kept).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from agent.explain.evidence import Evidence
from agent.explain.verify import verify
from agent.explain.words import GENRE_WORDS, REGEX_CONNECTORS, article, join_words, tokens
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
    inside = [(m.start(), m.end()) for p in protect if p for m in re.finditer(re.escape(p), t)]
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


def fallback_view(ev: Evidence) -> dict:
    """The variables of prompts/facts_explanation.j2, every one taken from the evidence."""
    identity = " ".join(x for x in (str(ev.year) if ev.year else "", genre_phrase(ev.genres[:3])) if x)
    link = ev.links[0] if ev.links else None
    return {
        "title": ev.title, "label": ev.label,
        "identity": f"{article(identity)} {identity} film" if ev.genres else "",
        "link": None if link is None else {
            "label": link.label, "verb": "liked" if link.liked else "watched",
            "themes": join_words(list(link.themes[:2])),
            "genres": (lambda g: f"{article(g)} {g} film")(genre_phrase(link.genres[:3])) if link.genres else "",
            "similar": link.similar},
        "request": join_words(list(ev.request_words[:3])),
        "reason": next((r.text for r in ev.reasons if r.kind in ("collab", "sequence", "anchor")), ""),
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


def verbalize_prompt(prompts: Prompts, ev: Evidence, max_chars: int = 240) -> list[dict[str, str]]:
    """The verbalizer's messages: a fixed system message (shared prefix), then the evidence."""
    return [
        {"role": "system", "content": prompts.render("verbalize_system.j2", max_chars=max_chars)},
        {"role": "user", "content": prompts.render("verbalize_user.j2", ev=fallback_view(ev) | {
            "genres": genre_phrase(ev.genres), "links": [
                {"label": x.label, "verb": "liked" if x.liked else "watched", "themes": list(x.themes),
                 "genres": genre_phrase(x.genres)} for x in ev.links],
            "request_words": list(ev.request_words), "reasons": [r.text for r in ev.reasons if r.film],
            "themes": list(ev.themes), "media": [list(m) for m in ev.media]})},
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
    film = _alt({ev.label, ev.title})
    may = "(may|might) (enjoy|like) " + film
    openers = ["You " + may]
    for x in ev.links:
        link = _alt({x.label, x.label.rsplit(" (", 1)[0]})
        openers.append("(Since|If|Because) you " + ("liked" if x.liked else "watched") + " " + link + ", you " + may)
    return "(" + "|".join(openers) + ")" + continuation_regex(ev)


def continuation_regex(ev: Evidence) -> str:
    """`vocabulary_regex` after its opener: what the model writes when `opener(ev)` is given."""
    allowed_genres = {g.lower() for g in (*ev.genres, *(g for x in ev.links for g in x.genres))}
    sources = [ev.plot, *ev.themes, *ev.genres, " ".join(ev.request_words), ev.constraints,
               *(t for _, t in ev.media), *(t for x in ev.links for t in (*x.themes, *x.genres))]
    if ev.runtime:
        sources.append(f"{ev.runtime} minutes")
    if ev.year:
        sources.append(str(ev.year))
    words: set[str] = set(REGEX_CONNECTORS) - _ROLE_WORDS
    for t in sources:
        for i, w in enumerate(tokens(t or "")):
            if w.isdigit() and len(w) != 4 and not (ev.runtime and w == str(ev.runtime)):
                continue
            g = GENRE_WORDS.get(w.lower())
            if g is not None and g.lower() not in allowed_genres:
                continue  # "war" in a plot is no genre claim the verifier accepts for a non-war film
            proper = i > 0 and w[:1].isupper() and g is None  # "France"; a sentence's first word is not a name
            words.add(w if proper else w.lower())
    words -= _ROLE_WORDS
    # Not required: a fact beyond genres in the clause. Tried on 8 users (40 films): verified share
    # 85% -> 68%, longer texts, more word salad ("as movie as one of the world are a film by the movie").
    item = _alt(words | {r.text for r in ev.reasons})
    return _alt(CLAUSE_LEADS) + " " + item + "((, | )" + item + ")*[.!]"


# How the clause joins the opener: an apposition or a reason, never a bare "and ..." (the 135M
# pack's "... you may like Spider-Man (2002) and Peter Parker." passed every word check).
CLAUSE_LEADS = (", a", ", an", ", which", ", since both", ", as both", " because it", " because both",
                " for its", " for the", " as a", " as an")


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
                 retries: int = 1, retry_temperature: float = 0.8, constrain: bool = True,
                 frequency_penalty: float = 0.6):
        self.prompts = prompts
        self.titles = titles
        self.max_chars = max_chars
        self.retries = retries
        self.retry_temperature = retry_temperature
        self.constrain = constrain  # decode within the evidence's vocabulary (vocabulary_regex)
        # Under the vocabulary constraint the 135M pack loops ("a movie that was a movie that was ...");
        # 0.6 per repeat of a generated token stopped it in 6 of 8 probe films (prompt tokens are not penalised).
        self.frequency_penalty = frequency_penalty

    def fallback(self, ev: Evidence, *diagnostics: str) -> Explained:
        return Explained(fallback_text(ev, self.prompts, self.max_chars), "facts", ev, tuple(diagnostics))

    def check(self, text: str, ev: Evidence) -> tuple[str, list[str]]:
        """(the text as it would be shown, the verifier's problems)."""
        labels = (ev.label, *(x.label for x in ev.links), *(r.film for r in ev.reasons if r.film))
        shown = finish(text, self.max_chars, protect=labels)
        return shown, verify(shown, ev, self.titles)

    def accept_or_fallback(self, text: str, ev: Evidence) -> Explained:
        """A text written elsewhere (the generated-JSON path): kept when it verifies, else the fallback."""
        shown, problems = self.check(text, ev)
        if not problems:
            return Explained(shown, "llm", ev)
        return self.fallback(ev, _why(ev, "replaced", problems))

    async def explain(self, llm: LLM, ev: Evidence, *, max_tokens: int, temperature: float = 0.0,
                      adapter: str | None = None, request_id: str = "") -> Explained:
        messages = verbalize_prompt(self.prompts, ev, self.max_chars)
        # A backend that continues a given answer start writes only the clause after the opener
        # (fewer tokens to decode; the roles of the titles are fixed); others write it all.
        prefix = opener(ev) if llm.continues_prefix else ""
        regex = None if not self.constrain else continuation_regex(ev) if prefix else vocabulary_regex(ev)
        if prefix:  # what is left of the length cap after the opener (~3 characters a token, and the end)
            max_tokens = min(max_tokens, max(16, (self.max_chars - len(prefix)) // 3 + 5))
        diagnostics: list[str] = []
        used = [0, 0]
        for attempt in range(1 + self.retries):
            temp = temperature if attempt == 0 else max(temperature, self.retry_temperature)
            g = GenerationRequest(messages=messages, max_tokens=max_tokens, temperature=temp, adapter=adapter,
                                  request_id=f"{request_id}-{attempt}" if attempt else request_id, stop=["\n"],
                                  regex=regex, frequency_penalty=self.frequency_penalty, prefix=prefix)
            try:
                out = await llm.complete(g)
            except Exception as e:  # one film's failure falls back for that film; the answer goes on
                log.warning("explanation for %s: LLM call failed (%s: %s)", ev.item_id, type(e).__name__, e)
                diagnostics.append(f"explanation for {ev.item_id}: LLM call failed ({type(e).__name__})")
                break
            used[0] += out.prompt_tokens
            used[1] += out.completion_tokens
            shown, problems = self.check(prefix + out.text, ev)
            if not problems:
                return Explained(shown, "llm", ev, tuple(diagnostics), *used)
            diagnostics.append(_why(ev, "resampled" if attempt < self.retries else "replaced", problems))
        log.info("explanation for %s fell back to facts: %s", ev.item_id, "; ".join(diagnostics))
        done = self.fallback(ev, *diagnostics)
        return Explained(done.text, done.source, ev, done.diagnostics, *used)


def _why(ev: Evidence, what: str, problems: list[str]) -> str:
    return f"explanation for {ev.item_id} {what} ({'; '.join(problems[:4])})"
