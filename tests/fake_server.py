"""serve.py's real app in its own process, with the tests' six-film catalog, deterministic
embedder and scripted LLM, but the real SQLite interactions store: for tests that must kill the
server process (tests/test_durability.py). Test helper only, never part of the product.

    python -m tests.fake_server --dir DIR --port PORT
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from agent.config import Settings
from tests.conftest import SIX_FILMS, HashEmbedder, ScriptedLLM


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", type=Path, required=True)
    ap.add_argument("--port", type=int, required=True)
    args = ap.parse_args()
    d = args.dir
    d.mkdir(parents=True, exist_ok=True)
    catalog = d / "catalog.jsonl"
    if not catalog.exists():
        catalog.write_text("".join(json.dumps({"id": it.item_id, "title": it.title, "year": it.year,
                                               "genres": list(it.genres), "overview": it.overview}) + "\n"
                                   for it in SIX_FILMS))
    settings = Settings(catalog=catalog, tmdb=None, interactions=None, home=d / "home", chroma_path=d / "chroma",
                        collection="durability", k_candidates=4, n_recommendations=2, model="unused",
                        profiles_path=d / "profiles.sqlite", profile_debounce_s=3600, port=args.port,
                        max_events_per_request=10)
    from agent.recommender import Recommender
    from serve import create_app

    rec = Recommender.build(settings, llm=ScriptedLLM(["Likes films."]), embedder=HashEmbedder())
    import uvicorn

    uvicorn.run(create_app(settings, rec), host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
