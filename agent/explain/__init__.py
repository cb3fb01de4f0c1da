"""Explanations as three stages: evidence -> verbalizer -> strict verifier, with a written fallback.

    ev = EvidenceBuilder(items, collab, sequence).build(candidate, history, request_words, ...)
    messages = verbalize_prompt(prompts, ev)            # short prompt: the evidence only
    problems = verify(text, ev, titles)                 # [] = every word is supported by the evidence
    text = fallback_text(ev, prompts)                   # complete sentences from the evidence alone

agent/explain/evidence.py  true, viewer-specific facts per recommended film (frozen, JSON-able)
agent/explain/verify.py    the strict verifier (titles, names, years, genres, every content word)
agent/explain/verbalize.py the verbalizer prompt, the fact fallback and `Explainer`, which runs
                           candidates at once -> verify -> the best passing one, or the fallback, for one film
"""

from agent.explain.evidence import Evidence, EvidenceBuilder, Link, Reason
from agent.explain.verbalize import Explained, Explainer, fallback_text, opener, verbalize_prompt
from agent.explain.verify import verify

__all__ = ["Evidence", "EvidenceBuilder", "Explained", "Explainer", "Link", "Reason", "fallback_text", "opener",
           "verbalize_prompt", "verify"]
