"""GroupNorm written out in elementary ops, for export.

PyTorch's ONNX exporter turns ``nn.GroupNorm`` into Reshape -> InstanceNormalization ->
Reshape -> Mul -> Add. TensorRT runs that InstanceNormalization with poor accuracy in
FP16, and its native GroupNormalization has had bugs (NOTES.md). Written out, each step
is an op TensorRT handles plainly and that a precision pass can pin to FP32:

    x (N, C, *S) -> g (N, G, C/G, S0*S1, S2*S3, ...)        (spatial dims merged in pairs)
    mean = ReduceMean(g)                 var = ReduceMean((g - mean)^2)    (biased, as PyTorch)
    y = (g - mean) / sqrt(var + eps)     -> (N, C, *S) * weight + bias      (per channel)

Each mean is taken one axis at a time (last first): a mean of means of equal-sized
groups is the mean, and no single reduction sums more than ~2500 numbers. This matters:
HSNet's first C1 squeezing GroupNorm averages 4 x 50² x 13² = 1.69M values per group at
400², and onnxruntime's single-pass ReduceMean over that many floats is off by ~3e-6
(relative; 2e-7 over 2500 values), which fifteen GroupNorms grew to a 5e-4 relative
logit error in a first version. Staged, the exported graph matches PyTorch to ~1e-6.

:func:`with_explicit_group_norms` swaps every ``nn.GroupNorm`` of a module tree for this
module *in the same place*, sharing the same ``weight`` / ``bias`` parameters, so the
state_dict keys and values are unchanged.
"""

from __future__ import annotations

import torch
from torch import nn


class ExplicitGroupNorm(nn.Module):
    def __init__(self, norm: nn.GroupNorm):
        super().__init__()
        if not norm.affine:
            raise ValueError("ExplicitGroupNorm expects an affine GroupNorm (HSNet's are)")
        self.num_groups = norm.num_groups
        self.num_channels = norm.num_channels
        self.eps = norm.eps
        self.weight = norm.weight  # the same Parameter objects: same names, same values
        self.bias = norm.bias

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # (N, C, *S)
        spatial = x.shape[2:]
        pairs = [spatial[i] * spatial[i + 1] if i + 1 < len(spatial) else spatial[i] for i in range(0, len(spatial), 2)]
        groups = x.reshape(x.shape[0], self.num_groups, self.num_channels // self.num_groups, *pairs)  # (N, G, C/G, *P)
        mean = staged_mean(groups)  # (N, G, 1, ..., 1)
        centered = groups - mean
        var = staged_mean(centered * centered)  # (N, G, 1, ..., 1)
        normed = centered / torch.sqrt(var + self.eps)
        y = normed.reshape(x.shape)  # (N, C, *S)
        affine_shape = (self.num_channels,) + (1,) * len(spatial)  # (C, 1, ..., 1)
        return y * self.weight.reshape(affine_shape) + self.bias.reshape(affine_shape)


def staged_mean(t: torch.Tensor) -> torch.Tensor:
    """Mean over every axis after the first two, one axis at a time (last first), keepdim."""
    for axis in range(t.dim() - 1, 1, -1):
        t = t.mean(dim=axis, keepdim=True)
    return t


def with_explicit_group_norms(module: nn.Module) -> int:
    """Replace every nn.GroupNorm below ``module`` (in place); returns how many."""
    swapped = 0
    for parent in list(module.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, nn.GroupNorm):
                setattr(parent, name, ExplicitGroupNorm(child))
                swapped += 1
    return swapped
