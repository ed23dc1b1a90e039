"""Support masking, cosine normalisation and the 4D hypercorrelation.

For a query feature map F_q (C, Ha, Wa) and a masked support map F_s = F ⊙ m
(C, Hb, Wb), with x̂ = x / (‖x‖₂ + 1e-5) taken over channels at each position,

    C(xa, xb) = ReLU( F̂_q(xa) · F̂_s(xb) )          (B, L, Ha, Wa, Hb, Wb)

stacking the L layers of one pyramid level as channels. The support side (masking and
normalisation) depends only on the support set, so it is computed once and cached for
streaming queries.
"""

from __future__ import annotations

import torch

from .mask_resize import resize_masks

NORM_EPS = 1e-5


def l2_normalize_channels(feat: torch.Tensor) -> torch.Tensor:
    """feat (N, C, h, w) divided by (its L2 norm over C + 1e-5) at each position."""
    return feat / (feat.norm(p=2, dim=1, keepdim=True) + NORM_EPS)


def mask_and_normalize(feat: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """feat (N, C, h, w), masks (N, H, W) in {0, 1} -> masked, normalised (N, C, h, w)."""
    resized = resize_masks(masks, feat.shape[-2:])  # (N, h, w)
    return l2_normalize_channels(feat * resized.unsqueeze(1))


def level_correlation(query: torch.Tensor, support: torch.Tensor) -> torch.Tensor:
    """Hypercorrelation of one pyramid level.

    query   (B, L, C, Ha, Wa)      normalised query features of the level's L layers
    support (B, K, L, C, Hb, Wb)   normalised, masked support features
    returns (B*K, L, Ha, Wa, Hb, Wb)
    """
    b, layers, ch, ha, wa = query.shape
    hb, wb = support.shape[-2:]
    q = query.reshape(b, 1, layers, ch, ha * wa).transpose(-1, -2)  # (B, 1, L, Ha*Wa, C)
    s = support.reshape(b, -1, layers, ch, hb * wb)  # (B, K, L, C, Hb*Wb)
    corr = torch.matmul(q, s).clamp(min=0)  # (B, K, L, Ha*Wa, Hb*Wb)
    return corr.reshape(-1, layers, ha, wa, hb, wb)
