"""The evaluation protocol shared by evals/, finetune/ and the agent's own trainers (agent/sequential.py):

  data.py      data sets (MovieLens CSV, 100K, 1M, catalog JSONL + log), the 5-core leave-last-two split
  metrics.py   Recall / NDCG / MRR at k and the sampled protocol (pure functions)
  pipeline.py  the agent's retrievers and Recommender fit on a split, for any catalog

It imports nothing from evals/ or finetune/ (they import it).
"""
