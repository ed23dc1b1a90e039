"""HSNet's forward pass cut into named stages, built from the model's own pieces.

    pre-processing               images / masks -> network tensors (runtime functions)
    query backbone               model.encode_query: backbone.hypercolumn_features + L2 norm
    support backbone + masking   model.encode_support: backbone, mask resize, mask, L2 norm
    correlation                  model.correlate of each pyramid level (C3, C2, C1)
    squeezing blocks             model.hpn_learner.squeeze
    mixing blocks                model.hpn_learner.mix (support dims averaged out)
    decoder                      model.hpn_learner.decode + the resize to the input size
    post-processing              logits -> original size -> K-shot vote (runtime functions)

The three paths a benchmark runs:

    staged_official   the official code's way: every shot a full 1-shot forward pass
                      (query features recomputed K times)
    staged_episode    one batched K-shot pass: query once, K supports as one batch
    staged_query      the cached-support path: query backbone + correlation + learner

Each stage runs inside ``observer.stage(name)``: a timer measures it, a cost counter
attributes FLOPs to it; the default observer does nothing. A test checks that every path
returns exactly what ``model(...)`` / ``model.forward_with_support(...)`` return.
"""

from __future__ import annotations

import contextlib
from typing import Iterator

import torch
from torch.nn import functional as F

PRE = "pre-processing"
QUERY_BACKBONE = "query backbone"
SUPPORT_BACKBONE = "support backbone + masking"
CORRELATION = "correlation"
SQUEEZE = "squeezing blocks"
MIX = "mixing blocks"
DECODER = "decoder"
POST = "post-processing"
NETWORK = "network"  # a backend timed as a whole (onnxruntime's timed episodes): the whole graph
UNATTRIBUTED = "unattributed"  # profiled node time no stage rule reached (onnxruntime_stages)

NETWORK_STAGES = (QUERY_BACKBONE, SUPPORT_BACKBONE, CORRELATION, SQUEEZE, MIX, DECODER)
STAGES = (PRE,) + NETWORK_STAGES + (UNATTRIBUTED, NETWORK, POST)  # display order


class StageObserver:
    """Sees every stage of a staged pass; the base class ignores them."""

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[None]:
        yield

    def count_correlation(self, query: torch.Tensor, support: torch.Tensor) -> None:
        """Called once per pyramid level with the tensors ``model.correlate`` receives."""


def staged_query(model, query_img: torch.Tensor, support_feats, observer: StageObserver) -> torch.Tensor:
    """query (B, 3, H, W) + cached (support_c3, support_c2, support_c1) -> logits (B, K, 2, H, W)."""
    with observer.stage(QUERY_BACKBONE):
        query_feats = model.encode_query(query_img)  # 3 x (B, L_p, C_p, h_p, w_p)
    return _correlate_and_learn(model, query_img.shape, query_feats, support_feats, observer)


def staged_episode(model, query_img, support_imgs, support_masks, observer: StageObserver) -> torch.Tensor:
    """Batched K-shot: query (B,3,H,W), supports (B,K,3,H,W), masks (B,K,H,W) -> (B,K,2,H,W)."""
    with observer.stage(QUERY_BACKBONE):
        query_feats = model.encode_query(query_img)
    with observer.stage(SUPPORT_BACKBONE):
        support_feats = model.encode_support(support_imgs, support_masks)  # 3 x (B, K, L_p, C_p, h_p, w_p)
    return _correlate_and_learn(model, query_img.shape, query_feats, support_feats, observer)


def staged_official(model, query_img, support_imgs, support_masks, observer: StageObserver) -> torch.Tensor:
    """The official K-shot loop: K separate 1-shot passes, each recomputing the query."""
    shots = support_imgs.shape[1]
    per_shot = [
        staged_episode(model, query_img, support_imgs[:, k : k + 1], support_masks[:, k : k + 1], observer)
        for k in range(shots)
    ]  # K x (B, 1, 2, H, W)
    return torch.cat(per_shot, dim=1)


def _correlate_and_learn(model, query_shape, query_feats, support_feats, observer: StageObserver) -> torch.Tensor:
    b, _, h, w = query_shape
    with observer.stage(CORRELATION):
        pyramid = []
        for q, s in zip(query_feats, support_feats):
            observer.count_correlation(q, s)
            pyramid.append(model.correlate(q, s))  # (B*K, ha, wa, L_p, hb, wb) in model.correlation_layout
    learner = model.hpn_learner
    with observer.stage(SQUEEZE):
        squeezed = learner.squeeze(*pyramid, layout=model.correlation_layout)  # 3 x (B*K, hb', wb', 128, ha_p, wa_p)
    with observer.stage(MIX):
        mixed = learner.mix(*squeezed)  # (B*K, 128, ha_1, wa_1)
    with observer.stage(DECODER):
        logits = learner.decode(mixed)  # (B*K, 2, H/4, W/4)
        logits = F.interpolate(logits, size=(int(h), int(w)), mode="bilinear", align_corners=True)
    return logits.reshape(b, -1, 2, int(h), int(w))
