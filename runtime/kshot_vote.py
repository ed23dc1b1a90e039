"""The official K-shot vote, one rule written once per framework, side by side.

Each shot predicts a mask by per-pixel argmax (a tie goes to background); with v(p) the
number of shots voting foreground at pixel p and V = max(max_p v(p), 1) per image,

    mask(p) = 1  if v(p) / V >= 0.5  else 0,   i.e.  2·v(p) >= V   (exact in integers).

The threshold is relative to the best-supported pixel of this image, not to K: with
K = 5 and no pixel reaching more than 2 votes, a pixel with 1 vote is foreground; with
one shot this is the argmax; if no pixel gets a vote the mask is empty.

    kshot_vote(logits)        numpy (K, 2, h, w) -> (h, w) uint8   the runtime's post-processing
    kshot_vote_torch(logits)  torch (B, K, 2, H, W) -> (B, H, W) int64   the PyTorch model
    kshot_vote_graph(logits)  torch (B, K, 2, H, W) -> (B, H, W) uint8   traced into the ONNX graphs

The graph form is written for TensorRT: channels taken with slices (``1:2``, never
``[:, :, 1]``, which exports as Gather), votes counted in float32 (small integers, held
exactly), no ArgMax and no integer arithmetic. The torch forms use tensor methods only,
so this module imports no torch and the runtime stays torch-free; the tests run all
three on the same logits.
"""

from __future__ import annotations

import numpy as np

from ..errors import UserError


def kshot_vote(logits: np.ndarray) -> np.ndarray:
    """(K, 2, h, w) logits -> (h, w) uint8 mask in {0, 1}."""
    logits = np.asarray(logits)
    if logits.ndim != 4 or logits.shape[1] != 2 or logits.shape[0] < 1:
        raise UserError(f"expected logits of shape (K, 2, h, w), got {tuple(logits.shape)}")
    foreground = logits[:, 1] > logits[:, 0]  # (K, h, w) bool
    votes = foreground.sum(axis=0, dtype=np.int64)  # (h, w)
    max_vote = max(int(votes.max(initial=0)), 1)
    return (2 * votes >= max_vote).astype(np.uint8)


def kshot_vote_torch(logits):
    """torch logits (B, K, 2, H, W) -> mask (B, H, W) int64 in {0, 1}."""
    votes = (logits[:, :, 1] > logits[:, :, 0]).sum(dim=1)  # (B, H, W)
    max_vote = votes.flatten(1).amax(dim=1).clamp(min=1)  # (B,)
    return (2 * votes >= max_vote.view(-1, 1, 1)).long()


def kshot_vote_graph(logits):
    """torch logits (B, K, 2, H, W) float -> mask (B, H, W) uint8, as graph ops:
    Slice, Greater, Cast, ReduceSum, ReduceMax, Clip, GreaterOrEqual, Cast."""
    fg = (logits[:, :, 1:2] > logits[:, :, 0:1]).float()  # (B, K, 1, H, W)
    votes = fg.sum(dim=(1, 2))  # (B, H, W)
    max_vote = votes.amax(dim=(1, 2), keepdim=True).clamp(min=1.0)  # (B, 1, 1)
    return (2.0 * votes >= max_vote).byte()  # (B, H, W)
