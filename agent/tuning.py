"""Per-catalog retrieval settings, chosen on that catalog's validation split and stored beside its
collection, read back by the server for that catalog.

    <home>/collections/<collection>/retrieval.json
      {"settings": {"weight_history": 0.5, "weight_sasrec": 1.0, "rank_prior_weight": 8.0, "rrf_k": 60, ...},
       "chosen_on": {"data": ..., "split_checksum": ..., "target": "val", "ndcg@10": ..., ...}}
    <home>/collections/<collection>/sasrec.pt     the trained sequential model (agent/sequential.py)
    <home>/collections/<collection>/sasrec.{test,serve}.pt   its refits for the test target and for serving

    settings = apply_tuned(settings)   # tuned values for the fields not set explicitly (argument or MARQUEE_*)

Written by `python -m evals.run --data D --tune-retriever` (fusion weights; the RRF constant too
with `--rrf-k 30,60,...`) and `--llm --target val`
with `--save-prior` (rank prior weight). A catalog without the file keeps the Settings defaults,
which are the demo's own (chosen on the demo's validation split). Left out: anything but the
fields in TUNABLE (the file cannot switch models, paths or limits).
"""

from __future__ import annotations

import json
from pathlib import Path

TUNABLE = ("weight_query", "weight_history", "weight_collab", "weight_sequence", "weight_sasrec", "rank_prior_weight",
           "rrf_k")


def collection_dir(settings) -> Path:
    """The folder beside a collection for what was learned on its catalog."""
    return Path(settings.home) / "collections" / settings.collection


def tuned_path(settings) -> Path:
    return collection_dir(settings) / "retrieval.json"


def read_tuned(settings) -> dict:
    """{"settings": {...}, "chosen_on": {...}} or {} when nothing was tuned for this collection."""
    p = tuned_path(settings)
    if not p.is_file():
        return {}
    try:
        data = json.loads(p.read_text())
    except json.JSONDecodeError as e:
        raise ValueError(f"{p} is not valid JSON ({e.msg}): fix it or delete it to use the defaults") from None
    return data if isinstance(data, dict) else {}


def write_tuned(settings, values: dict[str, float], chosen_on: dict) -> Path:
    """Merge `values` (TUNABLE fields only) into the collection's file; returns its path."""
    bad = set(values) - set(TUNABLE)
    if bad:
        raise ValueError(f"not tunable: {sorted(bad)}; tunable: {TUNABLE}")
    p = tuned_path(settings)
    data = read_tuned(settings) or {"settings": {}, "chosen_on": {}}
    data.setdefault("settings", {}).update({k: _typed(k, v) for k, v in values.items()})
    for k in values:
        data.setdefault("chosen_on", {})[k] = chosen_on
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(data, indent=2))
    return p


def _typed(field: str, value):
    """A tuned value as its Settings field stores it: rrf_k is an int, the weights are floats.

    >>> _typed("rrf_k", 30.0), _typed("weight_history", 1)
    (30, 1.0)
    """
    return int(value) if field == "rrf_k" else float(value)


def apply_tuned(settings):
    """`settings` with this collection's tuned values for every TUNABLE field it does not set explicitly."""
    values = read_tuned(settings).get("settings", {})
    update = {k: _typed(k, v) for k, v in values.items() if k in TUNABLE and k not in settings.model_fields_set
              and k in type(settings).model_fields}
    return settings.model_copy(update=update) if update else settings
