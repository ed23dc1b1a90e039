"""GroupNorm over a 6-D correlation in any :mod:`grid_layout`, written in elementary ops.

HSNet's learner normalises (N, C, Ha, Wa, Hb, Wb) in G = 4 groups of C/G channels:

    mean_g = E[x] over (C/G, Ha, Wa, Hb, Wb),  var_g = E[(x - mean_g)²]  (biased, as PyTorch)
    y = (x - mean_g) / sqrt(var_g + eps) · weight_c + bias_c

In the grid layouts the channels sit between the two grid pairs, so a tensor is viewed
as (B, P, G, C/G, Q) with P and Q the two merged grid pairs and each mean is taken one
axis at a time (Q, then C/G, then P). A mean of means of equal-sized groups is the mean,
and no single reduction sums more than ~2500 numbers. That matters for the exported
graph: HSNet's first C1 squeezing GroupNorm averages 4 x 50² x 13² = 1.69M values per
group at 400², and onnxruntime's single-pass ReduceMean over that many floats is off by
~3e-6 relative (2e-7 over 2500 values), which fifteen GroupNorms grew to a 5e-4 relative
logit error in a first export. Staged, the graph matches PyTorch to ~1e-6, and each step
is an op TensorRT handles plainly and a precision pass can keep in FP32 (TensorRT's
InstanceNormalization, which PyTorch's exporter would emit, is inaccurate in FP16).

In SUPPORT_CHANNELS_LAST the channels are innermost: the view is (B, P, Q, G, C/G) and
the means go over Q, C/G, P in the same order. There the group statistics are first
repeated to one value per channel (a (B, 1, 1, C) tensor), so each full-size subtraction,
division and affine broadcasts one row of C numbers over the contiguous positions; the
same operations broadcast per group on (.., G, C/G), with C/G as small as 4, made
onnxruntime's C1 squeezing block 104 instead of 92 ms (400x400, 2 threads, measured before
the branch sums went flat; 74 instead of 65 ms with its transpose optimizer off). Same
values: each element still gets (x - mean_g) / sqrt(var_g + eps).

OpenVINO merges directly consecutive ReduceMeans into one single-pass mean. In the grid
layouts that undoes part of the staging; in SUPPORT_CHANNELS_LAST all of it, and the first
C1 GroupNorm is then 5.6e-4 from a float64 reference in OpenVINO (6e-6 in onnxruntime), so
its FP32 masks equal onnxruntime's on 99.999 % of the pixels rather than 100 %. Keeping the
means apart in OpenVINO (a rank-changing Reshape, or sums and divisions, between them)
restored 6e-6 but made its 400x400 query graph 12 % slower, and reducing the outer axis
first made onnxruntime 10 % slower; so the chain stays as it is (README, "OpenVINO").

``GridGroupNorm`` is an ``nn.GroupNorm`` (same parameters, same state_dict keys); called
without a layout it is exactly PyTorch's.
"""

from __future__ import annotations

import torch
from torch import nn

from .grid_layout import NATIVE, SUPPORT_CHANNELS_LAST


def staged_mean(t: torch.Tensor, axes: tuple[int, ...]) -> torch.Tensor:
    """Mean over ``axes``, one axis at a time in the order given, keepdim."""
    for axis in axes:
        t = t.mean(dim=axis, keepdim=True)
    return t


class GridGroupNorm(nn.GroupNorm):
    def forward(self, x: torch.Tensor, layout: str = NATIVE) -> torch.Tensor:
        if layout == NATIVE:
            return super().forward(x)
        if layout == SUPPORT_CHANNELS_LAST:
            return self._channels_last(x)
        # (B, s1, s2, C, s3, s4): channels at axis 3 in both grid layouts
        b, s1, s2, ch, s3, s4 = x.shape
        groups = x.reshape(b, s1 * s2, self.num_groups, ch // self.num_groups, s3 * s4)  # (B, P, G, C/G, Q)
        mean = staged_mean(groups, (4, 3, 1))  # (B, 1, G, 1, 1)
        centered = groups - mean
        var = staged_mean(centered * centered, (4, 3, 1))
        normed = (centered / torch.sqrt(var + self.eps)).reshape(x.shape)  # (B, s1, s2, C, s3, s4)
        return normed * self.weight.reshape(ch, 1, 1) + self.bias.reshape(ch, 1, 1)

    def _channels_last(self, x: torch.Tensor) -> torch.Tensor:
        # (B, Ha, Wa, Hb, Wb, C)
        _, s1, s2, s3, s4, ch = (int(d) for d in x.shape)
        g = self.num_groups
        rows = x.reshape(-1, s1 * s2, s3 * s4, ch)  # (B, P, Q, C)
        mean = staged_mean(rows.reshape(-1, s1 * s2, s3 * s4, g, ch // g), (2, 4, 1))  # (B, 1, 1, G, 1)
        centered = rows - per_channel(mean, ch)
        squares = (centered * centered).reshape(-1, s1 * s2, s3 * s4, g, ch // g)
        std = torch.sqrt(staged_mean(squares, (2, 4, 1)) + self.eps)  # (B, 1, 1, G, 1)
        normed = centered / per_channel(std, ch)
        return (normed * self.weight + self.bias).reshape(-1, s1, s2, s3, s4, ch)


def per_channel(stat: torch.Tensor, channels: int) -> torch.Tensor:
    """(B, 1, 1, G, 1) group statistics -> (B, 1, 1, C), each group's value repeated over its channels."""
    groups = int(stat.shape[3])
    return stat.expand(-1, 1, 1, groups, channels // groups).reshape(-1, 1, 1, channels)
