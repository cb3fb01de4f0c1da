"""Ranking metrics: moved to agent/protocol/metrics.py (shared with finetune/ and the agent's own
trainers); these names stay importable from here."""

from agent.protocol.metrics import all_metrics, mrr_at, ndcg_at, rank_of, recall_at, sample_negatives, sampled_metrics

__all__ = ["all_metrics", "mrr_at", "ndcg_at", "rank_of", "recall_at", "sample_negatives", "sampled_metrics"]
