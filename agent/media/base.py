"""The shared shapes of media-to-text: engines, derived text, and the image captioner base class.

    captioner = OfflineDescriber()                 # or HFCaptioner("Salesforce/blip-image-captioning-base")
    captioner.describe_batch([img1, img2])         # PIL RGB images -> [ImageText, ImageText]
    captioner.describe_files([p1, p2])             # paths -> [ImageText | MediaError], one per path

An `ImageText` maps a *kind* of derived text to the text itself, e.g.
    {"text": "TOY STORY", "looks": "mostly blue and white; bright, vivid colours; ..."}
Kinds: "text" (words read off the image), "looks" (measured visual descriptors), "caption" (a
vision-language model's sentence). `label()` names a kind for a modality: ("poster", "text") ->
"Poster text"; these labels are what prompts and item documents show.

Every engine carries an `Engine` (name, version, component versions, parameters) whose
fingerprint keys the content-hash cache: changing a parameter or upgrading a component re-derives.
Left out: audio and video (agent/media/audio.py, video.py), caching and batch runs (cache.py, run.py).
"""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from agent.errors import CorruptMedia, EmptyMedia, MediaError, TooLargeMedia, UnreadableMedia

# Images (and video frames) declaring more pixels than this are refused from the header, before
# decoding: 50 MP is a 7,000 x 7,000 poster scan; a 20,000 x 20,000 image would need 1.2 GB as RGB.
MAX_MEGAPIXELS = 50

# (modality, kind) -> the label shown in prompts and documents; the modality word is capitalised.
KIND_WORDS = {"text": "text", "looks": "looks", "caption": "shows", "speech": "says"}


def label(modality: str, kind: str) -> str:
    """('poster', 'text') -> 'Poster text'; ('trailer', 'caption') -> 'Trailer shows'.

    >>> label("trailer", "speech")
    'Trailer says'
    """
    return f"{modality.capitalize()} {KIND_WORDS.get(kind, kind)}"


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Engine:
    """What produced a derived text. `fingerprint` changes whenever any of it changes."""

    name: str  # e.g. "offline-describer", "hf:Salesforce/blip-image-captioning-base", "faster-whisper:tiny.en"
    version: str  # our code's version of how the output is built; bump when the output changes
    components: dict[str, str] = field(default_factory=dict)  # e.g. {"rapidocr": "3.10.0", "dlib": "20.0.1"}
    params: dict[str, Any] = field(default_factory=dict)  # settings that change the output

    @property
    def fingerprint(self) -> str:
        blob = json.dumps([self.name, self.version, self.components, self.params], sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def to_json(self) -> dict:
        return {"name": self.name, "version": self.version, "components": self.components, "params": self.params}


@dataclass(frozen=True)
class ImageText:
    """Derived text for one image: kind -> text (empty kinds are omitted), plus the numbers behind it."""

    texts: dict[str, str]
    details: dict[str, Any] = field(default_factory=dict)


def load_image(path: str | Path, max_side: int | None = None):
    """Open an image file as PIL RGB, mapping every failure to a typed MediaError.

    max_side shrinks large images (keeping the aspect) before any engine sees them.
    """
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    if not path.is_file():
        raise UnreadableMedia(f"{path}: not found or not a regular file")
    if path.stat().st_size == 0:
        raise EmptyMedia(f"{path}: zero-length file")
    try:
        with Image.open(path) as im:  # reads the header only
            check_pixels(path, im.width, im.height)
            im.load()
            rgb = im.convert("RGB")
    except Image.DecompressionBombError as e:  # PIL's own guard fires in open() above ~179 MP
        raise TooLargeMedia(f"{path}: {e} (the limit here is {MAX_MEGAPIXELS} megapixels)") from None
    except UnidentifiedImageError:
        raise CorruptMedia(f"{path}: not an image PIL can read") from None
    except (OSError, SyntaxError, ValueError) as e:  # truncated or broken data
        raise CorruptMedia(f"{path}: image data is broken ({e})") from None
    if rgb.width < 8 or rgb.height < 8:
        raise EmptyMedia(f"{path}: image is {rgb.width}x{rgb.height} px, too small to describe")
    if max_side and max(rgb.size) > max_side:
        rgb.thumbnail((max_side, max_side))
    return rgb


def check_pixels(path, width: int, height: int) -> None:
    """Raise TooLargeMedia when width x height is over MAX_MEGAPIXELS.

    >>> check_pixels("big.png", 20_000, 3_000)
    Traceback (most recent call last):
    agent.errors.TooLargeMedia: big.png: 20000x3000 px is 60 megapixels, over the limit of 50
    """
    if width * height > MAX_MEGAPIXELS * 1_000_000:
        raise TooLargeMedia(f"{path}: {width}x{height} px is {width * height / 1e6:.0f} megapixels, "
                            f"over the limit of {MAX_MEGAPIXELS}")


class ImageCaptioner(ABC):
    """Turns images into derived text. Subclasses implement `describe_batch`; the rest is shared."""

    engine: Engine
    max_side: int | None = 1024  # images are shrunk to this before describe_batch
    batch_size: int = 8

    @abstractmethod
    def describe_batch(self, images: list) -> list[ImageText]:
        """PIL RGB images -> one ImageText each, in order. Never returns invented text."""

    def describe(self, image) -> ImageText:
        return self.describe_batch([image])[0]

    def describe_files(self, paths: Sequence[str | Path]) -> list[ImageText | MediaError]:
        """One result per path: an ImageText, or the MediaError that file raised (the rest go on)."""
        out: list[ImageText | MediaError] = []
        for start in range(0, len(paths), self.batch_size):
            chunk = paths[start : start + self.batch_size]
            out += per_file(chunk, lambda p: load_image(p, self.max_side), self.describe_batch)
        return out


def per_file(paths: Sequence, load, run_batch) -> list:
    """Load each path (a MediaError is that path's result, the rest go on), run the loaded ones as
    one batch, and return one result per path, in order."""
    out: list = [None] * len(paths)
    loaded, where = [], []
    for i, p in enumerate(paths):
        try:
            loaded.append(load(p))
            where.append(i)
        except MediaError as e:
            out[i] = e
    if loaded:
        for i, result in zip(where, run_batch(loaded), strict=True):
            out[i] = result
    return out
