"""Calibration inputs: real episodes of a dataset's *training* split, as graph feeds.

    source = CalibrationSource("synthetic", episodes=64)                 # train classes
    source = CalibrationSource("pascal", datapath="VOC", splits="splits", fold=0)
    feeds = calibration_feeds(source, kind="episode", img_size=200, shots=1)

INT8 activation ranges must come from data like the deployment's, and never from the
episodes the model is scored on: the source is always the dataset's training split
(PASCAL-5i / COCO-20i: the training classes of the fold; FSS-1000: ``trn``; synthetic:
the training shapes), or a user's own folder of ``<class>/<name>.jpg + .png`` (which is
theirs to keep apart from what they score on). Episodes go through the runtime's pure
pre-processing (``preprocess_image`` / ``preprocess_support``), so a calibrated graph
sees exactly what it will see in deployment.

The query graph is calibrated on its real inputs: the query image and the support
features the FP32 support encoder computes for the episode's supports.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

from ..errors import UserError
from ..runtime.graph_contract import EPISODE, QUERY, SUPPORT_ENCODER, SUPPORT_FEATURES

CALIBRATION_BENCHMARKS = ("synthetic", "folder", "pascal", "coco", "fss")
TRAIN_SPLIT = "trn"  # every dataset's name for its training split
DEFAULT_EPISODES = 32


@dataclass(frozen=True)
class CalibrationSource:
    """Where calibration episodes come from (``describe()`` is recorded in the file)."""

    benchmark: str = "synthetic"
    datapath: Optional[str] = None
    splits: Optional[str] = None
    fold: int = 0
    episodes: int = DEFAULT_EPISODES
    seed: int = 0
    synthetic_size: int = 128

    def __post_init__(self) -> None:
        if self.benchmark not in CALIBRATION_BENCHMARKS:
            raise UserError(f"unknown calibration benchmark {self.benchmark!r}; "
                            f"choose one of {', '.join(CALIBRATION_BENCHMARKS)}")
        if isinstance(self.episodes, bool) or not isinstance(self.episodes, int) or self.episodes < 1:
            raise UserError(f"--calib-episodes must be a positive integer, got {self.episodes!r}")
        if self.benchmark != "synthetic" and not self.datapath:
            raise UserError(f"calibration benchmark {self.benchmark} needs --calib-datapath D")
        if self.benchmark in ("pascal", "coco", "fss") and not self.splits:
            raise UserError(f"calibration benchmark {self.benchmark} needs --calib-splits DIR (the official split lists)")

    def describe(self) -> str:
        where = f" {self.datapath}" if self.datapath else ""
        fold = f" fold {self.fold}" if self.benchmark in ("pascal", "coco") else ""
        split = "" if self.benchmark == "folder" else f" {TRAIN_SPLIT}"
        return f"{self.benchmark}{where}{fold}{split} (seed {self.seed})"

    def feeds(self, kind: str, img_size: int, shots: int,
              support_encoder: Optional[Callable[[dict], dict]] = None, progress: bool = False) -> list:
        """The graph feeds of this source (export's precision pass asks for them through
        ``PrecisionOptions.calibration``; see :func:`calibration_feeds`)."""
        return calibration_feeds(self, kind, img_size, shots, support_encoder, progress)

    def open(self, shots: int):
        """The training-split dataset, or one clear UserError (missing folder, no episodes)."""
        from pathlib import Path

        from ..hsnet.data import open_dataset

        if self.datapath is not None and not Path(self.datapath).is_dir():
            raise UserError(f"calibration data folder does not exist: {self.datapath}")
        try:
            dataset = open_dataset(self.benchmark, self.datapath, self.splits, fold=self.fold, split=TRAIN_SPLIT,
                                   shot=shots, seed=self.seed, n_episodes=self.episodes, img_size=self.synthetic_size)
        except UserError as err:
            raise UserError(f"calibration data: {err}") from None
        if len(dataset) < 1:
            raise UserError(f"calibration data {self.describe()} has no episodes")
        return dataset


def episode_inputs(episode, img_size: int) -> dict[str, np.ndarray]:
    """One episode -> the episode graph's feeds (a batch of one), by the runtime's rules."""
    from ..runtime.preprocess import preprocess_image, preprocess_support

    images, masks = preprocess_support(episode.support_images, episode.support_masks, img_size)
    return {"query_img": preprocess_image(episode.query_image, img_size)[None],
            "support_imgs": images, "support_masks": masks}


def calibration_feeds(source: CalibrationSource, kind: str, img_size: int, shots: int,
                      support_encoder: Optional[Callable[[dict], dict]] = None,
                      progress: bool = False) -> list[dict[str, np.ndarray]]:
    """``source.episodes`` feeds for a ``kind`` graph (all in memory: calibration reads
    them several times). ``support_encoder(feeds) -> {support_c3: ..}``: the FP32
    support encoder, needed for a query graph."""
    from tqdm import tqdm

    if kind == QUERY and support_encoder is None:
        raise UserError("calibrating a query graph needs its FP32 support encoder (NAME.support.onnx beside it)")
    dataset = source.open(shots)
    total = min(source.episodes, len(dataset))
    feeds = []
    for n in tqdm(range(total), desc="calibration episodes", unit="ep", disable=not progress):
        try:
            episode = dataset.episode(n)
        except UserError as err:
            raise UserError(f"calibration episode {n}: {err}") from None
        inputs = episode_inputs(episode, img_size)
        if kind == EPISODE:
            feeds.append(inputs)
        elif kind == SUPPORT_ENCODER:
            feeds.append({k: inputs[k] for k in ("support_imgs", "support_masks")})
        else:
            features = support_encoder({k: inputs[k] for k in ("support_imgs", "support_masks")})
            feeds.append({"query_img": inputs["query_img"], **{k: features[k] for k in SUPPORT_FEATURES}})
    return feeds
