"""Read derived-media JSONL files (written by `python -m agent.media`) into item_id -> labelled texts.

    read_media_text([Path("data/demo/media/posters.jsonl")])
    # {"1": (("Poster text", "TOY / STORY"), ("Poster looks", "mostly blue, ...")), ...}

Pure JSON, no media dependencies: the catalog imports this. Error records and empty texts are
skipped (a missing modality is normal). When several files (or lines) give the same label for an
item, the first wins. `modality_keys` turns labels into the keys stored in Chroma metadata.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from agent.errors import CatalogError

# the order labels appear in documents and prompts: what the film says about itself first
LABEL_ORDER = ("Poster text", "Trailer says", "Trailer text", "Poster shows", "Trailer shows", "Poster looks", "Trailer looks")


def read_media_text(paths: Iterable[Path]) -> dict[str, tuple[tuple[str, str], ...]]:
    from agent.catalog import iter_jsonl  # lazy: the catalog imports this module lazily too

    found: dict[str, dict[str, str]] = {}
    for path in paths:
        path = Path(path)
        if not path.is_file():
            raise CatalogError(f"media text file not found: {path} (build it with `python -m agent.media`, "
                               "or set MARQUEE_MEDIA='[]' to use none)")
        for lineno, rec in iter_jsonl(path):
            texts = rec.get("texts")
            if "item_id" not in rec or not isinstance(texts, dict):
                raise CatalogError(f"{path}:{lineno}: expected an object with 'item_id' and 'texts'")
            slot = found.setdefault(str(rec["item_id"]), {})
            for lab, text in texts.items():
                if isinstance(text, str) and text.strip():
                    slot.setdefault(str(lab), " ".join(text.split()))
    rank = {lab: i for i, lab in enumerate(LABEL_ORDER)}
    return {
        item_id: tuple(sorted(texts.items(), key=lambda kv: rank.get(kv[0], len(rank))))
        for item_id, texts in found.items()
        if texts
    }


def modality_keys(media_text: Iterable[tuple[str, str]]) -> list[str]:
    """Labels -> metadata keys, in order.

    >>> modality_keys([("Poster text", "HEAT"), ("Trailer says", "...")])
    ['poster_text', 'trailer_says']
    """
    return [re.sub(r"[^a-z0-9]+", "_", lab.lower()).strip("_") for lab, _ in media_text]
