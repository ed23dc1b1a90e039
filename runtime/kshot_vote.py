"""The official K-shot vote: one prediction per support shot, merged by majority.

For logits ``z`` of shape (K, 2, h, w):

    fg_k(p)   = 1 if z[k, 1, p] > z[k, 0, p] else 0      (argmax; a tie is background)
    votes(p)  = sum_k fg_k(p)
    max_vote  = max(max_p votes(p), 1)
    mask(p)   = 1 if votes(p) / max_vote >= 0.5 else 0

The threshold is relative to the best-supported pixel of this image, not to K: with
K = 5 and no pixel reaching more than 2 votes, a pixel with 1 vote is foreground.
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
    # votes / max_vote >= 0.5  <=>  2 * votes >= max_vote (exact in integers).
    return (2 * votes >= max_vote).astype(np.uint8)
