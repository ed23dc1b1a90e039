"""Deterministic random weights with non-trivial BatchNorm statistics, for tests and demos.

Freshly built BatchNorm layers have running mean 0 and variance 1, which makes them the
identity in eval mode and hides mistakes in how a backend folds them. Here every BN gets
random affine parameters and running statistics, every conv and GroupNorm random weights,
all drawn from one seeded generator, so the same seed gives the same model anywhere.
"""

from __future__ import annotations

import math

import torch
from torch import nn


@torch.no_grad()
def randomize_for_testing(model: nn.Module, seed: int = 0) -> nn.Module:
    g = torch.Generator().manual_seed(seed)

    def uniform(t: torch.Tensor, lo: float, hi: float) -> None:
        t.copy_(torch.rand(t.shape, generator=g) * (hi - lo) + lo)

    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            fan_in = module.in_channels // module.groups * module.kernel_size[0] * module.kernel_size[1]
            module.weight.copy_(torch.randn(module.weight.shape, generator=g) * math.sqrt(2.0 / fan_in))
            if module.bias is not None:
                uniform(module.bias, -0.1, 0.1)
        elif isinstance(module, nn.Linear):  # unused by HSNet, randomised so the whole state is seeded
            module.weight.copy_(torch.randn(module.weight.shape, generator=g) * 0.01)
            module.bias.zero_()
        elif isinstance(module, nn.BatchNorm2d):
            uniform(module.weight, 0.5, 1.5)
            uniform(module.bias, -0.2, 0.2)
            module.running_mean.copy_(torch.randn(module.running_mean.shape, generator=g) * 0.2)
            uniform(module.running_var, 0.5, 2.0)
        elif isinstance(module, nn.GroupNorm):
            uniform(module.weight, 0.5, 1.5)
            uniform(module.bias, -0.2, 0.2)
    return model
