"""A small catalog JSONL + interaction log that is not the demo, made from the demo's MovieLens data:
the worked example of README "Bring your own catalog".

    python scripts/example_catalog.py --out /tmp/films [--films 1000]
    # -> /tmp/films/catalog.jsonl       {"id": "f260", "title": "Star Wars: Episode IV - A New Hope", "year": 1977, ...}
    #    /tmp/films/interactions.jsonl  {"user_id": "v1", "item_id": "f260", "rating": 5.0, "timestamp": 964982703}

The `--films` most-rated films keep their MovieLens title, year, genres and most frequent tags
(no TMDB text, no poster text); ids are renamed (f<movieId>, v<userId>) so nothing can fall back
on the demo's ids, and only ratings of those films are kept. The output is MovieLens data
(GroupLens terms: research, non-commercial; cite Harper & Konstan 2015): keep it out of the repository.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from agent.catalog import load_interactions, load_movielens  # noqa: E402

DEMO = Path(__file__).resolve().parents[1] / "data" / "demo" / "movielens-small"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--films", type=int, default=1000, help="keep the N most-rated films")
    ap.add_argument("--source", type=Path, default=DEMO, help="a MovieLens CSV folder")
    args = ap.parse_args(argv)
    events = load_interactions(args.source / "ratings.csv")
    keep = {i for i, _ in Counter(e.item_id for e in events).most_common(args.films)}
    args.out.mkdir(parents=True, exist_ok=True)
    n_items = 0
    with open(args.out / "catalog.jsonl", "w", encoding="utf-8") as f:
        for it in load_movielens(args.source):
            if it.item_id in keep:
                f.write(json.dumps({"id": f"f{it.item_id}", "title": it.title, "year": it.year,
                                    "genres": list(it.genres), "tags": list(it.tags)}) + "\n")
                n_items += 1
    n_events = 0
    with open(args.out / "interactions.jsonl", "w", encoding="utf-8") as f:
        for e in events:
            if e.item_id in keep:
                f.write(json.dumps({"user_id": f"v{e.user_id}", "item_id": f"f{e.item_id}", "rating": e.rating,
                                    "timestamp": e.timestamp}) + "\n")
                n_events += 1
    print(f"[example] {n_items} films, {n_events} ratings -> {args.out}/catalog.jsonl, interactions.jsonl")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
