"""The agent's own pipeline on an evaluation split: moved to agent/protocol/pipeline.py (shared with
finetune/); these names stay importable from here."""

from agent.protocol.pipeline import (
    agent_parts, dataset_settings, ensure_store, media_store, sequential_for, served_dataset, split_histories,
    split_recommender,
)

__all__ = ["agent_parts", "dataset_settings", "ensure_store", "media_store", "sequential_for", "served_dataset",
           "split_histories", "split_recommender"]
