"""The PyTorch HSNet (Min, Kang & Cho, ICCV 2021) with torchvision-compatible backbones.

Importing this package is cheap and torch-free; the model classes load torch on first
use, so torch-free parts (``hsnet_deploy.hsnet.data``, the metrics) stay importable
from the lightweight runtime.

    from hsnet_deploy.hsnet import HSNet, load_hsnet
    from hsnet_deploy.runtime.kshot_vote import kshot_vote_torch
"""

from __future__ import annotations

from ..lazy_exports import lazy_exports

__getattr__, __all__ = lazy_exports(
    __name__,
    model="HSNet", backbone_features="BACKBONES", checkpoint="load_hsnet",
    center_pivot_conv="CenterPivotConv4d", random_weights="randomize_for_testing",
)
