"""finetune.teacher's pure parts: the style filter, near-duplicate skeletons, one pick per example."""

import pytest

from finetune.teacher import pick, skeleton, style_problems

CAP = 240


@pytest.mark.parametrize("text, kinds", [
    ("Since you liked Heat (1995), you may enjoy Ronin (1998), a crime thriller.", []),
    ("You may enjoy Ronin. It is a crime thriller like Heat.", []),
    ("Ronin is a crime thriller like Heat.", ["you"]),
    ("You liked Heat. Ronin is a thriller. It has cars.", ["sentences"]),
    ("Recommended film: Ronin | you may like it.", ["scaffold"]),
    ("- You may like Ronin.", ["scaffold"]),
    ("You may like Ronin, " + "a thriller, " * 30 + "really.", ["length"]),
])
def test_style_problems(text, kinds):
    assert [p.split(":")[0] for p in style_problems(text, CAP)] == kinds


@pytest.mark.parametrize("a, b, same", [
    ("You liked Heat (1995), so try Ronin.", "You liked Alien (1979), so try Aliens.", True),
    ("You liked Heat (1995), so try Ronin.", "You liked Heat (1995); Ronin has a car chase.", False),
])
def test_skeleton_near_duplicates(a, b, same):
    names = ["Heat (1995)", "Heat", "Ronin", "Alien (1979)", "Alien", "Aliens"]
    assert (skeleton(a, names) == skeleton(b, names)) is same


def _attempt(user, texts, problems=None):
    problems = problems or [[] for _ in texts]
    return {"user": user, "target": "1", "messages": [], "names": ["Heat", "Ronin", "Alien", "Aliens"],
            "samples": [{"text": t, "verify": p, "style": []} for t, p in zip(texts, problems)]}


def test_pick_shortest_passing_and_dedup_across_examples():
    a = _attempt("u1", ["You liked Heat, so try Ronin.", "You liked Heat, so try Ronin, a thriller.", "You x."],
                 [[], [], ["word:x"]])
    b = _attempt("u2", ["You liked Alien, so try Aliens."])  # same skeleton as a's pick: dropped
    c = _attempt("u3", ["You may enjoy Ronin for its car chase."], [["word:chase"]])  # nothing passes
    kept = pick([a, b, c])
    assert [(e.user, e.answer) for e in kept] == [("u1", "You liked Heat, so try Ronin.")]
    assert kept[0].kind == "explain"


def test_teacher_requests_are_not_the_graded_chat_requests():
    from evals.explain_run import CHAT
    from finetune.teacher import REQUESTS

    graded = {t.lower().strip(" ?.!") for t, _ in CHAT}
    assert not graded & {r.lower().strip(" ?.!") for r in REQUESTS if r != "What should I watch next?"}
    assert REQUESTS.count("What should I watch next?") * 2 == len(REQUESTS)  # half plain, half moods/genres


def test_pick_prefers_frames_samples_that_say_more_than_genres():
    s = lambda t, more: {"raw": t, "answer": t, "text": t + " Plot.", "verify": [], "style": [], "more": more}  # noqa: E731
    a = {"user": "u1", "target": "5", "messages": [], "names": ["Ronin (1998)"],
         "samples": [s("You may enjoy Ronin (1998), a crime film.", False),
                     s("You may enjoy Ronin (1998), a crime film about mercenaries.", True)]}
    kept = pick([a])
    assert [e.answer for e in kept] == ["You may enjoy Ronin (1998), a crime film about mercenaries."]  # no plot: code adds it


def _label_frames(tmp_path, clause: str, **args):
    """finetune.teacher.label_frames on Ronin (links Heat, shares heist) with a scripted engine
    that writes `clause`: (the engine, the evidence, the stored attempt row, the rec)."""
    import argparse
    import asyncio
    import json
    from types import SimpleNamespace

    from agent.config import Settings
    from agent.prompts import Prompts
    from finetune.teacher import label_frames
    from tests.conftest import ScriptedLLM
    from tests.test_explain_stages import TITLES, evidence

    ev = evidence("5")
    rec = SimpleNamespace(settings=Settings(), prompts=Prompts(), titles=TITLES)
    llm = ScriptedLLM([clause], continues_prefix=True)
    todo = [{"key": "u:1:5", "user": "u", "target": "5", "ev": ev, "messages": [{"role": "user", "content": "x"}]}]

    class Bar:
        def update(self, n): pass
        def set_postfix(self, **kw): pass

    path = tmp_path / "attempts.jsonl"
    with open(path, "w") as f:
        asyncio.run(label_frames(llm, todo, argparse.Namespace(batch=4, max_minutes=0, temperature=0.7, **args), rec, f, Bar()))
    return llm, ev, json.loads(path.read_text()), rec


def test_label_frames_decodes_as_served_and_keeps_the_clause_as_target(tmp_path):
    """The frames teacher sends the served request (opener as prefix, the frames regex, greedy first
    then sampled) and stores opener + clause as the answer, the shown text with the plot."""
    from agent.explain.verbalize import opener

    llm, ev, row, rec = _label_frames(tmp_path, " because both are about a heist.", samples=3, variants=False)
    reqs = llm.requests
    assert [r.temperature for r in reqs] == [0.0, 0.7, 0.7]
    assert all(r.prefix == opener(ev) and r.regex and r.stop == ["\n"] for r in reqs)
    assert row["grammar"] == "frames" and len(row["samples"]) == 3
    first = row["samples"][0]
    assert first["answer"] == opener(ev) + " because both are about a heist."
    assert first["text"] == first["answer"] + " " + ev.plot  # shown as served: the plot appended by code
    assert first["verify"] == [] and first["style"] == [] and first["more"] is True
    kept = pick([row])
    assert [(e.prefix, e.answer) for e in kept] == [(opener(ev), " because both are about a heist.")]
    # a clause the served grammar does not admit (e.g. stored before a grammar change) fails the judge
    from finetune.teacher import judge
    bad = judge([opener(ev) + ", an action and crime film because both are about heist."], ev, rec, "frames")[0]
    assert [p.split(":")[0] for p in bad["verify"]] == ["grammar"]


def test_label_frames_variants_add_one_greedy_sample_per_sub_grammar(tmp_path):
    import re

    from agent.explain.frames import frame_variants, frames_regex

    llm, ev, row, _ = _label_frames(tmp_path, " because both are about heist.", samples=1, variants=True)
    variants = frame_variants(ev, ev.links[0])
    assert variants and [r.regex for r in llm.requests[1:]] == variants
    assert all(r.temperature == 0.0 for r in llm.requests)
    assert len(row["samples"]) == 1 + len(variants)
    # each variant is a restriction of the served grammar: what it admits, serving admits
    assert re.fullmatch(frames_regex(ev, ev.links[0], plot=False), " because both are about heist.")
    assert any(re.fullmatch(v, " because both are about heist.") for v in variants)
