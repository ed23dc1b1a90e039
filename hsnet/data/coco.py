"""COCO-20i (Nguyen & Todorovic 2019) episodes, sampled exactly as the official HSNet test.

Layout: ``DATAPATH/COCO2014/{train2014,val2014}/NAME.jpg`` and
``DATAPATH/COCO2014/annotations/{train2014,val2014}/NAME.png`` (per-pixel class index + 1,
0 background). Split lists: ``splits_dir/coco/{trn,val}/foldN.pkl``, a pickled dict
``class (0-based int) -> list of 'val2014/NAME.jpg'`` (the official release's files;
pickle runs code on load, so only point this at split files you trust).

Protocol (official ``data/coco.py``, followed here):

- 80 classes, 4 folds; fold i tests classes {i + 4v : v = 0..19}; training the other 60.
- ``val``/``test`` read ``val/fold{i}.pkl``, ``trn`` reads ``trn/fold{i}.pkl``.
- Every episode ignores its index: class = ``np.random.choice(fold_classes, 1,
  replace=False)[0]``, then query = ``np.random.choice(images_of_class, 1, replace=False)[0]``,
  then K supports, each drawn the same way from the class's images and redrawn while
  equal to the query. Class lists are used in the pickle's order.
- Length: 1000 episodes for val/test; for trn the number of distinct images in the
  pickle (``n_episodes`` overrides).
- Masks: value class + 1 -> 1, anything else -> 0 (COCO has no ignore label).
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np

from ...errors import UserError
from .base import EpisodeDataset, binary_class_mask, choice_index, draw_supports
from .episode import Episode, EpisodeRef
from .image_io import check_same_size, read_label_values, read_rgb
from .split_files import require_dir, require_file

NFOLDS = 4
NCLASS = 80
TEST_EPISODES = 1000


def coco_fold_classes(fold: int) -> List[int]:
    """The 20 test classes (0-based) of a fold: fold + 4 v."""
    return [fold + NFOLDS * v for v in range(NCLASS // NFOLDS)]


class CocoDataset(EpisodeDataset):
    """COCO-20i episodes. ``split``: 'trn', 'val' or 'test' ('test' = 'val', as official)."""

    benchmark = "coco"

    def __init__(self, datapath: str | os.PathLike, splits_dir: str | os.PathLike, fold: int,
                 split: str = "test", shot: int = 1, seed: int = 0,
                 n_episodes: Optional[int] = None):
        self._set_episode_options(fold, NFOLDS, split, shot, seed, NCLASS)
        self.root = require_dir(Path(datapath) / "COCO2014", "COCO datapath (COCO2014 folder)")
        splits = require_dir(Path(splits_dir) / "coco", "COCO split folder")
        pkl = require_file(splits / self.split / f"fold{self.fold}.pkl", "COCO split file")
        self.class_images = _read_pickle(pkl)

        val_classes = coco_fold_classes(self.fold)
        self.class_ids = (val_classes if self.split == "val"
                          else [c for c in range(NCLASS) if c not in val_classes])
        for c in self.class_ids:
            if not self.class_images.get(c):
                raise UserError(f"COCO split file {pkl} lists no image for class {c}")

        if n_episodes is not None:
            self._length = int(n_episodes)
        elif self.split == "trn":
            self._length = len({n for names in self.class_images.values() for n in names})
        else:
            self._length = TEST_EPISODES
        self._start_plan()

    def sample_ref(self, index: int, rng: np.random.RandomState) -> EpisodeRef:
        cls = self.class_ids[choice_index(rng, len(self.class_ids))]
        pool = self.class_images[cls]
        query = pool[choice_index(rng, len(pool))]
        supports = draw_supports(rng, pool, query, self.shot,
                                 f"COCO class {cls} ({self.split}, fold {self.fold})")
        return EpisodeRef(query, supports, int(cls))

    def load(self, ref: EpisodeRef) -> Episode:
        label = ref.class_id + 1
        q_img, q_values = self._read_pair(ref.query_name)
        s_imgs, s_masks = [], []
        for name in ref.support_names:
            img, values = self._read_pair(name)
            s_imgs.append(img)
            s_masks.append(binary_class_mask(values, label))
        return Episode(q_img, binary_class_mask(q_values, label), s_imgs, s_masks,
                       ref.class_id, ref.query_name, list(ref.support_names))

    def _read_pair(self, name: str):
        img_path = self.root / name
        stem = name[:name.index(".jpg")] if ".jpg" in name else os.path.splitext(name)[0]
        mask_path = self.root / "annotations" / f"{stem}.png"
        img = read_rgb(img_path)
        values = read_label_values(mask_path)
        check_same_size(values, img, mask_path, img_path)
        return img, values


def _read_pickle(path: Path) -> Dict[int, List[str]]:
    try:
        with open(path, "rb") as f:
            data = pickle.load(f)
    except Exception as err:  # pickle raises many types on a bad file
        raise UserError(f"cannot read COCO split file {path}: {err}") from None
    if not isinstance(data, dict) or not all(
            isinstance(v, (list, tuple)) and all(isinstance(n, str) for n in v)
            for v in data.values()):
        raise UserError(f"COCO split file {path} is not a dict of class -> list of image names")
    try:
        return {int(k): list(v) for k, v in data.items()}
    except (TypeError, ValueError):
        raise UserError(f"COCO split file {path} has non-integer class keys") from None
