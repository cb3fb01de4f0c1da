"""The offline image describer: what can honestly be said about an image without a captioning model.

    d = OfflineDescriber()
    d.describe(img).texts
    # {"text": "TOY / STORY", "looks": "mostly blue, with white and yellow; bright, vivid colours; text at the top; busy, detailed image"}

Two kinds of text (labels "Poster text" and "Poster looks" for posters):
  * "text": the words an OCR engine reads off the image (agent/media/ocr.py; RapidOCR with the
    PP-OCR models inside its wheel), in reading order, lines joined by " / ";
  * "looks": measured descriptors (agent/media/looks.py): dominant colours, brightness, contrast,
    colourfulness, frontal faces (agent/media/faces.py, dlib HOG), where text sits, busyness.

What it can see: printed words (big titles reliably, small print poorly), colours, light, how busy
the picture is, roughly how many frontal faces and whether one is a close-up.
What it cannot see: objects, settings, actions, genre, mood, art style, who the people are, any
face in profile, drawn or smaller than ~40 px. It never guesses those; a vision-language model
(agent/media/hf_captioner.py) is the way to get them.
"""

from __future__ import annotations

import numpy as np

from agent.media import looks
from agent.media.base import Engine, ImageCaptioner, ImageText

VERSION = "1"  # bump when the rendered text changes for the same image and components


class OfflineDescriber(ImageCaptioner):
    max_side = 768  # posters here are 256 px tall; large frames are shrunk before OCR and measuring

    def __init__(self, ocr: bool = True, faces: bool = True, det_side: int = 384, min_score: float = 0.7,
                 threads: int = 1, batch_size: int = 8):
        import cv2

        from agent.media.faces import FaceDetector
        from agent.media.ocr import PosterOCR

        self.batch_size = batch_size
        self._ocr = PosterOCR(det_side=det_side, min_score=min_score, threads=threads) if ocr else None
        self._faces = FaceDetector() if faces else None
        components = {"opencv": cv2.__version__, "numpy": np.__version__}
        params: dict = {}
        if self._ocr:
            components |= {"rapidocr": self._ocr.version, "ocr_models": self._ocr.models}
            params |= {"ocr": self._ocr.params}
        if self._faces:
            components |= {"dlib": self._faces.version, "face_model": "dlib frontal_face_detector (HOG)"}
            params |= {"faces": self._faces.params}
        self.engine = Engine("offline-describer", VERSION, components, params)

    def describe_batch(self, images: list) -> list[ImageText]:
        # OCR and face detection run one image at a time; batching here only amortises call overhead.
        return [self._describe(np.asarray(im.convert("RGB"))) for im in images]

    def _describe(self, rgb: np.ndarray) -> ImageText:
        from agent.media.ocr import join_lines, layout

        details: dict = {}
        texts: dict[str, str] = {}
        text_layout = None
        if self._ocr:
            lines = self._ocr.read(rgb)
            details["ocr"] = [[l.text, l.score, list(l.box)] for l in lines]
            text_layout = layout(lines)
            if lines:
                texts["text"] = join_lines(lines)
        faces = self._faces.detect(rgb) if self._faces else None
        if faces is not None:
            details["faces"] = faces
        measures = looks.measure(rgb)
        details["looks"] = measures
        texts["looks"] = looks.render(measures, faces, text_layout)
        return ImageText(texts, details)
