"""Support masking, cosine normalisation and the 4D hypercorrelation.

For a query feature map F_q (C, Ha, Wa) and a masked support map F_s = F ⊙ m
(C, Hb, Wb), with x̂ = x / (‖x‖₂ + 1e-5) taken over channels at each position,

    C(xa, xb) = ReLU( F̂_q(xa) · F̂_s(xb) )          (B, L, Ha, Wa, Hb, Wb)

stacking the L layers of one pyramid level as channels. The support side (masking and
normalisation) depends only on the support set, so it is computed once and cached for
streaming queries.

The learner squeezes in the SUPPORT_GRIDS layout (B, Ha, Wa, L, Hb, Wb) (:mod:`grid_layout`),
so :func:`support_grid_correlation` writes that layout directly. What is fastest differs
by backend (2 threads, ResNet50 C1 at 400x400: 4 layers of 2500 x 512 x 2500): in the
exported graph, one (Ha·Wa x C) @ (C x Hb·Wb) product per layer stacked by a Concat on
the axis between the two grids (onnxruntime: 198 ms; one batched MatMul 278 ms plus the
40 MB permute after it); in eager PyTorch, the batched product and one layout copy
(320 ms; per layer + cat 434 ms). Same products, same values.

The query side enters as rows: each layer's normalised map (B, C, h, w) permuted to
(B, h·w, C) right where it is computed (:func:`query_rows`), the left operand of its
product as it is. Stacking the layers into (B, L, C, h, w) first and transposing the
stack, then splitting it again per product, was a Concat, a Transpose and a Split over
every query feature; without them the 400x400 query graph ran 258 -> 244 ms in
onnxruntime and 247 -> 236 ms in OpenVINO (the run quoted in :mod:`grid_layout`), with
identical logits. The stacks
stay for the official order of work and the per-stage benchmark (:meth:`HSNet.correlate`).
"""

from __future__ import annotations

from typing import Sequence

import torch

from .grid_layout import NATIVE, SUPPORT_GRIDS, convert
from .mask_resize import resize_masks

NORM_EPS = 1e-5


def l2_normalize_channels(feat: torch.Tensor) -> torch.Tensor:
    """feat (N, C, h, w) divided by (its L2 norm over C + 1e-5) at each position."""
    return feat / (feat.norm(p=2, dim=1, keepdim=True) + NORM_EPS)


def mask_and_normalize(feat: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """feat (N, C, h, w), masks (N, H, W) in {0, 1} -> masked, normalised (N, C, h, w)."""
    resized = resize_masks(masks, feat.shape[-2:])  # (N, h, w)
    return l2_normalize_channels(feat * resized.unsqueeze(1))


def query_rows(feat: torch.Tensor) -> torch.Tensor:
    """A normalised query map (B, C, h, w) as rows (B, h·w, C): one row per position."""
    ch, h, w = (int(d) for d in feat.shape[1:])
    return feat.permute(0, 2, 3, 1).reshape(-1, h * w, ch)


def support_grid_correlation(rows: Sequence[torch.Tensor], grid: tuple[int, int], support: torch.Tensor) -> torch.Tensor:
    """Hypercorrelation of one pyramid level, in the SUPPORT_GRIDS layout.

    rows    L x (B, Ha*Wa, C)      normalised query features of the level's L layers, as rows
    grid    (Ha, Wa)               the query grid the rows were taken from
    support (B, K, L, C, Hb, Wb)   normalised, masked support features
    returns (B*K, Ha, Wa, L, Hb, Wb)
    """
    ha, wa = (int(d) for d in grid)
    layers = len(rows)
    if not torch.jit.is_tracing():
        # eager PyTorch: the batched product, then one layout copy (320 ms; per layer + cat: 434)
        query = torch.stack(rows, dim=1).unsqueeze(1)  # (B, 1, L, Ha*Wa, C)
        s = support.flatten(-2)  # (B, K, L, C, Hb*Wb)
        corr = torch.matmul(query, s).clamp_(min=0)  # (B, K, L, Ha*Wa, Hb*Wb)
        native = corr.reshape(-1, layers, ha, wa, *support.shape[-2:])
        return convert(native, NATIVE, SUPPORT_GRIDS).contiguous()
    # the exported graph: one product per layer and a Concat (onnxruntime: 198 ms; batched: 278 + copy)
    b, k, hb, wb = support.shape[0], support.shape[1], support.shape[-2], support.shape[-1]
    ch = rows[0].shape[-1]
    s = support.reshape(b, k, layers, ch, hb * wb)  # (B, K, L, C, Hb*Wb)
    pairs = zip(rows, s.split(1, dim=2))  # one Split, no index ops: (B, Ha*Wa, C), (B, K, 1, C, Hb*Wb)
    per_layer = [torch.matmul(q.reshape(b, 1, 1, ha * wa, ch), si).reshape(b, k, ha * wa, 1, hb * wb) for q, si in pairs]
    corr = torch.cat(per_layer, dim=3).clamp(min=0)  # (B, K, Ha*Wa, L, Hb*Wb)
    return corr.reshape(-1, ha, wa, layers, hb, wb)


def stack_rows(query: torch.Tensor) -> list[torch.Tensor]:
    """A stacked level (B, L, C, Ha, Wa) as its L row matrices (B, Ha*Wa, C) (eager use)."""
    return [query_rows(query[:, i]) for i in range(query.shape[1])]


def level_correlation(query: torch.Tensor, support: torch.Tensor) -> torch.Tensor:
    """The same correlation as the official code computes it: one batched product over the
    L layers, in the NATIVE layout (B*K, L, Ha, Wa, Hb, Wb)."""
    b, layers, ch, ha, wa = query.shape
    hb, wb = support.shape[-2:]
    q = query.reshape(b, 1, layers, ch, ha * wa).transpose(-1, -2)  # (B, 1, L, Ha*Wa, C)
    s = support.reshape(b, -1, layers, ch, hb * wb)  # (B, K, L, C, Hb*Wb)
    corr = torch.matmul(q, s).clamp_(min=0)  # (B, K, L, Ha*Wa, Hb*Wb): a fresh tensor, clamped in place
    return corr.reshape(-1, layers, ha, wa, hb, wb)
