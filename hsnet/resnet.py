"""ResNet50 / ResNet101 (v1.5, stride on the 3x3 conv) with torchvision's module names.

Parameter and buffer names equal torchvision's ``resnet50`` / ``resnet101`` exactly
(``conv1``, ``bn1``, ``layer1.0.downsample.0`` ... ``fc``), so torchvision ImageNet weight
files and official HSNet checkpoints load unchanged, without torchvision installed.

HSNet taps every bottleneck of layer2..layer4 *after the residual add and before the
final ReLU*; :meth:`Bottleneck.forward_pre_relu` gives exactly that tensor.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

# blocks per stage (layer1..layer4)
RESNET_DEPTHS = {"resnet50": (3, 4, 6, 3), "resnet101": (3, 4, 23, 3)}


class Bottleneck(nn.Module):
    """1x1 -> 3x3 (strided) -> 1x1 bottleneck with a residual connection; expansion 4."""

    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * self.expansion, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU()
        self.downsample = downsample

    def forward_pre_relu(self, x: torch.Tensor) -> torch.Tensor:
        """The residual sum before the block's last ReLU: what HSNet correlates."""
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return out + identity

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.forward_pre_relu(x))


class ResNet(nn.Module):
    """torchvision-named ResNet (the classifier ``fc`` is kept only so weight files load)."""

    def __init__(self, depths: tuple[int, int, int, int], num_classes: int = 1000):
        super().__init__()
        self.inplanes = 64
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU()
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        self.layer1 = self._make_stage(64, depths[0], stride=1)
        self.layer2 = self._make_stage(128, depths[1], stride=2)
        self.layer3 = self._make_stage(256, depths[2], stride=2)
        self.layer4 = self._make_stage(512, depths[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512 * Bottleneck.expansion, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def _make_stage(self, planes: int, blocks: int, stride: int) -> nn.Sequential:
        downsample = None
        if stride != 1 or self.inplanes != planes * Bottleneck.expansion:
            downsample = nn.Sequential(
                nn.Conv2d(self.inplanes, planes * Bottleneck.expansion, 1, stride=stride, bias=False),
                nn.BatchNorm2d(planes * Bottleneck.expansion),
            )
        layers = [Bottleneck(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes * Bottleneck.expansion
        layers += [Bottleneck(self.inplanes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def hypercolumn_features(self, img: torch.Tensor) -> list[torch.Tensor]:
        """Pre-ReLU output of every bottleneck of layer2..layer4, shallow to deep.

        img (N, 3, H, W) -> [(N, 512, H/8, W/8)] * n2 + [(N, 1024, H/16, W/16)] * n3
        + [(N, 2048, H/32, W/32)] * n4 (sizes rounded up by the strided convs).
        """
        x = self.maxpool(self.relu(self.bn1(self.conv1(img))))
        x = self.layer1(x)
        feats = []
        for stage in (self.layer2, self.layer3, self.layer4):
            for block in stage:
                pre = block.forward_pre_relu(x)
                feats.append(pre)
                x = F.relu(pre)
        return feats


def resnet(name: str) -> ResNet:
    return ResNet(RESNET_DEPTHS[name])
