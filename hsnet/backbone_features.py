"""Which backbone layers HSNet correlates, and how they group into the pyramid.

Each backbone yields a list of feature maps, shallow to deep. Maps of the same spatial
size form one pyramid level; the hypercorrelation of a level stacks its layers as
channels::

    C1 (shallowest, H/8)   C2 (H/16)   C3 (deepest, H/32)
    vgg16:     3 x 512         3 x 512      1 x 512
    resnet50:  4 x 512         6 x 1024     3 x 2048
    resnet101: 4 x 512        23 x 1024     3 x 2048

The learner takes the levels deepest first, so its squeezing blocks see
``in_channels = (L3, L2, L1)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from torch import nn

from ..runtime.graph_contract import BACKBONE_LEVELS
from .resnet import resnet
from .vgg import VGG16


@dataclass(frozen=True)
class BackboneSpec:
    name: str
    layers_per_level: tuple[int, int, int]  # (L1, L2, L3): shallow to deep
    channels_per_level: tuple[int, int, int]  # (C1, C2, C3) feature channels
    build: Callable[[], nn.Module]

    @property
    def num_layers(self) -> int:
        return sum(self.layers_per_level)


_BUILDERS: dict[str, Callable[[], nn.Module]] = {
    "vgg16": VGG16,
    "resnet50": lambda: resnet("resnet50"),
    "resnet101": lambda: resnet("resnet101"),
}
# layers / channels per level come from the graph contract (the exported I/O shapes)
BACKBONES: dict[str, BackboneSpec] = {
    name: BackboneSpec(name, *BACKBONE_LEVELS[name], _BUILDERS[name]) for name in BACKBONE_LEVELS
}


def backbone_spec(name: str) -> BackboneSpec:
    from ..errors import UserError

    if name not in BACKBONES:
        raise UserError(f"unknown backbone {name!r}; choose one of {', '.join(BACKBONES)}")
    return BACKBONES[name]


def split_levels(feats: list, spec: BackboneSpec) -> tuple[list, list, list]:
    """Split a shallow-to-deep layer list into (level1, level2, level3) lists."""
    n1, n2, _ = spec.layers_per_level
    return feats[:n1], feats[n1 : n1 + n2], feats[n1 + n2 :]
