"""Your own few-shot data in a plain folder: ``DIR/<class>/<name>.jpg`` + ``<name>.png``.

Format:

- one sub-folder per class (folder name = class name); classes are numbered 0.. in
  sorted name order (``class_names[i]`` is class ``i``); hidden entries are skipped;
- images ``<name>.jpg`` (or ``.jpeg``), each with its mask ``<name>.png`` beside it, of the
  same size; a class needs at least 2 images (a support must differ from the query);
- masks are binary. The stored values are read (grey levels; palette PNGs: their
  indices; RGB(A): PIL's grey conversion). A mask whose largest value is 1 is taken as is
  ({0, 1} index masks); otherwise foreground is where the value is >= 128 (0/255 masks,
  anti-aliased masks). There is no ignore label.

Episodes follow the FSS-1000 rule with PASCAL's support draw: queries are every image of
every class, classes in sorted order and images in sorted name order; episode n uses
query ``n mod len(queries)``; each of the K supports is
``np.random.choice(images_of_class, 1, replace=False)[0]`` (sorted names) redrawn while
equal to the query, from ``np.random.RandomState(seed)`` in episode order. The default
length is one episode per image (``n_episodes`` overrides).
"""

from __future__ import annotations

import os
from typing import Dict, List, Optional

import numpy as np

from ...errors import UserError
from .base import EpisodeDataset, draw_supports
from .episode import Episode, EpisodeRef
from .image_io import check_same_size, read_label_values, read_rgb
from .split_files import check_shot, require_dir

IMAGE_SUFFIXES = (".jpg", ".jpeg")


def binarize_user_mask(values: np.ndarray) -> np.ndarray:
    """(H, W) grey levels -> {0, 1} uint8: as is when max <= 1, else ``values >= 128``."""
    if values.size == 0 or values.max() <= 1:
        return values.astype(np.uint8)
    return (values >= 128).astype(np.uint8)


class FolderDataset(EpisodeDataset):
    """Episodes from ``DIR/<class>/<name>.jpg`` + ``<name>.png`` (see module docstring)."""

    benchmark = "folder"

    def __init__(self, root: str | os.PathLike, shot: int = 1, seed: int = 0,
                 n_episodes: Optional[int] = None, classes: Optional[List[str]] = None):
        self.root = require_dir(root, "dataset folder")
        self.shot = check_shot(shot)
        self.seed = int(seed)
        found = sorted(e.name for e in self.root.iterdir()
                       if e.is_dir() and not e.name.startswith("."))
        if classes is not None:
            missing = [c for c in classes if c not in found]
            if missing:
                raise UserError(f"class folder {self.root / missing[0]} not found")
            found = sorted(classes)
        if not found:
            raise UserError(f"no class sub-folder in {self.root} "
                            "(expected DIR/<class>/<name>.jpg + <name>.png)")
        self.class_names: List[str] = found
        self.class_ids = list(range(len(found)))
        self.nclass = len(found)

        self.class_images: Dict[int, List[str]] = {}
        self.queries: List[tuple] = []  # (name 'class/file.jpg', class id)
        for cls, cname in enumerate(found):
            names = sorted(n for n in os.listdir(self.root / cname)
                           if not n.startswith(".") and n.lower().endswith(IMAGE_SUFFIXES))
            if len(names) < 2:
                raise UserError(f"class folder {self.root / cname} holds {len(names)} .jpg "
                                "image(s); a class needs at least 2")
            for n in names:
                mask = self.root / cname / (os.path.splitext(n)[0] + ".png")
                if not mask.is_file():
                    raise UserError(f"missing mask {mask} for image {self.root / cname / n}")
            self.class_images[cls] = [f"{cname}/{n}" for n in names]
            self.queries += [(name, cls) for name in self.class_images[cls]]
        self._length = int(n_episodes) if n_episodes is not None else len(self.queries)
        self._start_plan()

    def sample_ref(self, index: int, rng: np.random.RandomState) -> EpisodeRef:
        query, cls = self.queries[index % len(self.queries)]
        supports = draw_supports(rng, self.class_images[cls], query, self.shot,
                                 f"class folder {self.class_names[cls]}")
        return EpisodeRef(query, supports, cls)

    def load(self, ref: EpisodeRef) -> Episode:
        q_img, q_mask = self.read_pair(ref.query_name)
        pairs = [self.read_pair(n) for n in ref.support_names]
        return Episode(q_img, q_mask, [p[0] for p in pairs], [p[1] for p in pairs],
                       ref.class_id, ref.query_name, list(ref.support_names))

    def read_pair(self, name: str):
        """Image (H, W, 3) uint8 and its {0, 1} mask (H, W) uint8 for ``class/file.jpg``."""
        img_path = self.root / name
        mask_path = img_path.with_suffix(".png")
        img = read_rgb(img_path)
        values = read_label_values(mask_path)
        check_same_size(values, img, mask_path, img_path)
        return img, binarize_user_mask(values)
