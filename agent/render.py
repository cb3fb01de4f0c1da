"""Dry run from the shell: show the exact prompt and candidates for a request, without an LLM.

    python -m agent.render "I loved Alien and Heat. What should I watch tonight?" [--user 42] [--json]

Same code path as `POST /v1/render` (resolve -> retrieve -> render); loads the embedder and the
store, never the LLM, so it answers in seconds.
"""

from __future__ import annotations

import argparse
import json

from agent.config import Settings
from agent.recommender import Recommender, RecRequest


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m agent.render", description=__doc__.split("\n")[0])
    ap.add_argument("message", help="the user's message")
    ap.add_argument("--user", help="user id whose history to use")
    ap.add_argument("--n", type=int, help="number of recommendations")
    ap.add_argument("--json", action="store_true", help="print JSON instead of text")
    args = ap.parse_args(argv)
    rec = Recommender.build(Settings(), with_llm=False)
    prep = rec.prepare(RecRequest(messages=[{"role": "user", "content": args.message}], user=args.user, n=args.n))
    if args.json:
        print(json.dumps({"messages": prep.prompt, "candidates": [c.item.item_id for c in prep.candidates],
                          "schema": prep.schema, "constraints": prep.constraints.as_dict(),
                          "understanding": prep.understanding.as_dict() if prep.understanding else None,
                          "notes": list(prep.notes)},
                         indent=2, ensure_ascii=False))
        return 0
    for m in prep.prompt:
        print(f"===== {m['role']} =====\n{m['content']}\n")
    print("===== candidates (fused score, sources) =====")
    for c in prep.candidates:
        print(f"{c.item.item_id:>7}  {c.score:.4f}  {','.join(c.sources):22s} {c.item.label}")
    if prep.understanding is not None:
        u = prep.understanding
        print("===== understood =====")
        for f in u.films:
            print(f"film: {f.item.label}  role={f.role}{' anchor' if f.anchor else ''}  from {f.text!r} "
                  f"({f.how}, {f.evidence})")
        print(f"soft: {u.soft}\nsearch: {u.search!r}")
        for r in u.remarks:
            print("remark:", r)
    for n in prep.notes:
        print("note:", n)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
