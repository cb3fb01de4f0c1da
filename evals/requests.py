"""Request relevance: what a person gets for a typed request, on requests built from the catalog's facts.

    python -m evals.requests --out evals/results/requests          # every system, held-out half reported
    python -m evals.requests --tune                                 # grid of soft/quality weights, tuning half

Requests (seeded, >= 300): genre words phrased several ways ("something funny", "an animated
film", "a cartoon"), genre pairs ("a funny animated film"), themes taken from the catalog's TMDB
keywords and MovieLens tags ("a film about heist"), theme + genre ("a documentary about music"),
genre + decade, genre + runtime, "popular" and "hidden gem" variants, and "which of these"
questions over real titles (titles with ?, !, ..., Dr. or an alternate title in parentheses are
picked first; typed as the main title, the full catalog title, or with the year when the title is
shared). A third of the non-choice requests carry a MovieLens user id (their films become history
and leave the relevant set). Each request's relevant set is defined by the facts it was built
from (every film with those genres / that keyword or tag / that decade or runtime), never by the
system; a relevant film's gain grows with how well liked it is: max(0.1, bayes5 - 2.5), bayes5
the Bayesian mean rating with 5 prior ratings at the global mean (the system's prior uses 10: the
same ratings, so NDCG rewards any preference for liked films by design; precision@5 is facts only).
Requests are split by a hash of their text into a tuning half and a held-out half; weights are
chosen on the tuning half (--tune) and the held-out half is what the report shows.

Every system answers through the real Recommender.prepare (request reading, constraints, retrieval;
no LLM): the retrieval order of the candidates is the answer (the LLM re-ranks these in serving).
Systems: "popular among matching" (the most-rated films of the relevant set: an oracle-ish
reference that knows the answer set), "before" (soft and quality weights 0: today's retriever),
"marquee" (the settings' weights). Metrics: precision@5, NDCG@10, median popularity percentile
(share of the catalog rated by more people; 0.10 = top 10%) of the top-5 films of no-history
requests (obscure ones apart), choice-set accuracy (the named films exactly, nothing added) and
prepare latency. Samples (request -> 5 titles) are printed for a person to read.
Left out: the LLM's re-ranking (the order shown is the one the LLM receives).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import random
import re
import statistics
import time
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from evals.data import REPO

GENRE_PHRASES = {
    "Animation": ["an animated film", "something animated", "a cartoon"],
    "Comedy": ["something funny", "a comedy", "a funny film"],
    "Romance": ["something romantic", "a romance", "a romantic film"],
    "Documentary": ["a documentary", "a good documentary"],
    "Horror": ["something scary", "a horror film"],
    "Sci-Fi": ["science fiction", "a sci-fi film"],
    "Thriller": ["a thriller", "a tense thriller"],
    "Crime": ["a crime film", "a crime story"],
    "War": ["a war film"],
    "Western": ["a western"],
    "Musical": ["a musical"],
    "Fantasy": ["a fantasy film"],
    "Mystery": ["a mystery"],
    "Children": ["something for the kids", "a children's film"],
    "Adventure": ["an adventure film"],
    "Action": ["an action film", "something with lots of action"],
    "Film-Noir": ["a film noir"],
}
ADJ = {"Animation": "animated", "Comedy": "funny", "Romance": "romantic", "Horror": "scary", "Sci-Fi": "sci-fi",
       "Crime": "crime", "Action": "action", "Fantasy": "fantasy", "War": "war", "Children": "family"}
NOUN = {"Comedy": "comedy", "Drama": "drama", "Thriller": "thriller", "Western": "western", "Musical": "musical",
        "Documentary": "documentary", "Adventure": "adventure", "Mystery": "mystery", "Horror": "horror film",
        "Romance": "romance", "Action": "action film", "Animation": "animated film", "Sci-Fi": "sci-fi film",
        "Crime": "crime film", "War": "war film", "Fantasy": "fantasy film"}
WRAP = ["{}?", "I'd like {}.", "Can you recommend {}?", "In the mood for {} tonight.", "Any ideas for {}?",
        "Looking for {}, what do you suggest?"]
THEME_WRAP = ["A film about {}?", "Something with {} in it.", "Any good {} movies?", "I want to watch a story about {}.",
              "Recommend me something about {}."]
DECADES = {1970: "from the 70s", 1980: "from the 80s", 1990: "from the 90s", 2000: "from the 2000s"}
META = re.compile(r"stinger|director|based on|novel|netflix|imdb|sequel|3d|independent|remake|nudity|\bsex\b|"
                  r"woman|duringcredits|aftercredits|biography|^\w$|criterion|dvd|oscar|seen|owned|tumey|clv|"
                  r"national film registry|r\)|erlend|cinematography|visually|^[a-z]+ [a-z]+ [a-z]+ [a-z]+", re.I)
POPULAR_WRAP = ["A popular {}?", "Some well-known {} everyone loves."]
OBSCURE_WRAP = ["A hidden gem: {} nobody has seen?", "Something obscure, {}.", "An underrated {}?"]
CHOICE_WRAP = ["Which of these should I watch: {}?", "{}: which one tonight?", "Help me choose between {}.",
               "Which of the following is best for tonight: {}"]
PUNCT = re.compile(r"[?!]|\.\.\.|\bDr\.|\(")


@dataclass
class Req:
    rid: str
    text: str
    kind: str
    user: str | None
    relevant: list[str]
    named: list[str] = field(default_factory=list)  # choice: item ids in the order named

    @property
    def half(self) -> str:
        return "tune" if int(hashlib.sha256(self.text.encode()).hexdigest(), 16) % 2 == 0 else "held-out"


def gains(ratings: list, prior: float = 5.0) -> tuple[dict[str, float], dict[str, int]]:
    """(item -> gain, item -> rating count) from (user, item, rating) events (see the docstring)."""
    total, n = defaultdict(float), Counter()
    for x in ratings:
        if x.rating is not None:
            total[x.item_id] += x.rating
            n[x.item_id] += 1
    m = sum(total.values()) / max(sum(n.values()), 1)
    g = {i: max(0.1, (prior * m + total[i]) / (prior + n[i]) - 2.5) for i in n}
    return g, dict(n)


def build_requests(items: dict, histories: dict, counts: dict, seed: int = 0, n_choice: int = 80) -> list[Req]:
    rng = random.Random(seed)
    by_genre = defaultdict(set)
    for i, it in items.items():
        for g in it.genres:
            by_genre[g].add(i)
    users = sorted(u for u, h in histories.items() if len(h.entries) >= 20)
    out: list[Req] = []

    def add(text: str, kind: str, rel: set[str], named=()):
        out.append(Req(f"r{len(out)}", text, kind, None, sorted(rel), list(named)))

    for g, phrases in GENRE_PHRASES.items():
        for p in phrases:
            for w in rng.sample(WRAP, 2):
                add(w.format(p), "genre", by_genre[g])
    pairs = [(a, b) for a in ADJ for b in NOUN if a != b and len(by_genre[a] & by_genre[b]) >= 15]
    for a, b in rng.sample(pairs, min(30, len(pairs))):
        add(rng.choice(WRAP).format(f"a {ADJ[a]} {NOUN[b]}"), "genre pair", by_genre[a] & by_genre[b])
    term_films = defaultdict(set)
    for i, it in items.items():
        for t in (*it.tags, *it.keywords):
            term_films[t.lower().strip()].add(i)
    themes = sorted((t for t, f in term_films.items() if 8 <= len(f) <= 150 and not META.search(t)
                     and re.fullmatch(r"[a-z][a-z' -]*", t)), key=lambda t: -len(term_films[t]))[:70]
    for t in themes:
        add(rng.choice(THEME_WRAP).format(t), "theme", term_films[t])
    combos = [(g, t) for t in themes for g in NOUN if g != "Drama" and len(by_genre[g] & term_films[t]) >= 5]
    for g, t in rng.sample(combos, min(40, len(combos))):
        add(f"{rng.choice(['A', 'Any', 'Looking for a'])} {NOUN[g]} about {t}?", "genre+theme", by_genre[g] & term_films[t])
    for g in ("Comedy", "Romance", "Horror", "Sci-Fi", "Thriller", "Action", "Animation", "Crime", "Drama", "Adventure"):
        for d, phrase in DECADES.items():
            rel = {i for i in by_genre[g] if items[i].year and d <= items[i].year < d + 10}
            if len(rel) >= 10:
                add(f"{rng.choice(['A', 'Something like a', 'Any'])} {NOUN.get(g, g.lower())} {phrase}?", "genre+decade", rel)
    for g in ("Comedy", "Animation", "Horror", "Documentary", "Thriller", "Romance", "Action", "Drama"):
        for limit, phrase in ((90, "under 90 minutes"), (100, "under 100 minutes"), (120, "under two hours")):
            rel = {i for i in by_genre[g] if items[i].runtime and items[i].runtime <= limit}
            add(f"{rng.choice(['A', 'Any'])} {NOUN.get(g, g.lower())} {phrase}, please.", "genre+runtime", rel)
    for g in ("Comedy", "Horror", "Sci-Fi", "Romance", "Thriller", "Documentary", "Animation", "Western"):
        add(rng.choice(POPULAR_WRAP).format(NOUN[g]), "popular", by_genre[g])
        add(rng.choice(OBSCURE_WRAP).format(NOUN[g]), "obscure", by_genre[g])
    # a user id on every third non-choice request
    for j, r in enumerate(out):
        if j % 3 == 2 and users:
            r.user = rng.choice(users)
    out += choice_requests(items, counts, rng, n_choice)
    return out


def choice_requests(items: dict, counts: dict, rng: random.Random, n: int) -> list[Req]:
    from agent.titles import _AKA, normalise

    known = [i for i in items if counts.get(i, 0) >= 10]
    names = defaultdict(list)
    for i, it in items.items():
        names[normalise(_AKA.sub("", it.title))].append(i)
        names[normalise(it.title)].append(i)
    odd = [i for i in known if PUNCT.search(items[i].title)]
    plain = [i for i in known if i not in set(odd)]
    if len(plain) < 4:
        return []

    def typed(i: str) -> str:
        it = items[i]
        main = _AKA.sub("", it.title).strip() if "(" in it.title else it.title
        shown = rng.choice([main, it.title]) if main != it.title else main
        shared = len(set(names[normalise(shown)])) > 1
        return f"{shown} ({it.year})" if shared and it.year else shown

    out = []
    for j in range(n):
        k = rng.choice((2, 3, 3, 4))
        ids = rng.sample(odd, min(len(odd), rng.choice((1, 2)))) + rng.sample(plain, k)
        ids = list(dict.fromkeys(ids))[:k]
        rng.shuffle(ids)
        titles = [typed(i) for i in ids]
        listed = ", ".join(titles[:-1]) + (" and " if j % 2 else " or ") + titles[-1]
        text = rng.choice(CHOICE_WRAP).format(listed)
        out.append(Req(f"c{j}", text, "choice", None, sorted(ids), ids))
    return out


# ---- metrics (pure) ----------------------------------------------------------------------------
def precision_at(ranked: list[str], relevant: set[str], k: int = 5) -> float:
    """Share of the first k that are relevant, 0-1 (an answer shorter than k counts its gaps as misses).

    >>> precision_at(["a", "b", "c"], {"a", "c", "z"}, 5)
    0.4
    """
    return sum(1 for i in ranked[:k] if i in relevant) / k


def ndcg_at(ranked: list[str], gain: dict[str, float], k: int = 10) -> float:
    """Graded NDCG@k, 0-1: `gain` holds the relevant films only (their gains).

    >>> round(ndcg_at(["b", "a"], {"a": 2.0, "b": 1.0}), 3), ndcg_at(["a", "b"], {"a": 2.0, "b": 1.0})
    (0.86, 1.0)
    """
    dcg = sum(gain.get(i, 0.0) / math.log2(r + 2) for r, i in enumerate(ranked[:k]))
    ideal = sum(g / math.log2(r + 2) for r, g in enumerate(sorted(gain.values(), reverse=True)[:k]))
    return dcg / ideal if ideal > 0 else 0.0


def percentiles(counts: dict[str, int], items) -> dict[str, float]:
    """item -> share of the catalog rated by more people (0 = the most rated film).

    >>> percentiles({"a": 9, "b": 3}, ["a", "b", "c", "d"])
    {'a': 0.0, 'b': 0.25, 'c': 0.5, 'd': 0.5}
    """
    order = sorted(counts.get(i, 0) for i in items)
    n = len(order)
    import bisect
    return {i: (n - bisect.bisect_right(order, counts.get(i, 0))) / n for i in items}


# ---- systems ------------------------------------------------------------------------------------
class CachedEmbedder:
    """The real embedder with a memo: tuning asks for the same request texts many times."""

    def __new__(cls, inner):
        from agent.embedding import Embedder

        class _Cached(Embedder):
            name, dim = inner.name, inner.dim

            def __init__(self):
                self.memo: dict[str, np.ndarray] = {}

            def embed_batch(self, texts):
                todo = [t for t in dict.fromkeys(texts) if t not in self.memo]
                if todo:
                    self.memo.update(zip(todo, inner.embed_batch(todo), strict=True))
                return np.stack([self.memo[t] for t in texts])

        return _Cached()


def build_recommender(settings, cache_dir: Path):
    """The served Recommender without an LLM or profile store (nothing written beside the cache)."""
    from agent.catalog import build_histories, load_catalog, load_interactions
    from agent.embedding import load_embedder
    from agent.ingest import open_store
    from agent.quality import Quality
    from agent.recommender import Recommender
    from agent.retrieval import CoOccurrence, Transitions
    from agent.vocab import TitleVectors, Vocabulary

    s = settings
    items = load_catalog(s.catalog, s.tmdb, s.media)
    inter = load_interactions(s.interactions)
    histories = build_histories(inter, s.like_threshold)
    emb = CachedEmbedder(load_embedder(s.embedder))
    store = open_store(s, emb, create=False)
    vocab = Vocabulary.build(items, emb, cache_dir)
    rec = Recommender(s, items, histories, store, emb, None, collab=CoOccurrence(inter),
                      sequence=Transitions([[e.item_id for e in h.entries] for h in histories.values()]),
                      quality=Quality(inter, prior_count=s.quality_prior_count), vocab=vocab,
                      titles=TitleVectors(items, emb, cache_dir))  # built always: systems switch the penalty
    return rec, inter


def weights_for(settings, **override):
    from agent.retrieval import RetrievalWeights

    s = settings
    w = dict(query=s.weight_query, history=s.weight_history, collab=s.weight_collab, sequence=s.weight_sequence,
             profile=s.weight_profile, genre=s.weight_genre, theme=s.weight_theme, quality=s.weight_quality,
             quality_history=s.weight_quality_history, quality_cue=s.weight_quality_cue)
    w.update(override)
    return RetrievalWeights(**w)


BEFORE = dict(genre=0.0, theme=0.0, quality=0.0, quality_history=0.0, quality_cue=0.0, title_penalty=0.0)


def configure(rec, settings, **override) -> None:
    """Set the retriever's weights (and title penalty) to the settings' values with `override`."""
    penalty = override.pop("title_penalty", settings.title_penalty)
    rec.retriever.weights = weights_for(settings, **override)
    rec.retriever.title_penalty = penalty


def answer(rec, r: Req, k: int = 10) -> tuple[list[str], float]:
    from agent.recommender import RecRequest

    t = time.perf_counter()
    prep = rec.prepare(RecRequest(messages=[{"role": "user", "content": r.text}], user=r.user, n=5))
    return [c.item.item_id for c in prep.candidates[:max(k, len(r.named))]], time.perf_counter() - t


def run_system(rec, reqs: list[Req], settings, name: str, fresh: bool = False, **override) -> list[dict]:
    """Each request through rec.prepare; `fresh`: forget the request embeddings first (honest latency)."""
    configure(rec, settings, **override)
    if fresh:
        rec.embedder.memo.clear()
    rows = []
    for r in reqs:
        got, dt = answer(rec, r)
        rows.append({"rid": r.rid, "system": name, "got": got, "latency": dt})
    return rows


def oracle_rows(rec, reqs: list[Req], counts: dict) -> list[dict]:
    rows = []
    for r in reqs:
        if r.kind == "choice":
            continue
        seen = rec.histories[r.user].seen if r.user in rec.histories else frozenset()
        rel = sorted((i for i in r.relevant if i not in seen), key=lambda i: (-counts.get(i, 0), i))
        rows.append({"rid": r.rid, "system": "popular among matching", "got": rel[:10], "latency": 0.0})
    return rows


def score(rows: list[dict], reqs: dict[str, Req], rec, gain: dict, pct: dict) -> dict:
    """Metrics of one system over the requests its rows answer."""
    p5, nd, pop, obs, lat, exact = defaultdict(list), [], [], [], [], []
    for row in rows:
        r = reqs[row["rid"]]
        seen = rec.histories[r.user].seen if r.user in rec.histories else frozenset()
        lat.append(row["latency"])
        if r.kind == "choice":
            exact.append(set(row["got"]) == set(r.named) - seen)
            continue
        rel = {i for i in r.relevant if i not in seen}
        p5[r.kind].append(precision_at(row["got"], rel))
        nd.append(ndcg_at(row["got"], {i: gain.get(i, 0.1) for i in rel}))
        if r.user is None:
            (obs if r.kind == "obscure" else pop).extend(pct[i] for i in row["got"][:5])
    allp = [x for v in p5.values() for x in v]
    themed = [x for k, v in p5.items() if k in ("genre", "genre pair", "theme", "genre+theme") for x in v]
    return {
        "requests": len(rows), "precision@5": _mean(allp), "precision@5 genre/theme": _mean(themed),
        "precision@5 by kind": {k: _mean(v) for k, v in sorted(p5.items())}, "ndcg@10": _mean(nd),
        "median popularity percentile (no history)": statistics.median(pop) if pop else None,
        "median popularity percentile (obscure asked)": statistics.median(obs) if obs else None,
        "choice exact": _mean(exact) if exact else None, "choice requests": len(exact),
        "latency p50 ms": 1000 * float(np.percentile(lat, 50)) if lat else None,
        "latency p95 ms": 1000 * float(np.percentile(lat, 95)) if lat else None,
    }


def _mean(xs) -> float | None:
    xs = list(xs)
    return float(np.mean(xs)) if xs else None


ISSUE_REQUESTS = [("A funny animated film for the whole family?", None), ("Something romantic from the 90s?", None),
                  ("A documentary about music?", None), ("Something light, under two hours.", "68"),
                  ("Something for a quiet Sunday evening?", "42")]

# coordinate search from the settings' values: each knob over its values, the others fixed, twice
KNOBS = {"genre": (0.0, 0.5, 1.0, 2.0, 3.0), "theme": (0.0, 0.5, 1.0, 2.0, 3.0), "quality": (0.0, 0.5, 1.0, 2.0, 3.0),
         "title_penalty": (0.0, 0.25, 0.5, 1.0)}


def objective(m: dict) -> float:
    return m["ndcg@10"] + m["precision@5"]


def titles(rec, ids: list[str], n: int = 5) -> str:
    return "; ".join(rec.items[i].label for i in ids[:n]) or "(nothing)"


def report_md(results: dict, samples: list[str], issue: list[str]) -> str:
    keys = ["precision@5", "precision@5 genre/theme", "ndcg@10", "median popularity percentile (no history)",
            "median popularity percentile (obscure asked)", "choice exact", "latency p50 ms", "latency p95 ms"]
    lines = [f"# Request relevance ({results['half']} half: {results['requests']} requests, "
             f"{results['choice_requests']} of them 'which of these')", "",
             "| system | " + " | ".join(keys) + " |", "|---|" + "---|" * len(keys)]
    for name, m in results["systems"].items():
        lines.append(f"| {name} | " + " | ".join("-" if m.get(k) is None else f"{m[k]:.3f}" if "ms" not in k
                                                 else f"{m[k]:.0f}" for k in keys) + " |")
    lines += ["", "precision@5 by kind:", ""]
    kinds = sorted({k for m in results["systems"].values() for k in m["precision@5 by kind"]})
    lines += ["| system | " + " | ".join(kinds) + " |", "|---|" + "---|" * len(kinds)]
    for name, m in results["systems"].items():
        lines.append(f"| {name} | " + " | ".join(f"{m['precision@5 by kind'].get(k, 0):.2f}" for k in kinds) + " |")
    return "\n".join(lines + ["", "## Samples", "", *samples, "", "## The issue's five requests", "", *issue]) + "\n"


def main(argv: list[str] | None = None) -> int:
    from agent.config import Settings

    ap = argparse.ArgumentParser(prog="python -m evals.requests", description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=REPO / "runs" / "requests")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--half", choices=("held-out", "tune", "all"), default="held-out")
    ap.add_argument("--tune", action="store_true", help="grid of genre/theme/quality weights on the tuning half")
    ap.add_argument("--limit", type=int, help="only the first N requests (smoke runs)")
    ap.add_argument("--samples", type=int, default=24)
    args = ap.parse_args(argv)
    s = Settings()
    cache = REPO / "runs" / "cache" / "vocab"
    rec, inter = build_recommender(s, cache)
    gain, counts = gains(inter)
    pct = percentiles(counts, rec.items)
    reqs = build_requests(rec.items, rec.histories, counts, args.seed)
    print(f"[requests] {len(reqs)} requests ({sum(r.half == 'tune' for r in reqs)} tuning, "
          f"{sum(r.kind == 'choice' for r in reqs)} 'which of these')", flush=True)
    by_id = {r.rid: r for r in reqs}
    args.out.mkdir(parents=True, exist_ok=True)
    if args.tune:
        tune = [r for r in reqs if r.half == "tune" and r.kind != "choice"][: args.limit]
        cur = {"genre": s.weight_genre, "theme": s.weight_theme, "quality": s.weight_quality,
               "title_penalty": s.title_penalty}
        table, memo = [], {}
        for _ in range(2):
            for knob, values in KNOBS.items():
                for v in values:
                    trial = {**cur, knob: v}
                    key = tuple(sorted(trial.items()))
                    if key not in memo:
                        memo[key] = score(run_system(rec, tune, s, "t", **trial), by_id, rec, gain, pct)
                        m = memo[key]
                        table.append({**trial, **{k: m[k] for k in ("precision@5", "ndcg@10",
                                                                    "median popularity percentile (no history)")}})
                        print(json.dumps(table[-1]), flush=True)
                cur[knob] = max(values, key=lambda v: objective(memo[tuple(sorted({**cur, knob: v}.items()))]))
        (args.out / "tune.json").write_text(json.dumps({"chosen": cur, "trials": table}, indent=1))
        print("[requests] chosen on the tuning half (NDCG@10 + precision@5):", cur)
        return 0
    chosen = [r for r in reqs if args.half == "all" or r.half == args.half][: args.limit]
    systems = {"popular among matching": oracle_rows(rec, chosen, counts),
               "before (soft/quality weights 0)": run_system(rec, chosen, s, "before", fresh=True, **BEFORE),
               "marquee": run_system(rec, chosen, s, "marquee", fresh=True)}
    results = {"half": args.half, "requests": len(chosen), "choice_requests": sum(r.kind == "choice" for r in chosen),
               "systems": {name: score(rows, by_id, rec, gain, pct) for name, rows in systems.items()}}
    rng = random.Random(args.seed)
    picked = rng.sample(chosen, min(args.samples, len(chosen)))
    before = {x["rid"]: x["got"] for x in systems["before (soft/quality weights 0)"]}
    mine = {x["rid"]: x["got"] for x in systems["marquee"]}
    samples = [f"- {r.text!r}{f' (user {r.user})' if r.user else ''} [{r.kind}]\n  - before: {titles(rec, before[r.rid])}"
               f"\n  - marquee: {titles(rec, mine[r.rid])}" for r in picked]
    issue = []
    for text, user in ISSUE_REQUESTS:
        r = Req("issue", text, "issue", user, [])
        configure(rec, s, **BEFORE)
        b = answer(rec, r)[0]
        configure(rec, s)
        issue.append(f"| {text}{f' (user {user})' if user else ''} | {titles(rec, b)} | {titles(rec, answer(rec, r)[0])} |")
    issue = ["| request | before | marquee |", "|---|---|---|", *issue]
    (args.out / "results.json").write_text(json.dumps({**results, "weights": asdict(weights_for(s)),
                                                       "title_penalty": s.title_penalty}, indent=1))
    with open(args.out / "answers.jsonl", "w") as f:
        for name, rows in systems.items():
            for row in rows:
                r = by_id[row["rid"]]
                f.write(json.dumps({**row, "system": name, "text": r.text, "kind": r.kind, "user": r.user,
                                    "titles": [rec.items[i].label for i in row["got"][:5]]}) + "\n")
    md = report_md(results, samples, issue)
    (args.out / "report.md").write_text(md)
    print(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
