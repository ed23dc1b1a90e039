"""Read dataset images and label PNGs with PIL, turning every bad file into a UserError.

- :func:`read_rgb`: any PIL-readable image -> (H, W, 3) uint8 RGB (the official loaders
  ``.convert('RGB')`` COCO and FSS images; PASCAL JPEGs are RGB already).
- :func:`read_label_values`: a label PNG's stored values, (H, W) uint8. Palette ('P')
  PNGs give their palette *indices* (PASCAL SegmentationClassAug, COCO annotations hold
  class indices that way), greyscale gives its grey levels, RGB(A) is converted to grey
  with PIL's 'L' conversion (L = 0.299 R + 0.587 G + 0.114 B).
- :func:`read_grey`: PIL's ``convert('L')`` of any image (the official FSS-1000 mask read).
- :func:`check_same_size`: a mask must have its image's size.

A missing file, an unreadable or truncated file, all name the file in the message.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from ...errors import UserError

_READ_ERRORS = (OSError, UnidentifiedImageError, SyntaxError, ValueError,
                Image.DecompressionBombError)


def _open_loaded(path: str | os.PathLike) -> Image.Image:
    path = Path(path)
    if not path.is_file():
        raise UserError(f"missing file: {path}")
    try:
        img = Image.open(path)
        img.load()  # decode now, so a truncated file fails here, not later
    except _READ_ERRORS as err:
        raise UserError(f"corrupt or unreadable image {path}: {err}") from None
    return img


def read_rgb(path: str | os.PathLike) -> np.ndarray:
    """Read an image as RGB; returns (H, W, 3) uint8."""
    img = _open_loaded(path)
    try:
        rgb = img.convert("RGB")
    except _READ_ERRORS as err:
        raise UserError(f"corrupt or unreadable image {path}: {err}") from None
    return np.asarray(rgb, dtype=np.uint8).copy()


def read_label_values(path: str | os.PathLike) -> np.ndarray:
    """Read a label PNG's stored values (palette indices or grey levels); (H, W) uint8."""
    img = _open_loaded(path)
    if img.mode in ("P", "L"):
        values = np.asarray(img)
    elif img.mode == "1":
        values = np.asarray(img, dtype=np.uint8) * 255
    elif img.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
        values = np.asarray(img)
        if values.size and (values.min() < 0 or values.max() > 255):
            raise UserError(f"label image {path} holds values outside 0..255 (mode {img.mode})")
    else:
        values = np.asarray(img.convert("L"))
    return np.asarray(values, dtype=np.uint8).copy()


def read_grey(path: str | os.PathLike) -> np.ndarray:
    """Read an image as PIL 'L' grey levels (palette images through their colours); (H, W) uint8."""
    img = _open_loaded(path)
    try:
        grey = img.convert("L")
    except _READ_ERRORS as err:
        raise UserError(f"corrupt or unreadable image {path}: {err}") from None
    return np.asarray(grey, dtype=np.uint8).copy()


def check_same_size(mask: np.ndarray, image: np.ndarray, mask_path, image_path) -> None:
    """Raise UserError when a mask's (H, W) differs from its image's."""
    if mask.shape[:2] != image.shape[:2]:
        raise UserError(
            f"mask {mask_path} is {mask.shape[1]}x{mask.shape[0]} but its image "
            f"{image_path} is {image.shape[1]}x{image.shape[0]}")
