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
