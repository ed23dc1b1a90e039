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

Layouts (:mod:`grid_layout`): the squeezing blocks read the correlation in SUPPORT_GRIDS,
where their strided support branch is a free reshape, and their first CP conv writes
SUPPORT_CHANNELS_LAST, where the rest of the block runs with every permute folded into a
conv; each squeezed level (the smallest tensor of its level) is moved once to QUERY_GRIDS
(one block transpose), where the mixing blocks' query branch, the
query-dim upsample (a plain 4-D bilinear resize over (B*Hb*Wb, C, Ha, Wa)) and the final
mean over the support dims need no copy, and their tiny support grids go through one 1x1
conv (``CenterPivotConv4d``). The numbers are the official computation's; only the order
in which they sit in memory changes. ``official_layout = True`` runs every block in
NATIVE the way the official code does (the benchmark's baseline).
"""

from __future__ import annotations

from typing import Optional

import torch
from torch import nn
from torch.nn import functional as F

from .center_pivot_conv import CenterPivotConv4d
from .grid_group_norm import GridGroupNorm
from .grid_layout import (
    NATIVE,
    QUERY_GRIDS,
    SUPPORT_CHANNELS_LAST,
    SUPPORT_GRIDS,
    convert,
    native_dims,
)

SQUEEZE_OUT = (16, 64, 128)
SQUEEZE_KERNELS = {"c3": (3, 3, 3), "c2": (5, 3, 3), "c1": (5, 5, 3)}
SQUEEZE_STRIDES = {"c3": (2, 2, 2), "c2": (4, 2, 2), "c1": (4, 4, 2)}
MIX_CHANNELS = 128
GROUPS = 4


def building_block(in_channels: int, out_channels, kernels, strides) -> nn.Sequential:
    layers: list[nn.Module] = []
    for out_ch, k, s in zip(out_channels, kernels, strides):
        layers += [CenterPivotConv4d(in_channels, out_ch, k, s), GridGroupNorm(GROUPS, out_ch), nn.ReLU()]
        in_channels = out_ch
    return nn.Sequential(*layers)


def run_block(block: nn.Sequential, x: torch.Tensor, layout: str, out_layout: Optional[str] = None) -> torch.Tensor:
    """[CP conv, GroupNorm, ReLU] x 3 on a correlation held in ``layout``; the first CP conv
    writes ``out_layout`` (default: the same) and the rest of the block runs there."""
    for layer in block:
        if isinstance(layer, nn.ReLU):
            x = layer(x)
        elif isinstance(layer, nn.GroupNorm):
            x = layer(x, layout)
        else:  # a 4D conv: CenterPivotConv4d (or the dense one tools/research swaps in)
            x = layer(x, layout, out_layout)
            layout = layout if out_layout is None else out_layout
    return x


def upsample_query_dims(x: torch.Tensor, size, layout: str = QUERY_GRIDS) -> torch.Tensor:
    """Bilinear (align_corners) resize of the query dims to ``size``, as a plain 4-D resize of
    the QUERY_GRIDS view (B*Hb*Wb, C, Ha, Wa); from NATIVE that is the official permute ->
    resize -> permute back."""
    h, w = int(size[0]), int(size[1])
    y = convert(x, layout, QUERY_GRIDS)
    _, hb, wb, ch, ha, wa = y.shape
    y = F.interpolate(y.reshape(-1, ch, ha, wa), size=(h, w), mode="bilinear", align_corners=True)  # (B*Hb*Wb, C, h, w)
    return convert(y.reshape(-1, hb, wb, ch, h, w), QUERY_GRIDS, layout)


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
        # True: every block in the official NATIVE layout, the way the official code runs
        # (the benchmark's baseline); the numbers are the same either way (tested)
        self.official_layout = False

    @property
    def mix_layout(self) -> str:
        """The layout squeeze() returns and mix() works in."""
        return NATIVE if self.official_layout else QUERY_GRIDS

    def squeeze(self, c3: torch.Tensor, c2: torch.Tensor, c1: torch.Tensor, layout: str = NATIVE):
        """Correlations in ``layout`` ((N, L_p, Ha_p, Wa_p, Hb_p, Wb_p) when NATIVE) -> per level
        (N, hb, wb, 128, Ha_p, Wa_p) in ``mix_layout`` (QUERY_GRIDS; NATIVE when official)."""
        blocks = (self.encoder_layer4, self.encoder_layer3, self.encoder_layer2)
        if self.official_layout:
            return tuple(run_block(block, convert(corr, layout, NATIVE), NATIVE) for block, corr in zip(blocks, (c3, c2, c1)))
        return tuple(
            convert(run_block(block, convert(corr, layout, SUPPORT_GRIDS), SUPPORT_GRIDS, SUPPORT_CHANNELS_LAST), SUPPORT_CHANNELS_LAST, QUERY_GRIDS)
            for block, corr in zip(blocks, (c3, c2, c1))
        )

    def mix(self, s3: torch.Tensor, s2: torch.Tensor, s1: torch.Tensor) -> torch.Tensor:
        """Squeezed levels (``mix_layout``) -> (N, 128, Ha1, Wa1), the support dims averaged out."""
        layout = self.mix_layout
        grids = [native_dims(t.shape, layout) for t in (s3, s2, s1)]  # (N, C, Ha, Wa, Hb, Wb) each
        if not (grids[0][4:] == grids[1][4:] == grids[2][4:]):
            raise ValueError(
                "the squeezed support grids differ across pyramid levels "
                f"({grids[0][4:]}, {grids[1][4:]}, {grids[2][4:]}); this image size does not give a valid HSNet pyramid"
            )
        m = run_block(self.encoder_layer4to3, upsample_query_dims(s3, grids[1][2:4], layout) + s2, layout)  # level 2's query grid
        m = run_block(self.encoder_layer3to2, upsample_query_dims(m, grids[2][2:4], layout) + s1, layout)  # level 1's
        return m.mean(dim=(-2, -1) if layout == NATIVE else (1, 2))  # (N, 128, Ha1, Wa1)

    def decode(self, encoded: torch.Tensor) -> torch.Tensor:
        """(N, 128, h, w) -> logits (N, 2, 2h, 2w)."""
        x = self.decoder1(encoded)  # (N, 64, h, w)
        h, w = x.shape[-2:]
        x = F.interpolate(x, size=(2 * h, 2 * w), mode="bilinear", align_corners=True)
        return self.decoder2(x)

    def forward(self, c3: torch.Tensor, c2: torch.Tensor, c1: torch.Tensor, layout: str = NATIVE) -> torch.Tensor:
        return self.decode(self.mix(*self.squeeze(c3, c2, c1, layout)))
