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
from agent.explain.words import REGEX_CONNECTORS, article, join_words, tokens
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


def finish(text: str, max_chars: int) -> str:
    """Whitespace collapsed, wrapping quotes dropped, cut after the last complete sentence that
    fits in `max_chars`; an unfinished tail is dropped (never marked with "…").

    >>> finish('  "You liked Heat. It has a long chase and', 80)
    'You liked Heat.'
    >>> finish("One. Two is longer than the cap allows here.", 12), finish("no end", 40)
    ('One.', 'no end')
    """
    t = " ".join(text.split()).strip()
    if len(t) >= 2 and t[0] == t[-1] == '"':
        t = t[1:-1].strip()
    t = t.lstrip('"').strip()
    ends = [m.end() for m in _END.finditer(t) if m.end() <= max_chars]
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


def vocabulary_regex(ev: Evidence) -> str:
    """A regular expression for one or two sentences made only of the evidence's words, its films'
    labels and REGEX_CONNECTORS (each also capitalised): the verbalizer cannot write a word the
    evidence lacks (fact-constrained decoding; the verifier still checks the result).

    >>> import re
    >>> from agent.explain.evidence import Evidence
    >>> rx = vocabulary_regex(Evidence("5", "Ronin", "Ronin (1998)", 1998, ("Crime",), plot="Mercenaries chase a case."))
    >>> bool(re.fullmatch(rx, "You may like Ronin (1998), a crime film where mercenaries chase a case."))
    True
    >>> bool(re.fullmatch(rx, "Ronin is a classic."))
    False
    """
    words: set[str] = set(REGEX_CONNECTORS)
    for t in ev.texts:
        words.update(w for w in tokens(t) if not w.isdigit() or len(w) == 4)
    words |= {w.lower() for w in words} | {w[:1].upper() + w[1:] for w in words}
    phrases = {ev.label, *(x.label for x in ev.links)}
    alts = sorted({_rx(p) for p in phrases} | {_rx(w) for w in words}, key=lambda a: (-len(a), a))
    item = "(" + "|".join(alts) + ")"
    sentence = item + "((, | )" + item + ")*[.!]"
    return sentence + "( " + sentence + ")?"


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
        shown = finish(text, self.max_chars)
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
        regex = vocabulary_regex(ev) if self.constrain else None
        diagnostics: list[str] = []
        used = [0, 0]
        for attempt in range(1 + self.retries):
            temp = temperature if attempt == 0 else max(temperature, self.retry_temperature)
            g = GenerationRequest(messages=messages, max_tokens=max_tokens, temperature=temp, adapter=adapter,
                                  request_id=f"{request_id}-{attempt}" if attempt else request_id, stop=["\n"],
                                  regex=regex, frequency_penalty=self.frequency_penalty)
            try:
                out = await llm.complete(g)
            except Exception as e:  # one film's failure falls back for that film; the answer goes on
                log.warning("explanation for %s: LLM call failed (%s: %s)", ev.item_id, type(e).__name__, e)
                diagnostics.append(f"explanation for {ev.item_id}: LLM call failed ({type(e).__name__})")
                break
            used[0] += out.prompt_tokens
            used[1] += out.completion_tokens
            shown, problems = self.check(out.text, ev)
            if not problems:
                return Explained(shown, "llm", ev, tuple(diagnostics), *used)
            diagnostics.append(_why(ev, "resampled" if attempt < self.retries else "replaced", problems))
        log.info("explanation for %s fell back to facts: %s", ev.item_id, "; ".join(diagnostics))
        done = self.fallback(ev, *diagnostics)
        return Explained(done.text, done.source, ev, done.diagnostics, *used)


def _why(ev: Evidence, what: str, problems: list[str]) -> str:
    return f"explanation for {ev.item_id} {what} ({'; '.join(problems[:4])})"
