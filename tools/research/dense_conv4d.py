"""A dense 4D convolution and a dense-kernel HSNet learner: the baseline of Table 5.

A dense kernel W (O, C, k, k, k, k) covers every (query offset u, support offset v):

    y(xa, xb) = b + Σ_u Σ_v W(u, v) · x(xa + u, s·xb + v)

with padding k // 2 on all four dims and the support dims strided by s. PyTorch has no
4D convolution, so it is computed as k² 2D convolutions: for each query offset u the
input is shifted along the query dims and convolved over the support dims with the
slice W[..., u, :] (a Conv2d on N·Ha·Wa images of (C, Hb, Wb)); the k² results add up.
Restricted to the centre cross (u = 0 or v = 0) it equals the center-pivot conv with
the centre weight split between the two branches.

:func:`dense_learner_like` copies a learner and swaps every center-pivot conv for a dense
one with the same channels, kernel and stride: same blocks, GroupNorms, mixing and
decoder, only the 4D kernels differ.
"""

from __future__ import annotations

import copy
import math
from typing import Optional

import torch
from hsnet_deploy.hsnet.center_pivot_conv import CenterPivotConv4d
from hsnet_deploy.hsnet.grid_layout import NATIVE, convert
from torch import nn
from torch.nn import functional as F


class DenseConv4d(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, support_stride: int = 1):
        super().__init__()
        if kernel_size % 2 != 1:
            raise ValueError("4D kernels must have an odd size")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = kernel_size
        self.support_stride = support_stride
        k = kernel_size
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels, k, k, k, k))  # (O, C, u_h, u_w, v_h, v_w)
        self.bias = nn.Parameter(torch.empty(out_channels))
        bound = 1.0 / math.sqrt(in_channels * k**4)
        nn.init.uniform_(self.weight, -bound, bound)
        nn.init.uniform_(self.bias, -bound, bound)

    def flop_cost(self, dims):
        """Its Cost for an input of native dims (N, C, Ha, Wa, Hb, Wb) (benchmarks.cost_counter asks)."""
        from hsnet_deploy.benchmarks.cost_formulas import dense_conv4d_cost

        n, ch, *shape4d = dims
        return dense_conv4d_cost(n, ch, self.out_channels, self.kernel_size, self.support_stride, tuple(shape4d))

    def forward(self, x: torch.Tensor, layout: str = NATIVE, out_layout: Optional[str] = None) -> torch.Tensor:
        """x in ``layout`` (the learner's grid layouts too) -> ``out_layout`` (default: the same),
        as the center-pivot conv it stands in for is called."""
        x = convert(x, layout, NATIVE)
        return convert(self._native(x), NATIVE, layout if out_layout is None else out_layout)

    def _native(self, x: torch.Tensor) -> torch.Tensor:
        n, ch, ha, wa, hb, wb = x.shape  # (N, C, Ha, Wa, Hb, Wb)
        k, p, s = self.kernel_size, self.kernel_size // 2, self.support_stride
        xq = x.permute(0, 2, 3, 1, 4, 5)  # (N, Ha, Wa, C, Hb, Wb)
        xq = F.pad(xq, (0, 0, 0, 0, 0, 0, p, p, p, p))  # query dims padded: (N, Ha+2p, Wa+2p, C, Hb, Wb)
        out = None
        for uh in range(k):
            for uw in range(k):
                shifted = xq[:, uh : uh + ha, uw : uw + wa].reshape(-1, ch, hb, wb)  # (N*Ha*Wa, C, Hb, Wb)
                y = F.conv2d(shifted, self.weight[:, :, uh, uw], stride=s, padding=p)  # (N*Ha*Wa, O, Hb', Wb')
                out = y if out is None else out + y
        out = out + self.bias.view(1, -1, 1, 1)
        hb2, wb2 = out.shape[-2:]
        return out.reshape(n, ha, wa, self.out_channels, hb2, wb2).permute(0, 3, 1, 2, 4, 5)  # (N, O, Ha, Wa, Hb', Wb')

    @classmethod
    def like(cls, cp: CenterPivotConv4d) -> "DenseConv4d":
        """A dense conv with the channels, kernel and stride of a center-pivot conv."""
        return cls(cp.conv1.in_channels, cp.conv1.out_channels, cp.conv1.kernel_size[0], cp.support_stride)

    @classmethod
    def from_center_pivot(cls, cp: CenterPivotConv4d) -> "DenseConv4d":
        """The dense kernel that computes exactly what ``cp`` computes (zero off the cross)."""
        dense = cls.like(cp).to(cp.conv1.weight.device)
        k, c = dense.kernel_size, dense.kernel_size // 2
        with torch.no_grad():
            dense.weight.zero_()
            dense.weight[:, :, :, :, c, c] += cp.conv1.weight  # query-dims branch: v = 0
            dense.weight[:, :, c, c, :, :] += cp.conv2.weight  # support-dims branch: u = 0
            dense.bias.copy_(cp.conv1.bias + cp.conv2.bias)
        return dense


def dense_learner_like(learner: nn.Module) -> nn.Module:
    """A deep copy of ``learner`` with every CenterPivotConv4d replaced by a DenseConv4d."""
    dense = copy.deepcopy(learner)
    for name, module in list(dense.named_modules()):
        for child_name, child in list(module.named_children()):
            if isinstance(child, CenterPivotConv4d):
                setattr(module, child_name, DenseConv4d.like(child))
    return dense
