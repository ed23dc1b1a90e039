"""What one request may ask of the server, checked on shapes before any pixel is touched.

Triton itself refuses a wrong dtype, rank or channel count (the model config fixes them)
before a request is queued. The rest is bounded here, from the shape alone, before the
image is converted or resized:

    image side     <= max_side          (a 4096 default: 4096 x 4096 x 3 = 48 MiB)
    shots per set  <= max_shots         (and == the graph's K when it was exported for one)
    queries/request<= max_batch         (Triton's max_batch_size)

The support cache is bounded in bytes (``support_cache``), so no sequence of requests can
grow the server's memory without limit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import UserError

DEFAULT_MAX_SIDE = 4096
DEFAULT_MAX_SHOTS = 10


@dataclass(frozen=True)
class ServeLimits:
    max_side: int = DEFAULT_MAX_SIDE
    max_shots: int = DEFAULT_MAX_SHOTS

    def check_image(self, array: np.ndarray, what: str) -> None:
        """An (h, w, 3) uint8 image no larger than ``max_side``: UserError naming ``what``."""
        if array.dtype != np.uint8 or array.ndim != 3 or array.shape[2] != 3:
            raise UserError(f"{what} must be (h, w, 3) uint8, got {array.dtype} {tuple(array.shape)}")
        self._check_side(array.shape[:2], what)

    def check_mask_shape(self, array: np.ndarray, what: str) -> None:
        if array.dtype != np.uint8 or array.ndim != 2:
            raise UserError(f"{what} must be (h, w) uint8, got {array.dtype} {tuple(array.shape)}")
        self._check_side(array.shape, what)

    def _check_side(self, shape, what: str) -> None:
        h, w = (int(n) for n in shape)
        if min(h, w) < 1:
            raise UserError(f"{what} is empty ({w}x{h})")
        if max(h, w) > self.max_side:
            raise UserError(f"{what} is {w}x{h}, larger than this server's limit of {self.max_side} pixels a side")
