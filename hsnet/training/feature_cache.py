"""Frozen-backbone features of a fixed image pool, so the learner trains without the backbone.

The backbone is frozen, so an image's features never change during training. For each
image of a pool we run the backbone once and keep, for every tapped layer l (stacked per
pyramid level, deepest first, as ``HSNet.encode_support`` does),

    n_l(x) = ||f_l(x)||_2 over channels                 (N, L, 1, h, w)  float32
    u_l(x) = f_l(x) / (n_l(x) + eps)                    (N, L, C, h, w)  float16 by default

``u`` is exactly what ``HSNet.encode_query`` returns (eps = 1e-5). A support's masked,
normalised features follow from (u, n) and any mask m >= 0 resized to the layer (the
model's own ``resize_masks``), without the backbone:

    m f / (||m f|| + eps) = m (n + eps) u / (m n + eps)

so any image of the pool can serve as query or as support, and training pairs are drawn
afresh each step among the pool's images of one class (:class:`PairSampler`). Per step
the cost is the correlation and the learner only.

Memory, per image: (sum_l C_l h_l w_l) values of the cache dtype. ResNet50 (C = 512 x 4,
1024 x 6, 2048 x 3 at S/8, S/16, S/32): 35,712 S^2 / 64 values, i.e. at float16
0.73 MB at S = 64, 1.14 MB at 96, 2.0 MB at 128, 20 MB at 400 (float32 doubles it).
A pool of 1000 episodes (2000 images) at 96 takes about 2.3 GB: practical up to ~128;
at 400 caching is not (train on a GPU without the cache there). float16 rounds u to
about 3 significant digits, which training tolerates; ``--cache-dtype float32`` makes
the cached path equal the model's to float32 rounding.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, List, Sequence, Tuple

import numpy as np
import torch
from torch.nn import functional as F

from ...runtime.image_size import level_sizes
from ..backbone_features import backbone_spec, split_levels
from ..correlation import NORM_EPS, level_correlation
from ..data.episode import Episode
from ..mask_resize import resize_masks

CACHE_DTYPES = {"float16": torch.float16, "float32": torch.float32}


def bytes_per_image(backbone: str, img_size: int, dtype: str = "float16") -> int:
    """Bytes one cached image takes (features; norms and labels are negligible)."""
    spec = backbone_spec(backbone)
    sides = level_sizes(img_size, backbone)
    values = sum(n_layers * ch * side * side
                 for n_layers, ch, side in zip(spec.layers_per_level, spec.channels_per_level, sides))
    return values * torch.tensor([], dtype=CACHE_DTYPES[dtype]).element_size()


@dataclass
class PoolImage:
    """One image of a pool: (H, W, 3) uint8, its label map (H, W) {0, 1, 255}, class."""

    image: np.ndarray
    label: np.ndarray
    class_id: int
    name: str


def pool_images(episodes: Iterable[Episode], dedupe: bool = True) -> List[PoolImage]:
    """Every query and support image of ``episodes`` (each (name, class) once if ``dedupe``).

    Query label maps keep the ignore label; support masks are {0, 1}.
    """
    seen, items = set(), []
    for ep in episodes:
        pairs = [(ep.query_image, ep.query_mask, ep.query_name)]
        pairs += list(zip(ep.support_images, ep.support_masks, ep.support_names))
        for image, label, name in pairs:
            key = (name, int(ep.class_id))
            if dedupe and key in seen:
                continue
            seen.add(key)
            items.append(PoolImage(image, label, int(ep.class_id), name))
    return items


@dataclass
class FeatureStore:
    """Cached (u, n) of N images at network side ``size``, plus labels and classes."""

    unit: List[torch.Tensor]  # per level, deepest first: (N, L, C, h, w) cache dtype
    norms: List[torch.Tensor]  # per level: (N, L, 1, h, w) float32
    labels: torch.Tensor  # (N, S, S) uint8 {0, 1, 255}
    classes: torch.Tensor  # (N,) int64
    size: int

    def __len__(self) -> int:
        return int(self.classes.shape[0])

    @property
    def nbytes(self) -> int:
        tensors = [*self.unit, *self.norms, self.labels, self.classes]
        return sum(t.numel() * t.element_size() for t in tensors)

    def query_levels(self, idx: torch.Tensor, device=None) -> Tuple[torch.Tensor, ...]:
        """Normalised query features, as ``encode_query``: 3 x (B, L, C, h, w) float32."""
        return tuple(u[idx].to(device=device, dtype=torch.float32) for u in self.unit)

    def support_levels(self, idx: torch.Tensor, device=None) -> Tuple[torch.Tensor, ...]:
        """Masked, normalised support features, as ``encode_support`` with K = 1:
        3 x (B, 1, L, C, h, w) float32."""
        masks = (self.labels[idx] == 1).to(device=device, dtype=torch.float32)  # (B, S, S)
        out = []
        for u, n in zip(self.unit, self.norms):
            unit = u[idx].to(device=device, dtype=torch.float32)  # (B, L, C, h, w)
            norm = n[idx].to(device=device)  # (B, L, 1, h, w)
            m = resize_masks(masks, unit.shape[-2:])[:, None, None]  # (B, 1, 1, h, w)
            scale = m * (norm + NORM_EPS) / (m * norm + NORM_EPS)  # (B, L, 1, h, w)
            out.append((unit * scale).unsqueeze(1))  # (B, 1, L, C, h, w)
        return tuple(out)


@torch.no_grad()
def build_feature_store(model, images: Sequence[PoolImage], size: int, dtype: str = "float16",
                        batch_size: int = 16, device=None, progress: bool = True,
                        desc: str = "caching features") -> FeatureStore:
    """Run the frozen backbone once over ``images`` at network side ``size``."""
    from tqdm import tqdm

    from ...runtime.preprocess import preprocess_image
    from ..evaluation.evaluate import network_size_label

    spec = model.spec
    sides = level_sizes(size, model.backbone_name)
    n = len(images)
    cache_dtype = CACHE_DTYPES[dtype]
    shapes = [(n_layers, ch, side, side)
              for n_layers, ch, side in zip(spec.layers_per_level, spec.channels_per_level, sides)][::-1]
    unit = [torch.empty((n, *s), dtype=cache_dtype) for s in shapes]  # deepest first
    norms = [torch.empty((n, s[0], 1, s[2], s[3]), dtype=torch.float32) for s in shapes]
    labels = torch.from_numpy(np.stack([network_size_label(im.label, size) for im in images]))  # (N, S, S)
    classes = torch.tensor([im.class_id for im in images], dtype=torch.int64)
    model.backbone.eval()
    for start in tqdm(range(0, n, batch_size), desc=desc, unit="batch", disable=not progress):
        chunk = images[start:start + batch_size]
        x = torch.from_numpy(np.stack([preprocess_image(im.image, size) for im in chunk])).to(device)  # (b, 3, S, S)
        feats = model.backbone.hypercolumn_features(x)
        for level, (u, nrm) in enumerate(zip(unit, norms)):
            layers = split_levels(feats, spec)[2 - level]
            f = torch.stack(layers, dim=1)  # (b, L, C, h, w)
            norm = f.norm(p=2, dim=2, keepdim=True)  # (b, L, 1, h, w)
            u[start:start + len(chunk)] = (f / (norm + NORM_EPS)).to("cpu", cache_dtype)
            nrm[start:start + len(chunk)] = norm.to("cpu", torch.float32)
    return FeatureStore(unit, norms, labels, classes, size)


def store_logits(model, queries: FeatureStore, q_idx: torch.Tensor, supports: FeatureStore,
                 s_idx: torch.Tensor, device=None) -> torch.Tensor:
    """1-shot logits (B, 1, 2, S, S) of query images ``q_idx`` with supports ``s_idx``.

    The learner half of ``HSNet.forward_with_support``, fed from the cache.
    """
    query = queries.query_levels(q_idx, device)
    support = supports.support_levels(s_idx, device)
    pyramid = [level_correlation(q, s) for q, s in zip(query, support)]  # (B, L_p, ha, wa, hb, wb)
    logits = model.hpn_learner(*pyramid)  # (B, 2, S/4, S/4)
    size = queries.size
    logits = F.interpolate(logits, size=(size, size), mode="bilinear", align_corners=True)
    return logits.reshape(len(q_idx), 1, 2, size, size)


class PairSampler:
    """Draws (query, support) index pairs of one class, query != support, from a pool.

    Query: uniform over the images whose class has at least two images; support: uniform
    over the other images of its class. Uses the caller's ``RandomState``.
    """

    def __init__(self, classes: torch.Tensor) -> None:
        classes = classes.numpy()
        self.members = {int(c): np.flatnonzero(classes == c) for c in np.unique(classes)}
        self.queries = np.concatenate([idx for idx in self.members.values() if len(idx) >= 2] or [np.zeros(0, int)])
        if len(self.queries) == 0:
            from ...errors import UserError

            raise UserError("the feature-cache pool has no class with two images: enlarge --cache-episodes")
        self.classes = classes

    def sample(self, batch: int, rng: np.random.RandomState) -> Tuple[torch.Tensor, torch.Tensor]:
        q = self.queries[rng.randint(len(self.queries), size=batch)]
        s = np.empty_like(q)
        for i, qi in enumerate(q):
            members = self.members[int(self.classes[qi])]  # sorted, contains qi
            j = rng.randint(len(members) - 1)  # among the len - 1 others
            s[i] = members[j + 1] if members[j] >= qi else members[j]
        return torch.from_numpy(q), torch.from_numpy(s)
