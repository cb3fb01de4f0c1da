"""Prompt -> LLM -> parsed, validated, grounded ranked items; the fallback rules live here.

    schema = ranking_schema(candidate_ids, n, max_chars)   # only this request's ids are admissible
    parser = StreamParser(); parser.feed(delta) -> [{"item_id":..., "explanation":...}, ...]
    validator = Validator(candidates, seen, n, ...); validator.accept(obj) -> RankedItem | None

Structured decoding (vLLM) makes most answers valid, but a remote server may not constrain and
a truncated generation may stop mid-list, so every answer is validated anyway:
  * unknown / non-candidate ids, already-seen ids and duplicates are dropped (and recorded);
  * explanations are checked by the strict verifier (agent/explain/verify) against the film's
    evidence; one that fails is replaced by the evidence fallback and marked
    explanation_source="facts" (from_llm=False), and why goes to `diagnostics` (logs and the
    `marquee` extension; never the text a person reads);
  * if fewer than n valid items remain, the rest is filled from retrieval order with fallback
    explanations, and the response says how many were filled.
`from_llm` is true exactly when the LLM wrote the explanation shown (explanation_source "llm");
`score` is the score the order was made with (one-pass: the label softmax with the retrieval
prior, see order_by_label_scores), or None when the LLM wrote the order itself (generate).
"""

from __future__ import annotations

import json
import math
import string

from collections.abc import Mapping

from agent.explain import Evidence, Explained, Explainer
from agent.types import Candidate, Item, RankedItem


# One-pass ranking labels: single tokens in the tokenizers we ship (checked at run time).
LABELS: tuple[str, ...] = tuple(string.ascii_uppercase)


def order_by_label_scores(candidates: list[Candidate], logprobs: list[float],
                          prior_weight: float = 0.0) -> list[tuple[Candidate, float]]:
    """Candidates sorted by the LLM's label log-probabilities, best first. `prior_weight` > 0 adds
    the retrieval order as a Zipf log-prior, -w * log(rank) with rank 1, 2, ...; ties keep retrieval
    order. The score is the softmax over the labels of that same sum, so it is the score the order
    was made with: non-increasing down the list (with w = 0, the label softmax). Candidates without
    a label (more than len(LABELS)) follow in retrieval order with score 0.

    >>> from agent.types import Item
    >>> cs = [Candidate(Item(str(i), f"F{i}"), 1.0) for i in range(3)]
    >>> [(c.item.item_id, round(p, 2)) for c, p in order_by_label_scores(cs, [-2.0, -0.5, -2.0])]
    [('1', 0.69), ('0', 0.15), ('2', 0.15)]
    >>> [(c.item.item_id, round(p, 2)) for c, p in order_by_label_scores(cs, [-2.0, -0.5, -2.0], prior_weight=4.0)]
    [('0', 0.77), ('1', 0.22), ('2', 0.01)]
    """
    k = len(logprobs)
    key = [lp - prior_weight * math.log(r + 1) for r, lp in enumerate(logprobs)]
    m = max(key) if key else 0.0
    z = sum(math.exp(x - m) for x in key) or 1.0
    probs = [math.exp(x - m) / z for x in key]
    order = sorted(range(k), key=lambda i: -key[i])  # stable: ties keep retrieval order
    return [(candidates[i], probs[i]) for i in order] + [(c, 0.0) for c in candidates[k:]]


def ranking_schema(candidate_ids: list[str], n: int, max_chars: int) -> dict:
    n = min(n, len(candidate_ids))
    return {
        "type": "object",
        "properties": {
            "recommendations": {
                "type": "array",
                "minItems": n,
                "maxItems": n,
                "items": {
                    "type": "object",
                    "properties": {
                        "item_id": {"type": "string", "enum": list(candidate_ids)},
                        "explanation": {"type": "string", "minLength": 10, "maxLength": max_chars},
                    },
                    "required": ["item_id", "explanation"],
                    "additionalProperties": False,
                },
            }
        },
        "required": ["recommendations"],
        "additionalProperties": False,
    }


class StreamParser:
    """Pull complete objects out of a streaming `{"recommendations": [{...}, {...}` text.

    >>> p = StreamParser()
    >>> p.feed('{"recommendations": [{"item_id": "1", "explanation": "a } b"}, {"item_')
    [{'item_id': '1', 'explanation': 'a } b'}]
    >>> p.feed('id": "2", "explanation": "c"}]}')
    [{'item_id': '2', 'explanation': 'c'}]
    """

    def __init__(self):
        self.text = ""
        self._pos = 0
        self._depth = 0
        self._in_str = False
        self._esc = False
        self._start: int | None = None
        self.bad_objects = 0

    def feed(self, delta: str) -> list[dict]:
        self.text += delta
        found = []
        for i in range(self._pos, len(self.text)):
            ch = self.text[i]
            if self._in_str:
                if self._esc:
                    self._esc = False
                elif ch == "\\":
                    self._esc = True
                elif ch == '"':
                    self._in_str = False
                continue
            if ch == '"':
                self._in_str = True
            elif ch in "{[":
                if ch == "{" and self._depth == 2:
                    self._start = i
                self._depth += 1
            elif ch in "}]":
                self._depth -= 1
                if ch == "}" and self._depth == 2 and self._start is not None:
                    try:
                        obj = json.loads(self.text[self._start : i + 1])
                        if isinstance(obj, dict):
                            found.append(obj)
                        else:
                            self.bad_objects += 1
                    except json.JSONDecodeError:
                        self.bad_objects += 1
                    self._start = None
        self._pos = len(self.text)
        return found


def parse_complete(text: str) -> tuple[list[dict], str | None]:
    """Whole-answer parse: (objects, error). Tolerates a truncated tail via StreamParser."""
    try:
        data = json.loads(text)
        recs = data.get("recommendations") if isinstance(data, dict) else None
        if isinstance(recs, list):
            return [r for r in recs if isinstance(r, dict)], None
        return [], "JSON has no 'recommendations' list"
    except json.JSONDecodeError as e:
        objs = StreamParser().feed(text)
        return objs, f"invalid JSON ({e.msg}); kept {len(objs)} complete item(s)"


class Validator:
    """Turns raw LLM objects into RankedItems, enforcing the rules in the module docstring.
    `evidence` maps candidate ids to their Evidence (built by agent/explain/evidence); `explainer`
    verifies texts against it and writes the fallback."""

    def __init__(
        self,
        candidates: list[Candidate],
        seen: set[str],
        n: int,
        *,
        explainer: Explainer,
        evidence: Mapping[str, Evidence],
        catalog: dict[str, Item],
    ):
        self.by_id = {c.item.item_id: c for c in candidates}
        self.order = [c.item.item_id for c in candidates]
        self.seen = seen
        self.n = min(n, len(candidates))
        self.explainer = explainer
        self.evidence = evidence
        self.catalog = catalog
        self.accepted: list[RankedItem] = []
        self.dropped: list[str] = []
        self.notes: list[str] = []  # for people (none today: explanation problems are diagnostics)
        self.diagnostics: list[str] = []  # for developers: why explanations were replaced

    @property
    def full(self) -> bool:
        return len(self.accepted) >= self.n

    def accept(self, obj: dict, *, score: float | None = None, explained: Explained | None = None) -> RankedItem | None:
        """Validate one LLM object; `score`: what the order was made with (None: the LLM's own
        order, which has no score); `explained` is an explanation already verified (or fallen
        back) by Explainer.explain, else obj["explanation"] is verified here."""
        if self.full:
            self.dropped.append(f"extra:{obj.get('item_id')}")
            return None
        iid = obj.get("item_id")
        iid = str(iid) if isinstance(iid, (str, int)) and not isinstance(iid, bool) else None
        if iid is None:
            self.dropped.append("malformed:no item_id")
            return None
        reason = None
        if iid in self.seen:
            reason = "seen"
        elif any(r.item.item_id == iid for r in self.accepted):
            reason = "duplicate"
        elif iid not in self.by_id:
            reason = "not_candidate" if iid in self.catalog else "not_in_catalog"
        if reason:
            self.dropped.append(f"{reason}:{iid}")
            return None
        cand = self.by_id[iid]
        if explained is None:
            expl = obj.get("explanation")
            explained = self.explainer.accept_or_fallback(expl if isinstance(expl, str) else "", self.evidence[iid])
        self.diagnostics += explained.diagnostics
        ranked = RankedItem(cand.item, len(self.accepted) + 1, explained.text, explained.source,
                            score, from_llm=explained.source == "llm",
                            evidence=explained.evidence)
        self.accepted.append(ranked)
        return ranked

    def fill(self) -> list[RankedItem]:
        """Complete the list from retrieval order (fallback explanations); returns the filled items."""
        added = []
        taken = {r.item.item_id for r in self.accepted}
        for iid in self.order:
            if self.full:
                break
            if iid in taken or iid in self.seen:
                continue
            cand = self.by_id[iid]
            # after the LLM's own (unscored) picks: a retrieval score here would look comparable and is not
            done = self.explainer.fallback(self.evidence[iid])
            r = RankedItem(cand.item, len(self.accepted) + 1, done.text, "facts", None, from_llm=False,
                           evidence=done.evidence)
            self.accepted.append(r)
            added.append(r)
        return added
