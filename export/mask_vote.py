"""The official K-shot vote as graph ops: logits (B, K, 2, H, W) -> mask (B, H, W) uint8.

Same rule as :func:`hsnet_deploy.hsnet.kshot_vote.kshot_vote` (docs/protocol.md, "K-shot vote"), written so that
TensorRT needs no ArgMax and no integer arithmetic:

    fg[b, k]  = logit1 > logit0                   Slice, Greater (a tie is background)
    votes[b]  = sum_k fg[b, k]                    Cast to float32, ReduceSum (exact: <= K)
    V[b]      = max(max_x votes[b](x), 1)         ReduceMax, Clip
    mask[b]   = 2 * votes[b] >= V[b]              GreaterOrEqual, Cast to uint8

Every value is a small integer held exactly in float32, so this equals the integer vote.
Channels are taken with slices (``1:2``), never ``[:, :, 1]``, which would export as Gather.
"""

from __future__ import annotations

import torch


def vote_mask(logits: torch.Tensor) -> torch.Tensor:
    """logits (B, K, 2, H, W) float -> mask (B, H, W) uint8 in {0, 1}."""
    fg = (logits[:, :, 1:2] > logits[:, :, 0:1]).to(torch.float32)  # (B, K, 1, H, W)
    votes = fg.sum(dim=(1, 2))  # (B, H, W)
    max_vote = votes.amax(dim=(1, 2), keepdim=True).clamp(min=1.0)  # (B, 1, 1)
    return (2.0 * votes >= max_vote).to(torch.uint8)  # (B, H, W)
