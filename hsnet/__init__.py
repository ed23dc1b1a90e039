"""The PyTorch HSNet (Min, Kang & Cho, ICCV 2021) with torchvision-compatible backbones.

Importing this package is cheap and torch-free; the model classes load torch on first
use, so torch-free parts (``hsnet_deploy.hsnet.data``, the metrics) stay importable
from the lightweight runtime.

    from hsnet_deploy.hsnet import HSNet, load_hsnet
    from hsnet_deploy.hsnet.kshot_vote import kshot_vote
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "HSNet": "model",
    "BACKBONES": "backbone_features",
    "load_hsnet": "checkpoint",
    "CenterPivotConv4d": "center_pivot_conv",
    "randomize_for_testing": "random_weights",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module = importlib.import_module(f"{__name__}.{_LAZY[name]}")
        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
