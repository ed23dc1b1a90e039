"""Bilinear resizing with ``align_corners=True``, with PyTorch's exact taps and weights.

For an axis of ``n_in`` input samples resized to ``n_out`` output samples, output
sample ``i`` reads the input at the real position

    src(i) = i * (n_in - 1) / (n_out - 1)        (src = 0 when n_out == 1)

and blends its two neighbours ``i0 = floor(src)``, ``i1 = min(i0 + 1, n_in - 1)``:

    out[i] = (1 - l) * x[i0] + l * x[i1],        l = clamp(src - i0, 0, 1).

In 2-D the width is resized first, then the height:

    out[y, x] = h0 * (w0 * in[y0, x0] + w1 * in[y0, x1]) + h1 * (w0 * in[y1, x0] + w1 * in[y1, x1])

The taps and weights are computed in float32 exactly as ``torch.nn.functional.interpolate``
does (the scale ``(n_in - 1) / (n_out - 1)`` is itself a float32), so they are
bit-identical to PyTorch's: a weight that is exactly 0 there is exactly 0 here. The
blended values agree to float32 rounding (about 1 ulp), not bit for bit: PyTorch's
vectorised CPU kernel accumulates the four products with fused multiply-adds in an
order numpy cannot reproduce cheaply. The corner samples of input and output coincide,
hence the name.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..errors import UserError


class LinearTaps(NamedTuple):
    """The two input samples each output sample reads, and their weights (float32)."""

    index0: np.ndarray  # (n_out,) int64
    index1: np.ndarray  # (n_out,) int64
    weight0: np.ndarray  # (n_out,) float32, weight of index0
    weight1: np.ndarray  # (n_out,) float32, weight of index1


def align_corners_taps(n_in: int, n_out: int) -> LinearTaps:
    """Taps of a 1-D linear resize from ``n_in`` to ``n_out`` samples, align_corners=True."""
    if n_in < 1 or n_out < 1:
        raise ValueError(f"sizes must be positive, got {n_in} -> {n_out}")
    one = np.float32(1.0)
    scale = np.float32(n_in - 1) / np.float32(n_out - 1) if n_out > 1 else np.float32(0.0)
    src = np.arange(n_out, dtype=np.float32) * scale  # (n_out,) float32, as PyTorch
    index0 = src.astype(np.int64)  # src >= 0, so truncation is floor
    index1 = np.where(index0 < n_in - 1, index0 + 1, index0)
    weight1 = np.clip(src - index0.astype(np.float32), np.float32(0.0), one)
    weight0 = one - weight1
    return LinearTaps(index0, index1, weight0.astype(np.float32), weight1.astype(np.float32))


def resize_bilinear_align_corners(x: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize the last two axes of ``x`` (..., h, w) to ``size`` = (H, W); float32 out.

    Equals ``torch.nn.functional.interpolate(x, size, mode="bilinear",
    align_corners=True)`` for float32 input, to float32 rounding.
    """
    x = np.asarray(x, dtype=np.float32)
    if x.ndim < 2:
        raise ValueError(f"need at least 2 axes to resize, got shape {x.shape}")
    out_h, out_w = int(size[0]), int(size[1])
    taps_w = align_corners_taps(x.shape[-1], out_w)
    taps_h = align_corners_taps(x.shape[-2], out_h)
    # Width first: (..., h, w) -> (..., h, W).
    rows = taps_w.weight0 * x[..., taps_w.index0] + taps_w.weight1 * x[..., taps_w.index1]
    # Then height: (..., h, W) -> (..., H, W).
    w0 = taps_h.weight0[:, None]  # (H, 1)
    w1 = taps_h.weight1[:, None]
    return w0 * rows[..., taps_h.index0, :] + w1 * rows[..., taps_h.index1, :]


def resize_logits(logits: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Per-shot logits (K, 2, S, S) -> (K, 2, h, w) at ``size`` = (h, w), align_corners=True.

    This is the resize the official evaluation applies before the vote when it scores
    at the query's original size.
    """
    logits = np.asarray(logits)
    if logits.ndim != 4 or logits.shape[1] != 2:
        raise UserError(f"expected logits of shape (K, 2, H, W), got {tuple(logits.shape)}")
    h, w = int(size[0]), int(size[1])
    if h < 1 or w < 1:
        raise UserError(f"cannot resize logits to {h}x{w}")
    if logits.shape[-2:] == (h, w):
        return logits.astype(np.float32, copy=True)
    return resize_bilinear_align_corners(logits, (h, w))
