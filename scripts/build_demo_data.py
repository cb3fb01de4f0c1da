"""Build data/demo/ from ../shared/data (maintainers only; the result is committed).

Copies MovieLens ml-latest-small unchanged (its README.txt licence beside it) and writes
data/demo/tmdb/tmdb_movielens.jsonl: for each MovieLens film whose links.csv tmdbId is in the
TMDB 5000 file, its overview, tagline, keywords, runtime and release date (TMDB attribution in
data/demo/tmdb/NOTICE.md). Posters are never copied.

    python scripts/build_demo_data.py [--shared ../shared/data]
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
from pathlib import Path

ML_FILES = ("movies.csv", "ratings.csv", "tags.csv", "links.csv", "README.txt")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "data" / "demo")
    args = ap.parse_args()
    ml_out = args.out / "movielens-small"
    ml_out.mkdir(parents=True, exist_ok=True)
    for name in ML_FILES:
        shutil.copyfile(args.shared / "movielens-small" / name, ml_out / name)

    links = {}
    with open(args.shared / "movielens-small" / "links.csv", newline="") as f:
        for row in csv.DictReader(f):
            if row["tmdbId"]:
                links.setdefault(row["tmdbId"], []).append(row["movieId"])  # a few tmdbIds map to 2 films
    csv.field_size_limit(1 << 26)
    rows = []
    with open(args.shared / "tmdb-5000" / "tmdb_5000_movies.csv", newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if not row["overview"].strip():
                continue
            rows.extend(
                {
                    "movieId": int(movie_id),
                    "tmdbId": int(row["id"]),
                    "overview": row["overview"].strip(),
                    "tagline": row["tagline"].strip(),
                    "keywords": [k["name"] for k in json.loads(row["keywords"] or "[]")],
                    "runtime": int(float(row["runtime"])) if row["runtime"] else None,
                    "release_date": row["release_date"],
                }
                for movie_id in links.get(row["id"], [])
            )
    rows.sort(key=lambda r: r["movieId"])
    tmdb_out = args.out / "tmdb"
    tmdb_out.mkdir(parents=True, exist_ok=True)
    with open(tmdb_out / "tmdb_movielens.jsonl", "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    print(f"wrote {len(rows)} TMDB rows joined to MovieLens ids")


if __name__ == "__main__":
    main()
