"""Measured visual descriptors of an image, rendered as one plain sentence ("Poster looks: ...").

    measure(rgb)            # HxWx3 uint8 -> dict of numbers (palette, brightness, contrast, ...)
    render(measures)        # -> "mostly black, with dark blue and orange; dark, high contrast; ..."

What it measures, and nothing else:
  * palette: k-means (k=5) over the pixels in Lab space; each cluster gets a basic colour name
    from hue/saturation/value rules ("dark blue", "pale yellow", "grey"); shares are of all pixels;
  * brightness (mean luma 0-255), contrast (luma standard deviation), colourfulness (mean HSV
    saturation; near 0 = black-and-white);
  * busyness: the share of edge pixels (Canny), from "plain" to "busy, detailed";
  * faces, if a detector is given (see describer.py): how many frontal faces, how large the biggest
    (nothing is said when none is found: the detector misses profiles, drawings and small faces);
  * text layout, if OCR boxes are given: where the text sits (top / middle / bottom).

It cannot see objects, scenes, actions, who anyone is, expressions, art style, or genre: a
palette of "black and orange" says nothing about whether the film is a horror film. Colour names
are coarse (about 12 hues) and describe pixels, not objects.
"""

from __future__ import annotations

import numpy as np

_HUES = [  # (upper bound of hue in degrees, name)
    (15, "red"), (40, "orange"), (68, "yellow"), (160, "green"), (195, "teal"),
    (255, "blue"), (290, "purple"), (335, "pink"), (360, "red"),
]


def colour_name(rgb: tuple[int, int, int]) -> str:
    """Basic colour word for one RGB colour.

    >>> colour_name((0, 0, 0)), colour_name((250, 250, 250)), colour_name((200, 30, 30)), colour_name((20, 30, 90))
    ('black', 'white', 'red', 'dark blue')
    >>> colour_name((120, 80, 40)), colour_name((128, 128, 128))
    ('brown', 'grey')
    """
    r, g, b = (c / 255.0 for c in rgb)
    mx, mn = max(r, g, b), min(r, g, b)
    v, s = mx, (0.0 if mx == 0 else (mx - mn) / mx)
    if v < 0.16:
        return "black"
    if s < 0.16 or (mx - mn) < 0.08:
        return "white" if v > 0.85 else "light grey" if v > 0.65 else "grey" if v > 0.35 else "dark grey"
    if mx == r:
        h = (60 * ((g - b) / (mx - mn))) % 360
    elif mx == g:
        h = 60 * ((b - r) / (mx - mn)) + 120
    else:
        h = 60 * ((r - g) / (mx - mn)) + 240
    name = next(n for bound, n in _HUES if h < bound)
    if name in ("orange", "red", "yellow") and v < 0.6 and s > 0.3 and name != "red":
        return "brown"
    if name == "orange" and s < 0.45 and v > 0.7:
        return "beige"
    if v < 0.45:
        return "dark " + name
    if s < 0.35 and v > 0.75:
        return "pale " + name
    return name


def palette(rgb: np.ndarray, k: int = 5, sample: int = 4000, seed: int = 0) -> list[tuple[str, float]]:
    """Dominant colour names with their pixel shares, largest first; same names are merged."""
    import cv2

    px = rgb.reshape(-1, 3)
    if len(px) > sample:
        px = px[np.random.default_rng(seed).choice(len(px), sample, replace=False)]
    lab = cv2.cvtColor(px.reshape(-1, 1, 3).astype(np.uint8), cv2.COLOR_RGB2LAB).reshape(-1, 3).astype(np.float32)
    k = min(k, len(np.unique(lab, axis=0)))
    cv2.setRNGSeed(seed)  # cv2.kmeans draws its initial centres from OpenCV's RNG: fix it for reproducibility
    crit = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 20, 0.5)
    _, labels, centres = cv2.kmeans(lab, k, None, crit, 2, cv2.KMEANS_PP_CENTERS)
    centres_rgb = cv2.cvtColor(centres.reshape(-1, 1, 3).astype(np.uint8), cv2.COLOR_LAB2RGB).reshape(-1, 3)
    shares: dict[str, float] = {}
    counts = np.bincount(labels.ravel(), minlength=k) / len(labels)
    for c, share in zip(centres_rgb, counts, strict=True):
        name = colour_name(tuple(int(x) for x in c))
        shares[name] = shares.get(name, 0.0) + float(share)
    return sorted(((n, round(s, 3)) for n, s in shares.items()), key=lambda t: -t[1])


def measure(rgb: np.ndarray) -> dict:
    """HxWx3 uint8 RGB -> the numbers `render` turns into words (all floats rounded for stable JSON)."""
    import cv2

    h, w = rgb.shape[:2]
    small = cv2.resize(rgb, (max(8, w * 160 // max(h, w)), max(8, h * 160 // max(h, w))), interpolation=cv2.INTER_AREA)
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    hsv = cv2.cvtColor(small, cv2.COLOR_RGB2HSV)
    edges = cv2.Canny(cv2.GaussianBlur(grey, (3, 3), 0), 80, 160)
    return {
        "size": [int(w), int(h)],
        "palette": palette(small),
        "brightness": round(float(grey.mean()), 1),
        "contrast": round(float(grey.std()), 1),
        "saturation": round(float(hsv[..., 1].mean()) / 255.0, 3),
        "edge_density": round(float((edges > 0).mean()), 3),
    }


def _words(values: list[str]) -> str:
    """['a'] -> 'a'; ['a', 'b'] -> 'a and b'; ['a', 'b', 'c'] -> 'a, b and c'."""
    return values[0] if len(values) == 1 else ", ".join(values[:-1]) + " and " + values[-1]


def render(m: dict, faces: dict | None = None, text_layout: dict | None = None) -> str:
    """Numbers -> one compact sentence, most telling facts first.

    >>> render({"palette": [("black", 0.6), ("dark blue", 0.25), ("orange", 0.1)], "brightness": 40,
    ...         "contrast": 75, "saturation": 0.3, "edge_density": 0.05},
    ...        faces={"count": 1, "largest_height": 0.4}, text_layout={"positions": ["bottom"]})
    'mostly black, with dark blue and orange; very dark, high contrast; one face, a close-up; text at the bottom; plain background'
    """
    parts = []
    pal = [(n, s) for n, s in m["palette"] if s >= 0.08]
    if pal:
        names = [n for n, _ in pal[:4]]
        if pal[0][1] >= 0.4:
            parts.append(f"mostly {names[0]}" + (", with " + _words(names[1:]) if names[1:] else ""))
        else:
            parts.append(_words(names))
    b, c, s = m["brightness"], m["contrast"], m["saturation"]
    tone = "very dark" if b < 55 else "dark" if b < 95 else "very bright" if b > 205 else "bright" if b > 170 else "mid-toned"
    tone += ", high contrast" if c > 70 else ", low contrast" if c < 35 else ""
    colour = "black-and-white" if s < 0.06 else "muted colours" if s < 0.22 else "vivid colours" if s > 0.5 else ""
    parts.append(tone + (", " + colour if colour else ""))
    if faces is not None:
        n = faces.get("count", 0)
        if n:  # no detection is not evidence of no face (profiles, drawings, small faces): say nothing
            size = faces.get("largest_height", 0.0)
            scale = "a close-up" if size >= 0.3 else "small" if size < 0.12 else "medium-sized"
            count = {1: "one face", 2: "two faces", 3: "three faces"}.get(n, f"{n} faces")
            parts.append(f"{count}, {'the largest ' if n > 1 else ''}{scale}")
    if text_layout and text_layout.get("positions"):
        where = {"top": "at the top", "middle": "in the middle", "bottom": "at the bottom"}
        parts.append("text " + _words([where.get(p, p) for p in text_layout["positions"]]))
    e = m["edge_density"]
    parts.append("busy, detailed image" if e > 0.18 else "plain background" if e < 0.07 else "")
    return "; ".join(p for p in parts if p)
