"""HSNet: hypercorrelation squeeze networks for few-shot segmentation.

    query (B, 3, H, W) ─ backbone ─ F_q ─┐
    supports (B, K, 3, H, W) ─ backbone ─ mask ─ F_s ─ correlation ─ C3, C2, C1 ─ learner ─ logits (B, K, 2, H, W)

The query's features are computed once and correlated with each of the K supports (the
supports go through the backbone as one batch of B*K); the learner then runs on B*K
correlation pyramids: one prediction per shot, combined by :func:`kshot_vote`.

The support side (backbone, masking, normalisation) is exposed as
:meth:`HSNet.encode_support` so it can be cached when the support set is fixed and
queries stream in: :meth:`HSNet.forward_with_support` then costs only the query
backbone, the correlation and the learner.

The backbone is frozen: it has no gradients and stays in eval mode even when the
learner trains. Attribute names (``backbone``, ``hpn_learner``) follow the official
checkpoints.
"""

from __future__ import annotations

import contextlib
from typing import Iterator

import torch
from torch import nn
from torch.nn import functional as F

from ..runtime.image_size import check_image_size
from ..runtime.kshot_vote import kshot_vote_torch as kshot_vote
from .backbone_features import backbone_spec, split_levels
from .correlation import (
    l2_normalize_channels,
    level_correlation,
    mask_and_normalize,
    query_rows,
    stack_rows,
    support_grid_correlation,
)
from .grid_layout import NATIVE, SUPPORT_GRIDS
from .learner import HPNLearner


class HSNet(nn.Module):
    trained_img_size = None  # the size the weights were trained at, when recorded (see provenance)

    def __init__(self, backbone: str = "resnet50"):
        super().__init__()
        self.spec = backbone_spec(backbone)
        self.backbone_name = backbone
        self.backbone = self.spec.build()
        self.hpn_learner = HPNLearner(tuple(reversed(self.spec.layers_per_level)))
        for p in self.backbone.parameters():
            p.requires_grad_(False)
        self.backbone.eval()

    def train(self, mode: bool = True) -> "HSNet":
        super().train(mode)
        self.backbone.eval()  # frozen BatchNorm statistics, always
        return self

    def _levels(self, feats: list[torch.Tensor], batch: tuple[int, ...]):
        """Stack each level's layers: -> (*batch, L_p, C_p, h_p, w_p), deepest level first."""
        l1, l2, l3 = split_levels(feats, self.spec)
        return tuple(torch.stack(level, dim=1).reshape(*batch, len(level), *level[0].shape[1:]) for level in (l3, l2, l1))

    def encode_support(self, support_imgs: torch.Tensor, support_masks: torch.Tensor):
        """Masked, L2-normalised support features of every tapped layer.

        support_imgs (B, K, 3, H, W), support_masks (B, K, H, W) ->
        (support_c3, support_c2, support_c1), each (B, K, L_p, C_p, h_p, w_p).
        """
        b, k, _, h, w = support_imgs.shape
        check_image_size(h, w, self.backbone_name)
        imgs = support_imgs.reshape(-1, 3, h, w)  # (B*K, 3, H, W)
        masks = support_masks.reshape(-1, h, w).to(imgs.dtype)  # (B*K, H, W)
        with torch.no_grad():
            feats = self.backbone.hypercolumn_features(imgs)
        feats = [mask_and_normalize(f, masks) for f in feats]
        return self._levels(feats, (b, k))

    def encode_query(self, query_img: torch.Tensor):
        """query_img (B, 3, H, W) -> normalised (query_c3, query_c2, query_c1), each (B, L_p, C_p, h_p, w_p)."""
        b, _, h, w = query_img.shape
        check_image_size(h, w, self.backbone_name)
        with torch.no_grad():
            feats = self.backbone.hypercolumn_features(query_img)
        return self._levels([l2_normalize_channels(f) for f in feats], (b,))

    def encode_query_rows(self, query_img: torch.Tensor):
        """query_img (B, 3, H, W) -> per level, deepest first: (L_p x (B, h_p*w_p, C_p) normalised
        rows, (h_p, w_p)), what :func:`support_grid_correlation` reads (no stacking)."""
        _, _, h, w = query_img.shape
        check_image_size(h, w, self.backbone_name)
        with torch.no_grad():
            feats = self.backbone.hypercolumn_features(query_img)
        grids = [tuple(int(d) for d in f.shape[-2:]) for f in feats]
        rows = [query_rows(l2_normalize_channels(f)) for f in feats]
        l1, l2, l3 = split_levels(list(zip(rows, grids)), self.spec)
        return tuple(([r for r, _ in level], level[0][1]) for level in (l3, l2, l1))

    def forward_with_support(self, query_img, support_c3, support_c2, support_c1) -> torch.Tensor:
        """query_img (B, 3, H, W) + cached support features -> logits (B, K, 2, H, W)."""
        b, _, h, w = query_img.shape
        support = (support_c3, support_c2, support_c1)
        layout = self.correlation_layout
        if self.hpn_learner.official_layout:
            pyramid = [self.correlate(q, s) for q, s in zip(self.encode_query(query_img), support)]  # NATIVE
        else:  # (B*K, ha, wa, L_p, hb, wb) in SUPPORT_GRIDS, from the query's rows
            pyramid = [support_grid_correlation(rows, grid, s) for (rows, grid), s in zip(self.encode_query_rows(query_img), support)]
        logits = self.hpn_learner(*pyramid, layout=layout)  # (B*K, 2, H/4, W/4)
        logits = F.interpolate(logits, size=(h, w), mode="bilinear", align_corners=True)
        return logits.reshape(b, -1, 2, h, w)

    @property
    def correlation_layout(self) -> str:
        """SUPPORT_GRIDS, where the learner squeezes; NATIVE under ``official_computation``."""
        return NATIVE if self.hpn_learner.official_layout else SUPPORT_GRIDS

    def correlate(self, query: torch.Tensor, support: torch.Tensor) -> torch.Tensor:
        """One pyramid level's correlation in ``correlation_layout``."""
        if self.hpn_learner.official_layout:
            return level_correlation(query, support)  # the official batched product, NATIVE
        return support_grid_correlation(stack_rows(query), query.shape[-2:], support)

    @contextlib.contextmanager
    def official_computation(self) -> Iterator["HSNet"]:
        """Inside: the official code's order of work (NATIVE layout everywhere, one batched
        correlation product); the benchmark's baseline. Same numbers (tested)."""
        previous = self.hpn_learner.official_layout
        self.hpn_learner.official_layout = True
        try:
            yield self
        finally:
            self.hpn_learner.official_layout = previous

    def forward(self, query_img: torch.Tensor, support_imgs: torch.Tensor, support_masks: torch.Tensor) -> torch.Tensor:
        """query (B, 3, H, W), supports (B, K, 3, H, W), masks (B, K, H, W) -> logits (B, K, 2, H, W)."""
        return self.forward_with_support(query_img, *self.encode_support(support_imgs, support_masks))

    @torch.no_grad()
    def predict_mask(self, query_img, support_imgs, support_masks) -> torch.Tensor:
        """-> (B, H, W) int64 in {0, 1}: one prediction per shot, combined by the K-shot vote."""
        return kshot_vote(self(query_img, support_imgs, support_masks))

    def learnable_parameter_counts(self) -> dict[str, int]:
        """Learnable parameters per learner block, and their total."""
        counts = {name: sum(p.numel() for p in block.parameters()) for name, block in self.hpn_learner.named_children()}
        counts["total"] = sum(counts.values())
        return counts
