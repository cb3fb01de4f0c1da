"""Which poster image file, if any, may be served for a catalog item (GET /v1/items/{id}/poster).

    posters = PosterIndex.build(settings)      # reads the poster records' provenance, no images
    posters.find("1")   # -> Path(".../shared/data/posters/1.jpg"), or None when the item has none

A file is served only when both hold:
  1. it is the `source` of one of the item's poster records in the media JSONL files (written by
     `python -m agent.media posters DIR`, sources relative to DIR's parent, e.g. "posters/1.jpg"),
     or it is `<posters_dir>/<item_id>.<jpg|jpeg|png|webp|gif>` (catalogs without records);
  2. its real path (symlinks resolved) lies inside `posters_dir` and has an image suffix.
So a record or an item id can never name an arbitrary file ("../../etc/passwd" is refused).

`posters_dir` is `settings.posters_dir`, or for the demo catalog the shared poster folder
`../shared/data/posters` beside the repository when it exists (the images are studio artwork and
never in the repository). Left out: resizing (the demo files are 170x256 thumbnails already),
remote URLs, and any check of the image bytes (the browser decodes them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from agent.catalog import DEMO_DIR, default_media, iter_jsonl
from agent.config import Settings
from agent.errors import CatalogError

IMAGE_TYPES = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".webp": "image/webp",
               ".gif": "image/gif"}
DEMO_POSTERS = DEMO_DIR.parents[2] / "shared" / "data" / "posters"  # <repo>/../shared/data/posters


def posters_dir(settings: Settings) -> Path | None:
    """The configured folder; else the demo's shared folder for the demo catalog, if present."""
    if settings.posters_dir is not None:
        return settings.posters_dir
    demo = Path(settings.catalog).resolve() == (DEMO_DIR / "movielens-small").resolve()
    return DEMO_POSTERS if demo and DEMO_POSTERS.is_dir() else None


def read_poster_sources(paths: list[Path]) -> dict[str, list[str]]:
    """item_id -> poster `source` paths from media JSONL records, in file order (error records skipped).

    Records of other tasks (trailers, ...) are not posters and are left out."""
    found: dict[str, list[str]] = {}
    for path in paths:
        if not Path(path).is_file():
            raise CatalogError(f"media records file not found: {path} (set MARQUEE_MEDIA='[]' to use none)")
        for _, rec in iter_jsonl(Path(path)):
            src = rec.get("source")
            if rec.get("task") == "poster" and "error" not in rec and isinstance(src, str) and "item_id" in rec:
                found.setdefault(str(rec["item_id"]), []).append(src)
    return found


@dataclass
class PosterIndex:
    root: Path | None  # posters_dir, resolved; None: no posters are served
    sources: dict[str, list[str]] = field(default_factory=dict)  # item_id -> record sources

    @classmethod
    def build(cls, settings: Settings) -> PosterIndex:
        root = posters_dir(settings)
        if root is None or not root.is_dir():
            return cls(None)
        media = default_media(settings.catalog) if settings.media is None else list(settings.media)
        return cls(root.resolve(), read_poster_sources(media))

    def _inside(self, candidate: Path) -> Path | None:
        try:
            real = candidate.resolve()
        except (OSError, RuntimeError):  # symlink loop, unreadable parent
            return None
        if not real.is_relative_to(self.root) or real.suffix.lower() not in IMAGE_TYPES or not real.is_file():
            return None
        return real

    def find(self, item_id: str) -> Path | None:
        """The poster file for `item_id` (a catalog id: the caller checks the catalog), or None."""
        if self.root is None:
            return None
        for src in self.sources.get(item_id, ()):
            # sources are relative to the posters folder's parent ("posters/1.jpg"), or to the folder itself
            for base in (self.root.parent, self.root):
                if (hit := self._inside(base / src)) is not None:
                    return hit
        if "/" in item_id or "\\" in item_id or item_id in ("", ".", ".."):
            return None
        for suffix in IMAGE_TYPES:
            if (hit := self._inside(self.root / f"{item_id}{suffix}")) is not None:
                return hit
        return None

    @staticmethod
    def media_type(path: Path) -> str:
        return IMAGE_TYPES[path.suffix.lower()]
