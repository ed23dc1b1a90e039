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

``GridGroupNorm`` is an ``nn.GroupNorm`` (same parameters, same state_dict keys); called
without a layout it is exactly PyTorch's.
"""

from __future__ import annotations

import torch
from torch import nn

from .grid_layout import NATIVE


def staged_mean(t: torch.Tensor, axes: tuple[int, ...]) -> torch.Tensor:
    """Mean over ``axes``, one axis at a time in the order given, keepdim."""
    for axis in axes:
        t = t.mean(dim=axis, keepdim=True)
    return t


class GridGroupNorm(nn.GroupNorm):
    def forward(self, x: torch.Tensor, layout: str = NATIVE) -> torch.Tensor:
        if layout == NATIVE:
            return super().forward(x)
        # (B, s1, s2, C, s3, s4): channels at axis 3 in both grid layouts
        b, s1, s2, ch, s3, s4 = x.shape
        groups = x.reshape(b, s1 * s2, self.num_groups, ch // self.num_groups, s3 * s4)  # (B, P, G, C/G, Q)
        mean = staged_mean(groups, (4, 3, 1))  # (B, 1, G, 1, 1)
        centered = groups - mean
        var = staged_mean(centered * centered, (4, 3, 1))
        normed = (centered / torch.sqrt(var + self.eps)).reshape(x.shape)  # (B, s1, s2, C, s3, s4)
        return normed * self.weight.reshape(ch, 1, 1) + self.bias.reshape(ch, 1, 1)
