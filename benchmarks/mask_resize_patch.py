"""Support-mask resizing fit for FP16 autocast and CUDA-graph capture.

``hsnet.mask_resize.resize_masks`` builds its two interpolation matrices from numpy on
every call (``torch.from_numpy(...).to(device)``). On CUDA that is a host-to-device copy
from pageable memory, which synchronises and is illegal inside a CUDA-graph capture;
under FP16 autocast the matmul ``R_h M R_w^T`` would run in half precision, where the
tiny non-zero weights (1e-10 ... 3e-5) underflow to exactly 0, the very pattern of exact
zeros the model must keep (NOTES.md, "a parity trap").

:func:`resident_fp32_mask_resize` swaps, for the duration of a ``with`` block, the
resize that ``hsnet.correlation`` calls for one that keeps the matrices on the device
(built once, from the same PyTorch weights) and multiplies in FP32 with autocast off:
the same values, the same op order. The model code is not changed; only the benchmark's
FP16 and CUDA-graph configurations use it.
"""

from __future__ import annotations

import contextlib
from typing import Iterator

import torch

from ..hsnet import correlation
from ..hsnet.mask_resize import linear_resize_matrix


class ResidentMaskResize:
    """resize(masks (N, H, W), (h, w)) -> (N, h, w), matrices cached per device and size."""

    def __init__(self):
        self._matrices: dict[tuple, torch.Tensor] = {}

    def _matrix(self, n_in: int, n_out: int, device: torch.device) -> torch.Tensor:
        key = (int(n_in), int(n_out), str(device))
        if key not in self._matrices:
            self._matrices[key] = linear_resize_matrix(n_in, n_out, device)  # (out, in) fp32
        return self._matrices[key]

    def __call__(self, masks: torch.Tensor, size) -> torch.Tensor:
        h, w = int(size[0]), int(size[1])
        rows = self._matrix(masks.shape[-2], h, masks.device)  # (h, H)
        cols = self._matrix(masks.shape[-1], w, masks.device)  # (w, W)
        with torch.autocast(device_type=masks.device.type, enabled=False):
            return rows @ masks.float() @ cols.t()  # (N, h, w) fp32


@contextlib.contextmanager
def resident_fp32_mask_resize(resize: ResidentMaskResize | None = None) -> Iterator[ResidentMaskResize]:
    """Within the block, the model's support masking uses ``resize`` (a new one if None)."""
    resize = resize or ResidentMaskResize()
    original = correlation.resize_masks
    correlation.resize_masks = resize
    try:
        yield resize
    finally:
        correlation.resize_masks = original
