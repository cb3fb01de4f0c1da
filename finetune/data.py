"""Training examples from interaction logs, rendered with the SAME prompts and retrieval as serving.

    split = leave_last_two(load_events("movielens-small"))
    rec = split_recommender(split, "val", users)        # retrieval fit on the training part only
    examples = build_examples(rec, split, DataArgs(...))  # [Example(kind, messages, answer, ...)]
    write_jsonl(examples, path)

Leakage: only each user's training part (`split.train`, everything before the validation item)
is used, so the evals' validation and test targets never appear in a prompt, a candidate list or a
target. The retriever that proposes the candidates is fit out of sample (`retriever_fit="before_positions"`,
see `positions_split`): its collaborative signals see each user's items only up to the earliest
training position, so, as at serving, the item watched next is not in the co-occurrence and
transition counts that rank it. Fit on the whole training part instead, the retriever had the
target in its top 20 at 65% of positions (MovieLens small, 8 positions a user) against 21% out
of sample and ~20% for the evals' held-out items, and a model trained on that learns a prior that
is far too sure of itself.

Two kinds of example, both rendered by the Recommender's own prompt methods:
  rank     `Recommender.rank_prompt` over K candidates from the served retriever for the history
           before a training position; the answer is the letter of the item watched next
           (one token: exactly what one-pass ranking reads). LlamaRec's recipe: positions whose
           next item is not among the retriever's top K are skipped (`missing_target="skip"`), or
           the target replaces the K-th candidate (`"insert"`). Candidates are shuffled (seeded)
           before lettering, so "A" carries no information and the model cannot learn "first is best".
  explain  the verbalizer prompt (`Recommender.explain_prompt`: the watched item's evidence from
           agent/explain/evidence, built from the training part only) ; the answer is the
           evidence fallback sentence (agent/explain.fallback_text), which passes the strict
           verifier by construction, so the model is never taught to invent facts.
Left out: distillation from a larger model. The planned teacher is the 1.5B pack
(`pack:qwen2.5-coder-1.5b`) sampled several times per evidence, its texts kept only when
agent/explain.verify passes them; that labelling run has not been made (see the README).
"""

from __future__ import annotations

import hashlib
import json
import math
import random
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

from tqdm import tqdm

from agent.explain import fallback_text
from agent.types import HistoryEntry, Item, UserHistory


@dataclass
class DataArgs:
    data: str = field(default="movielens-small", metadata={"help": "movielens-small, a MovieLens CSV dir, an ML-100K or ML-1M dir, a dir with catalog.jsonl + interactions.jsonl|csv, or a catalog .jsonl with --interactions (agent/protocol/data.py)"})
    interactions: str = field(default="", metadata={"help": "the interaction log of a catalog .jsonl given as --data"})
    users: int = field(default=0, metadata={"help": "use the first N users (sorted ids); 0 = all"})
    positions_per_user: int = field(default=4, metadata={"help": "training positions per user, latest first"})
    max_rank_examples: int = field(default=2000, metadata={"help": "stop after this many rank examples"})
    explain_share: float = field(default=0.25, metadata={"help": "explain examples per rank example"})
    history_len: int = field(default=20, metadata={"help": "most recent items before the target shown as history"})
    k_candidates: int = field(default=20, metadata={"help": "candidates per rank example (at most 26 letters)"})
    retriever_fit: Literal["before_positions", "all"] = field(default="before_positions", metadata={
        "help": "fit the candidate retriever's collaborative signals on each user's items before their earliest "
                "training position (out of sample, like serving), or on the whole training part (in sample: leaks "
                "each target into the retrieval that ranks it)"})
    missing_target: Literal["skip", "insert"] = field(default="skip", metadata={"help": "when the next item is not retrieved: skip the position, or insert it in place of the K-th candidate"})
    shuffle: bool = field(default=True, metadata={"help": "shuffle candidates before lettering (keep on)"})
    request: str = field(default="What should I watch next?", metadata={"help": "the viewer's request in every example (the evals use the same)"})
    seed: int = field(default=0)


@dataclass
class Example:
    kind: str  # "rank" | "explain"
    user: str
    target: str  # item id watched next
    messages: list[dict[str, str]]
    answer: str  # the assistant's text: a letter, or an explanation
    candidates: list[str] = field(default_factory=list)  # rank: ids in the order shown (A, B, ...)
    ranks: list[int] = field(default_factory=list)  # rank: each shown candidate's retrieval rank (1 = top)
    # explain: the answer's start written by code in serving (the frames verbalizer's opener): part of the
    # prompt, no loss on it; `answer` is then what follows it (GenerationRequest.prefix)
    prefix: str = ""


def explanation_target(item: Item, history: list[Item], rec, request: str = "") -> str:
    """The evidence fallback for `item` given the viewer's history (most recent last): a text
    the strict verifier passes, built from the same evidence the verbalizer prompt shows."""
    from agent.types import Candidate

    hist = UserHistory(None, tuple(HistoryEntry(h.item_id, liked=True) for h in history))
    ev = rec.evidence_builder().build(Candidate(item, 0.0), hist, request)
    return fallback_text(ev, rec.prompts, rec.settings.explanation_chars)


def positions_split(split, positions_per_user: int):
    """The split whose training part stops before each user's training positions: fit the
    example retriever on this (finetune.train does) and no target is in its signals."""
    from dataclasses import replace

    cut = {u: seq[: max(0, len(seq) - positions_per_user)] for u, seq in split.train.items()}
    return replace(split, train=cut)


def build_examples(rec, split, args: DataArgs) -> list[Example]:
    rng = random.Random(args.seed)
    users = sorted(split.train, key=lambda u: (len(u), u))
    if args.users:
        users = users[: args.users]
    out: list[Example] = []
    n_rank = skipped = 0
    bar = tqdm(users, desc="building examples")
    for u in bar:
        seq = split.train[u]  # everything before the validation item
        for pos in range(len(seq) - 1, max(0, len(seq) - 1 - args.positions_per_user), -1):
            if n_rank >= args.max_rank_examples:
                break
            target, before = seq[pos], seq[max(0, pos - args.history_len) : pos]
            if target not in rec.items:
                continue
            history = UserHistory(u, tuple(HistoryEntry(i, liked=True) for i in before))
            cands = rec.retriever.retrieve(rec.search_text(args.request), history, args.k_candidates)
            ids = [c.item.item_id for c in cands]
            if target not in ids:
                if args.missing_target == "skip" or not cands:
                    skipped += 1
                    continue
                from agent.types import Candidate

                cands = [*cands[: args.k_candidates - 1], Candidate(rec.items[target], 0.0, ("inserted",))]
            rank_of = {c.item.item_id: r for r, c in enumerate(cands, 1)}  # before shuffling
            if args.shuffle:
                rng.shuffle(cands)
            msgs = rec.rank_prompt(args.request, history, cands)
            shown = [c.item.item_id for c in cands][: len(msgs) and 26]
            letter = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"[shown.index(target)]
            out.append(Example("rank", u, target, msgs, letter, shown, [rank_of[i] for i in shown]))
            n_rank += 1
            if rng.random() < args.explain_share:
                item = rec.items[target]
                hist_items = [rec.items[i] for i in before if i in rec.items]
                out.append(Example("explain", u, target, rec.explain_prompt(args.request, history, item),
                                   explanation_target(item, hist_items, rec, args.request)))
        bar.set_postfix(rank=n_rank, skipped=skipped)
        if n_rank >= args.max_rank_examples:
            break
    rng.shuffle(out)
    return out


def prior_only_loss(examples: list[Example], weight: float) -> float:
    """Mean cross-entropy of the rank examples' targets under the retrieval prior alone,
    softmax(-weight*log(retrieval rank)) over the shown candidates: the loss an adapter trained
    with `--train_prior_weight weight` starts from when its letters carry no information.

    >>> ex = Example("rank", "u", "b", [], "B", candidates=["a", "b"], ranks=[1, 2])
    >>> round(prior_only_loss([ex], 0.0), 4), round(prior_only_loss([ex], 1.0), 4)  # ln 2; ln 3
    (0.6931, 1.0986)
    """
    losses = []
    for ex in examples:
        if ex.kind != "rank" or len(ex.ranks) != len(ex.candidates):
            continue
        scores = [-weight * math.log(r) for r in ex.ranks]
        m = max(scores)
        log_z = m + math.log(sum(math.exp(x - m) for x in scores))
        losses.append(log_z - scores[ex.candidates.index(ex.target)])
    return sum(losses) / len(losses) if losses else float("nan")


def write_jsonl(examples: list[Example], path: Path) -> str:
    """Write the examples; returns the sha256 of the file (recorded beside the adapter)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as f:
        for ex in examples:
            f.write(json.dumps(asdict(ex), ensure_ascii=False) + "\n")
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_jsonl(path: Path) -> list[Example]:
    with open(path) as f:
        return [Example(**json.loads(line)) for line in f if line.strip()]
