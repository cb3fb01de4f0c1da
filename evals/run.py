"""Offline ranking evaluation: one command, every system on the same split, JSON + Markdown report.

    python -m evals.run --data movielens-small --out runs/eval [--limit N] [--seed 0] [--llm] [--llm-users 50]
    python -m evals.run --data <MovieLens CSV / 100K / 1M folder | catalog.jsonl --interactions LOG> --out DIR
    python -m evals.run --data D --tune-retriever --out DIR    # fusion weights on D's validation split, saved for D
    python -m evals.run --data movielens-small --conversation --out DIR [--dialogues 200] [--conversation-llm 20]

Systems (full ranking over every item of the split; the user's earlier items are excluded):
  popularity, ease(lambda=...), transitions, ease+transitions (weight chosen on validation),
  content (the agent's Chroma embeddings: history vector only), sasrec (the trained sequential
  model, agent/sequential.py, when one was trained for the catalog), agent retriever (the agent's own
  fused retriever: history vector + co-occurrence + transitions (+ sasrec), RRF, with the weights
  chosen on that data set's validation split when --tune-retriever saved them), and with --llm the agent's LLM rerank of
  the retriever's top K (the served pipeline: same prompts, schema, validation); items after the
  LLM's picks keep the retriever's order.
Also the sampled protocol (target + 19 seeded unseen negatives): HR@1 and NDCG@10.
Any catalog (agent/protocol): the agent's systems run on every data set that has a catalog, in a
Chroma collection named by the catalog's content hash (built on first use, reused after); what is
skipped, and why, is printed and kept under "notes" in results.json.

Writes DIR/results.json ({"systems": {name: {"recall@10", "ndcg@10", "mrr@10", "validity": {...}, ...}}})
and DIR/report.md with PNG plots. LLM systems are resumable: finished users are journaled in
DIR/journal/ and skipped when the same command runs again. Explanation metrics
(evals/explain.py: USR, DIV, FCR, FMR, groundedness, hallucinated titles, length/diversity,
BLEU/ROUGE with --references) and an optional LLM judge (--judge-url) cover the served
explanations.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import subprocess
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from agent.protocol.data import REPO, Split, leave_last_two, load_events, resolve_dataset
from agent.protocol.metrics import all_metrics, sample_negatives, sampled_metrics
from agent.protocol.pipeline import agent_parts, dataset_settings, media_store, sequential_for, split_histories
from evals.baselines import EASE, Blend, Popularity, Scorer, Sequential, Transitions

TOP = 20
VALIDITY_KEYS = ("parse_failures", "candidate_errors", "history_errors", "duplicates", "out_of_catalog", "filled")


def rank_full(scores: np.ndarray, items: list[str], exclude: list[str], index: dict[str, int], top: int = TOP) -> list[str]:
    x = scores.astype(np.float64).copy()
    x[[index[i] for i in exclude if i in index]] = -np.inf
    order = np.argsort(-x, kind="stable")[:top]
    return [items[j] for j in order if np.isfinite(x[j])]


def mean_rows(rows: list[dict]) -> dict[str, float]:
    return {k: float(np.mean([r[k] for r in rows])) for k in rows[0]} if rows else {}


def eval_scorer(scorer: Scorer, split: Split, target: str, users: list[str], rng_seed: int) -> dict:
    rows, sampled, lat = [], [], []
    rng = random.Random(rng_seed)
    for u in users:
        hist = split.history(u, target)
        tgt = getattr(split, target)[u]
        t = time.perf_counter()
        s = scorer.score(hist)
        lat.append(time.perf_counter() - t)
        rows.append(all_metrics(rank_full(s, split.items, hist, scorer.index), tgt))
        negs = sample_negatives(split.items, set(hist) | {tgt}, 19, rng)
        sampled.append(sampled_metrics({i: float(s[scorer.index[i]]) for i in [tgt, *negs]}, tgt, negs))
    out = mean_rows(rows)
    out.update({f"sampled_{k}": v for k, v in mean_rows(sampled).items()})
    out["validity"] = {k: 0.0 for k in VALIDITY_KEYS}
    out["latency_p50_ms"] = float(np.percentile(lat, 50) * 1000)
    out["latency_p95_ms"] = float(np.percentile(lat, 95) * 1000)
    out["users"] = len(users)
    return out


class AgentRetrieverScorer(Scorer):
    """The agent's Retriever as a full-ranking scorer: fused RRF scores for its top items, then
    -inf-free fallback so every item gets a score (retrieved items first, the rest by popularity)."""

    def __init__(self, retriever, items: list[str], popularity: np.ndarray, name: str, depth: int = 100):
        super().__init__({}, items)
        self.retriever, self.pop, self.name, self.depth = retriever, popularity, name, depth

    def score(self, history: list[str]) -> np.ndarray:
        from agent.types import HistoryEntry, UserHistory

        h = UserHistory("eval", tuple(HistoryEntry(i, liked=True) for i in history))
        out = self.pop / (self.pop.max() + 1.0) * 1e-6  # tiny: only orders the unretrieved tail
        for c in self.retriever.retrieve("", h, self.depth):
            if c.item.item_id in self.index:
                out[self.index[c.item.item_id]] += 1.0 + c.score
        return out


def agent_retrievers(split: Split, target: str, popularity: np.ndarray, weights=None, settings=None,
                     notes: list[str] | None = None):
    """[content-only retriever, (sasrec alone, fused without it,) the agent's fused retriever with
    `weights` (default: the settings, i.e. the data set's tuned weights)]."""
    from agent.retrieval import RetrievalWeights, Retriever

    s, items, emb, store, co, tr = agent_parts(split, target, settings)
    seq = sequential_for(s, split, target)
    if seq is None and notes is not None:
        notes.append("sasrec rows skipped: no trained sequential model for this catalog "
                     "(python -m agent.sequential --data ...)")
    w = weights or RetrievalWeights(s.weight_query, s.weight_history, s.weight_collab, s.weight_sequence,
                                    sasrec=s.weight_sasrec, quality_history=s.weight_quality_history)
    media = media_store(s, items, emb)
    content = Retriever(store, emb, items, None, weights=RetrievalWeights(query=0, history=1, collab=0, sequence=0),
                        media_store=media)
    quality = split_quality(split, target, s.quality_prior_count) if w.quality_history > 0 else None
    fused = Retriever(store, emb, items, co, tr, weights=w, rrf_k=s.rrf_k, media_store=media, sasrec=seq,
                      quality=quality)
    out = [AgentRetrieverScorer(content, split.items, popularity, "content (embeddings)")]
    if seq is not None:
        from dataclasses import replace

        out.append(Sequential(seq, split.items))
        if w.sasrec > 0:
            plain = Retriever(store, emb, items, co, tr, weights=replace(w, sasrec=0.0), rrf_k=s.rrf_k, media_store=media)
            out.append(AgentRetrieverScorer(plain, split.items, popularity, "agent retriever without sasrec"))
    return out + [AgentRetrieverScorer(fused, split.items, popularity, "agent retriever (fused)")]


def split_quality(split: Split, target: str, prior_count: float):
    """The quality prior (agent/quality) from the ratings of the events the split fits on before
    `target` (never the target itself); the demo's ratings.csv, as agent_parts' store is the demo's."""
    from agent.protocol.pipeline import split_quality as fit_quality
    from agent.types import Interaction

    events = load_events("movielens-small")
    return fit_quality(split, target, [Interaction(u, i, r, t) for u, i, r, t in events], prior_count)


def tune_retriever(split: Split, users: list[str], settings, data: str, out: Path, rrf_ks: tuple[int, ...] = ()) -> dict:
    """Fusion weights on the validation split (evals/fusion.py), written to OUT/retriever_weights.json
    and beside the data set's collection (agent/tuning), where the server for that catalog reads them.
    With several `rrf_ks` the RRF constant is chosen (and saved) too."""
    from agent.tuning import write_tuned
    from evals.fusion import as_settings, tune_fusion

    seq = sequential_for(settings, split)
    rows, best = tune_fusion(split, users, settings, seq, rrf_ks=rrf_ks)
    out.mkdir(parents=True, exist_ok=True)
    (out / "retriever_weights.json").write_text(json.dumps(rows, indent=2))
    chosen = {"data": data, "split_checksum": split.checksum, "target": "val", "users": len(users),
              "rrf_k_grid": list(rrf_ks) or [settings.rrf_k], "ndcg@10": best["ndcg@10"], "recall@10": best["recall@10"], "commit": git_commit()}
    values = as_settings(best["weights"])
    if seq is None:
        values.pop("weight_sasrec", None)
    if len(rrf_ks) > 1:
        values["rrf_k"] = best["rrf_k"]
    path = write_tuned(settings, values, chosen)
    for r in rows[:5]:
        print(r, flush=True)
    print(f"[evals] chose {values} (validation NDCG@10 {best['ndcg@10']:.4f}, R@10 {best['recall@10']:.4f}); "
          f"saved to {path}", flush=True)
    return best


def validity_counts(out, counts: dict) -> None:
    for d in out.dropped:
        kind = d.split(":", 1)[0]
        key = {"not_candidate": "candidate_errors", "seen": "history_errors", "duplicate": "duplicates",
               "not_in_catalog": "out_of_catalog", "malformed": "parse_failures"}.get(kind)
        if key:
            counts[key] += 1
    if out.items and out.filled == len(out.items):  # the LLM gave no valid item at all
        counts["parse_failures"] += 1
    counts["filled"] += out.filled


def prior_order(out, weight: float, served: float = 0.0) -> list[str]:
    """Re-sort a one-pass answer with the retrieval order as a log-prior (the same formula as
    agent.ranking.order_by_label_scores). The served score is the softmax of label log-probability
    - served * log(rank), so adding `served` * log(rank) back gives the label log-probability up to
    a per-request constant, and the order is the same as ranking with `weight` directly."""
    import math

    pos = {c.item.item_id: r for r, c in enumerate(out.candidates)}
    key = {r.item.item_id: math.log(max(r.score or 0.0, 1e-30)) + (served - weight) * math.log(pos[r.item.item_id] + 1)
           for r in out.items}
    return sorted(key, key=lambda i: -key[i])


def is_finetuned(model: str | None) -> bool:
    """A model directory written by `python -m finetune.merge` (it carries marquee_train.json)."""
    return bool(model) and (Path(model).expanduser() / "marquee_train.json").is_file()


async def eval_llm_rerank(split: Split, target: str, users: list[str], popularity: np.ndarray, model: str | None,
                          ranking: str = "generate", lora: Path | None = None,
                          prior_weights: tuple[float, ...] = (), explain_users: int = 0,
                          references: dict | None = None, judge=None, journal: Path | None = None,
                          settings=None) -> dict:
    """The served pipeline (retrieve -> prompt -> LLM -> validate) as a ranker. Collaborative
    signals are fit on the split (no leakage).

    generate: the LLM's n picks first, then the rest of the retriever's candidates in retrieval
    order, then everything else by the retriever's fallback order.
    one-pass: the request asks for all K candidates without explanations (explain=False), so the
    served code returns the LLM's full order of the K; the tail follows. With `prior_weights`, the
    same answers are also re-sorted with the retrieval order as a log-prior (one extra result per
    weight, under "prior_sweep"), which is how settings.rank_prior_weight is chosen on validation.

    Explanations: the served answers (n = settings.n_recommendations, explanations on) for the
    first `explain_users` users (generate mode: every ranked answer already has them) go through
    evals.explain.explanation_report (and evals.judge.judge_report when a judge is given); their
    time to first streamed item and full latency are recorded."""
    from agent.llm import load_llm
    from agent.recommender import Recommender, RecRequest

    s, items, emb, store, co, tr = agent_parts(split, target, settings)
    upd = {"model": model} if model else {}
    if lora:
        upd["lora"] = Path(lora)
    s = s.model_copy(update=upd)
    histories = split_histories(split, target, users)
    llm = load_llm(s)
    await llm.start()
    rec = Recommender(s, list(items.values()), histories, store, emb, llm, collab=co, sequence=tr,
                      media_store=media_store(s, items, emb), sasrec=sequential_for(s, split, target))
    tail = AgentRetrieverScorer(rec.retriever, split.items, popularity, "tail")
    adapter = s.lora_name if lora else None
    # Resumable: one journal line per finished user (ranking) and per explained user; a rerun
    # with the same --out skips what the journal already holds.
    done: dict[str, dict] = {}
    explained: dict[str, dict] = {}
    if journal is not None and journal.exists():
        for j in read_journal(journal):
            (explained if j.get("kind") == "explain" else done)[j["user"]] = j
        print(f"[evals] resuming {journal.name}: {len(done)} ranked, {len(explained)} explained users", flush=True)
    jf = open(journal, "a") if journal is not None else None

    def log(entry: dict) -> None:
        if jf:
            jf.write(json.dumps(entry) + "\n")
            jf.flush()

    try:
        for u in tqdm(users, desc=f"llm rerank ({ranking})"):
            if u in done:
                continue
            req = RecRequest(messages=[{"role": "user", "content": "What should I watch next?"}], user=u,
                             ranking=ranking, adapter=adapter,
                             **({"n": s.k_candidates, "explain": False} if ranking == "one-pass" else {}))
            t = time.perf_counter()
            out = await rec.recommend(req)
            elapsed = time.perf_counter() - t
            hist = split.history(u, target)
            tgt = getattr(split, target)[u]

            def full(picks: list[str]) -> list[str]:
                rest = [c.item.item_id for c in out.candidates if c.item.item_id not in picks]
                tail_rank = rank_full(tail.score(hist), split.items, hist + picks + rest, tail.index)
                return [i for i in picks + rest if i in tail.index] + tail_rank

            c = dict.fromkeys(VALIDITY_KEYS, 0)
            validity_counts(out, c)
            done[u] = {"user": u, "kind": "rank", "metrics": all_metrics(full([r.item.item_id for r in out.items]), tgt),
                       "sweep": {str(w): all_metrics(full(prior_order(out, w, s.rank_prior_weight)), tgt)
                                 for w in prior_weights},
                       # the fused retriever's own order of the same candidates: the LLM rerank's paired baseline
                       "retrieval": all_metrics(full([c.item.item_id for c in out.candidates]), tgt),
                       "latency": elapsed, "tokens_in": out.prompt_tokens, "tokens_out": out.completion_tokens,
                       "counts": c, "n_items": len(out.items),
                       "records": [] if ranking == "one-pass" else [
                           {"user": u, "item_id": r.item.item_id, "explanation": r.explanation,
                            "source": r.explanation_source, "request": out.query} for r in out.items]}
            log(done[u])
        if ranking == "one-pass" and explain_users:
            for u in tqdm(users[:explain_users], desc="explanations"):
                if u in explained:
                    continue
                req = RecRequest(messages=[{"role": "user", "content": "What should I watch next?"}], user=u,
                                 ranking=ranking, adapter=adapter)
                t, first = time.perf_counter(), None
                async for ev in rec.stream(req):
                    first = first or time.perf_counter() - t
                    out = ev
                explained[u] = {"user": u, "kind": "explain", "first": first, "full": time.perf_counter() - t,
                                "records": [{"user": u, "item_id": r.item.item_id, "explanation": r.explanation,
                                             "source": r.explanation_source, "request": out.query,
                                             "evidence": r.evidence.as_dict() if r.evidence else None}
                                            for r in out.items]}
                log(explained[u])
    finally:
        if jf:
            jf.close()
        await llm.close()
    ranked = [done[u] for u in users if u in done]
    expl_rows = [explained[u] for u in users if u in explained]
    rows = [d["metrics"] for d in ranked]
    lat = [d["latency"] for d in ranked]
    tokens_in = [d["tokens_in"] for d in ranked]
    tokens_out = [d["tokens_out"] for d in ranked]
    counts = {k: sum(d["counts"][k] for d in ranked) for k in VALIDITY_KEYS}
    n_items = sum(d["n_items"] for d in ranked)
    sweep_rows = {w: [d["sweep"][str(w)] for d in ranked] for w in prior_weights}
    records = [r for d in ranked + expl_rows for r in d["records"]]
    first_lat = [d["first"] for d in expl_rows]
    full_lat = [d["full"] for d in expl_rows]
    res = mean_rows(rows)
    # validity: events per request (x1000 = per 1,000 requests); filled: share of served items
    res["validity"] = {k: (v / n_items if k == "filled" else v / len(users)) for k, v in counts.items()}
    res["latency_p50_ms"] = float(np.percentile(lat, 50) * 1000)
    res["latency_p95_ms"] = float(np.percentile(lat, 95) * 1000)
    res["tokens_in_mean"] = float(np.mean(tokens_in))
    res["tokens_out_mean"] = float(np.mean(tokens_out))
    res["requests_per_s"] = len(users) / float(np.sum(lat))
    res["users"] = len(users)
    res["model"] = s.model
    res["ranking"] = ranking
    res["lora"] = str(lora) if lora else None
    if records:
        from evals.explain import explanation_report

        res["explanations"] = explanation_report(records, items, histories, references)
        if judge is not None:
            from evals.judge import judge_report

            res["explanations"].update(judge_report(judge, records, items, histories, errors="count"))
    if first_lat:
        res["explained_first_item_p50_ms"] = float(np.percentile(first_lat, 50) * 1000)
        res["explained_first_item_p95_ms"] = float(np.percentile(first_lat, 95) * 1000)
        res["explained_full_p50_ms"] = float(np.percentile(full_lat, 50) * 1000)
        res["explained_full_p95_ms"] = float(np.percentile(full_lat, 95) * 1000)
    if prior_weights:
        res["prior_sweep"] = {str(w): mean_rows(r) for w, r in sweep_rows.items()}
    return res


def read_journal(path: Path) -> list[dict]:
    """The entries of one journal file, skipping a last line cut by an interruption."""
    entries = []
    for line in path.read_text().splitlines():
        try:
            entries.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return entries


def journal_path(out: Path, system: str) -> Path:
    """Per-system journal of finished users under OUT/journal/ (what makes a run resumable)."""
    slug = re.sub(r"[^a-z0-9]+", "-", system.lower()).strip("-")[:80]
    (out / "journal").mkdir(parents=True, exist_ok=True)
    return out / "journal" / f"{slug}.jsonl"


def git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True).stdout.strip()
    except OSError:
        return ""


def write_plots(results: dict, out: Path) -> list[str]:
    """PNG charts beside the report: NDCG@10 / Recall@10 per system, and the one-pass prior sweeps.
    Returns the file names (none when matplotlib is missing: pip install -e '.[evals]')."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    names = list(results["systems"])
    files = []
    fig, ax = plt.subplots(figsize=(10, 0.45 * len(names) + 1.5))
    y = np.arange(len(names))
    ax.barh(y - 0.2, [results["systems"][n]["ndcg@10"] for n in names], 0.4, label="NDCG@10")
    ax.barh(y + 0.2, [results["systems"][n]["recall@10"] for n in names], 0.4, label="Recall@10")
    ax.set_yticks(y, [n if len(n) < 70 else n[:67] + "…" for n in names], fontsize=8)
    ax.invert_yaxis()
    ax.legend()
    ax.set_title(f"{results['data']} ({results['target']} targets)")
    fig.tight_layout()
    fig.savefig(out / "ranking.png", dpi=110)
    plt.close(fig)
    files.append("ranking.png")
    sweeps = {n: m["prior_sweep"] for n, m in results["systems"].items() if m.get("prior_sweep")}
    if sweeps:
        fig, ax = plt.subplots(figsize=(7, 4))
        for n, sw in sweeps.items():
            ws = sorted(sw, key=float)
            ax.plot([float(w) for w in ws], [sw[w]["ndcg@10"] for w in ws], marker="o", label=n[:60])
        ax.set_xlabel("retrieval log-prior weight (0 = LLM order alone)")
        ax.set_ylabel("NDCG@10")
        ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(out / "prior_sweep.png", dpi=110)
        plt.close(fig)
        files.append("prior_sweep.png")
    return files


def report_md(results: dict) -> str:
    n_users = next(iter(results['systems'].values()))['users']
    lines = [f"# Ranking evaluation ({results['data']}, {n_users} of {results['split']['users']} users, target: {results['target']})", "",
             "| system | R@5 | R@10 | R@20 | N@5 | N@10 | N@20 | M@10 | sampled HR@1 | sampled N@10 | p50 ms |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    def cell(v):
        return "-" if v is None else f"{v:.4f}"

    for name, m in results["systems"].items():
        lines.append(f"| {name} | " + " | ".join(cell(m.get(k)) for k in (
            "recall@5", "recall@10", "recall@20", "ndcg@5", "ndcg@10", "ndcg@20", "mrr@10",
            "sampled_hr@1", "sampled_ndcg@10")) + f" | {m['latency_p50_ms']:.1f} |")
    llm = {n: m for n, m in results["systems"].items() if "model" in m}
    if llm:
        lines += ["", "LLM validity, per 1,000 requests (filled: share of served items taken from retrieval order):", "",
                  "| system | " + " | ".join(VALIDITY_KEYS) + " |", "|---|" + "---|" * len(VALIDITY_KEYS)]
        for n, m in llm.items():
            v = m["validity"]
            lines.append(f"| {n} | " + " | ".join(
                f"{v[k]:.0%}" if k == "filled" else f"{v[k] * 1000:.0f}" for k in VALIDITY_KEYS) + " |")
    expl = {n: m["explanations"] for n, m in llm.items() if m.get("explanations")}
    if expl:
        keys = ("n", "share_llm", "usr", "div", "fcr", "fmr", "hallucinated_title_rate", "unsupported_word_rate",
                "repetition_share", "distinct2", "template_share", "len_chars_mean")
        lines += ["", "Explanations (evals/explain.py; DIV lower is better; share_llm: written by the LLM and passing "
                  "the strict verifier, the rest are evidence fallbacks; unsupported_word_rate: an independent "
                  "lexical check, see evals/explain.unsupported_words):", "",
                  "| system | " + " | ".join(keys) + " |", "|---|" + "---|" * len(keys)]
        for n, e in expl.items():
            lines.append(f"| {n} | " + " | ".join("-" if e.get(k) is None else (f"{e[k]:.3f}" if isinstance(e[k], float) else str(e[k]))
                                                   for k in keys) + " |")
    for n, m in llm.items():
        if m.get("prior_sweep"):
            lines += ["", f"{n}: retrieval log-prior weight sweep (0 = the LLM's order alone):", "",
                      "| prior weight | R@10 | N@10 | M@10 |", "|---|---|---|---|"]
            for w, r in m["prior_sweep"].items():
                lines.append(f"| {w} | {r['recall@10']:.4f} | {r['ndcg@10']:.4f} | {r['mrr@10']:.4f} |")
    if results.get("notes"):
        lines += ["", *[f"- note: {n}" for n in results["notes"]]]
    if results.get("retriever_weights"):
        lines += ["", f"Agent retriever weights: {results['retriever_weights']}, rrf_k {results.get('rrf_k')} (collection {results.get('collection')}; "
                  f"{'tuned on validation: ' + results['weights_file'] if results.get('weights_file') else 'Settings defaults'})."]
    lines += ["", f"Split: {results['split']} (checksum {results['split_checksum']}); commit {results['commit'][:10]}; "
              f"seed {results['seed']}; blend weight {results.get('blend_weight')} (chosen on validation)."]
    return "\n".join(lines) + "\n"


def positive_ints(text: str) -> tuple[int, ...]:
    """'30,60' -> (30, 60); anything else is an argparse error that says what is accepted.

    >>> positive_ints("30, 60")
    (30, 60)
    """
    try:
        out = tuple(int(k) for k in text.split(",") if k.strip())
    except ValueError:
        out = ()
    if not out or min(out) < 1:
        raise argparse.ArgumentTypeError(f"comma-separated positive integers, e.g. 30,60,120 (got {text!r})")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m evals.run", description=__doc__.split("\n")[0])
    ap.add_argument("--data", default="movielens-small", help="movielens-small, a MovieLens CSV / 100K / 1M folder, a "
                    "folder with catalog.jsonl + interactions.jsonl|csv, a catalog .jsonl (with --interactions), or a bare log")
    ap.add_argument("--interactions", help="the interaction log of a catalog .jsonl given as --data")
    ap.add_argument("--out", type=Path, default=REPO / "runs" / "eval")
    ap.add_argument("--limit", type=int, help="evaluate only the first N users (sorted ids)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--target", choices=("test", "val"), default="test")
    ap.add_argument("--no-agent", action="store_true", help="skip the agent's systems (they need the catalog embedded in Chroma)")
    ap.add_argument("--llm", action="store_true", help="also evaluate the served LLM rerank (one-pass: ~0.5 s a user with the 135M pack; generate: ~16 s)")
    ap.add_argument("--llm-users", type=int, default=50, help="users for the LLM system (the first N of the evaluated users)")
    ap.add_argument("--model", help="model for the LLM system (default: the served default)")
    ap.add_argument("--ranking", default="one-pass,generate",
                    help="LLM ranking modes to evaluate, comma-separated: one-pass, generate")
    ap.add_argument("--generate-users", type=int, default=50,
                    help="users for the generate path (it takes ~16 s a user with the 135M pack)")
    ap.add_argument("--lora", type=Path, help="also evaluate the LLM with this LoRA adapter (one-pass)")
    ap.add_argument("--prior-sweep", default="0,0.5,1,2,4",
                    help="one-pass: retrieval log-prior weights to report (choose settings.rank_prior_weight on --target val)")
    ap.add_argument("--explain-users", type=int, default=30,
                    help="one-pass: users whose served answers (with explanations) feed the explanation metrics")
    ap.add_argument("--references", type=Path, help="reference explanations (JSONL/CSV: user, item_id, reference) for BLEU/ROUGE")
    ap.add_argument("--judge-url", help="OpenAI-compatible base URL of an LLM judge (optional)")
    ap.add_argument("--judge-model", help="model name on the judge server")
    ap.add_argument("--tune-retriever", action="store_true", help="choose the agent's RRF weights on the validation split "
                    "(evals/fusion.py), save them beside the data set's collection (the server reads them) and exit")
    ap.add_argument("--rrf-k", type=positive_ints, default=(), help="with --tune-retriever: RRF constants to choose from on validation too, "
                    "comma-separated (e.g. 30,60,120; default: keep the setting, 60)")
    ap.add_argument("--save-prior", action="store_true", help="with --llm --target val: save the one-pass prior weight "
                    "with the best validation NDCG@10 beside the data set's collection (settings.rank_prior_weight)")
    ap.add_argument("--conversation", action="store_true",
                    help="run the conversational suite (evals/conversation.py: scripted multi-turn dialogues) and exit")
    ap.add_argument("--dialogues", type=int, default=200, help="--conversation: dialogues for the retriever-only run")
    ap.add_argument("--conversation-llm", type=int, default=0,
                    help="--conversation: also run the first N dialogues with the served one-pass LLM (--model)")
    args = ap.parse_args(argv)

    ds = resolve_dataset(args.data, args.interactions)
    split = leave_last_two(load_events(ds))
    notes: list[str] = []
    settings = None
    if args.no_agent:
        notes.append("agent systems skipped: --no-agent")
    elif ds.catalog is None:
        notes.append(f"agent systems skipped: {args.data} is an interaction log without a catalog (the retrievers "
                     "embed item texts); give a MovieLens folder or a catalog .jsonl with --interactions")
    else:
        settings = dataset_settings(ds)
    for n in notes:
        print(f"[evals] note: {n}", flush=True)
    if args.conversation:
        from evals import conversation

        if not ds.is_demo:
            ap.error("--conversation needs the demo catalog and store: --data movielens-small")
        conversation.run(split, args.out, args.dialogues, args.conversation_llm, args.seed, args.model)
        return 0
    users = sorted(split.train, key=lambda u: (len(u), u))[: args.limit or None]
    if args.tune_retriever:
        if settings is None:
            ap.error("--tune-retriever needs the agent's retrievers: " + notes[0])
        tune_retriever(split, users, settings, args.data, args.out, args.rrf_k)
        return 0
    seqs = split.fit_sequences(args.target)
    pop = Popularity(seqs, split.items)
    ease = EASE(seqs, split.items, 300.0)
    trans = Transitions(seqs, split.items)
    # Blend weight chosen on the validation split (fit on train only), never on the target.
    vseqs = split.fit_sequences("val")
    v_ease, v_trans = EASE(vseqs, split.items, 300.0), Transitions(vseqs, split.items)
    best_w, best = 1.0, -1.0
    for w in (0.25, 0.5, 1.0, 2.0, 4.0):
        m = eval_scorer(Blend([v_ease, v_trans], [1.0, w]), split, "val", users, args.seed)["ndcg@10"]
        if m > best:
            best_w, best = w, m
    systems: list[Scorer] = [pop, EASE(seqs, split.items, 100.0), ease, trans, Blend([ease, trans], [1.0, best_w])]
    if settings is not None:
        systems += agent_retrievers(split, args.target, pop.counts, settings=settings, notes=notes)
    results = {"data": args.data, "target": args.target, "seed": args.seed, "split": split.stats,
               "split_checksum": split.checksum, "commit": git_commit(), "blend_weight": best_w, "systems": {},
               "notes": notes}
    if settings is not None:
        from agent.tuning import tuned_path

        results["collection"] = settings.collection
        results["retriever_weights"] = {k: getattr(settings, k) for k in (
            "weight_history", "weight_collab", "weight_sequence", "weight_sasrec")}
        results["rrf_k"] = settings.rrf_k
        results["weights_file"] = str(tuned_path(settings)) if tuned_path(settings).is_file() else None
    if args.llm and settings is None:
        notes.append("LLM systems skipped: they rerank the agent's retriever, which did not run")
        args.llm = False
    for sc in tqdm(systems, desc="systems"):
        results["systems"][sc.name] = eval_scorer(sc, split, args.target, users, args.seed)
    if args.llm:
        import asyncio

        llm_users = users[: args.llm_users]
        sweep = tuple(float(w) for w in args.prior_sweep.split(",") if w.strip())
        refs = judge = None
        if args.references:
            from evals.explain import load_references

            refs = load_references(args.references)
        if args.judge_url:
            from evals.judge import Judge, JudgeConfig

            judge = Judge(JudgeConfig(args.judge_url, args.judge_model or "default"))
        runs = [(m.strip(), None) for m in args.ranking.split(",") if m.strip()]
        if args.lora:
            runs.append(("one-pass", args.lora))
        for mode, lora in runs:
            mode_users = llm_users[: args.generate_users] if mode == "generate" else llm_users
            tag = f"{args.model or 'default model'}, {len(mode_users)} users"
            kind = f" + LoRA {Path(lora).name}" if lora else (" fine-tuned, merged" if is_finetuned(args.model) else " zero-shot")
            name = f"agent retriever + LLM {mode}{kind} ({tag})"
            results["systems"][name] = asyncio.run(eval_llm_rerank(
                split, args.target, mode_users, pop.counts, args.model, ranking=mode, lora=lora,
                prior_weights=sweep if mode == "one-pass" else (), explain_users=args.explain_users,
                references=refs, judge=judge, journal=journal_path(args.out, name), settings=settings))
            sw = results["systems"][name].get("prior_sweep")
            if args.save_prior and sw and args.target == "val" and not lora:
                from agent.tuning import write_tuned

                w_best = max(sw, key=lambda w: (sw[w]["ndcg@10"], -float(w)))
                path = write_tuned(settings, {"rank_prior_weight": float(w_best)}, {
                    "data": args.data, "split_checksum": split.checksum, "target": "val", "users": len(mode_users),
                    "model": args.model or settings.model, "ndcg@10": sw[w_best]["ndcg@10"], "commit": git_commit()})
                print(f"[evals] rank prior weight {w_best} (validation NDCG@10 {sw[w_best]['ndcg@10']:.4f}) saved to {path}")
        # the same users without the LLM, for a like-for-like comparison
        fused = [sc for sc in systems if sc.name == "agent retriever (fused)"]
        modes = {m for m, _ in runs}
        groups = {len(llm_users)} | ({min(len(llm_users), args.generate_users)} if "generate" in modes else set())
        groups = groups if fused else set()
        for group in sorted(g for g in groups if g < len(users)):  # all users: the row above already is it
            results["systems"][f"agent retriever (same {group} users)"] = eval_scorer(
                fused[0], split, args.target, llm_users[:group], args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(results, indent=2))
    plots = write_plots(results, args.out)
    (args.out / "report.md").write_text(report_md(results) + "".join(f"\n![{p}]({p})\n" for p in plots))
    print(report_md(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
