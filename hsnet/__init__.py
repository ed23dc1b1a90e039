"""The PyTorch HSNet (Min, Kang & Cho, ICCV 2021) with torchvision-compatible backbones.

Importing this package is cheap and torch-free; the model classes load torch on first
use, so torch-free parts (``hsnet_deploy.hsnet.data``, the metrics) stay importable
from the lightweight runtime.

    from hsnet_deploy.hsnet import HSNet, load_hsnet
    from hsnet_deploy.hsnet.kshot_vote import kshot_vote
"""

from __future__ import annotations

from ..lazy_exports import lazy_getattr

_LAZY = {
    "HSNet": "model",
    "BACKBONES": "backbone_features",
    "load_hsnet": "checkpoint",
    "CenterPivotConv4d": "center_pivot_conv",
    "randomize_for_testing": "random_weights",
}

__all__ = sorted(_LAZY)

__getattr__ = lazy_getattr(__name__, _LAZY)
