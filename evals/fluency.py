"""Fluency of shown explanations under a language model that did not write them.

    python -m evals.fluency runs/explain-run3/records.jsonl [runs/other/records.jsonl ...] \
        [--model pack:qwen2.5-coder-1.5b] [--limit 200]

Each text is scored by the mean negative log-likelihood per token (nats) of what the verbalizer
wrote, given the code-written opener (agent/explain/verbalize.opener) as context; a text that does
not start with its opener (the evidence fallback) is scored whole. A plot sentence the text ends
with verbatim (the frames grammar copies it: agent/explain/frames.py) is the catalog's writing,
not the verbalizer's, and is left out of the score. Scored with transformers on CPU
(no vLLM needed), by default with the 1.5B pack, a different and larger model than the 135M pack
that writes the clause, so the writer does not grade itself.

What it reports, per records file: the mean NLL of its LLM-written clauses, and the share above
the 90th percentile of the first file's (the tail where word salad sits: "also as a taxi, and the
vietnam veteran is often watched by ..." scores far above "as a crime drama about a heist."); so
the first file's share is 0.10 by construction and another file's says whether its tail is
thinner. The films every file explained with an LLM-written text are also compared pairwise (same
user and film: the ranking is the same in each run), so the difference is the clause's alone.

A proxy, not a judge: a plain genre-only clause ("as a comedy.") is very predictable, so a lower
NLL is not a better explanation. Read it beside genre_only_share and the printed samples.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
from pathlib import Path


def split_text(row: dict) -> tuple[str, str]:
    """(context, scored part): the opener and the clause of an LLM-written text, else ("", text).

    >>> from agent.explain.evidence import Evidence
    >>> ev = Evidence("3", "Ronin", "Ronin (1998)", 1998, ("Crime",)).as_dict()
    >>> split_text({"explanation": "You may enjoy Ronin (1998) as a crime film.", "evidence": ev})
    ('You may enjoy Ronin (1998)', ' as a crime film.')
    >>> ev = Evidence("3", "Ronin", "Ronin (1998)", 1998, ("Crime",), plot="Spies chase a case.").as_dict()
    >>> split_text({"explanation": "You may enjoy Ronin (1998), a crime film. Spies chase a case.", "evidence": ev})
    ('You may enjoy Ronin (1998)', ', a crime film.')
    """
    from agent.explain.evidence import Evidence
    from agent.explain.verbalize import opener

    text = row["explanation"]
    if row.get("evidence"):
        ev = Evidence.from_dict(row["evidence"])
        head = opener(ev)
        if text.startswith(head) and len(text) > len(head):
            clause = text[len(head):]
            if ev.plot and clause.endswith(" " + ev.plot) and len(clause) > len(ev.plot) + 1:
                clause = clause[: -len(ev.plot) - 1]  # the catalog's plot sentence, copied: not the writer's words
            return head, clause
    return "", text


def summary(values: list[float], cut: float) -> tuple[float, float]:
    """(mean NLL, share above `cut`) of some clauses; nan for none.

    >>> summary([3.0, 4.0, 5.0], 4.5)
    (4.0, 0.3333333333333333)
    """
    if not values:
        return float("nan"), float("nan")
    return statistics.mean(values), sum(v > cut for v in values) / len(values)


class Scorer:
    def __init__(self, model: str, threads: int = 2):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        from agent.modelpack import resolve_model

        torch.set_num_threads(threads)
        path = resolve_model(model)
        self.tok = AutoTokenizer.from_pretrained(path)
        self.model = AutoModelForCausalLM.from_pretrained(path, torch_dtype=torch.float32).eval()
        self.torch = torch

    def nll(self, context: str, text: str) -> float:
        """Mean NLL per token of `text` after `context` (the first token of a text with no context is
        conditioned on the BOS token when the tokenizer has one, else not scored)."""
        torch = self.torch
        ctx = self.tok(context, add_special_tokens=False)["input_ids"] if context else []
        bos = [self.tok.bos_token_id] if self.tok.bos_token_id is not None and not ctx else []
        ids = bos + ctx + self.tok(text, add_special_tokens=False)["input_ids"]
        start = max(1, len(bos) + len(ctx))
        with torch.no_grad():
            logits = self.model(torch.tensor([ids])).logits[0]
        lp = torch.log_softmax(logits[:-1].float(), dim=-1)
        target = torch.tensor(ids[1:])
        tok_lp = lp[torch.arange(len(ids) - 1), target][start - 1:]
        return float(-tok_lp.mean())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m evals.fluency", description=__doc__.split("\n")[0])
    ap.add_argument("records", type=Path, nargs="+", help="records.jsonl of evals.explain_run (the first is the reference)")
    ap.add_argument("--model", default="pack:qwen2.5-coder-1.5b", help="scoring model (not the one that wrote the texts)")
    ap.add_argument("--limit", type=int, default=0, help="score a seeded sample of this many (user, film) pairs (0: all)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--samples", type=int, default=5, help="disfluent texts printed per file")
    args = ap.parse_args(argv)
    from tqdm import tqdm

    from evals.run import read_journal  # JSONL, a last line cut by an interruption skipped

    runs = [{(r["user"], r["item_id"]): r for r in read_journal(p)} for p in args.records]
    keys = sorted(set.intersection(*(set(r) for r in runs)))
    if args.limit and len(keys) > args.limit:
        keys = sorted(random.Random(args.seed).sample(keys, args.limit))
    scorer = Scorer(args.model)
    scores: list[dict] = []
    for run, path in zip(runs, args.records):
        out = {}
        for k in tqdm([k for k in keys if run[k]["source"] == "llm"], desc=f"fluency {path.parent.name}", file=sys.stderr):
            out[k] = scorer.nll(*split_text(run[k]))
        scores.append(out)
    ref = sorted(scores[0].values())
    cut = ref[int(0.9 * (len(ref) - 1))] if ref else float("inf")
    print(f"# Fluency ({args.model}, mean NLL per token of the written clause given the opener; "
          f"{len(keys)} (user, film) pairs)\n")
    print(f"tail: a clause above {cut:.2f} nats, the 90th percentile of the first file's LLM-written clauses\n")
    print("| records | LLM-written | mean NLL | tail share |\n|---|---|---|---|")
    for sc, path in zip(scores, args.records):  # scored: the LLM-written texts only
        mean, tail = summary(list(sc.values()), cut)
        print(f"| {path} | {len(sc)} | {mean:.3f} | {tail:.3f} |")
    if len(runs) > 1:
        both = [k for k in keys if all(r[k]["source"] == "llm" for r in runs)]
        print(f"\nPaired, films LLM-written in every file ({len(both)}):\n")
        print("| records | mean NLL | tail share | lower NLL than the first file |\n|---|---|---|---|")
        for i, (sc, path) in enumerate(zip(scores, args.records)):
            mean, tail = summary([sc[k] for k in both], cut)
            lower = "-" if i == 0 else f"{sum(sc[k] < scores[0][k] for k in both) / max(len(both), 1):.3f}"
            print(f"| {path} | {mean:.3f} | {tail:.3f} | {lower} |")
    for run, sc, path in zip(runs, scores, args.records):
        worst = sorted(sc, key=sc.get, reverse=True)[: args.samples]
        print(f"\nLeast fluent LLM-written texts of {path} (NLL per token of the clause):\n")
        for k in worst:
            print(f"- {sc[k]:.2f}: {run[k]['explanation']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
