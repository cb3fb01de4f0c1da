"""Understanding benchmark: CPU time of reading one request, short and long, over the demo catalog.

    python benchmarks/understand_bench.py [--repeat 5]

Requests: the issue's five chat requests, a "which of these" list, and three 8,000-character
messages (issue 18's hostile input): prose with a capitalised word every few words, a run of
capitalised made-up names (each a typo candidate), a pasted list of real titles, and 500 list cues. Each is read
by agent.understand.understand (titles, typo look-ups, references, lists, phrases) with a fresh
TitleIndex cache; the title pass alone (`TitleIndex.find(strict=True, typos=True)`) is timed too.
Prints a Markdown table (median milliseconds over --repeat runs) and the machine. The typo
matcher is bounded per text (agent/titles.MAX_TYPO_PROBES look-ups), so the long messages cost
milliseconds, not seconds.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agent.catalog import DEMO_DIR, load_interactions, load_movielens  # noqa: E402
from agent.titles import TitleIndex  # noqa: E402
from agent.understand import understand  # noqa: E402


def requests(items) -> dict[str, str]:
    rng = random.Random(0)
    words = "the night was long and Quiet but Sunday felt Warm while Heat rose over the Harbour".split()
    prose = " ".join(rng.choice(words) for _ in range(2000))[:8000]
    names = " ".join(f"Zorblax{i} Quentaris{i} Merovian{i}" for i in range(600))[:8000]
    pasted = "Which of these: " + ", ".join(it.title for it in rng.sample(items, 600))
    return {
        "a funny animated film for the whole family?": "A funny animated film for the whole family?",
        "something romantic from the 90s?": "Something romantic from the 90s?",
        "which of these: 3 titles with punctuation": "Which of these: Who's Afraid of Virginia Woolf?, "
                                                     "Raiders of the Lost Ark (1981) or Dr. Strangelove?",
        "8,000 chars of capitalised prose": prose,
        "8,000 chars of made-up names (typo candidates)": names,
        f"a pasted list of 600 titles ({len(pasted[:8000])} chars)": pasted[:8000],
        "8,000 chars of 'between Heat and' (500 list cues)": ("between Heat and " * 500)[:8000],
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args(argv)
    ml = DEMO_DIR / "movielens-small"
    items = load_movielens(ml, DEMO_DIR / "tmdb" / "tmdb_movielens.jsonl")  # as the product loads it
    pop = Counter(r.item_id for r in load_interactions(ml / "ratings.csv"))
    catalog = {it.item_id: it for it in items}
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"Python {platform.python_version()}; catalog {len(items)} films\n")
    print("| request | chars | title pass ms | understand ms | films found |\n|---|---|---|---|---|")
    for name, text in requests(items).items():
        find_ms, all_ms = [], []
        found = 0
        for _ in range(args.repeat):
            titles = TitleIndex(items, pop)  # a fresh cache each run
            t = time.perf_counter()
            titles.find(text, typos=True, strict=True)
            find_ms.append((time.perf_counter() - t) * 1000)
            titles = TitleIndex(items, pop)
            t = time.perf_counter()
            u = understand([{"role": "user", "content": text}], titles, catalog)
            all_ms.append((time.perf_counter() - t) * 1000)
            found = len(u.films)
        print(f"| {name} | {len(text)} | {statistics.median(find_ms):.1f} | {statistics.median(all_ms):.1f} | {found} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
