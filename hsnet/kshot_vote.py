"""The official K-shot vote (HSNet Sec. 4.5).

Each shot predicts a mask by per-pixel argmax (a tie goes to background). With v(x) the
number of shots voting foreground at pixel x and V = max(max_x v(x), 1) per image,

    mask(x) = 1  if v(x) / V >= 0.5  else 0,   i.e.  2·v(x) >= V   (exact in integers).

With one shot this is the argmax. If no pixel gets a vote, V = 1 and the mask is empty.
"""

from __future__ import annotations

import torch


def kshot_vote(logits: torch.Tensor) -> torch.Tensor:
    """logits (B, K, 2, H, W) -> mask (B, H, W) int64 in {0, 1}."""
    votes = (logits[:, :, 1] > logits[:, :, 0]).sum(dim=1)  # (B, H, W)
    max_vote = votes.flatten(1).amax(dim=1).clamp(min=1)  # (B,)
    return (2 * votes >= max_vote.view(-1, 1, 1)).long()
