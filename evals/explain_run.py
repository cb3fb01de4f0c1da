"""Explanation evaluation: the served one-pass pipeline on test-split users and chat requests.

    python -m evals.explain_run --users 100 --out runs/explain [--model pack:smollm2-135m] [--seed 0]

For each of the first N test-split users (sorted as evals.run sorts them; collaborative signals
fit without the test items) one request "What should I watch next?" is answered with
explanations (n = settings.n_recommendations), then the CHAT requests below (some with a
split user's id, some with only the conversation). Every shown explanation is recorded with
its request, film, evidence, source and the answer's latency, and graded by evals/explain.py:

  share_llm                 shown explanations written by the LLM that passed the strict verifier
                            (the rest are evidence fallbacks)
  hallucinated_title_rate   texts naming a catalog film that is neither the film nor in the history
  unsupported_word_rate     content words found nowhere in the film's entry, the request or the
                            history, by evals/explain.unsupported_words: its own tokenizer and
                            stoplist, no code shared with agent/explain/verify
  repetition_share, genre_only_share (nothing beyond genres and co-watching), false_shared_genre_rate
                            ("both are X" where a named history film lacks X; catalog genres),
                            third_person_share, len_chars_mean, distinct2, template_share, ...

Writes DIR/records.jsonl (resumable: finished requests are skipped on a rerun), DIR/results.json
and DIR/report.md with 20 seeded sample explanations printed verbatim.
With --judge-url, the LLM-written texts are also judged pairwise against the evidence fallback
of the same film (evals/judge.py; positions seeded and swapped).
Left out: ranking quality (the explanation stage does not change the order: evals.run measures it).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import random
import statistics
import time
from collections import Counter
from pathlib import Path

from tqdm import tqdm

from evals.data import REPO, leave_last_two, load_events

# (text, use a split user's id?) -- varied moods, constraints, named films, and none of them
CHAT: list[tuple[str, bool]] = [
    ("I loved Alien and Heat. What should I watch next?", False),
    ("Something funny and animated for the whole family", False),
    ("A tense heist film, please", False),
    ("I want a space adventure under two hours", False),
    ("I liked The Matrix. Something similar but not horror", False),
    ("A romantic comedy set in New York", False),
    ("Give me a scary movie for tonight", False),
    ("I enjoyed Toy Story and Finding Nemo, what else?", False),
    ("A war film about soldiers", False),
    ("Something with dinosaurs", False),
    ("A mystery with a detective", False),
    ("I loved Pulp Fiction and Reservoir Dogs", False),
    ("what should I watch tonight?", True),
    ("Something light and funny", True),
    ("A good thriller", True),
    ("More sci-fi please", True),
    ("A drama from the 90s", True),
    ("Anything with magic or wizards", True),
    ("I loved The Godfather. Something like it", True),
    ("A short film under 100 minutes", True),
    ("Surprise me", True),
    ("A musical", True),
    ("A crime film but not too violent", False),
    ("Films about friendship", False),
]


def _record(kind: str, key: str, request: str, out, elapsed: float, fallback) -> list[dict]:
    return [{"kind": kind, "user": key, "request": request, "item_id": r.item.item_id, "film": r.item.label,
             "explanation": r.explanation, "source": r.explanation_source, "from_llm": r.from_llm,
             "baseline": fallback(r.evidence) if r.evidence else None,
             "evidence": r.evidence.as_dict() if r.evidence else None,
             "history": [e.item_id for e in out.history.entries], "latency_s": elapsed,
             "diagnostics": [d for d in out.diagnostics if f" {r.item.item_id} " in f"{d} "]}
            for r in out.items]


async def run(args) -> Path:
    from agent.config import Settings
    from agent.llm import load_llm
    from agent.explain import Explainer
    from agent.recommender import RecRequest
    from evals.pipeline import split_recommender

    split = leave_last_two(load_events("movielens-small"))
    users = sorted(split.train, key=lambda u: (len(u), u))[args.skip: args.skip + args.users]
    s = Settings(**({"model": args.model} if args.model else {}))
    llm = load_llm(s)
    await llm.start()
    rec = split_recommender(split, "test", users, settings=s, llm=llm)
    explainer = Explainer(rec.prompts, rec.titles, s.explanation_chars, samples=s.explanation_samples, retries=s.explanation_retries,
                          grammar=s.explanation_grammar)
    fallback = lambda ev: explainer.fallback(ev).text  # noqa: E731  (the pairwise judge's baseline)
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "records.jsonl"
    done = set()
    if path.exists():
        done = {json.loads(x)["user"] for x in path.read_text().splitlines() if x.strip()}
    rng = random.Random(args.seed)
    work = [("user", u, "What should I watch next?", u) for u in users]
    work += [("chat", f"chat-{i}", text, rng.choice(users) if with_user else None)
             for i, (text, with_user) in enumerate(CHAT[: args.chat])]
    try:
        with open(path, "a") as f:
            for kind, key, text, uid in tqdm(work, desc="explained answers"):
                if key in done:
                    continue
                t = time.perf_counter()
                out = await rec.recommend(RecRequest(messages=[{"role": "user", "content": text}], user=uid))
                for row in _record(kind, key, text, out, time.perf_counter() - t, fallback):
                    f.write(json.dumps(row) + "\n")
                f.flush()
    finally:
        await llm.close()
    return path


def fallback_reasons(rows: list[dict]) -> Counter:
    """Why the shown text is the evidence fallback: the problem kinds of each fallback's last rejected
    candidate (from its diagnostics; one fallback can count under several kinds).

    >>> sorted(fallback_reasons([{"source": "facts", "diagnostics": [
    ...     "explanation for 7 sample 1 rejected (title:M): 'x'",
    ...     "explanation for 7 sample 2 rejected (repetitive:a phrase repeats; unfinished:of): 'y'",
    ...     "explanation for 7 replaced by the evidence fallback"]}, {"source": "llm", "diagnostics": []}]).items())
    [('repetitive', 1), ('unfinished', 1)]
    """
    out: Counter = Counter()
    for r in rows:
        if r["source"] == "llm":
            continue
        last = [d for d in r["diagnostics"] if " rejected (" in d]
        if not last:
            out["no candidate"] += 1
            continue
        problems = last[-1].split(" rejected (", 1)[1].split("): ", 1)[0]
        out.update(sorted({p.split(":", 1)[0].strip() for p in problems.split("; ")}))
    return out


def report(path: Path, seed: int, machine: str, model: str, judge=None, judge_limit: int = 0,
           judge_calibrated: bool = False, judge_pointwise: bool = False) -> str:
    from agent.catalog import load_catalog
    from agent.config import Settings
    from evals.explain import explanation_report

    s = Settings()
    items = {it.item_id: it for it in load_catalog(s.catalog, s.tmdb, s.media)}
    rows = [json.loads(x) for x in path.read_text().splitlines() if x.strip()]
    histories = {r["user"]: r["history"] for r in rows}
    res = {}
    for name, part in (("all", rows), ("test users", [r for r in rows if r["kind"] == "user"]),
                       ("chat", [r for r in rows if r["kind"] == "chat"])):
        if part:
            res[name] = explanation_report(part, items, histories)
    if judge is not None:  # LLM-written texts against the evidence fallback of the same film
        from evals.judge import judge_report

        llm_rows = [r for r in rows if r["source"] == "llm" and r.get("baseline")]
        if judge_limit and len(llm_rows) > judge_limit:  # a seeded sample: a CPU judge costs seconds a call
            llm_rows = random.Random(seed).sample(llm_rows, judge_limit)
        res["judge_vs_fallback"] = judge_report(judge, llm_rows, items, histories, errors="count", rubric=False,
                                                calibrated=judge_calibrated, pointwise=judge_pointwise)
        res["judge_vs_fallback"]["calibrated"] = judge_calibrated
        res["judge_vs_fallback"]["pointwise"] = judge_pointwise
    lat = {}
    for r in rows:
        lat[r["user"]] = r["latency_s"]
    res["latency_p50_s"] = statistics.median(lat.values()) if lat else None
    res["requests"] = len(lat)
    (path.parent / "results.json").write_text(json.dumps(res, indent=2))
    keys = ("n", "share_llm", "hallucinated_title_rate", "unsupported_word_rate", "unsupported_text_share",
            "repetition_share", "genre_only_share", "false_shared_genre_rate", "third_person_share", "len_chars_mean", "distinct2", "template_share")
    lines = [f"# Explanations ({model}; {machine}; {res['requests']} answers, p50 {res['latency_p50_s']:.1f} s)", "",
             "share_llm: LLM-written and passing the strict verifier (agent/explain/verify); the rest are evidence "
             "fallbacks. unsupported_*: evals/explain.unsupported_words (independent of the verifier). "
             "`llm_` rows: over the LLM-written texts only.", "",
             "| set | " + " | ".join(keys) + " |", "|---|" + "---|" * len(keys)]

    def cell(v):
        return "-" if v is None else f"{v:.3f}" if isinstance(v, float) else str(v)

    for name in ("all", "test users", "chat"):
        if name in res:
            e = res[name]
            lines.append(f"| {name} | " + " | ".join(cell(e.get(k)) for k in keys) + " |")
            if e.get("n_llm"):
                lines.append(f"| {name}, LLM-written | " + " | ".join(cell(e.get(f"llm_{k}", e.get(k)) if k != "share_llm" else 1.0)
                                                          for k in keys) + " |")
    why = fallback_reasons(rows)
    res["fallback_reasons"] = dict(why)
    n_fb = sum(r["source"] != "llm" for r in rows)
    lines += ["", f"Fallbacks: {n_fb} of {len(rows)}; problems of each one's last rejected candidate: "
              + (", ".join(f"{k} {v}" for k, v in why.most_common()) or "none")]
    (path.parent / "results.json").write_text(json.dumps(res, indent=2))
    lines += ["", "## 20 sampled explanations (seeded), verbatim", ""]
    for r in random.Random(seed).sample(rows, min(20, len(rows))):
        ev = r["evidence"] or {}
        compact = {k: v for k, v in ev.items() if v and k in ("links", "request_words", "reasons", "plot", "themes")}
        for x in compact.get("links", []):
            for k in ("item_id", "liked"):
                x.pop(k, None)
        compact["reasons"] = [x["text"] for x in compact.get("reasons", [])]
        lines += [f"- request: {r['request']!r} (user {r['user']}); film: **{r['film']}**; source: {r['source']}",
                  f"  - evidence: `{json.dumps(compact, ensure_ascii=False)}`",
                  f"  - text: {r['explanation']}"]
        if r["diagnostics"]:
            lines.append(f"  - diagnostics: {'; '.join(r['diagnostics'])}")
    if res.get("judge_vs_fallback"):
        j = res["judge_vs_fallback"]
        if j.get("pointwise"):
            how = (f"each text asked about alone, Yes/No log-odds (no positions); mean preference "
                   f"{cell(j.get('judge_preference_mean'))} nats, mean log-odds LLM {cell(j.get('judge_yes_mean'))} vs "
                   f"fallback {cell(j.get('judge_yes_baseline_mean'))}")
        elif j.get("calibrated"):
            how = ("both orders, by the verdict letter's log-odds (position bias cancelled); "
                   f"{j.get('judge_consistent')} pairs with the same raw verdict in both orders, mean preference "
                   f"{cell(j.get('judge_preference_mean'))} nats")
        else:
            how = "positions seeded and swapped"
        lines[5:5] = ["", f"Pairwise judge, LLM-written vs the evidence fallback of the same film ({how}): "
                      f"win rate {cell(j['judge_win_rate'])} over {j['judge_n']} ({j['judge_wins']} wins, "
                      f"{j['judge_ties']} ties, {j['judge_losses']} losses; A share {cell(j['judge_a_share'])}; "
                      f"{j['judge_failures']} unparsable)", ""]
    md = "\n".join(lines) + "\n"
    (path.parent / "report.md").write_text(md)
    return md


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m evals.explain_run", description=__doc__.split("\n")[0])
    ap.add_argument("--users", type=int, default=100, help="test-split users (5 films each)")
    ap.add_argument("--skip", type=int, default=0, help="start after this many users (a probe on users the "
                    "reported run does not grade: --skip 100)")
    ap.add_argument("--chat", type=int, default=len(CHAT), help=f"chat requests (at most {len(CHAT)})")
    ap.add_argument("--model", help="model (default: the served default, Settings.model; --report-only: the run's own, from OUT/run.json)")
    ap.add_argument("--out", type=Path, default=REPO / "runs" / "explain")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--report-only", action="store_true", help="grade DIR/records.jsonl again without the LLM")
    ap.add_argument("--judge-url", help="OpenAI-compatible URL of a judge (e.g. the 1.5B pack served by vLLM: a weak judge)")
    ap.add_argument("--judge-model", default="default")
    ap.add_argument("--judge-limit", type=int, default=0, help="judge a seeded sample of this many LLM-written texts (0: all)")
    ap.add_argument("--judge-calibrated", action="store_true",
                    help="judge each pair in both orders by the verdict letter's log-odds (cancels position bias; "
                         "needs top_logprobs, e.g. a vLLM server)")
    ap.add_argument("--judge-pointwise", action="store_true",
                    help="ask about each text alone (Yes/No log-odds, prompts/judge_pointwise.j2; no positions at all) "
                         "and prefer the one with the higher odds; needs top_logprobs")
    args = ap.parse_args(argv)
    path = args.out / "records.jsonl"
    meta = args.out / "run.json"  # what wrote the records: a --report-only pass names the same model
    if not args.report_only:
        from agent.config import Settings

        args.out.mkdir(parents=True, exist_ok=True)
        meta.write_text(json.dumps({"model": args.model or Settings().model}))
        path = asyncio.run(run(args))
    elif not args.model and meta.exists():
        args.model = json.loads(meta.read_text())["model"]
    import os

    machine = f"{platform.machine()} {os.cpu_count()} cpu"
    judge = None
    if args.judge_url:
        from evals.judge import Judge, JudgeConfig

        judge = Judge(JudgeConfig(args.judge_url, args.judge_model))
    print(report(path, args.seed, machine, args.model or "the served default", judge, args.judge_limit,
                 args.judge_calibrated, args.judge_pointwise))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
