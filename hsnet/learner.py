"""HSNet's 4D learner: squeezing blocks, mixing blocks and the 2D decoder.

Squeezing (one block per pyramid level, deepest first): 3 x [CP conv, GroupNorm(4), ReLU]
with out channels (16, 64, 128) and per-level kernels / support strides

    C3 (deepest): k (3, 3, 3)  s (2, 2, 2)
    C2:           k (5, 3, 3)  s (4, 2, 2)
    C1:           k (5, 5, 3)  s (4, 4, 2)

so every level ends with the same small support grid. Mixing: upsample the deeper
result's *query* dims (bilinear, align_corners) to the next level, add, then
3 x [CP conv 3, stride 1, GroupNorm, ReLU] at 128 channels; twice (C3+C2, then +C1).
Average over the support dims, then the decoder:

    conv3x3 128→128, ReLU, conv3x3 128→64, ReLU, ×2 bilinear, conv3x3 64→64, ReLU, conv3x3 64→2

Block names and layer indices (CP convs at 0, 3, 6; GroupNorm at 1, 4, 7) follow the
official checkpoints (``encoder_layer4`` = C3 ... ``decoder2``).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from .center_pivot_conv import CenterPivotConv4d

SQUEEZE_OUT = (16, 64, 128)
SQUEEZE_KERNELS = {"c3": (3, 3, 3), "c2": (5, 3, 3), "c1": (5, 5, 3)}
SQUEEZE_STRIDES = {"c3": (2, 2, 2), "c2": (4, 2, 2), "c1": (4, 4, 2)}
MIX_CHANNELS = 128
GROUPS = 4


def building_block(in_channels: int, out_channels, kernels, strides) -> nn.Sequential:
    layers: list[nn.Module] = []
    for out_ch, k, s in zip(out_channels, kernels, strides):
        layers += [CenterPivotConv4d(in_channels, out_ch, k, s), nn.GroupNorm(GROUPS, out_ch), nn.ReLU()]
        in_channels = out_ch
    return nn.Sequential(*layers)


def upsample_query_dims(x: torch.Tensor, size) -> torch.Tensor:
    """(B, C, Ha, Wa, Hb, Wb) -> (B, C, h, w, Hb, Wb), bilinear with align_corners=True."""
    _, ch, ha, wa, hb, wb = x.shape
    h, w = int(size[0]), int(size[1])
    y = x.permute(0, 4, 5, 1, 2, 3).reshape(-1, ch, ha, wa)  # (B*Hb*Wb, C, Ha, Wa)
    y = F.interpolate(y, size=(h, w), mode="bilinear", align_corners=True)
    return y.reshape(-1, hb, wb, ch, h, w).permute(0, 3, 4, 5, 1, 2)  # (B, C, h, w, Hb, Wb)


class HPNLearner(nn.Module):
    def __init__(self, in_channels: tuple[int, int, int]):
        """in_channels: layers per pyramid level, deepest first (L3, L2, L1)."""
        super().__init__()
        l3, l2, l1 = in_channels
        mix = (MIX_CHANNELS,) * 3
        self.encoder_layer4 = building_block(l3, SQUEEZE_OUT, SQUEEZE_KERNELS["c3"], SQUEEZE_STRIDES["c3"])
        self.encoder_layer3 = building_block(l2, SQUEEZE_OUT, SQUEEZE_KERNELS["c2"], SQUEEZE_STRIDES["c2"])
        self.encoder_layer2 = building_block(l1, SQUEEZE_OUT, SQUEEZE_KERNELS["c1"], SQUEEZE_STRIDES["c1"])
        self.encoder_layer4to3 = building_block(MIX_CHANNELS, mix, (3, 3, 3), (1, 1, 1))
        self.encoder_layer3to2 = building_block(MIX_CHANNELS, mix, (3, 3, 3), (1, 1, 1))
        self.decoder1 = nn.Sequential(
            nn.Conv2d(MIX_CHANNELS, 128, 3, padding=1), nn.ReLU(),
            nn.Conv2d(128, 64, 3, padding=1), nn.ReLU(),
        )
        self.decoder2 = nn.Sequential(
            nn.Conv2d(64, 64, 3, padding=1), nn.ReLU(),
            nn.Conv2d(64, 2, 3, padding=1),
        )

    def squeeze(self, c3: torch.Tensor, c2: torch.Tensor, c1: torch.Tensor):
        """(N, L_p, Ha_p, Wa_p, Hb_p, Wb_p) per level -> (N, 128, Ha_p, Wa_p, hb, wb)."""
        return self.encoder_layer4(c3), self.encoder_layer3(c2), self.encoder_layer2(c1)

    def mix(self, s3: torch.Tensor, s2: torch.Tensor, s1: torch.Tensor) -> torch.Tensor:
        """Squeezed levels -> (N, 128, Ha1, Wa1), the support dims averaged out."""
        if not (s3.shape[-2:] == s2.shape[-2:] == s1.shape[-2:]):
            raise ValueError(
                "the squeezed support grids differ across pyramid levels "
                f"({tuple(s3.shape[-2:])}, {tuple(s2.shape[-2:])}, {tuple(s1.shape[-2:])}); "
                "this image size does not give a valid HSNet pyramid"
            )
        m = self.encoder_layer4to3(upsample_query_dims(s3, s2.shape[2:4]) + s2)  # (N, 128, Ha2, Wa2, hb, wb)
        m = self.encoder_layer3to2(upsample_query_dims(m, s1.shape[2:4]) + s1)  # (N, 128, Ha1, Wa1, hb, wb)
        return m.mean(dim=(-2, -1))  # (N, 128, Ha1, Wa1)

    def decode(self, encoded: torch.Tensor) -> torch.Tensor:
        """(N, 128, h, w) -> logits (N, 2, 2h, 2w)."""
        x = self.decoder1(encoded)  # (N, 64, h, w)
        h, w = x.shape[-2:]
        x = F.interpolate(x, size=(2 * h, 2 * w), mode="bilinear", align_corners=True)
        return self.decoder2(x)

    def forward(self, c3: torch.Tensor, c2: torch.Tensor, c1: torch.Tensor) -> torch.Tensor:
        return self.decode(self.mix(*self.squeeze(c3, c2, c1)))
