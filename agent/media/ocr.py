"""Text read off an image by RapidOCR (PP-OCR ONNX models that ship inside the `rapidocr` wheel).

    ocr = PosterOCR()
    ocr.read(rgb)        # HxWx3 uint8 -> [OCRLine(text="TOY STORY", score=0.98, box=(x0, y0, x1, y1))], reading order
    join_lines(lines)    # -> "TOY STORY / IN THEATRES NOVEMBER"

Boxes are fractions of the image size (0..1) so layout is comparable across image sizes. Lines
below `min_score` or with fewer than two letters/digits are dropped: on 256-px posters the big
title is read well ("MATRIX", "PULP FICTION") and the small print (credits, dates) is often
garbled. Left out: spelling correction (a misread title stays misread; the raw score is kept).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from agent.errors import ModelPackError

_ALNUM = re.compile(r"\w", re.UNICODE)


@dataclass(frozen=True)
class OCRLine:
    text: str
    score: float
    box: tuple[float, float, float, float]  # x0, y0, x1, y1 as fractions of width/height

    @property
    def height(self) -> float:
        return self.box[3] - self.box[1]


def reading_order(lines: list[OCRLine]) -> list[OCRLine]:
    """Top-to-bottom rows (lines whose vertical centres are within half a line height), left to right in a row.

    >>> a = OCRLine("STORY", 1, (0.5, 0.10, 0.9, 0.20)); b = OCRLine("TOY", 1, (0.1, 0.11, 0.4, 0.19))
    >>> [l.text for l in reading_order([a, OCRLine("NOV", 1, (0.1, 0.8, 0.3, 0.85)), b])]
    ['TOY', 'STORY', 'NOV']
    """
    rows: list[list[OCRLine]] = []
    for line in sorted(lines, key=lambda l: (l.box[1] + l.box[3]) / 2):
        centre = (line.box[1] + line.box[3]) / 2
        if rows:
            last = rows[-1][-1]
            if abs(centre - (last.box[1] + last.box[3]) / 2) < 0.5 * max(line.height, last.height):
                rows[-1].append(line)
                continue
        rows.append([line])
    return [line for row in rows for line in sorted(row, key=lambda l: l.box[0])]


def join_lines(lines: list[OCRLine]) -> str:
    return " / ".join(line.text for line in lines)


def layout(lines: list[OCRLine]) -> dict:
    """Where text sits: {"positions": ["top", "bottom"], "coverage": 0.12, "largest": "STORY"}."""
    if not lines:
        return {"positions": [], "coverage": 0.0, "largest": ""}
    bands = []
    for name, lo, hi in (("top", 0.0, 1 / 3), ("middle", 1 / 3, 2 / 3), ("bottom", 2 / 3, 1.01)):
        if any(lo <= (l.box[1] + l.box[3]) / 2 < hi for l in lines):
            bands.append(name)
    area = sum((l.box[2] - l.box[0]) * (l.box[3] - l.box[1]) for l in lines)
    return {"positions": bands, "coverage": round(min(area, 1.0), 3), "largest": max(lines, key=lambda l: l.height).text}


class PosterOCR:
    """RapidOCR with settings tuned for small posters; one instance per process (not thread-safe)."""

    def __init__(self, det_side: int = 384, min_score: float = 0.7, threads: int = 1):
        try:
            import rapidocr
            from rapidocr import RapidOCR
        except ImportError as e:
            raise ModelPackError(f"the OCR engine is not installed ({e}): `pip install 'marquee[media]'` (rapidocr)") from e
        # Det.limit_side_len: the detector scales the image's short side to this. The default 736
        # blows a 170-px-wide thumbnail up 4x; 384 was ~3x faster here and read titles as well or better.
        params = {
            "Global.log_level": "error",
            "Det.limit_side_len": det_side,
            "EngineConfig.onnxruntime.intra_op_num_threads": threads,
            "EngineConfig.onnxruntime.inter_op_num_threads": 1,
        }
        self._engine = RapidOCR(params=params)
        cfg = self._engine.cfg
        self.min_score = min_score
        self.version = getattr(rapidocr, "__version__", "") or _dist_version("rapidocr")
        v = lambda x: str(getattr(x, "value", x))  # noqa: E731 -- rapidocr's config holds enums
        self.models = (
            f"det {v(cfg.Det.ocr_version)} {v(cfg.Det.model_type)}, rec {v(cfg.Rec.ocr_version)} "
            f"{v(cfg.Rec.model_type)} ({v(cfg.Rec.lang_type)}), cls {v(cfg.Cls.ocr_version)} {v(cfg.Cls.model_type)}"
        )
        self.params = {"det_side": det_side, "min_score": min_score}

    def read(self, rgb: np.ndarray) -> list[OCRLine]:
        h, w = rgb.shape[:2]
        result = self._engine(np.ascontiguousarray(rgb[..., ::-1]))  # RapidOCR expects OpenCV's BGR order
        if result.txts is None:
            return []
        lines = []
        for text, score, box in zip(result.txts, result.scores, result.boxes, strict=True):
            text = " ".join(str(text).split())
            if float(score) < self.min_score or len(_ALNUM.findall(text)) < 2:
                continue
            pts = np.asarray(box, dtype=np.float64)
            x0, y0 = (float(v) for v in pts.min(axis=0))
            x1, y1 = (float(v) for v in pts.max(axis=0))
            lines.append(OCRLine(text, round(float(score), 3),
                                 (round(max(0.0, x0 / w), 3), round(max(0.0, y0 / h), 3),
                                  round(min(1.0, x1 / w), 3), round(min(1.0, y1 / h), 3))))
        return reading_order(lines)


def _dist_version(name: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return ""
