"""Scripted multi-turn dialogues from MovieLens histories: does the conversation hold?

    python -m evals.run --data movielens-small --conversation [--dialogues 200] [--conversation-llm 20]

For a test user with history h_1 .. h_m (everything before the held-out test item t), the user id
gives the recommender h_1 .. h_{m-3}, and the dialogue reveals the last three, one a turn, the way
a person talks; constraints come from t's own metadata, so t always satisfies them:

  1  "I liked <h_{m-2}>. What should I watch?"
  2  "I also liked <h_{m-1}>. I'm in the mood for <a genre of t>."       include genre
  3  "I liked <h_m> too. Something from the <t's decade>, please."        decade
  4  "I've seen #k. No <genre>, please."   #k: the best-ranked film of answer 3 other than t;
                                            the genre: the commonest one in answer 3 that t lacks
  5  "More like #j."                        #j: the film of answer 4 (not t) sharing most genres with t

Every answer asks for 10 films. Measured per turn, against the script's own record of what was
asked (not the parser's reading of it):
  satisfied   share of recommended films that meet every hard constraint asked so far (genre,
              decade, excluded genre, seen films, history) -- must be 100%
  hit@10      the held-out item is in the answer
  found       the held-out item was in this answer or an earlier one (once shown, it is never
              shown again: repeating is what the suite forbids)
  repeated    share of recommended films already recommended in an earlier turn -- must be 0%
  resolved    share of revealed titles the recommender found in the text (they must become history)

Systems: the retriever alone (candidates in retrieval order, as the LLM would receive them: fast),
and with --conversation-llm N the served one-pass LLM ranking (explain=False) on the first N dialogues.
Left out: free-form (LLM-simulated) users, typos in the script.
"""

from __future__ import annotations

import json
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from evals.data import Split

REVEALED = 3
N = 10
TURN_NAMES = ["liked", "+genre", "+decade", "+seen #k, -genre", "more like #j"]
_INCLUDE = {"Children": "Something for the kids.", "War": "I'm in the mood for a war film."}
_EXCLUDE = {"Children": "No children's films, please.", "War": "No war films, please."}
SKIP_GENRES = {"IMAX", "(no genres listed)"}


def include_phrase(genre: str) -> str:
    return _INCLUDE.get(genre, f"I'm in the mood for {genre.lower()}.")


def exclude_phrase(genre: str) -> str:
    return _EXCLUDE.get(genre, f"No {genre.lower()}, please.")


@dataclass
class Script:
    """What the simulated user has asked for so far: the ground truth every answer is checked against."""

    include: str | None = None
    decade: tuple[int, int] | None = None
    exclude: set[str] = field(default_factory=set)
    seen: set[str] = field(default_factory=set)  # history + revealed + "I've seen #k" + anchors

    def violations(self, item) -> list[str]:
        out = []
        if item.item_id in self.seen:
            out.append("seen")
        if self.include and self.include not in item.genres:
            out.append(f"not {self.include}")
        if self.decade and not (item.year and self.decade[0] <= item.year <= self.decade[1]):
            out.append(f"not {self.decade[0]}s")
        if set(item.genres) & self.exclude:
            out.append("excluded genre")
        return out


def eligible(split: Split, items: dict, user: str) -> bool:
    hist = split.history(user, "test")
    t = items.get(split.test[user])
    return (len(hist) > REVEALED + 1 and t is not None and t.year is not None
            and any(g not in SKIP_GENRES for g in t.genres) and all(h in items for h in hist[-REVEALED:]))


def pick_users(split: Split, items: dict, n: int, seed: int) -> list[str]:
    users = sorted((u for u in split.train if eligible(split, items, u)), key=lambda u: (len(u), u))
    random.Random(seed).shuffle(users)
    return sorted(users[:n], key=lambda u: (len(u), u))


async def run_dialogue(rec, split: Split, user: str, *, llm: bool, rng: random.Random) -> list[dict]:
    """One scripted dialogue; a row per turn."""
    from agent.api.logic import render_content
    from agent.recommender import RecRequest
    from agent.types import RankedItem

    items = rec.items
    hist = split.history(user, "test")
    target = items[split.test[user]]
    revealed = hist[-REVEALED:]
    script = Script(seen=set(hist))
    messages: list[dict] = []
    rows: list[dict] = []
    shown: set[str] = set()
    answer: list = []
    found = 0
    for turn in range(len(TURN_NAMES)):
        label = lambda iid: items[iid].label  # noqa: E731
        if turn == 0:
            text = f"I liked {label(revealed[0])}. What should I watch?"
        elif turn == 1:
            script.include = rng.choice(sorted(g for g in target.genres if g not in SKIP_GENRES))
            text = f"I also liked {label(revealed[1])}. {include_phrase(script.include)}"
        elif turn == 2:
            d = target.year // 10 * 10
            script.decade = (d, d + 9)
            text = f"I liked {label(revealed[2])} too. Something from the {d}s, please."
        elif turn == 3:
            k = next((i for i, it in enumerate(answer) if it.item_id != target.item_id), None)
            lacks = Counter(g for it in answer for g in it.genres
                            if g not in target.genres and g not in SKIP_GENRES and g != script.include)
            parts = []
            if k is not None:
                script.seen.add(answer[k].item_id)
                parts.append(f"I've seen #{k + 1}.")
            if lacks:
                g = lacks.most_common(1)[0][0]
                script.exclude.add(g)
                parts.append(exclude_phrase(g))
            text = " ".join(parts) or "Others?"
        else:
            others = [(i, it) for i, it in enumerate(answer) if it.item_id != target.item_id]
            if not others:
                break
            j, it = max(others, key=lambda x: (len(set(x[1].genres) & set(target.genres)), -x[0]))
            script.seen.add(it.item_id)  # the anchor becomes history: never recommended again
            text = f"More like #{j + 1}."
        messages.append({"role": "user", "content": text})
        req = RecRequest(messages=list(messages), user=user, n=N, explain=False)
        t0 = time.perf_counter()
        prep = rec.prepare(req)
        if llm:
            out = await rec.recommend(req)
            ranked = list(out.items)
            content = render_content(out.items, False, out.notes, out.remarks, out.question)
        else:
            ranked = [RankedItem(c.item, r + 1, "retrieval order", "facts", c.score, False)
                      for r, c in enumerate(prep.candidates[:N])]
            content = render_content(tuple(ranked), False, prep.notes, prep.remarks, prep.question)
        seconds = time.perf_counter() - t0
        answer = [r.item for r in ranked]
        ids = [it.item_id for it in answer]
        bad = {it.item_id: v for it in answer if (v := script.violations(it))}
        resolved = [i for i in revealed[: min(turn + 1, REVEALED)] if i in prep.history.seen]
        found = found or int(target.item_id in ids)
        rows.append({
            "user": user, "turn": turn + 1, "text": text, "target": target.item_id, "recommended": ids,
            "n": len(ids), "hit": int(target.item_id in ids), "found": found, "violations": bad,
            "satisfied": (len(ids) - len(bad)) / len(ids) if ids else 1.0,
            "repeated": sum(i in shown for i in ids) / len(ids) if ids else 0.0,
            "resolved": len(resolved) / min(turn + 1, REVEALED), "seconds": seconds,
            "constraints": prep.constraints.describe(),
        })
        shown.update(ids)
        messages.append({"role": "assistant", "content": content})
    return rows


def summarise(rows: list[dict]) -> dict:
    """Per turn and overall: dialogues, hit@10, satisfied, repeated, resolved, empty answers, seconds."""
    def agg(rs: list[dict]) -> dict:
        n = len(rs)
        films = sum(r["n"] for r in rs)
        return {"dialogues": n, "hit@10": sum(r["hit"] for r in rs) / n, "found": sum(r["found"] for r in rs) / n,
                "satisfied": sum(r["n"] - len(r["violations"]) for r in rs) / films if films else 1.0,
                "repeated": sum(r["repeated"] * r["n"] for r in rs) / films if films else 0.0,
                "resolved": sum(r["resolved"] for r in rs) / n,
                "empty": sum(r["n"] == 0 for r in rs) / n, "films": films,
                "seconds_p50": sorted(r["seconds"] for r in rs)[n // 2]}
    turns = sorted({r["turn"] for r in rows})
    return {"turns": {t: agg([r for r in rows if r["turn"] == t]) for t in turns}, "all": agg(rows)}


async def evaluate(split: Split, users: list[str], *, llm_model: str | None = None, use_llm: bool = False,
                   seed: int = 0, progress: str = "dialogues") -> tuple[dict, list[dict]]:
    from evals.pipeline import split_recommender

    from agent.config import Settings

    s = Settings(**({"model": llm_model} if llm_model else {}))
    llm = None
    if use_llm:
        from agent.llm import load_llm

        llm = load_llm(s)
        await llm.start()
    try:
        rec = split_recommender(split, "test", users, llm=llm, settings=s)
        rows: list[dict] = []
        for u in tqdm(users, desc=progress):
            rows += await run_dialogue(rec, split, u, llm=use_llm, rng=random.Random(f"{seed}-{u}"))
    finally:
        if llm is not None:
            await llm.close()
    return summarise(rows), rows


def report_md(name: str, summary: dict) -> str:
    lines = [f"### {name}", "", "| turn | user says | dialogues | hit@10 | found so far | constraints satisfied | "
             "repeated | revealed titles resolved | empty answers |", "|---|---|---|---|---|---|---|---|---|"]
    for t, m in summary["turns"].items():
        lines.append(f"| {t} | {TURN_NAMES[int(t) - 1]} | {m['dialogues']} | {m['hit@10']:.3f} | {m['found']:.3f} | "
                     f"{100 * m['satisfied']:.1f}% | {100 * m['repeated']:.1f}% | {100 * m['resolved']:.1f}% | "
                     f"{100 * m['empty']:.1f}% |")
    a = summary["all"]
    lines.append(f"| all | | {a['dialogues']} turns | {a['hit@10']:.3f} | | {100 * a['satisfied']:.1f}% | "
                 f"{100 * a['repeated']:.1f}% | {100 * a['resolved']:.1f}% | {100 * a['empty']:.1f}% |")
    return "\n".join(lines) + "\n"


def run(split: Split, out: Path, n_dialogues: int, llm_dialogues: int, seed: int, model: str | None) -> dict:
    """Retriever-only on n_dialogues, then (llm_dialogues > 0) the LLM on the first llm_dialogues of them."""
    import asyncio

    from agent.catalog import load_catalog
    from agent.config import Settings

    s = Settings()
    items = {it.item_id: it for it in load_catalog(s.catalog, s.tmdb, s.media)}
    users = pick_users(split, items, n_dialogues, seed)
    out.mkdir(parents=True, exist_ok=True)
    results: dict = {"dialogues": len(users), "seed": seed, "split_checksum": split.checksum, "systems": {}}
    md = []
    runs = [("retriever only", users, False)]
    if llm_dialogues:
        runs.append((f"retriever + LLM one-pass ({model or 'default model'})", users[:llm_dialogues], True))
    for name, us, use_llm in runs:
        summary, rows = asyncio.run(evaluate(split, us, llm_model=model, use_llm=use_llm, seed=seed, progress=name))
        results["systems"][name] = summary
        slug = "llm" if use_llm else "retriever"
        with open(out / f"dialogues-{slug}.jsonl", "w") as f:
            for r in rows:
                f.write(json.dumps(r) + "\n")
        md.append(report_md(f"{name}, {len(us)} dialogues", summary))
    (out / "results.json").write_text(json.dumps(results, indent=2))
    (out / "report.md").write_text("## Conversation suite\n\n" + "\n".join(md))
    print("\n".join(md))
    return results
