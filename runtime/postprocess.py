"""Network logits -> the user's mask, at the query's original size.

    logits (K, 2, S, S) --bilinear, align_corners=True--> (K, 2, h, w) --K-shot vote--> (h, w)

The resize comes before the vote, as in the official evaluation at original image size.
"""

from __future__ import annotations

import numpy as np

from .kshot_vote import kshot_vote
from .resize import resize_logits


def postprocess(logits: np.ndarray, original_size: tuple[int, int]) -> np.ndarray:
    """(K, 2, S, S) logits -> (h, w) uint8 {0, 1} mask at ``original_size`` = (h, w)."""
    return kshot_vote(resize_logits(logits, original_size))
