"""A picture of a prediction: the query with its foreground tinted and outlined.

    out = (1 - a) * image + a * colour      on foreground pixels (a = alpha)
    out = colour                            on the mask's boundary pixels
    out = image                             elsewhere

A boundary pixel is a foreground pixel with a background 4-neighbour.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from ..errors import UserError


def mask_boundary(mask: np.ndarray) -> np.ndarray:
    """(h, w) {0,1} -> (h, w) bool, foreground pixels touching background (4-neighbours)."""
    fg = np.asarray(mask) != 0
    padded = np.pad(fg, 1, mode="edge")  # image borders do not count as background
    interior = padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:]
    return fg & ~interior


def overlay(
    image: np.ndarray,
    mask: np.ndarray,
    colour: tuple[int, int, int] = (255, 40, 40),
    alpha: float = 0.5,
) -> Image.Image:
    """(h, w, 3) uint8 image + (h, w) {0,1} mask -> RGB PIL image of the overlay."""
    image = np.asarray(image)
    mask = np.asarray(mask)
    if image.ndim != 3 or image.shape[2] != 3:
        raise UserError(f"overlay needs an (h, w, 3) image, got {tuple(image.shape)}")
    if mask.shape != image.shape[:2]:
        raise UserError(f"overlay: mask {tuple(mask.shape)} does not match image {tuple(image.shape[:2])}")
    out = image.astype(np.float32)
    fg = mask != 0
    tint = np.asarray(colour, dtype=np.float32)
    out[fg] = (1.0 - alpha) * out[fg] + alpha * tint
    out[mask_boundary(mask)] = tint
    return Image.fromarray(np.clip(np.rint(out), 0, 255).astype(np.uint8))
