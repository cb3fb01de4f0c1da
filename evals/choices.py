""""Which of these" requests over real catalog titles: is the choice set read exactly?

    python -m evals.choices [--n 600] [--seed 0] [--samples 8]

Each request is built from k (2-4) catalog films, at least one of them hard to read: a title with
punctuation inside or at its end ("Who's Afraid of Virginia Woolf?", "Dr. Strangelove ...",
"Airplane!", "...And Justice for All"), an alternate title in parentheses ("Seven (a.k.a.
Se7en)"), a number, an ordinal, an ordinary word ("Always") or a title that holds another title
("The Hidden Fortress"). A film is written as people write it, drawn at random: the display
title, the title without its parentheses, either one with "(year)", or its alternate title; a
title shared by several films always gets its year. Seven phrasings (a colon list, one in lower
case, a bullet list, "between", "should I watch A or B", "A or B, which one?"). The truth is the set of films the
request was built from (never what the reader found), so the check is independent of the reader.
Reported: exact-set accuracy (nothing dropped, nothing added), requests with a film dropped or
added, per phrasing, and failing samples to read; with --named, how many catalog films written
"I liked <Title (year)>." are read as that one liked film. The reader is agent/constraints'
parse_conversation, the function the Recommender's understanding stage feeds (on the main branch
it is the older reader, so the same command measures both).
"""

from __future__ import annotations

import argparse
import random
import re
from collections import Counter, defaultdict

from agent.catalog import DEMO_DIR, load_interactions, load_movielens
from agent.constraints import parse_conversation
from agent.titles import TitleIndex, normalise
from agent.types import Item

PHRASINGS = {
    "colon": lambda ns: f"Which of these should I watch: {', '.join(ns[:-1])} or {ns[-1]}?",
    "colon-plain": lambda ns: f"which of these: {', '.join(ns)}?",
    "colon-lower": lambda ns: f"which of these should i watch: {', '.join(n.lower() for n in ns)}?",
    "bullets": lambda ns: "Which one of these tonight?\n" + "\n".join(f"- {n}" for n in ns),
    "between": lambda ns: f"Help me choose between {', '.join(ns[:-1])} and {ns[-1]}.",
    "should": lambda ns: f"Should I watch {' or '.join(ns[:2])}?",
    "which-after": lambda ns: f"{', '.join(ns[:-1])} or {ns[-1]}, which one should I watch?",
}
_PAREN = re.compile(r"\s*\(([^()]*)\)\s*$")


def forms(item: Item, unique: dict[str, int]) -> list[str]:
    """How a person may write the film: display title, title without parentheses, with a year,
    an alternate title; only forms that name this film alone (or carry its year)."""
    base, alts = item.title, []
    while (m := _PAREN.search(base)) and m.start() > 0:
        alts.append(re.sub(r"^(?:a\.k\.a\.|aka)\s+", "", m.group(1), flags=re.I))
        base = base[: m.start()]
    year = f" ({item.year})" if item.year else ""
    out = []
    for name in dict.fromkeys([item.title, base]):
        out.append(name + year)
        if unique.get(normalise(name)) == 1:
            out.append(name)
    out += [a for a in alts if unique.get(normalise(a)) == 1 and len(normalise(a)) >= 4]
    return out


def hard(item: Item) -> bool:
    t = item.title
    return bool(re.search(r"[?!:,&]|\.\.\.|\.\s|\(|^\d|\b(?:first|second|third|sixth|seventh|last)\b", t, re.I)
                or len(t.split()) == 1)


def build(items: list[Item], pop: Counter, n: int, seed: int) -> list[tuple[str, str, tuple[str, ...]]]:
    """(phrasing, request text, item ids it names) for n requests."""
    rng = random.Random(seed)
    unique: dict[str, int] = Counter()
    for it in items:
        base = it.title
        keys = {normalise(base)}
        while (m := _PAREN.search(base)) and m.start() > 0:
            keys.add(normalise(re.sub(r"^(?:a\.k\.a\.|aka)\s+", "", m.group(1), flags=re.I)))
            base = base[: m.start()]
        keys.add(normalise(base))
        for k in keys:
            unique[k] += 1
    known = [it for it in items if pop.get(it.item_id, 0) >= 3]  # films people actually name
    tricky = [it for it in known if hard(it)]
    out = []
    names = list(PHRASINGS)
    for i in range(n):
        phrasing = names[i % len(names)]
        k = 2 if phrasing == "should" else rng.choice((2, 3, 4))
        films = [rng.choice(tricky)] + rng.sample(known, k - 1)
        if len({f.item_id for f in films}) < k:
            continue
        rng.shuffle(films)
        written = [rng.choice(forms(f, unique)) for f in films]
        out.append((phrasing, PHRASINGS[phrasing](written), tuple(f.item_id for f in films)))
    return out


def named_films(items: list[Item], titles: TitleIndex, catalog: dict[str, Item], every: int = 1
                ) -> tuple[int, int, list[tuple[str, list[str]]]]:
    """(films read exactly, films tried, misses): "I liked <Title (year)>." for every `every`-th
    catalog film, read like a request; the film must be the one liked film (the conversation
    suite's "revealed titles resolved", over the whole catalog)."""
    ok, tried, misses = 0, 0, []
    for it in items[::every]:
        text = f"I liked {it.label}. Something from the 90s, please."
        got = [iid for iid, role in parse_conversation([{"role": "user", "content": text}], titles, catalog).roles
               if role == "liked"]
        tried += 1
        if got == [it.item_id]:
            ok += 1
        else:
            misses.append((text, [catalog[i].label for i in got]))
    return ok, tried, misses


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m evals.choices", description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=600, help="requests to build")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--samples", type=int, default=8, help="failing requests to print")
    ap.add_argument("--named", type=int, default=0, metavar="EVERY",
                    help="also read 'I liked <Title (year)>.' for every EVERY-th catalog film (1: all)")
    args = ap.parse_args(argv)
    ml = DEMO_DIR / "movielens-small"
    items = load_movielens(ml, DEMO_DIR / "tmdb" / "tmdb_movielens.jsonl")  # as the product loads it
    pop = Counter(r.item_id for r in load_interactions(ml / "ratings.csv"))
    titles, catalog = TitleIndex(items, pop), {it.item_id: it for it in items}
    requests = build(items, pop, args.n, args.seed)
    per = defaultdict(lambda: [0, 0])
    dropped = added = 0
    fails = []
    for phrasing, text, truth in requests:
        got = parse_conversation([{"role": "user", "content": text}], titles, catalog).only_items
        ok = set(got) == set(truth) and len(got) == len(truth)
        per[phrasing][0] += ok
        per[phrasing][1] += 1
        dropped += bool(set(truth) - set(got))
        added += bool(set(got) - set(truth))
        if not ok:
            fails.append((text, [catalog[i].label for i in truth], [catalog[i].label for i in got]))
    total = sum(v[1] for v in per.values())
    exact = sum(v[0] for v in per.values())
    print(f"choice sets read exactly: {exact}/{total} = {exact / total:.3f}   "
          f"(a named film dropped: {dropped}, a film added: {added})\n")
    print("| phrasing | exact | requests |\n|---|---|---|")
    for p in PHRASINGS:
        ok, cnt = per[p]
        print(f"| {p} | {ok / cnt:.3f} | {cnt} |")
    for text, truth, got in fails[: args.samples]:
        print(f"\n{text!r}\n   named: {truth}\n   read:  {got}")
    if args.named:
        ok, tried, misses = named_films(items, titles, catalog, args.named)
        print(f"\nnamed films read as the one liked film: {ok}/{tried} = {ok / tried:.4f}")
        for text, got in misses[: args.samples]:
            print(f"   {text!r} -> {got}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
