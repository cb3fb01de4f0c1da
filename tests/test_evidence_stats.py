"""evals/evidence_stats --blind: the sheet hides which run wrote which text, the key says it."""

import json

from evals.evidence_stats import blind


def test_blind_sheet_hides_the_runs_and_its_key_restores_them(tmp_path):
    for run, word in (("a", "genres"), ("b", "a heist")):
        (tmp_path / run).mkdir()
        rows = [{"kind": "user", "user": str(u), "request": "q", "item_id": "5", "film": "Ronin (1998)",
                 "source": "llm", "explanation": f"{word} {u}"} for u in range(6)]
        (tmp_path / run / "records.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    out = tmp_path / "blind.md"
    blind(tmp_path / "a", tmp_path / "b", out, n=4, seed=3)
    sheet = out.read_text()
    key = json.loads(out.with_suffix(".key.json").read_text())["text 1 is"]
    assert len(key) == 4 and "runs" not in sheet and str(tmp_path / "a") not in sheet
    for line, who in zip([x for x in sheet.splitlines() if x.startswith("  1: ")], key, strict=True):
        assert line.startswith("  1: genres" if who == "A" else "  1: a heist")
