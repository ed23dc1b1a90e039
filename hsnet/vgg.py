"""VGG16 (no batch norm) with torchvision's module names (``features.N``, ``classifier.N``).

HSNet taps ``features`` indices 17, 19, 21 (conv4_1..conv4_3), 24, 26, 28 (conv5_1..conv5_3),
each *before* its ReLU, and 30 (the last max-pool). The ReLUs here are not in-place so
a tapped tensor is never overwritten by the next layer.
"""

from __future__ import annotations

import torch
from torch import nn

# torchvision's configuration "D": channels, "M" = 2x2 max-pool
VGG16_LAYOUT = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M")
VGG16_TAPS = (17, 19, 21, 24, 26, 28, 30)


def _linear_without_init(in_features: int, out_features: int) -> nn.Linear:
    """A zero Linear layer. The classifier (~120M parameters) is never run by HSNet; it
    exists so torchvision weight files load strictly, and zeros cost no random init."""
    layer = nn.utils.skip_init(nn.Linear, in_features, out_features)
    nn.init.zeros_(layer.weight)
    nn.init.zeros_(layer.bias)
    return layer


class VGG16(nn.Module):
    def __init__(self, num_classes: int = 1000):
        super().__init__()
        layers: list[nn.Module] = []
        in_ch = 3
        for item in VGG16_LAYOUT:
            if item == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                conv = nn.Conv2d(in_ch, item, 3, padding=1)
                nn.init.kaiming_normal_(conv.weight, mode="fan_out", nonlinearity="relu")
                nn.init.zeros_(conv.bias)
                layers += [conv, nn.ReLU()]
                in_ch = item
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(
            _linear_without_init(512 * 7 * 7, 4096), nn.ReLU(), nn.Dropout(),
            _linear_without_init(4096, 4096), nn.ReLU(), nn.Dropout(),
            _linear_without_init(4096, num_classes),
        )

    def hypercolumn_features(self, img: torch.Tensor) -> list[torch.Tensor]:
        """img (N, 3, H, W) -> 3 x (N, 512, H/8, W/8), 3 x (N, 512, H/16, W/16),
        1 x (N, 512, H/32, W/32) (sizes floored by the max-pools)."""
        feats = []
        x = img
        for idx, layer in enumerate(self.features):
            x = layer(x)
            if idx in VGG16_TAPS:
                feats.append(x)
        return feats
