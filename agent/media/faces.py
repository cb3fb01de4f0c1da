"""Frontal faces found by dlib's HOG + linear SVM detector (its model is compiled into the library).

    FaceDetector().detect(rgb)   # HxWx3 uint8 -> {"count": 2, "largest_height": 0.31, "boxes": [[x0, y0, x1, y1], ...]}

Why dlib: OpenCV 5's Python wheels dropped the Haar `CascadeClassifier` and its cascade files, and
no other face model ships in a wheel; `dlib-bin` is a prebuilt dlib. Measured on 12 well-known
posters (256 px tall): no false positives, misses faces under ~40 px, profiles and drawn or
animated faces (Toy Story: none). So a count is a lower bound, and no detection says nothing.
Left out: who the faces are, expressions, age or gender (never inferred).
"""

from __future__ import annotations

import numpy as np

from agent.errors import ModelPackError


class FaceDetector:
    def __init__(self, upsample: int = 1, min_score: float = 0.0):
        try:
            import dlib
        except ImportError as e:
            raise ModelPackError(f"the face detector is not installed ({e}): `pip install 'marquee[media]'` (dlib-bin)") from e
        self._detector = dlib.get_frontal_face_detector()
        self.version = dlib.__version__
        self.upsample, self.min_score = upsample, min_score
        self.params = {"upsample": upsample, "min_score": min_score}

    def detect(self, rgb: np.ndarray) -> dict:
        h, w = rgb.shape[:2]
        rects, scores, _ = self._detector.run(np.ascontiguousarray(rgb), self.upsample, self.min_score)
        boxes = []
        for r, s in zip(rects, scores, strict=True):
            x0, y0, x1, y1 = max(0, r.left()), max(0, r.top()), min(w, r.right()), min(h, r.bottom())
            boxes.append([round(x0 / w, 3), round(y0 / h, 3), round(x1 / w, 3), round(y1 / h, 3), round(float(s), 2)])
        boxes.sort(key=lambda b: -(b[3] - b[1]))
        return {"count": len(boxes), "largest_height": round(boxes[0][3] - boxes[0][1], 3) if boxes else 0.0, "boxes": boxes}
