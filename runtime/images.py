"""Reading query/support images and binary masks, with one clear error per bad file.

Images: any format PIL reads, converted to RGB uint8 (h, w, 3). The file is decoded in
full up front, so a truncated file fails here rather than mid-run. EXIF orientation is
not applied (the official pipeline does not either): the pixels are used as stored.

Masks, the binarisation rule: a mask is read as stored values, one value per pixel —

- 1-bit and greyscale (L, I;16, I, F) images: the pixel values;
- palette (P) images: the palette *indices* (so a VOC-style palette PNG with indices
  0/1 works whatever colours the palette shows);
- RGB / RGBA images: only when R == G == B everywhere (a grey mask saved as colour);
  the alpha channel is ignored;
- LA images: the L channel.

The set of values must be a subset of {0, 1} or of {0, 255}; foreground is every
non-zero pixel. Anything else (e.g. a JPEG mask with compression noise, a label map
with several classes, VOC's 255 boundary label mixed with 1s) is rejected with an error
naming the file and the values found, rather than guessed at.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Union

import numpy as np
from PIL import Image

from ..errors import UserError

ImageLike = Union[str, os.PathLike, Image.Image, np.ndarray]
MaskLike = Union[str, os.PathLike, Image.Image, np.ndarray]

_ALLOWED_MASK_VALUES = ({0, 1}, {0, 255})


def _open_decoded(path: Path, what: str) -> Image.Image:
    """Open and fully decode ``path``; UserError naming the file otherwise."""
    if not path.exists():
        raise UserError(f"{what} not found: {path}")
    if not path.is_file():
        raise UserError(f"{what} is not a file: {path}")
    try:
        with Image.open(path) as img:
            img.load()  # decode every pixel now: catches truncated/corrupt data
            return img.copy()
    except Image.DecompressionBombError as err:
        raise UserError(f"{what} {path} is too large to read: {err}") from None
    except (OSError, ValueError, SyntaxError) as err:
        reason = str(err).split("\n")[0] or type(err).__name__
        raise UserError(f"cannot read {what} {path}: {reason}") from None


def load_image(path: str | os.PathLike) -> np.ndarray:
    """Read an image file as (h, w, 3) uint8 RGB."""
    img = _open_decoded(Path(path), "image")
    return np.asarray(img.convert("RGB"), dtype=np.uint8)


def mask_values(img: Image.Image, source: str) -> np.ndarray:
    """The stored per-pixel values of a mask image, (h, w), as the rule above says."""
    if img.mode == "1":
        return np.asarray(img, dtype=np.uint8)
    if img.mode in ("L", "P", "I", "I;16", "I;16B", "I;16L", "F"):
        return np.asarray(img)
    if img.mode == "LA":
        return np.asarray(img)[..., 0]
    if img.mode in ("RGB", "RGBA"):
        rgb = np.asarray(img)[..., :3]
        if not (np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(rgb[..., 0], rgb[..., 2])):
            raise UserError(
                f"mask {source} is a colour image; expected a binary mask (0/1 or 0/255, "
                "greyscale or palette)"
            )
        return rgb[..., 0]
    raise UserError(f"mask {source} has unsupported image mode {img.mode}")


def binarize_mask(values: np.ndarray, source: str) -> np.ndarray:
    """Stored values (h, w) -> (h, w) uint8 {0, 1}; reject anything not binary."""
    values = np.asarray(values)
    if values.ndim != 2:
        raise UserError(f"mask {source} must be 2-D (h, w), got shape {tuple(values.shape)}")
    if values.dtype == np.bool_:
        return values.astype(np.uint8)
    found = np.unique(values)
    found_set = {float(v) for v in found}
    if not any(found_set <= allowed for allowed in _ALLOWED_MASK_VALUES):
        shown = ", ".join(f"{v:g}" for v in found[:8]) + (", ..." if len(found) > 8 else "")
        raise UserError(
            f"mask {source} is not binary: found values {{{shown}}}; "
            "expected only {0, 1} or only {0, 255}"
        )
    return (values != 0).astype(np.uint8)


def load_mask(path: str | os.PathLike) -> np.ndarray:
    """Read a binary mask file as (h, w) uint8 in {0, 1} (rule in the module docstring)."""
    path = Path(path)
    img = _open_decoded(path, "mask")
    return binarize_mask(mask_values(img, str(path)), str(path))


def as_image(image: ImageLike, source: str = "image") -> np.ndarray:
    """A path, PIL image or (h, w, 3) uint8 array -> (h, w, 3) uint8 RGB array."""
    if isinstance(image, (str, os.PathLike)):
        return load_image(image)
    if isinstance(image, Image.Image):
        return np.asarray(image.convert("RGB"), dtype=np.uint8)
    if isinstance(image, np.ndarray):
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise UserError(
                f"{source} must be an (h, w, 3) uint8 RGB array, got {image.dtype} {tuple(image.shape)}"
            )
        return image
    raise UserError(f"{source} must be a path, a PIL image or a numpy array, got {type(image).__name__}")


def as_mask(mask: MaskLike, source: str = "mask") -> np.ndarray:
    """A path, PIL image or (h, w) array -> (h, w) uint8 {0, 1} (same rule as load_mask)."""
    if isinstance(mask, (str, os.PathLike)):
        return load_mask(mask)
    if isinstance(mask, Image.Image):
        return binarize_mask(mask_values(mask, source), source)
    if isinstance(mask, np.ndarray):
        return binarize_mask(mask, source)
    raise UserError(f"{source} must be a path, a PIL image or a numpy array, got {type(mask).__name__}")


def describe(item: object, fallback: str) -> str:
    """How to name an input in an error: its path if it has one."""
    if isinstance(item, (str, os.PathLike)):
        return str(item)
    return fallback


IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm"})  # read as queries


@dataclass(frozen=True)
class Query:
    """One decoded query of ``run``: an image file, a folder's image, or a stream's frame."""

    name: str  # output name stem ("frame_000012", or the file's stem)
    path: Optional[Path]  # the file it came from, if any
    image: np.ndarray  # (h, w, 3) uint8 RGB
    index: Optional[int] = None  # a stream frame's position in its source
