"""Episodes -> network tensors, with the same pure functions the runtime and eval use.

For network side S, an :class:`~hsnet_deploy.hsnet.data.Episode` becomes

    query_img      (3, S, S)     float32   preprocess_image (PIL bilinear, ImageNet norm)
    support_imgs   (K, 3, S, S)  float32   preprocess_image
    support_masks  (K, S, S)     float32   preprocess_mask (legacy nearest, {0, 1})
    query_label    (S, S)        uint8     network_size_label (legacy nearest, {0, 1, 255})

and :func:`collate_episodes` stacks B of them into torch tensors with a leading batch
axis. The training target is ``query_label`` with the ignore label 255 counted as
background, as the official training does (the ignore label only matters to the metric).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..data.episode import IGNORE_LABEL, Episode
from ..evaluation.evaluate import network_size_label


@dataclass
class EpisodeArrays:
    """One episode at the network size (numpy; shapes in the module docstring)."""

    query_img: np.ndarray
    support_imgs: np.ndarray
    support_masks: np.ndarray
    query_label: np.ndarray
    class_id: int


def episode_arrays(episode: Episode, size: int) -> EpisodeArrays:
    from ...runtime.preprocess import preprocess_image, preprocess_support

    support_imgs, support_masks = preprocess_support(episode.support_images, episode.support_masks, size)
    return EpisodeArrays(
        query_img=preprocess_image(episode.query_image, size),  # (3, S, S)
        support_imgs=support_imgs[0],  # (K, 3, S, S)
        support_masks=support_masks[0],  # (K, S, S)
        query_label=network_size_label(episode.query_mask, size),  # (S, S)
        class_id=int(episode.class_id),
    )


def training_target(label):
    """(…, S, S) labels {0, 1, 255} -> int64 targets {0, 1}: 255 counts as background."""
    import torch

    label = torch.as_tensor(label)
    return (label == 1).long()


@dataclass
class EpisodeBatch:
    """B episodes as torch tensors (CPU)."""

    query_img: "torch.Tensor"  # (B, 3, S, S) float32
    support_imgs: "torch.Tensor"  # (B, K, 3, S, S) float32
    support_masks: "torch.Tensor"  # (B, K, S, S) float32
    query_label: "torch.Tensor"  # (B, S, S) uint8 {0, 1, 255}
    class_ids: "torch.Tensor"  # (B,) int64

    def to(self, device) -> "EpisodeBatch":
        return EpisodeBatch(*(t.to(device) for t in (self.query_img, self.support_imgs, self.support_masks,
                                                      self.query_label, self.class_ids)))


def collate_episodes(episodes: Sequence[Episode], size: int) -> EpisodeBatch:
    """Stack episodes (same K) into an :class:`EpisodeBatch` at network side ``size``."""
    import torch

    arrays = [episode_arrays(e, size) for e in episodes]
    return EpisodeBatch(
        query_img=torch.from_numpy(np.stack([a.query_img for a in arrays])),
        support_imgs=torch.from_numpy(np.stack([a.support_imgs for a in arrays])),
        support_masks=torch.from_numpy(np.stack([a.support_masks for a in arrays])),
        query_label=torch.from_numpy(np.stack([a.query_label for a in arrays])),
        class_ids=torch.tensor([a.class_id for a in arrays], dtype=torch.int64),
    )


__all__ = ["EpisodeArrays", "EpisodeBatch", "episode_arrays", "collate_episodes", "training_target", "IGNORE_LABEL"]
