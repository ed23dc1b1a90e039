"""Where training and validation episodes come from, for every benchmark (1-shot).

- ``synthetic`` (default): training classes 0-19 of :class:`SyntheticFewShot`.
  Training episodes are episodes 0, 1, 2, ... of ``SyntheticFewShot(seed, "train")``, a
  practically endless, reproducible stream (episode n has class n mod 20). Validation
  episodes come from ``SyntheticFewShot(seed + 1, "train")``: the same classes, images
  never used for training. The test classes 20-29 are never touched, so an evaluation
  on them (``hsnet-deploy eval --benchmark synthetic``) measures unseen classes and model
  selection cannot leak them.
- ``pascal`` / ``coco`` / ``fss``: the ``trn`` split of the fold for training (a query
  drawn uniformly at random each time, its support by the official rule, both from the
  trainer's ``RandomState``), the ``val`` split for validation, as the official training
  does (there, val = the fold's test classes).
- ``folder``: training episodes from ``--datapath``; validation from ``--val-datapath``
  (default: the same folder with another seed, which is then not held out).

The fixed pool for ``--cache-features`` is the first N episodes of the stream (synthetic)
or N random episodes from ``RandomState(seed)`` (files).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Iterator, List, Optional

import numpy as np

from ...errors import UserError
from ..data import Episode, open_dataset
from ..data.synthetic import SyntheticFewShot

ENDLESS = 2**31 - 1  # episodes in the synthetic training stream


@dataclass
class DataConfig:
    benchmark: str = "synthetic"
    datapath: Optional[str] = None
    val_datapath: Optional[str] = None
    splits: Optional[str] = None
    fold: int = 0
    seed: int = 0
    synthetic_size: int = 128
    val_episodes: Optional[int] = None  # default: 200 synthetic, the whole val split otherwise


class TrainingData:
    """Training stream, fixed training pool and validation episodes of one benchmark."""

    def __init__(self, config: DataConfig) -> None:
        self.config = config
        c = config
        if c.benchmark == "synthetic":
            self.train = SyntheticFewShot(seed=c.seed, split="train", img_size=c.synthetic_size,
                                          n_episodes=ENDLESS, shot=1)
            self.val = SyntheticFewShot(seed=c.seed + 1, split="train", img_size=c.synthetic_size,
                                        n_episodes=c.val_episodes or 200, shot=1)
        else:
            if not c.datapath:
                raise UserError(f"--benchmark {c.benchmark} needs --datapath D")
            if c.benchmark != "folder" and not c.splits:
                raise UserError(f"--benchmark {c.benchmark} needs --splits DIR (the official split lists)")
            self.train = open_dataset(c.benchmark, c.datapath, c.splits, fold=c.fold, split="trn",
                                      shot=1, seed=c.seed)
            if c.benchmark == "folder":
                self.val = open_dataset("folder", c.val_datapath or c.datapath, shot=1, seed=c.seed + 1,
                                        n_episodes=c.val_episodes)
            else:
                self.val = open_dataset(c.benchmark, c.datapath, c.splits, fold=c.fold, split="val",
                                        shot=1, seed=c.seed, n_episodes=c.val_episodes)
        if len(self.val) < 1:
            raise UserError("no validation episode")

    @property
    def is_synthetic(self) -> bool:
        return self.config.benchmark == "synthetic"

    @property
    def train_class_ids(self) -> List[int]:
        return list(self.train.class_ids)

    @property
    def val_class_ids(self) -> List[int]:
        return list(self.val.class_ids)

    def train_episode(self, counter: int, rng: np.random.RandomState) -> Episode:
        """The ``counter``-th training episode; file benchmarks draw it with ``rng``."""
        if self.is_synthetic:
            return self.train.episode(counter % ENDLESS)
        query_index = int(rng.randint(len(self.train)))
        return self.train.load(self.train.sample_ref(query_index, rng))

    def pool_episodes(self, n: int) -> List[Episode]:
        """The fixed training pool of ``n`` episodes (reproducible from the seed)."""
        if self.is_synthetic:
            return [self.train.episode(i) for i in range(n)]
        rng = np.random.RandomState(self.config.seed)
        return [self.train_episode(i, rng) for i in range(n)]

    def val_episodes(self) -> Iterator[Episode]:
        """The validation episodes in order (loaded one at a time)."""
        for i in range(len(self.val)):
            yield self.val.episode(i)

    def describe(self) -> str:
        c = self.config
        where = f" {c.datapath}" if c.datapath else f" (seed {c.seed}, {c.synthetic_size}px)"
        return (f"{c.benchmark}{where}: {len(self.train_class_ids)} training classes, "
                f"{len(self.val)} validation episodes over {len(self.val_class_ids)} classes")


def check_path(path: Optional[str], what: str) -> None:
    if path is not None and not os.path.isdir(path):
        raise UserError(f"{what} {path} is not a folder")
