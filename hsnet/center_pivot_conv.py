"""Center-pivot 4D convolution (HSNet Eq. 5) as two Conv2d over reshaped tensors.

A dense 4D kernel k(u, v) over (query offset u, support offset v) is restricted to the
"center-pivot" cross: the offsets where u = 0 or v = 0. The convolution then splits into

    y(xa, xb) = Σ_u k_q(u) · x(xa + u, xb) + Σ_v k_s(v) · x(xa, xb + v)

a 2D convolution over the query dims at every support position (``conv1``) plus a 2D
convolution over the support dims at every query position (``conv2``), each with its own
bias (the centre tap, counted in both, is simply the sum of the two centre weights).

The support dims may be strided by s (query dims never are). ``conv2`` strides them
itself; the query branch is evaluated only at the support positions the strided conv
lands on: with padding k//2 and odd k, those are 0, s, 2s, ..., i.e. the strided slice
``x[..., ::s, ::s]`` (one ONNX Slice). Module names ``conv1`` / ``conv2`` follow the
official checkpoints.

The input may come in any of :mod:`grid_layout`'s layouts (the output in the same one, but see
SUPPORT_CHANNELS_LAST):

    NATIVE         the official formulation: each branch permutes its input in and its
                   result out (four copies; what the benchmark's baseline runs)
    SUPPORT_GRIDS  support branch free; query branch: the pivots moved to NATIVE and
                   the result back (copies of contiguous (Hb', Wb') runs), convolved
                   there by a dilated Conv2d (below)
    QUERY_GRIDS    query branch free; support branch either as one 1x1 Conv2d over all
                   support positions at once (below), or moved to SUPPORT_GRIDS and back
    SUPPORT_CHANNELS_LAST
                   both branches read and write channels-last images, each through one
                   NHWC <-> NCHW permute right at its Conv2d, which CPU runtimes fold into
                   the conv (:mod:`grid_layout`); the query branch is the dilated Conv2d
                   below on the (B, Ha, Wa·M', C) pivots. It also takes a SUPPORT_GRIDS
                   input (``out_layout=SUPPORT_CHANNELS_LAST``): the first conv of each
                   squeezing block, reading the correlation as it is written

The two branch results are added as flat (B, Ha, Wa·M'·O) views: a Reshape that merges
the channels moved by the permute into their neighbours cannot be swapped with the
permute, so onnxruntime's transpose optimizer leaves each permute next to its Conv,
where its NCHWc pass folds it. Split into 6-D views instead, the permutes were moved
behind the Reshape and stayed real copies (HSNet's C1 squeezing block at 400x400, 2
threads: onnxruntime 92 ms against 63 ms with the flat sum; OpenVINO 69 ms either way).

In NATIVE (B, C, Ha, Wa, Hb', Wb') viewed as (B, C, Ha, Wa·M') with M' = Hb'·Wb', the
query branch is one Conv2d with dilation (1, M') and padding (p, p·M'): along the merged
axis, tap t of output wa·M' + j reads input (wa + t - p)·M' + j, the same support
position j one query column over, and the p·M' zeros stand exactly for the zero padding
of Wa. Same multiply-adds as the per-position Conv2d, no (B·M', C, Ha, Wa) copy.

On a support grid of M = Hb·Wb positions with M <= k², the support branch at one query
position is a linear map from the M·C inputs to the M'·O outputs (M' = Hb'·Wb'):

    v[(j', o)] = Σ_(j, c) W'[(j', o), (j, c)] · x[(j, c)],   W'[(j', o), (j, c)] = w[o, c, t(j, j')]

with t the kernel tap joining input position j to output position j' (W' is 0 where no
tap does). In QUERY_GRIDS the (j, c) pairs are already the channels of a
(B, M·C, Ha, Wa) view, so it is a 1x1 Conv2d with weight W' and no copy at all; its
multiply-adds are M/k² of the conv's (fewer: padding taps are skipped), which is why it
is used only while M <= k² (HSNet's mixing blocks at 400x400: M = 4, k² = 9).
"""

from __future__ import annotations

import functools
from typing import Optional

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from .grid_layout import (
    NATIVE,
    QUERY_GRIDS,
    SUPPORT_CHANNELS_LAST,
    SUPPORT_GRIDS,
    check_layout,
    swap_grids,
)


@functools.lru_cache(maxsize=64)
def support_tap_index(hb: int, wb: int, kernel: int, stride: int) -> np.ndarray:
    """(Hb'·Wb', Hb·Wb) index of the kernel tap (row-major in k x k) joining input support
    position j to output position j'; k² where no tap does (padding k // 2)."""
    pad = kernel // 2
    out_h, out_w = (hb + 2 * pad - kernel) // stride + 1, (wb + 2 * pad - kernel) // stride + 1
    tap_h = np.arange(hb)[None, :] - (np.arange(out_h) * stride - pad)[:, None]  # (Hb', Hb)
    tap_w = np.arange(wb)[None, :] - (np.arange(out_w) * stride - pad)[:, None]  # (Wb', Wb)
    valid = ((tap_h >= 0) & (tap_h < kernel))[:, None, :, None] & ((tap_w >= 0) & (tap_w < kernel))[None, :, None, :]
    index = tap_h[:, None, :, None] * kernel + tap_w[None, :, None, :]  # (Hb', Wb', Hb, Wb)
    index = np.where(valid, index, kernel * kernel)
    index.setflags(write=False)
    return index.reshape(out_h * out_w, hb * wb)


def uses_support_matrix(hb: int, wb: int, kernel: int) -> bool:
    """Whether QUERY_GRIDS runs the support branch as the 1x1 support matrix (M <= k²)."""
    return hb * wb <= kernel * kernel


class CenterPivotConv4d(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, support_stride: int = 1):
        super().__init__()
        if kernel_size % 2 != 1:
            raise ValueError("center-pivot kernels must have an odd size")
        pad = kernel_size // 2
        self.conv1 = nn.Conv2d(in_channels, out_channels, kernel_size, stride=1, padding=pad)  # query dims
        self.conv2 = nn.Conv2d(in_channels, out_channels, kernel_size, stride=support_stride, padding=pad)  # support dims
        self.support_stride = support_stride

    def forward(self, x: torch.Tensor, layout: str = NATIVE, out_layout: Optional[str] = None) -> torch.Tensor:
        """``x`` held in ``layout``; the result in ``out_layout`` (default: the same). Only
        SUPPORT_GRIDS -> SUPPORT_CHANNELS_LAST changes layout on the way."""
        out_layout = layout if out_layout is None else out_layout
        if out_layout == SUPPORT_CHANNELS_LAST and layout in (SUPPORT_GRIDS, SUPPORT_CHANNELS_LAST):
            return self._to_channels_last(x, layout)
        check_layout(layout)
        check_layout(out_layout)
        if out_layout != layout:
            raise ValueError(f"a center-pivot conv cannot go from {layout} to {out_layout}")
        if layout == SUPPORT_GRIDS:
            return self._on_support_grids(x)
        if layout == QUERY_GRIDS:
            return self._on_query_grids(x)
        return self._on_native(x)

    def _on_native(self, x: torch.Tensor) -> torch.Tensor:
        # (B, C, Ha, Wa, Hb, Wb) -> (B, O, Ha, Wa, Hb', Wb')
        _, ch, ha, wa, hb, wb = x.shape
        s = self.support_stride
        pivots = x[..., ::s, ::s] if s > 1 else x  # (B, C, Ha, Wa, Hb', Wb')
        hb2, wb2 = pivots.shape[-2:]
        out_ch = self.conv1.out_channels
        q = self.conv1(pivots.permute(0, 4, 5, 1, 2, 3).reshape(-1, ch, ha, wa))  # (B*Hb'*Wb', O, Ha, Wa)
        q = q.reshape(-1, hb2, wb2, out_ch, ha, wa).permute(0, 3, 4, 5, 1, 2)  # (B, O, Ha, Wa, Hb', Wb')
        v = self.conv2(x.permute(0, 2, 3, 1, 4, 5).reshape(-1, ch, hb, wb))  # (B*Ha*Wa, O, Hb', Wb')
        v = v.reshape(-1, ha, wa, out_ch, hb2, wb2).permute(0, 3, 1, 2, 4, 5)  # (B, O, Ha, Wa, Hb', Wb')
        return q + v

    def _on_support_grids(self, x: torch.Tensor) -> torch.Tensor:
        # (B, Ha, Wa, C, Hb, Wb) -> (B, Ha, Wa, O, Hb', Wb')
        _, ha, wa, ch, hb, wb = x.shape
        s = self.support_stride
        v = self.conv2(x.reshape(-1, ch, hb, wb))  # (B*Ha*Wa, O, Hb', Wb')
        out_ch, hb2, wb2 = v.shape[1:]
        pivots = (x[..., ::s, ::s] if s > 1 else x).permute(0, 3, 1, 2, 4, 5)  # NATIVE (B, C, Ha, Wa, Hb', Wb')
        q = self._dilated_query_branch(pivots.reshape(-1, ch, ha, wa * hb2 * wb2), int(hb2) * int(wb2))  # (B, O, Ha, Wa*Hb'*Wb')
        q = q.reshape(-1, out_ch, ha, wa, hb2, wb2).permute(0, 2, 3, 1, 4, 5)  # (B, Ha, Wa, O, Hb', Wb')
        return q + v.reshape(-1, ha, wa, out_ch, hb2, wb2)

    def _to_channels_last(self, x: torch.Tensor, layout: str) -> torch.Tensor:
        # SUPPORT_GRIDS (B, Ha, Wa, C, Hb, Wb) or SUPPORT_CHANNELS_LAST (B, Ha, Wa, Hb, Wb, C)
        #   -> SUPPORT_CHANNELS_LAST (B, Ha, Wa, Hb', Wb', O)
        s = self.support_stride
        if layout == SUPPORT_GRIDS:
            _, ha, wa, ch, hb, wb = (int(d) for d in x.shape)
            images = x.reshape(-1, ch, hb, wb)  # (B*Ha*Wa, C, Hb, Wb)
            pivots = (x[..., ::s, ::s] if s > 1 else x).permute(0, 3, 1, 2, 4, 5)  # NATIVE (B, C, Ha, Wa, Hb', Wb')
        else:
            _, ha, wa, hb, wb, ch = (int(d) for d in x.shape)
            images = x.reshape(-1, hb, wb, ch).permute(0, 3, 1, 2)  # NCHW view of (B*Ha*Wa, Hb, Wb, C)
            pivots = x[:, :, :, ::s, ::s, :] if s > 1 else x  # (B, Ha, Wa, Hb', Wb', C)
        v = self.conv2(images)  # (B*Ha*Wa, O, Hb', Wb')
        out_ch, hb2, wb2 = (int(d) for d in v.shape[1:])
        positions = hb2 * wb2
        if layout == SUPPORT_GRIDS:
            pivots = pivots.reshape(-1, ch, ha, wa * positions)  # (B, C, Ha, Wa*M')
        else:
            pivots = pivots.reshape(-1, ha, wa * positions, ch).permute(0, 3, 1, 2)  # NCHW view of (B, Ha, Wa*M', C)
        q = self._dilated_query_branch(pivots, positions)  # (B, O, Ha, Wa*M')
        flat = wa * positions * out_ch  # the sum on (B, Ha, Wa*Hb'*Wb'*O) views (module docstring)
        total = q.permute(0, 2, 3, 1).reshape(-1, ha, flat) + v.permute(0, 2, 3, 1).reshape(-1, ha, flat)
        return total.reshape(-1, ha, wa, hb2, wb2, out_ch)

    def _dilated_query_branch(self, x: torch.Tensor, positions: int) -> torch.Tensor:
        """``conv1`` over (Ha, Wa) of (B, C, Ha, Wa·M') at each of the M' support positions (module docstring)."""
        p = self.conv1.padding[0]
        return F.conv2d(x, self.conv1.weight, self.conv1.bias, padding=(p, p * positions), dilation=(1, positions))

    def _on_query_grids(self, x: torch.Tensor) -> torch.Tensor:
        # (B, Hb, Wb, C, Ha, Wa) -> (B, Hb', Wb', O, Ha, Wa)
        _, hb, wb, ch, ha, wa = x.shape
        s, k = self.support_stride, self.conv2.kernel_size[0]
        pivots = x[:, ::s, ::s] if s > 1 else x  # (B, Hb', Wb', C, Ha, Wa)
        hb2, wb2 = pivots.shape[1:3]
        q = self.conv1(pivots.reshape(-1, ch, ha, wa))  # (B*Hb'*Wb', O, Ha, Wa)
        out_ch = q.shape[1]
        q = q.reshape(-1, hb2, wb2, out_ch, ha, wa)
        if uses_support_matrix(hb, wb, k):
            weight, bias = self.support_matrix(hb, wb)  # (Hb'*Wb'*O, Hb*Wb*C, 1, 1), (Hb'*Wb'*O,)
            v = F.conv2d(x.reshape(-1, hb * wb * ch, ha, wa), weight, bias)  # (B, Hb'*Wb'*O, Ha, Wa)
            return q + v.reshape(-1, hb2, wb2, out_ch, ha, wa)
        v = self.conv2(swap_grids(x).reshape(-1, ch, hb, wb))  # (B*Ha*Wa, O, Hb', Wb')
        return q + swap_grids(v.reshape(-1, ha, wa, out_ch, hb2, wb2))

    def support_matrix(self, hb: int, wb: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``conv2`` on an Hb x Wb support grid as the 1x1 conv weight W' and its bias (module docstring)."""
        w = self.conv2.weight  # (O, C, k, k)
        out_ch, ch, k = self.conv2.out_channels, self.conv2.in_channels, self.conv2.kernel_size[0]  # ints, also when traced
        index = torch.from_numpy(support_tap_index(int(hb), int(wb), k, self.support_stride).copy())  # (M', M)
        taps = torch.cat([w.reshape(out_ch, ch, k * k), w.new_zeros(out_ch, ch, 1)], dim=2)  # (O, C, k²+1)
        picked = taps[:, :, index]  # (O, C, M', M)
        positions = index.shape[0]
        weight = picked.permute(2, 0, 3, 1).reshape(positions * out_ch, index.shape[1] * ch, 1, 1)  # (M'*O, M*C, 1, 1)
        return weight, self.conv2.bias.repeat(positions)  # bias ordered (j', o) like the weight rows
