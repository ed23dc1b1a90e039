"""Drawing primitives of the synthetic few-shot data: shapes, textures, colours, backgrounds.

Everything is numpy on float32 (H, W, 3) canvases in [0, 255]; masks are exact booleans
(no anti-aliasing), so a pixel is foreground iff the shape test below holds at its centre.

An instance is placed at centre (cx, cy) with radius R (pixels) and rotation theta.
Each pixel centre (x, y) maps to the object frame
    u = ( (x - cx) cos theta + (y - cy) sin theta) / R
    v = (-(x - cx) sin theta + (y - cy) cos theta) / R
and the shape is a test on (u, v), r = sqrt(u^2 + v^2), a = atan2(v, u):

- disc:     r < 1
- square:   max(|u|, |v|) < 0.8
- triangle: u cos(phi_k) + v sin(phi_k) < 0.575 for phi_k = -90 deg + 120 deg k, k = 0, 1, 2
- star:     r < 0.45 + 0.6 |2 frac(5 a / 2 pi) - 1|   (5 points)
- ring:     0.55 < r < 1
- cross:    (|u| < 0.33 and |v| < 1) or (|v| < 0.33 and |u| < 1)
- ellipse:  u^2 + (v / 0.55)^2 < 1
- hexagon:  max_k |u cos(60 deg k) + v sin(60 deg k)| < 0.87, k = 0, 1, 2

Textures, in the object frame (so they rotate and scale with it), period p (object
units), phases f1, f2, main colour c1 and its dark shade c2 (same hue, 0.4 x value):

- flat:    c1
- stripes: c1 where frac(u / p + f1) < 0.5, else c2
- checker: c1 where floor(u / p + f1) + floor(v / p + f2) is even, else c2
- dots:    c2 where (frac(u / p + f1) - 0.5)^2 + (frac(v / p + f2) - 0.5)^2 < 0.3^2, else c1
"""

from __future__ import annotations

import colorsys
from typing import Tuple

import numpy as np

SHAPES = ("disc", "square", "triangle", "star", "ring", "cross", "ellipse", "hexagon")
TEXTURES = ("flat", "stripes", "checker", "dots")
# Colour families: hue in [0, 1) (HSV). Objects are saturated, backgrounds are muted.
HUES = {"red": 0.0, "orange": 0.075, "yellow": 0.155, "green": 0.33, "cyan": 0.5,
        "blue": 0.63, "purple": 0.76, "magenta": 0.87}

_TRI_ANGLES = np.deg2rad([-90.0, 30.0, 150.0])
_HEX_ANGLES = np.deg2rad([0.0, 60.0, 120.0])


def shape_test(shape: str, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Boolean inside-test of ``shape`` at object-frame coordinates (u, v) (any shape)."""
    if shape == "disc":
        return u * u + v * v < 1.0
    if shape == "square":
        return np.maximum(np.abs(u), np.abs(v)) < 0.8
    if shape == "triangle":
        inside = np.ones(u.shape, dtype=bool)
        for phi in _TRI_ANGLES:
            inside &= u * np.cos(phi) + v * np.sin(phi) < 0.575
        return inside
    if shape == "star":
        r = np.sqrt(u * u + v * v)
        t = np.mod(np.arctan2(v, u) * (5.0 / (2.0 * np.pi)), 1.0)
        return r < 0.45 + 0.6 * np.abs(2.0 * t - 1.0)
    if shape == "ring":
        r2 = u * u + v * v
        return (r2 < 1.0) & (r2 > 0.55 ** 2)
    if shape == "cross":
        au, av = np.abs(u), np.abs(v)
        return ((au < 0.33) & (av < 1.0)) | ((av < 0.33) & (au < 1.0))
    if shape == "ellipse":
        w = v * np.float32(1.0 / 0.55)
        return u * u + w * w < 1.0
    if shape == "hexagon":
        d = np.zeros(u.shape, dtype=u.dtype)
        for phi in _HEX_ANGLES:
            d = np.maximum(d, np.abs(u * np.cos(phi) + v * np.sin(phi)))
        return d < 0.87
    raise ValueError(f"unknown shape {shape!r}")


def texture_dark(texture: str, u: np.ndarray, v: np.ndarray, period: float,
                 phase: Tuple[float, float]) -> np.ndarray:
    """Boolean: where the texture shows the dark shade c2 (see module docstring)."""
    if texture == "flat":
        return np.zeros(u.shape, dtype=bool)
    a = u / period + phase[0]
    b = v / period + phase[1]
    if texture == "stripes":
        return np.mod(a, 1.0) >= 0.5
    if texture == "checker":
        return (np.floor(a) + np.floor(b)) % 2 == 1
    if texture == "dots":
        return (np.mod(a, 1.0) - 0.5) ** 2 + (np.mod(b, 1.0) - 0.5) ** 2 < 0.09
    raise ValueError(f"unknown texture {texture!r}")


def hsv_rgb(h: float, s: float, v: float) -> np.ndarray:
    """One HSV colour (components in [0, 1]) -> RGB float32 (3,) in [0, 255]."""
    return np.asarray(colorsys.hsv_to_rgb(h % 1.0, s, v), dtype=np.float32) * 255.0


def object_colours(family: str, rng: np.random.Generator) -> Tuple[np.ndarray, np.ndarray]:
    """Main colour c1 and dark shade c2 of one instance of a colour family (jittered)."""
    h = HUES[family] + rng.uniform(-0.02, 0.02)
    s = rng.uniform(0.7, 1.0)
    v = rng.uniform(0.7, 1.0)
    return hsv_rgb(h, s, v), hsv_rgb(h, s * 0.9, v * 0.4)


def draw_instance(canvas: np.ndarray, shape: str, texture: str, family: str,
                  cx: float, cy: float, radius: float, theta: float,
                  rng: np.random.Generator) -> np.ndarray:
    """Paint one textured instance onto ``canvas`` (H, W, 3) float32 in place.

    Returns its exact boolean mask (H, W). Only the instance's bounding box is evaluated.
    """
    h, w = canvas.shape[:2]
    mask = np.zeros((h, w), dtype=bool)
    reach = 1.5 * radius
    x0, x1 = max(0, int(cx - reach)), min(w, int(np.ceil(cx + reach)) + 1)
    y0, y1 = max(0, int(cy - reach)), min(h, int(np.ceil(cy + reach)) + 1)
    period = rng.uniform(0.28, 0.45)
    phase = (rng.uniform(0, 1), rng.uniform(0, 1))
    c1, c2 = object_colours(family, rng)
    if x0 >= x1 or y0 >= y1:
        return mask
    ys = np.arange(y0, y1, dtype=np.float32)[:, None] + 0.5 - cy  # (h_box, 1)
    xs = np.arange(x0, x1, dtype=np.float32)[None, :] + 0.5 - cx  # (1, w_box)
    cos, sin = np.float32(np.cos(theta)), np.float32(np.sin(theta))
    u = (xs * cos + ys * sin) / np.float32(radius)   # (h_box, w_box)
    v = (-xs * sin + ys * cos) / np.float32(radius)  # (h_box, w_box)
    inside = shape_test(shape, u, v)
    dark = texture_dark(texture, u, v, period, phase)
    box = canvas[y0:y1, x0:x1]
    box[inside & ~dark] = c1
    box[inside & dark] = c2
    mask[y0:y1, x0:x1] = inside
    return mask


def background(size: int, rng: np.random.Generator) -> np.ndarray:
    """A muted, cluttered background (size, size, 3) float32 in [0, 255].

    A linear gradient between two low-saturation colours along a random direction, plus
    2-4 muted ellipses blended at 50 %.
    """
    def muted() -> np.ndarray:
        return hsv_rgb(rng.uniform(0, 1), rng.uniform(0.0, 0.3), rng.uniform(0.25, 0.9))

    ca, cb = muted(), muted()
    angle = rng.uniform(0, 2 * np.pi)
    coords = (np.arange(size, dtype=np.float32) + 0.5) / size - 0.5
    t = (np.cos(angle) * coords[None, :] + np.sin(angle) * coords[:, None]) / np.sqrt(2) + 0.5
    canvas = ca[None, None, :] * (1 - t[..., None]) + cb[None, None, :] * t[..., None]
    for _ in range(rng.integers(2, 5)):
        cx, cy = rng.uniform(0, size, 2)
        ax, ay = rng.uniform(0.08, 0.3, 2) * size
        inside = (((coords[None, :] + 0.5) * size - cx) / ax) ** 2 + \
                 (((coords[:, None] + 0.5) * size - cy) / ay) ** 2 < 1.0
        canvas[inside] = 0.5 * canvas[inside] + 0.5 * muted()
    return canvas.astype(np.float32)
