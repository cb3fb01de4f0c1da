"""The counts behind the evidence stage's reading rules, on the demo catalog and TMDB 5000 (no LLM).

    python -m evals.evidence_stats                 # counts and seeded samples to read
    python -m evals.evidence_stats --blind runs/explain-A runs/explain-B --out blind.md   # a blind-read sheet

Prints: how many user tags `NameCasing` reads as names, and how many TMDB keywords the same rule
would catch (each with a seeded sample to read), the overviews' lower-case vocabulary and count nouns, how many TMDB 5000 sentences
`evidence._fragment` calls a subordinate clause alone (every one printed), and how many demo plots
`evidence._alone` shortens. `--blind` writes 20 pairs of two explanation runs' texts for the same
films in a random order with the key apart, for a person to choose before reading the key.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import random
from pathlib import Path

from evals.data import REPO


def stats(seed: int = 0) -> None:
    from agent.catalog import load_catalog
    from agent.config import Settings
    from agent.explain import evidence as E

    s = Settings()
    items = load_catalog(s.catalog, s.tmdb, s.media)
    casing = E.NameCasing(items)
    tags = sorted({t for it in items for t in it.tags})
    keywords = sorted({k for it in items for k in it.keywords if len(k.split()) >= 2})
    name_tags = [t for t in tags if casing._person(t)]
    keyword_casing = E.NameCasing([dataclasses.replace(it, keywords=()) for it in items])  # the rule as if they were tags
    name_keywords = [k for k in keywords if keyword_casing._person(k)]
    rng = random.Random(seed)
    print(f"overviews' distinct lower-case words: {len(casing._lower)}; count nouns seen after a/an: "
          f"{len(casing.counted)}")
    print(f"user tags read as names: {len(name_tags)} of {len(tags)}; sample of 60:")
    print("  " + ", ".join(rng.sample(name_tags, min(60, len(name_tags)))))
    print(f"TMDB keywords of 2+ words the tag rule would read as names (it does not): {len(name_keywords)} of "
          f"{len(keywords)}; sample of 40:")
    print("  " + ", ".join(rng.sample(name_keywords, min(40, len(name_keywords)))))
    tmdb = REPO.parent / "shared" / "data" / "tmdb-5000" / "tmdb_5000_movies.csv"
    if tmdb.is_file():
        csv.field_size_limit(10 ** 8)
        with open(tmdb, newline="", encoding="utf-8") as f:
            sentences = [m.group(1) for r in csv.DictReader(f)
                         for m in E._SENTENCE.finditer(" ".join(r["overview"].split()))]
        caught = [x for x in sentences if E._fragment(x)]
        print(f"TMDB 5000 sentences read as a subordinate clause alone: {len(caught)} of {len(sentences)}")
        for x in caught:
            print(f"  - {x}")
    overviews = [it.overview for it in items if it.overview]
    plots = [E.plot_sentence(o) for o in overviews]
    alone, E._alone = E._alone, lambda plot: plot  # the same choice of sentence, its first word kept
    try:
        kept = [E.plot_sentence(o) for o in overviews]
    finally:
        E._alone = alone
    print(f"demo plots whose first word `_alone` drops: {sum(p != k for p, k in zip(plots, kept, strict=True))} "
          f"of {len(overviews)}")


def blind(a: Path, b: Path, out: Path, n: int = 20, seed: int = 11) -> None:
    from evals.explain_compare import load, pairs

    got, _ = pairs(load(a), load(b))
    rng = random.Random(seed)
    lines, key = [f"# Blind read: which text would you rather read? ({n} pairs, seed {seed})", ""], []
    for i, (x, y) in enumerate(rng.sample(got, min(n, len(got)))):
        flip = rng.random() < 0.5
        first, second = (y, x) if flip else (x, y)
        key.append("B" if flip else "A")
        lines += [f"{i}. [{x['request']}] {x['film']}", f"  1: {first['explanation']}", f"  2: {second['explanation']}", ""]
    out.write_text("\n".join(lines))
    out.with_suffix(".key.json").write_text(json.dumps({"a": str(a), "b": str(b), "text 1 is": key}))
    print(f"wrote {out} and its key {out.with_suffix('.key.json')} (read the key only after choosing)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--blind", nargs=2, type=Path, metavar=("A", "B"), help="two explain_run directories")
    ap.add_argument("--out", type=Path, default=Path("blind.md"))
    args = ap.parse_args()
    if args.blind:
        blind(*args.blind, args.out)
    else:
        stats(args.seed)


if __name__ == "__main__":
    main()
