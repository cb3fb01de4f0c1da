"""Interaction data for the ranking protocol: moved to agent/protocol/data.py (shared with
finetune/ and agent/sequential.py); these names stay importable from here."""

from agent.protocol.data import (
    NAMED, REPO, Dataset, Event, Split, k_core, leave_last_two, load_events, load_item_titles, resolve_data,
    resolve_dataset,
)

__all__ = ["NAMED", "REPO", "Dataset", "Event", "Split", "k_core", "leave_last_two", "load_events",
           "load_item_titles", "resolve_data", "resolve_dataset"]
