"""FSS-1000 (Li et al. 2020) episodes, sampled exactly as the official HSNet test.

Layout: ``DATAPATH/FSS-1000/<class>/N.jpg`` with mask ``N.png`` beside it, N = 1..10.
Split lists: ``splits_dir/fss/{trn,val,test}.txt``, one class folder name per line.

Protocol (official ``data/fss.py``, followed here):

- Classes: the split file's names, sorted (Python string order). Class id =
  position in that sorted list + offset: trn 0, val 520, test 760 (1000 classes in all).
- Query list: for each class in sorted order, the folder's files sorted by name (string
  order, so ``1.jpg, 10.jpg, 2.jpg, ..., 9.jpg``), keeping the ``.jpg`` ones. Episode n
  uses query n; there are as many episodes as query images (2400 for test).
- K supports, each ``N = np.random.choice(range(1, 11), 1, replace=False)[0]``, the image
  ``N.jpg`` of the query's folder, redrawn while it is the query itself.
- Masks: ``N.png`` converted to greyscale, foreground where >= 128.
- The fold argument does not exist for FSS-1000 (the official loader ignores it).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import List, Optional

import numpy as np

from ...errors import UserError
from .base import EpisodeDataset, choice_index
from .episode import Episode, EpisodeRef
from .image_io import check_same_size, read_grey, read_rgb
from .split_files import (
    check_shot,
    check_split,
    read_split_lines,
    require_dir,
    require_file,
)

NCLASS = 1000
CLASS_OFFSET = {"trn": 0, "val": 520, "test": 760}
SUPPORT_CANDIDATES = 10  # supports are N.jpg, N = 1..10


class FssDataset(EpisodeDataset):
    """FSS-1000 episodes for ``split`` 'trn', 'val' or 'test'."""

    benchmark = "fss"

    def __init__(self, datapath: str | os.PathLike, splits_dir: str | os.PathLike,
                 split: str = "test", shot: int = 1, seed: int = 0,
                 n_episodes: Optional[int] = None, fold: Optional[int] = None):
        del fold  # FSS-1000 has no folds
        self.split = check_split(split)
        self.shot = check_shot(shot)
        self.seed = int(seed)
        self.nclass = NCLASS
        self.root = require_dir(Path(datapath) / "FSS-1000", "FSS-1000 datapath (FSS-1000 folder)")
        split_file = require_file(Path(splits_dir) / "fss" / f"{self.split}.txt",
                                  "FSS-1000 split file")
        self.categories = sorted(read_split_lines(split_file))
        if not self.categories:
            raise UserError(f"FSS-1000 split file {split_file} lists no class")
        offset = CLASS_OFFSET[self.split]
        self.class_ids = list(range(offset, offset + len(self.categories)))

        self.queries: List[tuple] = []  # (class folder, file name, class id)
        for i, cat in enumerate(self.categories):
            folder = require_dir(self.root / cat, "FSS-1000 class folder")
            names = sorted(n for n in os.listdir(folder) if not n.startswith("."))
            self.queries += [(cat, n, offset + i) for n in names
                             if len(n.split(".")) > 1 and n.split(".")[1] == "jpg"]
        if not self.queries:
            raise UserError(f"no .jpg image in the FSS-1000 class folders under {self.root}")
        self._length = int(n_episodes) if n_episodes is not None else len(self.queries)
        self._start_plan()

    def sample_ref(self, index: int, rng: np.random.RandomState) -> EpisodeRef:
        cat, name, cls = self.queries[index % len(self.queries)]
        query = f"{cat}/{name}"
        supports = []
        while len(supports) < self.shot:
            candidate = f"{cat}/{choice_index(rng, SUPPORT_CANDIDATES) + 1}.jpg"
            if candidate != query:
                supports.append(candidate)
        return EpisodeRef(query, tuple(supports), cls)

    def load(self, ref: EpisodeRef) -> Episode:
        q_img, q_mask = self._read_pair(ref.query_name)
        pairs = [self._read_pair(n) for n in ref.support_names]
        return Episode(q_img, q_mask, [p[0] for p in pairs], [p[1] for p in pairs],
                       ref.class_id, ref.query_name, list(ref.support_names))

    def _read_pair(self, name: str):
        img_path = self.root / name
        mask_path = img_path.with_name(img_path.name.split(".")[0] + ".png")
        img = read_rgb(img_path)
        grey = read_grey(mask_path)
        check_same_size(grey, img, mask_path, img_path)
        return img, (grey >= 128).astype(np.uint8)
