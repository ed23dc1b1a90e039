"""PASCAL-5i (Shaban et al. 2017) episodes, sampled exactly as the official HSNet test.

Layout: ``DATAPATH/VOC2012/JPEGImages/ID.jpg`` and ``DATAPATH/VOC2012/SegmentationClassAug/ID.png``
(SBD-augmented labels, palette indices = class 1..20, 0 background, 255 boundary).
Split lists: ``splits_dir/pascal/{trn,val}/foldN.txt``, one ``ID__C`` per line, C 1-based.

Protocol (official ``data/pascal.py``, followed here):

- 20 classes, 4 folds; fold i tests classes {5i, ..., 5i+4} (0-based); training uses
  the other 15.
- ``val``/``test`` read ``val/fold{i}.txt``; ``trn`` concatenates ``trn/fold{j}.txt`` of
  the three other folds in increasing j. The line list, in file order, is the query list.
- Per-class image lists: the names of the lines of that class, in line order
  (duplicates kept).
- Episode n: query = line ``n mod len(lines)``, class = that line's C - 1. Then K
  supports, each ``np.random.choice(class_list, 1, replace=False)[0]`` redrawn while equal
  to the query. Nothing else consumes randomness.
- Length: 1000 episodes for val/test, one per line for trn (``n_episodes`` overrides).
- Masks: value C -> 1, 255 -> ignore (query only; 255 in our query mask), anything else
  -> 0. Support masks are {0, 1} (boundary -> 0).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import numpy as np

from ...errors import UserError
from .base import EpisodeDataset, binary_class_mask, draw_supports
from .episode import IGNORE_LABEL, Episode, EpisodeRef
from .image_io import check_same_size, read_label_values, read_rgb
from .split_files import read_split_lines, require_dir, require_file

NFOLDS = 4
NCLASS = 20
TEST_EPISODES = 1000


def pascal_fold_classes(fold: int) -> List[int]:
    """The 5 test classes (0-based) of a fold: 5i .. 5i+4."""
    per_fold = NCLASS // NFOLDS
    return [fold * per_fold + i for i in range(per_fold)]


class PascalDataset(EpisodeDataset):
    """PASCAL-5i episodes. ``split``: 'trn', 'val' or 'test' ('test' = 'val', as official)."""

    benchmark = "pascal"

    def __init__(self, datapath: str | os.PathLike, splits_dir: str | os.PathLike, fold: int,
                 split: str = "test", shot: int = 1, seed: int = 0,
                 n_episodes: Optional[int] = None):
        self._set_episode_options(fold, NFOLDS, split, shot, seed, NCLASS)
        root = require_dir(datapath, "PASCAL datapath")
        self.img_dir = require_dir(root / "VOC2012" / "JPEGImages", "PASCAL image folder")
        self.ann_dir = require_dir(root / "VOC2012" / "SegmentationClassAug",
                                   "PASCAL label folder")
        splits = require_dir(Path(splits_dir) / "pascal", "PASCAL split folder")

        val_classes = pascal_fold_classes(self.fold)
        if self.split == "val":
            self.class_ids = val_classes
            folds = [self.fold]
        else:
            self.class_ids = [c for c in range(NCLASS) if c not in val_classes]
            folds = [f for f in range(NFOLDS) if f != self.fold]
        self.lines: List[Tuple[str, int]] = []  # (image id, 0-based class)
        for f in folds:
            path = require_file(splits / self.split / f"fold{f}.txt", "PASCAL split file")
            self.lines += [_parse_line(line, path) for line in read_split_lines(path)]
        if not self.lines:
            raise UserError(f"PASCAL split {self.split} fold {self.fold} lists no images")
        self.class_images: Dict[int, List[str]] = {c: [] for c in range(NCLASS)}
        for name, cls in self.lines:
            self.class_images[cls].append(name)

        self._length = int(n_episodes) if n_episodes is not None else (
            len(self.lines) if self.split == "trn" else TEST_EPISODES)
        self._start_plan()

    def sample_ref(self, index: int, rng: np.random.RandomState) -> EpisodeRef:
        query, cls = self.lines[index % len(self.lines)]
        supports = draw_supports(rng, self.class_images[cls], query, self.shot,
                                 f"PASCAL class {cls + 1} ({self.split}, fold {self.fold})")
        return EpisodeRef(query, supports, cls)

    def load(self, ref: EpisodeRef) -> Episode:
        label = ref.class_id + 1
        q_img, q_values = self._read_pair(ref.query_name)
        q_mask = binary_class_mask(q_values, label)
        q_mask[q_values == IGNORE_LABEL] = IGNORE_LABEL
        s_imgs, s_masks = [], []
        for name in ref.support_names:
            img, values = self._read_pair(name)
            s_imgs.append(img)
            s_masks.append(binary_class_mask(values, label))
        return Episode(q_img, q_mask, s_imgs, s_masks, ref.class_id, ref.query_name,
                       list(ref.support_names))

    def _read_pair(self, name: str):
        img_path = self.img_dir / f"{name}.jpg"
        mask_path = self.ann_dir / f"{name}.png"
        img = read_rgb(img_path)
        values = read_label_values(mask_path)
        check_same_size(values, img, mask_path, img_path)
        return img, values


def _parse_line(line: str, path: Path) -> Tuple[str, int]:
    name, sep, cls = line.rpartition("__")
    if not sep or not name or not cls.isdigit() or not 1 <= int(cls) <= NCLASS:
        raise UserError(f"bad line {line!r} in PASCAL split file {path} "
                        f"(expected IMAGEID__C with C in 1..{NCLASS})")
    return name, int(cls) - 1
