"""One few-shot segmentation episode, as plain numpy arrays at the images' original size.

An episode is a *query* image to segment and K *support* images of the same class with
their binary masks. Everything here is torch-free; the runtime's preprocessing resizes
and normalises (``MODEL_API.md``), the datasets only read and sample.

Mask conventions (the official HSNet evaluation's):

- ``query_mask``: 1 = foreground (the episode's class), 0 = background,
  255 = ignore (PASCAL-5i object boundaries; excluded from intersection and union).
- ``support_masks``: {0, 1} only; the official loaders zero the ignore label there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Tuple

import numpy as np

IGNORE_LABEL = 255


@dataclass(frozen=True)
class EpisodeRef:
    """What an episode *is*, before any file is read: names and the class.

    ``query_name`` / ``support_names`` are the dataset's own names (PASCAL: image id,
    COCO: ``val2014/NAME.jpg``, FSS and folder: ``class/NAME.jpg``).
    """

    query_name: str
    support_names: Tuple[str, ...]
    class_id: int


@dataclass
class Episode:
    """A loaded episode.

    Shapes: ``query_image`` (H, W, 3) uint8 RGB; ``query_mask`` (H, W) uint8 in
    {0, 1, 255}; ``support_images[k]`` (H_k, W_k, 3) uint8 RGB; ``support_masks[k]``
    (H_k, W_k) uint8 in {0, 1}. ``class_id`` is 0-based, in the dataset's numbering.
    """

    query_image: np.ndarray
    query_mask: np.ndarray
    support_images: List[np.ndarray]
    support_masks: List[np.ndarray]
    class_id: int
    query_name: str = ""
    support_names: List[str] = field(default_factory=list)

    @property
    def shot(self) -> int:
        """K, the number of supports."""
        return len(self.support_images)

    @property
    def ref(self) -> EpisodeRef:
        return EpisodeRef(self.query_name, tuple(self.support_names), int(self.class_id))

    def check(self) -> "Episode":
        """Assert the conventions above (dtypes, shapes, label values); return self."""
        _check_image(self.query_image, "query_image")
        _check_mask(self.query_mask, self.query_image, "query_mask", allowed=(0, 1, IGNORE_LABEL))
        if len(self.support_images) != len(self.support_masks) or not self.support_images:
            raise ValueError("an episode needs K >= 1 support images and as many masks, "
                             f"got {len(self.support_images)} images, {len(self.support_masks)} masks")
        for k, (img, mask) in enumerate(zip(self.support_images, self.support_masks)):
            _check_image(img, f"support_images[{k}]")
            _check_mask(mask, img, f"support_masks[{k}]", allowed=(0, 1))
        return self


def _check_image(img: np.ndarray, what: str) -> None:
    if not (isinstance(img, np.ndarray) and img.dtype == np.uint8 and img.ndim == 3
            and img.shape[2] == 3):
        raise ValueError(f"{what} must be an (H, W, 3) uint8 array, got "
                         f"{getattr(img, 'shape', None)} {getattr(img, 'dtype', type(img))}")


def _check_mask(mask: np.ndarray, img: np.ndarray, what: str, allowed) -> None:
    if not (isinstance(mask, np.ndarray) and mask.dtype == np.uint8 and mask.ndim == 2):
        raise ValueError(f"{what} must be an (H, W) uint8 array")
    if mask.shape != img.shape[:2]:
        raise ValueError(f"{what} is {mask.shape[1]}x{mask.shape[0]} but its image is "
                         f"{img.shape[1]}x{img.shape[0]}")
    bad = np.setdiff1d(np.unique(mask), np.asarray(allowed, dtype=np.uint8))
    if bad.size:
        raise ValueError(f"{what} holds values {bad.tolist()} outside {list(allowed)}")
