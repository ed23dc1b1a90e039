"""Network inputs from images and masks: the official HSNet test-time pipeline.

Image (h, w, 3) uint8 RGB -> PIL bilinear resize to (S, S) (aspect ratio not kept)
-> x / 255 -> (x - mean) / std per channel, mean = (0.485, 0.456, 0.406),
std = (0.229, 0.224, 0.225) -> (3, S, S) float32. All arithmetic is float32, in the
order torchvision's ``ToTensor`` + ``Normalize`` use.

Mask (h, w) {0, 1} -> nearest resize to (S, S) with PyTorch's legacy ``nearest`` rule
(what the official datasets use, ``F.interpolate(mode="nearest")``): output pixel ``i``
copies input pixel

    src(i) = min(floor(i * (n_in / n_out)), n_in - 1)      (scale in float32)

-> (S, S) float32 in {0, 1}. (PIL's NEAREST samples pixel centres instead,
floor((i + 0.5) * n_in / n_out), and picks different pixels.)
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from ..errors import UserError

IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


def preprocess_image(img: np.ndarray, size: int) -> np.ndarray:
    """(h, w, 3) uint8 RGB -> (3, size, size) float32, ImageNet-normalised."""
    img = np.asarray(img)
    if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
        raise UserError(f"expected an (h, w, 3) uint8 RGB image, got {img.dtype} {tuple(img.shape)}")
    resized = Image.fromarray(img).resize((size, size), Image.BILINEAR)
    x = np.asarray(resized, dtype=np.float32) / np.float32(255.0)  # (S, S, 3) in [0, 1]
    x = (x - IMAGENET_MEAN) / IMAGENET_STD
    return np.ascontiguousarray(x.transpose(2, 0, 1))  # (3, S, S)


def nearest_indices(n_in: int, n_out: int) -> np.ndarray:
    """Input index read by each of ``n_out`` outputs under PyTorch's legacy nearest rule."""
    if n_in == n_out:
        return np.arange(n_out, dtype=np.int64)
    scale = np.float32(n_in) / np.float32(n_out)
    src = np.floor(np.arange(n_out, dtype=np.float32) * scale).astype(np.int64)
    return np.minimum(src, n_in - 1)


def preprocess_mask(mask: np.ndarray, size: int) -> np.ndarray:
    """(h, w) binary mask -> (size, size) float32 in {0, 1}, nearest resize."""
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise UserError(f"expected an (h, w) mask, got shape {tuple(mask.shape)}")
    rows = nearest_indices(mask.shape[0], size)  # (S,)
    cols = nearest_indices(mask.shape[1], size)  # (S,)
    return (mask[rows[:, None], cols[None, :]] != 0).astype(np.float32)


def preprocess_support(images, masks, size: int) -> tuple[np.ndarray, np.ndarray]:
    """K support images (h, w, 3) uint8 and masks (h, w) {0, 1} -> network inputs
    (1, K, 3, size, size) and (1, K, size, size) float32 (a batch of one episode)."""
    stacked_images = np.stack([preprocess_image(image, size) for image in images])  # (K, 3, S, S)
    stacked_masks = np.stack([preprocess_mask(mask, size) for mask in masks])  # (K, S, S)
    return stacked_images[None], stacked_masks[None]
