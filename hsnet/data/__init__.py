"""Torch-free few-shot datasets: official benchmarks, your own folders, synthetic data.

Every dataset has ``len(ds)``, ``ds.episode(n)`` / ``ds[n]`` -> :class:`Episode`,
iteration in episode order, ``ds.class_ids`` (the split's classes, 0-based),
``ds.nclass`` (classes of the whole benchmark), ``ds.shot``, ``ds.seed`` and
``ds.benchmark``. File-backed ones also have ``ds.ref(n)`` -> :class:`EpisodeRef` (names
only, no file read), ``ds.sample_ref(index, rng)`` and ``ds.load(ref)``.

- :class:`PascalDataset`, :class:`CocoDataset`, :class:`FssDataset`: the official HSNet
  test episodes, exactly, for a seed (0 in the official protocol);
- :class:`FolderDataset`: ``DIR/<class>/<name>.jpg`` + ``<name>.png``;
- :class:`SyntheticFewShot`: generated from a seed, writable in the folder format.
"""

from __future__ import annotations

import os
from typing import Optional, Union

from ...errors import UserError
from .coco import CocoDataset
from .episode import IGNORE_LABEL, Episode, EpisodeRef
from .folder import FolderDataset
from .fss import FssDataset
from .pascal import PascalDataset
from .synthetic import SyntheticFewShot

BENCHMARKS = ("pascal", "coco", "fss", "folder", "synthetic")

AnyDataset = Union[PascalDataset, CocoDataset, FssDataset, FolderDataset, SyntheticFewShot]


def open_dataset(benchmark: str, datapath: Optional[str | os.PathLike] = None,
                 splits_dir: Optional[str | os.PathLike] = None, fold: int = 0,
                 split: str = "test", shot: int = 1, seed: int = 0,
                 n_episodes: Optional[int] = None, img_size: int = 128) -> AnyDataset:
    """Build a dataset by name (for the command line).

    ``pascal``/``coco``/``fss`` need ``datapath`` and ``splits_dir``; ``folder`` needs
    ``datapath`` (the folder); ``synthetic`` needs neither (split 'trn'/'train' -> train
    classes, anything else -> test classes; ``img_size`` and ``n_episodes``, default
    1000, apply).
    """
    if benchmark not in BENCHMARKS:
        raise UserError(f"unknown benchmark {benchmark!r}; expected one of {', '.join(BENCHMARKS)}")
    if benchmark == "synthetic":
        return SyntheticFewShot(seed=seed, split="train" if split in ("trn", "train") else "test",
                                img_size=img_size, n_episodes=n_episodes or 1000, shot=shot)
    if datapath is None:
        raise UserError(f"benchmark {benchmark} needs a datapath")
    if benchmark == "folder":
        return FolderDataset(datapath, shot=shot, seed=seed, n_episodes=n_episodes)
    if splits_dir is None:
        raise UserError(f"benchmark {benchmark} needs a split-list folder (splits_dir)")
    if benchmark == "pascal":
        return PascalDataset(datapath, splits_dir, fold, split, shot, seed, n_episodes)
    if benchmark == "coco":
        return CocoDataset(datapath, splits_dir, fold, split, shot, seed, n_episodes)
    return FssDataset(datapath, splits_dir, split, shot, seed, n_episodes)


__all__ = ["Episode", "EpisodeRef", "IGNORE_LABEL", "PascalDataset", "CocoDataset",
           "FssDataset", "FolderDataset", "SyntheticFewShot", "open_dataset", "BENCHMARKS"]
