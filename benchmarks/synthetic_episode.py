"""Benchmark inputs: deterministic photos-sized images and masks, made on the spot.

Latency does not depend on image content, but pre-processing does depend on the
original size, so episodes are PASCAL-sized (375 x 500, h x w) uint8 RGB images with
ragged blob masks, as a user would pass them. A benchmark cycles through a few queries
against one fixed support set per K (the cached-support configurations need the
support set to stay put; the others re-process it every episode, as the official code
does).

The episodes are the toolkit's one :class:`~hsnet_deploy.hsnet.data.episode.Episode`
(class 0, named ``synthetic/...``); ``query_mask`` is a blob of the query's own, drawn
from a second generator so the images and support masks stay those of the one stream
(latency never reads it, it only makes every episode a valid, scorable one).
"""

from __future__ import annotations

import numpy as np

from ..hsnet.data.episode import Episode

ORIGINAL_SIZE = (375, 500)  # (h, w) of a typical PASCAL VOC photo
QUERY_POOL = 4  # distinct query images cycled through
SYNTHETIC_CLASS = 0


def _image(rng: np.random.Generator, size: tuple[int, int]) -> np.ndarray:
    h, w = size
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    base = rng.uniform(0, 255, size=3).astype(np.float32)
    waves = 60 * np.sin(xx[..., None] * rng.uniform(0.01, 0.1, 3) + yy[..., None] * rng.uniform(0.01, 0.1, 3))
    noise = rng.normal(0, 20, size=(h, w, 3))
    return np.clip(base + waves + noise, 0, 255).astype(np.uint8)  # (h, w, 3)


def _blob_mask(rng: np.random.Generator, size: tuple[int, int]) -> np.ndarray:
    h, w = size
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    cy, cx = rng.uniform(0.3, 0.7) * h, rng.uniform(0.3, 0.7) * w
    radius = rng.uniform(0.15, 0.3) * min(h, w)
    wobble = np.sin(xx * 0.11 + yy * 0.07 + rng.uniform(0, 6)) * radius * 0.2
    return (np.hypot(yy - cy, xx - cx) < radius + wobble).astype(np.uint8)  # (h, w), never empty


def make_episodes(shots: int, seed: int = 0, size: tuple[int, int] = ORIGINAL_SIZE, queries: int = QUERY_POOL) -> list[Episode]:
    """``queries`` episodes sharing one support set of ``shots`` images (the same arrays)."""
    rng = np.random.default_rng([seed, shots])
    query_mask_rng = np.random.default_rng([seed, shots, 1])  # apart: ``rng`` draws as it always did
    supports = [_image(rng, size) for _ in range(shots)]
    masks = [_blob_mask(rng, size) for _ in range(shots)]
    support_names = [f"synthetic/support_{k}" for k in range(shots)]
    return [
        Episode(
            query_image=_image(rng, size),
            query_mask=_blob_mask(query_mask_rng, size),
            support_images=list(supports),
            support_masks=list(masks),
            class_id=SYNTHETIC_CLASS,
            query_name=f"synthetic/query_{q}",
            support_names=list(support_names),
        )
        for q in range(queries)
    ]
