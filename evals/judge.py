"""Optional LLM-as-judge for explanations, over any OpenAI-compatible server (vLLM, OpenAI, ...).

    judge = Judge(JudgeConfig(url="http://127.0.0.1:8001/v1", model="Qwen/Qwen2.5-7B-Instruct"))
    judge_report(judge, records, items, histories)
      -> {"judge_n": 50, "judge_informativeness": 2.1, ..., "judge_win_rate": 0.62, ...}

Rubric (`prompts/judge_rubric.j2`): informativeness, persuasiveness and faithfulness, each 1-3
(1 worst). Pairwise (`prompts/judge_pairwise.j2`): the explanation against a baseline: the
record's "baseline" text when it has one (evals.explain_run puts the evidence fallback of the
same film there), else one built from the film's genres ("A 1995 crime/thriller film."); which one is shown as A is drawn from
a seeded RNG per record, so a judge that prefers a position cannot favour either side, and
the share of "A" verdicts is reported as a position-bias check. Win rate counts a tie as half.

Answers must be JSON only and are parsed strictly: no code fences, no extra keys, integer
scores in 1..3; a bad answer raises `JudgeError` quoting it (or, with errors="count", is counted
in judge_failures and left out of the means). No retries, by the client or by re-asking: a
judge that needs them is reported, not papered over.
Left out: multi-judge panels, reference-guided judging, calibration against human ratings.
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from agent.prompts import Prompts, candidate_view
from agent.types import Item
from evals.explain import history_items

RUBRIC = ("informativeness", "persuasiveness", "faithfulness")
Outcome = Literal["win", "loss", "tie"]


class JudgeError(ValueError):
    """The judge answered something that is not the JSON the prompt asks for, or the call failed."""


@dataclass(frozen=True)
class JudgeConfig:
    url: str = field(metadata={"help": "OpenAI-compatible base URL, e.g. http://127.0.0.1:8001/v1"})
    model: str = field(metadata={"help": "model name the server knows"})
    api_key: str = field(default="EMPTY", metadata={"help": "API key (local servers ignore it)"})
    temperature: float = field(default=0.0, metadata={"help": "0 for repeatable verdicts"})
    max_tokens: int = field(default=64, metadata={"help": "answer cap; the JSON needs ~30 tokens"})
    json_mode: bool = field(default=True, metadata={"help": "send response_format json_object"})
    seed: int = field(default=0, metadata={"help": "seed of the A/B order in pairwise comparisons"})
    timeout: float = field(default=120.0, metadata={"help": "seconds per request"})


def _json_object(text: str) -> dict:
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as e:
        raise JudgeError(f"judge answer is not JSON ({e.msg}): {text[:200]!r}") from None
    if not isinstance(obj, dict):
        raise JudgeError(f"judge answer is not a JSON object: {text[:200]!r}")
    return obj


def parse_scores(text: str) -> dict[str, int]:
    """The rubric answer: exactly the three keys, each an integer 1, 2 or 3.

    >>> parse_scores('{"informativeness": 3, "persuasiveness": 2, "faithfulness": 1}')
    {'informativeness': 3, 'persuasiveness': 2, 'faithfulness': 1}
    >>> parse_scores('{"informativeness": 4, "persuasiveness": 2, "faithfulness": 1}')
    Traceback (most recent call last):
    ...
    evals.judge.JudgeError: judge score 'informativeness' must be 1, 2 or 3, got 4
    """
    obj = _json_object(text)
    if set(obj) != set(RUBRIC):
        raise JudgeError(f"judge answer must have exactly the keys {list(RUBRIC)}, got {sorted(obj)}: {text[:200]!r}")
    for k in RUBRIC:
        v = obj[k]
        if type(v) is not int or not 1 <= v <= 3:
            raise JudgeError(f"judge score {k!r} must be 1, 2 or 3, got {v!r}")
    return {k: obj[k] for k in RUBRIC}


def parse_verdict(text: str) -> Literal["A", "B", "tie"]:
    """The pairwise answer: {"winner": "A" | "B" | "tie"} and nothing else.

    >>> parse_verdict('{"winner": "B"}')
    'B'
    """
    obj = _json_object(text)
    if set(obj) != {"winner"} or obj["winner"] not in ("A", "B", "tie"):
        raise JudgeError(f'judge answer must be {{"winner": "A" | "B" | "tie"}}, got {text[:200]!r}')
    return obj["winner"]


def baseline_explanation(item: Item) -> str:
    """The pairwise baseline: year and genres only.

    >>> baseline_explanation(Item("2", "Heat", 1995, ("Crime", "Thriller")))
    'A 1995 crime/thriller film.'
    >>> baseline_explanation(Item("9", "Up", None, ("Animation",))), baseline_explanation(Item("9", "Up"))
    ('An animation film.', 'A film.')
    """
    words = " ".join(str(x) for x in (item.year, "/".join(g.lower() for g in item.genres)) if x)
    article = "An" if words[:1].lower() in tuple("aeiou") else "A"
    return f"{article} {words} film." if words else "A film."


def win_rate(outcomes: Sequence[Outcome]) -> float:
    """(wins + ties / 2) / comparisons. Range [0, 1]; 0.5 is parity with the baseline.

    >>> win_rate(["win", "win", "tie", "loss"])
    0.625
    """
    if not outcomes:
        return 0.0
    return (sum(o == "win" for o in outcomes) + 0.5 * sum(o == "tie" for o in outcomes)) / len(outcomes)


class Judge:
    """One judge model behind an OpenAI-compatible URL. `http_client` (an httpx.Client) is for tests."""

    def __init__(self, config: JudgeConfig, prompts: Prompts | None = None, http_client=None):
        import openai

        self.config = config
        self.prompts = prompts or Prompts()
        self._client = openai.OpenAI(base_url=config.url, api_key=config.api_key, max_retries=0,
                                     timeout=config.timeout, http_client=http_client)

    def _ask(self, content: str) -> str:
        import openai

        c = self.config
        extra = {"response_format": {"type": "json_object"}} if c.json_mode else {}
        try:
            r = self._client.chat.completions.create(model=c.model, messages=[{"role": "user", "content": content}],
                                                     temperature=c.temperature, max_tokens=c.max_tokens, **extra)
        except openai.OpenAIError as e:
            raise JudgeError(f"judge request to {c.url} (model {c.model}) failed: {e}") from e
        if not r.choices or r.choices[0].message.content is None:
            raise JudgeError(f"judge at {c.url} returned no message content")
        return r.choices[0].message.content.strip()

    def score(self, item: Item, explanation: str, history: Sequence[Item] = ()) -> dict[str, int]:
        """Rubric scores of one explanation: {"informativeness": 1-3, "persuasiveness": 1-3, "faithfulness": 1-3}."""
        prompt = self.prompts.render("judge_rubric.j2", item=candidate_view(item), history=[h.label for h in history],
                                     explanation=explanation)
        return parse_scores(self._ask(prompt))

    def _first_token_odds(self, prompt: str, yes: str, no: str) -> float:
        """log P(yes) - log P(no) of the judge's first answer token (one forward pass, max_tokens 1,
        top_logprobs 20). A token outside the top 20 is given the 20th value (an upper bound)."""
        import openai

        c = self.config
        try:
            r = self._client.chat.completions.create(model=c.model, messages=[{"role": "user", "content": prompt}],
                                                     temperature=0.0, max_tokens=1, logprobs=True, top_logprobs=20)
        except openai.OpenAIError as e:
            raise JudgeError(f"judge request to {c.url} (model {c.model}) failed: {e}") from e
        try:
            top = r.choices[0].logprobs.content[0].top_logprobs
        except (AttributeError, IndexError, TypeError) as e:
            raise JudgeError(f"judge at {c.url} returned no top_logprobs (the calibrated modes need them)") from e
        if not top:
            raise JudgeError(f"judge at {c.url} returned no top_logprobs (the calibrated modes need them)")
        floor = min(t.logprob for t in top)
        best = {}
        for t in top:
            k = t.token.strip().lower()
            if k in (yes.lower(), no.lower()):
                best[k] = max(best.get(k, floor), t.logprob)
        if not best:
            raise JudgeError(f"judge at {c.url}: neither {yes} nor {no} among its 20 likeliest first tokens "
                             f"({[t.token for t in top[:5]]!r} ...)")
        return best.get(yes.lower(), floor) - best.get(no.lower(), floor)

    def letter_odds(self, item: Item, a: str, b: str, history: Sequence[Item] = ()) -> float:
        """log P("A") - log P("B") of the pairwise verdict's first token."""
        prompt = self.prompts.render("judge_pairwise.j2", item=candidate_view(item), history=[h.label for h in history],
                                     explanation_a=a, explanation_b=b, letter=True)
        return self._first_token_odds(prompt, "A", "B")

    def yes_odds(self, item: Item, explanation: str, history: Sequence[Item] = ()) -> float:
        """log P("Yes") - log P("No") that one explanation is a good one (prompts/judge_pointwise.j2):
        each text is asked about alone, so there is no position to prefer."""
        prompt = self.prompts.render("judge_pointwise.j2", item=candidate_view(item), history=[h.label for h in history],
                                     explanation=explanation)
        return self._first_token_odds(prompt, "Yes", "No")

    def compare_pointwise(self, item: Item, explanation: str, baseline: str, history: Sequence[Item] = (),
                          margin: float = 0.05) -> tuple[Outcome, float, float, float]:
        """(outcome, preference, yes-odds of the explanation, yes-odds of the baseline): the pair is
        decided by which text the judge calls good with the higher log-odds, each asked alone (no
        order to be biased by). |preference| <= margin is a tie."""
        mine = self.yes_odds(item, explanation, history)
        base = self.yes_odds(item, baseline, history)
        pref = mine - base
        return ("win" if pref > margin else "loss" if pref < -margin else "tie"), pref, mine, base

    def compare_calibrated(self, item: Item, explanation: str, baseline: str, history: Sequence[Item] = (),
                           margin: float = 0.05) -> tuple[Outcome, float, float, float]:
        """Both orders, each read as log-odds of the verdict letter: (outcome, preference, odds with
        the explanation as A, odds with it as B). The preference (first - second) / 2 cancels a
        constant position bias exactly (a judge that always says "A" gives 0: a tie), which the
        1.5B pack has: it answered "A" to 12 of 12 prompts. |preference| <= margin is a tie."""
        first = self.letter_odds(item, explanation, baseline, history)
        second = self.letter_odds(item, baseline, explanation, history)
        pref = (first - second) / 2
        return ("win" if pref > margin else "loss" if pref < -margin else "tie"), pref, first, second

    def compare(self, item: Item, explanation: str, baseline: str, history: Sequence[Item] = (),
                swap: bool = False) -> tuple[Outcome, Literal["A", "B", "tie"]]:
        """(outcome of `explanation` against `baseline`, the raw verdict). With swap the
        explanation is shown as B."""
        a, b = (baseline, explanation) if swap else (explanation, baseline)
        prompt = self.prompts.render("judge_pairwise.j2", item=candidate_view(item), history=[h.label for h in history],
                                     explanation_a=a, explanation_b=b)
        verdict = parse_verdict(self._ask(prompt))
        if verdict == "tie":
            return "tie", verdict
        return ("win" if (verdict == "B") == swap else "loss"), verdict


JUDGE_HISTORY = 20  # viewer's films shown to the judge (most recent)


def judge_report(judge: Judge, records: Sequence[Mapping], items: Mapping[str, Item], histories: Mapping | None = None,
                 pairwise: bool = True, errors: Literal["raise", "count"] = "raise", rubric: bool = True,
                 calibrated: bool = False, pointwise: bool = False) -> dict:
    """Mean rubric scores and the pairwise win rate against `baseline_explanation`, flat:
    judge_n, judge_failures, judge_<criterion> (mean 1-3), and with pairwise judge_win_rate,
    judge_wins, judge_ties, judge_losses, judge_a_share (share of "A" verdicts; far from 0.5
    means position bias). Records as for `evals.explain.explanation_report`. `rubric=False` asks only
    the pairwise question (half the judge calls). `calibrated` judges each pair in both orders by
    the verdict letter's log-odds (Judge.compare_calibrated; needs a server that returns
    top_logprobs, e.g. vLLM) and adds judge_consistent (pairs whose raw verdicts agree across the
    swap) and judge_preference_mean. `pointwise` instead asks about each text alone (Judge.compare_pointwise:
    Yes/No log-odds, no order at all) and adds judge_preference_mean and judge_yes_mean /
    judge_yes_baseline_mean (the mean log-odds of each side)."""
    rng = random.Random(judge.config.seed)
    histories = histories or {}
    scores: list[dict[str, int]] = []
    outcomes: list[Outcome] = []
    verdicts: list[str] = []
    failures = 0
    prefs: list[float] = []
    consistent = 0
    sides: list[tuple[float, float]] = []
    for r in records:
        item, text = items[str(r["item_id"])], str(r["explanation"])
        hist = history_items(histories.get(str(r["user"])), items)[-JUDGE_HISTORY:]  # the recent ones: prompts stay short
        swap = rng.random() < 0.5  # drawn for every record, so the order does not depend on failures
        base = str(r.get("baseline") or baseline_explanation(item))  # e.g. the evidence fallback of the same film
        try:
            score = judge.score(item, text, hist) if rubric else {}
            if pairwise and pointwise:
                outcome, pref, mine, theirs = judge.compare_pointwise(item, text, base, hist)
                pair = (outcome, None)  # no positions, so no raw verdict to count
                prefs.append(pref)
                sides.append((mine, theirs))
            elif pairwise and calibrated:
                outcome, pref, first, second = judge.compare_calibrated(item, text, base, hist)
                pair = (outcome, "A" if first > 0 else "B")
                prefs.append(pref)
                verdicts.append("A" if second > 0 else "B")  # the swapped order's raw verdict too
                consistent += (first > 0) != (second > 0)  # the same text preferred in both orders
            else:
                pair = judge.compare(item, text, base, hist, swap) if pairwise else None
        except JudgeError:
            if errors == "raise":
                raise
            failures += 1  # the record is left out of every mean
            continue
        scores.append(score)
        if pair:
            outcomes.append(pair[0])
            if pair[1] is not None:
                verdicts.append(pair[1])
    out: dict = {"judge_n": len(scores), "judge_failures": failures}
    for k in RUBRIC:
        out[f"judge_{k}"] = sum(s[k] for s in scores) / len(scores) if rubric and scores else None
    if pairwise:
        out.update({
            "judge_win_rate": win_rate(outcomes) if outcomes else None,
            "judge_wins": outcomes.count("win"), "judge_ties": outcomes.count("tie"),
            "judge_losses": outcomes.count("loss"),
            "judge_a_share": verdicts.count("A") / len(verdicts) if verdicts else None,
        })
        if pointwise:
            out["judge_preference_mean"] = sum(prefs) / len(prefs) if prefs else None
            out["judge_yes_mean"] = sum(m for m, _ in sides) / len(sides) if sides else None
            out["judge_yes_baseline_mean"] = sum(b for _, b in sides) / len(sides) if sides else None
            out["judge_preferences"] = [round(p, 4) for p in prefs]
        elif calibrated:
            out["judge_consistent"] = consistent
            out["judge_preference_mean"] = sum(prefs) / len(prefs) if prefs else None
    return out
