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
``x[..., ::s, ::s]``. Written as a slice (not an index tensor), it exports to one ONNX
Slice. Module names ``conv1`` / ``conv2`` follow the official checkpoints.
"""

from __future__ import annotations

import torch
from torch import nn


class CenterPivotConv4d(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, support_stride: int = 1):
        super().__init__()
        if kernel_size % 2 != 1:
            raise ValueError("center-pivot kernels must have an odd size")
        pad = kernel_size // 2
        self.conv1 = nn.Conv2d(in_channels, out_channels, kernel_size, stride=1, padding=pad)  # query dims
        self.conv2 = nn.Conv2d(in_channels, out_channels, kernel_size, stride=support_stride, padding=pad)  # support dims
        self.support_stride = support_stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # (B, C, Ha, Wa, Hb, Wb)
        _, ch, ha, wa, hb, wb = x.shape
        s = self.support_stride
        pivots = x[..., ::s, ::s] if s > 1 else x  # (B, C, Ha, Wa, Hb', Wb')
        hb2, wb2 = pivots.shape[-2:]
        out_ch = self.conv1.out_channels

        # conv over query dims at each kept support position
        q = pivots.permute(0, 4, 5, 1, 2, 3).reshape(-1, ch, ha, wa)  # (B*Hb'*Wb', C, Ha, Wa)
        q = self.conv1(q)  # (B*Hb'*Wb', O, Ha, Wa)
        q = q.reshape(-1, hb2, wb2, out_ch, ha, wa).permute(0, 3, 4, 5, 1, 2)  # (B, O, Ha, Wa, Hb', Wb')

        # strided conv over support dims at each query position
        v = x.permute(0, 2, 3, 1, 4, 5).reshape(-1, ch, hb, wb)  # (B*Ha*Wa, C, Hb, Wb)
        v = self.conv2(v)  # (B*Ha*Wa, O, Hb', Wb')
        v = v.reshape(-1, ha, wa, out_ch, hb2, wb2).permute(0, 3, 1, 2, 4, 5)  # (B, O, Ha, Wa, Hb', Wb')
        return q + v
