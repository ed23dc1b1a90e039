"""A synthetic few-shot segmentation dataset, generated from a seed (no files needed).

Classes are object *families*: a shape x a texture x a colour family (drawing rules in
:mod:`.synthetic_shapes`). The catalogue below is fixed (it does not depend on the seed):
30 classes, any two of which differ in at least two of the three attributes, so two
classes never differ by outline alone. Classes 0-19 are the ``train`` split, 20-29 the
``test`` split (disjoint; each test class is a combination never seen in training, while
every colour family and texture also occurs among the training classes).

An image of class c (:meth:`SyntheticFewShot.render`):

1. a muted background (gradient + blended ellipses; saturation <= 0.3);
2. 1-3 distractor instances of *other* classes of the same split;
3. 1-3 instances of class c on top (radius 9-20 % of the image side, uniform position
   with the centre at least 0.6 R from the border, uniform rotation); saturation >= 0.7;
4. with probability 0.25 a small occluder (another class) over it, kept only if at
   least 60 % of the foreground stays visible;
5. Gaussian pixel noise (sigma 2-8 grey levels), rounding to uint8.

The mask is exactly the visible pixels of class c's instances ({0, 1}, never empty).
An episode draws the query and each of its K supports this way, independently, all of
the episode's class. Episode n has class ``class_ids[n mod len(class_ids)]`` (balanced)
and its own generator ``np.random.default_rng([seed, split_code, n])``, so any episode is
generated directly, in any order, identically on every run (with the same numpy; another
platform's sin/cos could in principle flip a pixel on an object's edge).
"""

from __future__ import annotations

import operator
import os
from pathlib import Path
from typing import Iterator, List, Tuple

import numpy as np

from ...errors import UserError
from .episode import Episode
from .split_files import check_shot
from .synthetic_shapes import background, draw_instance

# (shape, texture, colour family); index = class id.
CATALOGUE: Tuple[Tuple[str, str, str], ...] = (
    ("disc", "stripes", "magenta"), ("triangle", "stripes", "green"),
    ("disc", "dots", "cyan"), ("disc", "checker", "purple"),
    ("star", "flat", "orange"), ("ring", "flat", "purple"),
    ("star", "dots", "purple"), ("square", "dots", "blue"),
    ("ellipse", "dots", "orange"), ("ellipse", "flat", "magenta"),
    ("cross", "stripes", "yellow"), ("ellipse", "checker", "cyan"),
    ("star", "stripes", "red"), ("hexagon", "stripes", "orange"),
    ("hexagon", "dots", "yellow"), ("cross", "flat", "green"),
    ("triangle", "flat", "red"), ("triangle", "dots", "magenta"),
    ("cross", "checker", "blue"), ("square", "checker", "red"),
    # test classes
    ("hexagon", "flat", "cyan"), ("ellipse", "stripes", "purple"),
    ("disc", "flat", "yellow"), ("ring", "checker", "orange"),
    ("cross", "dots", "red"), ("ring", "stripes", "blue"),
    ("hexagon", "checker", "magenta"), ("star", "checker", "green"),
    ("ring", "dots", "green"), ("triangle", "checker", "yellow"),
)
SPLIT_CLASSES = {"train": list(range(0, 20)), "test": list(range(20, 30))}
_SPLIT_CODE = {"train": 0, "test": 1}
_WRITE_STREAM = 1_000_003  # separates write() images from episode streams


def _as_int(value, what: str) -> int:
    try:
        return operator.index(value)
    except TypeError:
        raise UserError(f"{what} must be an integer, got {value!r}") from None


def class_name(class_id: int) -> str:
    """Folder-safe name, e.g. ``20-hexagon-flat-cyan`` (sorts in class-id order)."""
    shape, texture, colour = CATALOGUE[class_id]
    return f"{class_id:02d}-{shape}-{texture}-{colour}"


class SyntheticFewShot:
    """Seeded synthetic episodes; same interface as the file datasets (no ``ref``)."""

    benchmark = "synthetic"

    def __init__(self, seed: int = 0, split: str = "train", img_size: int = 128,
                 n_episodes: int = 1000, shot: int = 1):
        if split not in SPLIT_CLASSES:
            raise UserError(f"unknown synthetic split {split!r}; expected train or test")
        img_size = _as_int(img_size, "img_size")
        if img_size < 16:
            raise UserError(f"synthetic img_size must be >= 16, got {img_size}")
        n_episodes = _as_int(n_episodes, "n_episodes")
        if n_episodes < 1:
            raise UserError(f"n_episodes must be positive, got {n_episodes}")
        self.seed = int(seed)
        self.split = split
        self.img_size = img_size
        self.shot = check_shot(shot)
        self._length = n_episodes
        self.class_ids: List[int] = list(SPLIT_CLASSES[split])
        self.nclass = len(CATALOGUE)
        self.class_names = [class_name(c) for c in self.class_ids]

    # -- one image -----------------------------------------------------------------------
    def render(self, class_id: int, rng: np.random.Generator) -> Tuple[np.ndarray, np.ndarray]:
        """One image of ``class_id`` with distractors: ((S, S, 3) uint8, (S, S) uint8 {0,1})."""
        size = self.img_size
        others = [c for c in self.class_ids if c != class_id]
        canvas = background(size, rng)  # (S, S, 3) float32
        for _ in range(rng.integers(1, 4)):
            self._place(canvas, others[rng.integers(len(others))], rng, 0.08, 0.18)
        fg = np.zeros((size, size), dtype=bool)
        while True:  # 1-3 instances; redraw in the (rare) case all fall outside the image
            for _ in range(rng.integers(1, 4)):
                fg |= self._place(canvas, class_id, rng, 0.09, 0.20)
            if fg.sum() >= 0.002 * size * size:
                break
        if rng.uniform() < 0.25:
            trial = canvas.copy()
            occluder = self._place(trial, others[rng.integers(len(others))], rng, 0.05, 0.10)
            if (fg & ~occluder).sum() >= 0.6 * fg.sum():
                canvas, fg = trial, fg & ~occluder
        canvas += rng.normal(0.0, rng.uniform(2.0, 8.0), canvas.shape).astype(np.float32)
        image = np.clip(np.rint(canvas), 0, 255).astype(np.uint8)
        return image, fg.astype(np.uint8)

    def _place(self, canvas: np.ndarray, class_id: int, rng: np.random.Generator,
               rmin: float, rmax: float) -> np.ndarray:
        size = canvas.shape[0]
        shape, texture, colour = CATALOGUE[class_id]
        radius = rng.uniform(rmin, rmax) * size
        cx, cy = rng.uniform(0.6 * radius, size - 0.6 * radius, 2)
        theta = rng.uniform(0.0, 2.0 * np.pi)
        return draw_instance(canvas, shape, texture, colour, cx, cy, radius, theta, rng)

    # -- episodes ------------------------------------------------------------------------
    def __len__(self) -> int:
        return self._length

    def episode_class(self, n: int) -> int:
        return self.class_ids[n % len(self.class_ids)]

    def episode(self, n: int) -> Episode:
        """Episode ``n`` (query first, then the K supports, from its own generator)."""
        if not isinstance(n, (int, np.integer)):
            raise TypeError(f"episode index must be an integer, got {type(n).__name__}")
        n = int(n) + (len(self) if n < 0 else 0)
        if not 0 <= n < len(self):
            raise IndexError(f"episode {n} out of range 0..{len(self) - 1}")
        rng = np.random.default_rng([self.seed, _SPLIT_CODE[self.split], n])
        cls = self.episode_class(n)
        q_img, q_mask = self.render(cls, rng)
        pairs = [self.render(cls, rng) for _ in range(self.shot)]
        prefix = f"synthetic-{self.split}-s{self.seed}-e{n}"
        return Episode(q_img, q_mask, [p[0] for p in pairs], [p[1] for p in pairs], cls,
                       f"{prefix}-query", [f"{prefix}-support{k}" for k in range(self.shot)])

    def __getitem__(self, n: int) -> Episode:
        return self.episode(n)

    def __iter__(self) -> Iterator[Episode]:
        for n in range(len(self)):
            yield self.episode(n)

    # -- on disk -------------------------------------------------------------------------
    def write(self, directory: str | os.PathLike, images_per_class: int = 10,
              progress: bool = True) -> Path:
        """Write this split in the folder format: ``DIR/<class_name>/NNN.jpg`` + ``NNN.png``.

        Images come from ``np.random.default_rng([seed, split_code, 1000003, class, i])``;
        JPEG quality 95 without chroma subsampling; masks are 0/255 greyscale PNGs. Each
        file is written atomically. Returns the directory.
        """
        from PIL import Image
        from tqdm import tqdm

        from ...atomic_file import atomic_path

        if images_per_class < 2:
            raise UserError("images_per_class must be >= 2 (a support must differ from the query)")
        root = Path(directory)
        if root.exists() and not root.is_dir():
            raise UserError(f"output path exists and is not a folder: {root}")
        jobs = [(c, i) for c in self.class_ids for i in range(images_per_class)]
        for cls, i in tqdm(jobs, desc=f"synthetic {self.split}", unit="img", disable=not progress):
            folder = root / class_name(cls)
            folder.mkdir(parents=True, exist_ok=True)
            rng = np.random.default_rng([self.seed, _SPLIT_CODE[self.split], _WRITE_STREAM, cls, i])
            image, mask = self.render(cls, rng)
            with atomic_path(folder / f"{i:03d}.jpg") as tmp:
                Image.fromarray(image).save(tmp, format="JPEG", quality=95, subsampling=0)
            with atomic_path(folder / f"{i:03d}.png") as tmp:
                Image.fromarray(mask * 255).save(tmp, format="PNG")
        return root

    def __repr__(self) -> str:
        return (f"SyntheticFewShot(seed={self.seed}, split={self.split!r}, "
                f"img_size={self.img_size}, n_episodes={len(self)}, shot={self.shot})")
