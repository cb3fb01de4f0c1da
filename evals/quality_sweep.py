"""The fused retriever's history-based ranking metrics with the quality prior (agent/quality) at
several weights on validation, then today's weight 0 and the one validation chose on test.

    python -m evals.quality_sweep > sweep.json-and-log      # ~5 min here; evals.run's own split and scorer

Left out: every other system of evals.run (they do not read the prior).
"""

import json

from agent.retrieval import RetrievalWeights, Retriever
from evals.baselines import Popularity
from evals.data import leave_last_two, load_events
from evals.pipeline import agent_parts
from evals.run import AgentRetrieverScorer, eval_scorer, split_quality


def main() -> int:
    split = leave_last_two(load_events("movielens-small"))
    users = sorted(split.train, key=lambda u: (len(u), u))
    out = {}
    plan = [("val", [0.0, 0.1, 0.25, 0.5]), ("test", None)]
    for target, weights in plan:
        if weights is None:  # test: today's weight 0 and the one validation chose, nothing else
            best = max((0.0, 0.1, 0.25, 0.5), key=lambda w: out[f"val w={w}"]["ndcg@10"])
            weights = sorted({0.0, best})
            print("chosen on val:", best, flush=True)
        s, items, emb, store, co, tr = agent_parts(split, target)
        pop = Popularity(split.fit_sequences(target), split.items).counts
        q = split_quality(split, target, s.quality_prior_count)
        for w in weights:
            rw = RetrievalWeights(s.weight_query, s.weight_history, s.weight_collab, s.weight_sequence, quality_history=w)
            r = Retriever(store, emb, items, co, tr, weights=rw, rrf_k=s.rrf_k, quality=q if w > 0 else None)
            m = eval_scorer(AgentRetrieverScorer(r, split.items, pop, "fused"), split, target, users, 0)
            out[f"{target} w={w}"] = {k: m[k] for k in ("recall@10", "ndcg@10", "mrr@10")}
            print(target, w, out[f"{target} w={w}"], flush=True)
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
