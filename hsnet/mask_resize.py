"""Bilinear (align_corners=True) mask resizing as two constant matrices.

HSNet multiplies each support feature map by the support mask resized bilinearly to the
map's size. Written as ``interpolate(mask)`` this is fragile across backends: a binary
mask's resize has positions that are *exactly* 0 in one implementation and 1e-10 in
another, and since cosine similarity is scale-invariant, a support position weighted
1e-10 correlates at nearly full strength where one weighted 0 does not (see docs/protocol.md, "The mask-resize parity trap",
"a parity trap"). So the resize is written as

    M'(i, j) = sum_a sum_b R_h[i, a] * M[a, b] * R_w[j, b]      i.e.  M' = R_h M R_w^T

with ``R`` (out, in) the *PyTorch* 1-D linear interpolation weights, read off
``F.interpolate`` applied to an identity. PyTorch's 2-D bilinear kernel is separable with
the same per-axis weights, so a weight that is 0 in PyTorch is 0 here, a tiny weight stays
tiny, and every exported backend (ONNX MatMul with constant R) inherits the same
pattern of exact zeros. The weights are non-negative, so ``M'`` is 0 exactly where no
masked pixel has a non-zero weight: no cancellation can create or remove a zero.
"""

from __future__ import annotations

import contextlib
import functools

import numpy as np
import torch
from torch.nn import functional as F


@functools.lru_cache(maxsize=64)
def _linear_weights(in_size: int, out_size: int) -> np.ndarray:
    # Computed with torch outside any graph capture (the cache is warmed by the first
    # eager call), stored as numpy so an exporter sees a plain constant.
    with torch.no_grad():
        eye = torch.eye(in_size, dtype=torch.float32).unsqueeze(0)  # (1, in, in): channel c = unit impulse at c
        w = F.interpolate(eye, size=out_size, mode="linear", align_corners=True)[0]  # (in, out)
    return w.t().contiguous().numpy()  # (out, in)


@functools.lru_cache(maxsize=64)
def _device_matrix(in_size: int, out_size: int, device: torch.device) -> torch.Tensor:
    # One copy per device, made once: no host-to-device copy per call (which CUDA-graph
    # capture forbids) and, while tracing, a plain constant.
    return torch.from_numpy(_linear_weights(in_size, out_size)).to(device)


def linear_resize_matrix(in_size: int, out_size: int, device=None) -> torch.Tensor:
    """(out_size, in_size) float32 matrix of PyTorch's align_corners=True linear weights."""
    return _device_matrix(int(in_size), int(out_size), torch.device(device or "cpu"))


def resize_masks(masks: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Resize masks (N, H, W) to (N, h, w) bilinearly with align_corners=True, in float32.

    Always float32, also under autocast: in float16 the tiny weights (1e-10) would
    underflow to exactly 0, which is the very flip this module exists to prevent.
    """
    h, w = size
    rows = linear_resize_matrix(masks.shape[-2], h, masks.device)  # (h, H)
    cols = linear_resize_matrix(masks.shape[-1], w, masks.device)  # (w, W)
    device = masks.device.type
    # autocast exists for real devices only (not "meta", used for FLOP counting)
    guard = torch.autocast(device_type=device, enabled=False) if device in ("cpu", "cuda") else contextlib.nullcontext()
    with guard:
        return rows @ masks.float() @ cols.t()  # (N, h, w)
