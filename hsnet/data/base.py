"""Shared machinery of the file-backed datasets: a lazily built, seeded episode plan.

The official evaluation seeds numpy once (``np.random.seed(0)``) and then asks the
dataset for episodes 0, 1, 2, ... in order; every episode consumes random numbers from
the one global stream. To reproduce it exactly we keep one ``np.random.RandomState(seed)``
(the same Mersenne-Twister stream as the seeded global generator) and draw the plan
(names and class, no pixels) strictly in index order. ``episode(n)`` for a later ``n``
first draws the plan of every earlier episode, so random access gives the same episode
as a sequential pass. Files are only read by :meth:`EpisodeDataset.load`.

One official draw ``np.random.choice(pool, 1, replace=False)[0]`` is, in numpy's legacy
generator, ``pool[permutation(len(pool))[0]]``: the random numbers consumed depend only on
``len(pool)``, so we call ``rng.choice(len(pool), 1, replace=False)[0]`` and index the
pool ourselves (same stream, no per-draw conversion of a long name list to an array).
"""

from __future__ import annotations

from typing import Iterator, List, Sequence

import numpy as np

from ...errors import UserError
from .episode import Episode, EpisodeRef
from .split_files import check_fold, check_shot, check_split


def choice_index(rng: np.random.RandomState, pool_size: int) -> int:
    """Index drawn exactly as the official ``np.random.choice(pool, 1, replace=False)[0]``."""
    return int(rng.choice(pool_size, 1, replace=False)[0])


def draw_supports(rng: np.random.RandomState, pool: Sequence[str], query_name: str,
                  shot: int, what: str) -> tuple:
    """The official support rule: draw ``choice(pool, 1, replace=False)[0]`` repeatedly,
    dropping draws equal to the query, until ``shot`` names are collected (repeats among
    the supports are allowed). ``pool`` is the class's image list in the official order.
    """
    if not any(name != query_name for name in pool):
        raise UserError(f"{what} has no image other than the query {query_name!r}; "
                        "a support cannot be drawn")
    names: List[str] = []
    while len(names) < shot:
        name = pool[choice_index(rng, len(pool))]
        if name != query_name:
            names.append(name)
    return tuple(names)


class EpisodeDataset:
    """Base of the file-backed few-shot datasets.

    Subclasses set ``benchmark``, ``class_ids`` (the split's classes, 0-based, in the
    dataset's numbering), ``nclass`` (classes in the whole benchmark), ``shot``, ``seed``,
    ``_length``, and implement :meth:`sample_ref` and :meth:`load`.
    """

    benchmark = "?"
    class_ids: List[int]
    nclass: int
    shot: int
    seed: int
    _length: int

    def _set_episode_options(self, fold: int, nfolds: int, split: str, shot: int, seed: int, nclass: int) -> None:
        """The checks and fields every fold-based benchmark (PASCAL-5i, COCO-20i) shares:
        fold in range, split 'trn' | 'val' ('test' reads the validation lists, as
        officially), shot >= 1, the seed, the benchmark's class count."""
        self.fold = check_fold(fold, nfolds)
        self.split = "trn" if check_split(split) == "trn" else "val"
        self.shot = check_shot(shot)
        self.seed = int(seed)
        self.nclass = nclass

    def _start_plan(self) -> None:
        self._rng = np.random.RandomState(self.seed)
        self._refs: List[EpisodeRef] = []

    # -- what subclasses provide -------------------------------------------------------
    def sample_ref(self, index: int, rng: np.random.RandomState) -> EpisodeRef:
        """Draw episode ``index``'s names with ``rng`` in the official order.

        Also usable with any generator for training (random episodes)."""
        raise NotImplementedError

    def load(self, ref: EpisodeRef) -> Episode:
        """Read the files of ``ref``; images at their original size."""
        raise NotImplementedError

    # -- the common interface ------------------------------------------------------------
    def __len__(self) -> int:
        return self._length

    def ref(self, n: int) -> EpisodeRef:
        """The plan (names, class) of episode ``n``, reproducing the seeded order."""
        n = self._index(n)
        while len(self._refs) <= n:
            self._refs.append(self.sample_ref(len(self._refs), self._rng))
        return self._refs[n]

    def refs(self) -> List[EpisodeRef]:
        """The plans of all episodes, in order."""
        return [self.ref(n) for n in range(len(self))]

    def episode(self, n: int) -> Episode:
        """Episode ``n`` loaded from disk."""
        return self.load(self.ref(n))

    def __getitem__(self, n: int) -> Episode:
        return self.episode(n)

    def __iter__(self) -> Iterator[Episode]:
        for n in range(len(self)):
            yield self.episode(n)

    def _index(self, n: int) -> int:
        if not isinstance(n, (int, np.integer)):
            raise TypeError(f"episode index must be an integer, got {type(n).__name__}")
        n = int(n)
        if n < 0:
            n += len(self)
        if not 0 <= n < len(self):
            raise IndexError(f"episode {n} out of range 0..{len(self) - 1}")
        return n

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(episodes={len(self)}, classes={len(self.class_ids)}, "
                f"shot={self.shot}, seed={self.seed})")


def binary_class_mask(values: np.ndarray, label: int) -> np.ndarray:
    """(H, W) uint8: 1 where ``values == label``, else 0."""
    return (values == label).astype(np.uint8)
