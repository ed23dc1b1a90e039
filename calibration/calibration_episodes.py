"""Calibration inputs: real episodes of a dataset's *training* split, as graph feeds.

    source = CalibrationSource("synthetic", episodes=64)                 # train classes
    source = CalibrationSource("pascal", datapath="VOC", splits="splits", fold=0)
    feeds = calibration_feeds(source, kind="episode", img_size=200, shots=1)

INT8 activation ranges must come from data like the deployment's, and never from the
episodes the model is scored on: the source is always the dataset's training split
(PASCAL-5i / COCO-20i: the training classes of the fold; FSS-1000: ``trn``; synthetic:
the training shapes), or a user's own folder of ``<class>/<name>.jpg + .png`` (which is
theirs to keep apart from what they score on). Episodes go through the runtime's
``Segmenter`` and its pre-processing, so a calibrated graph sees exactly what it will see
in deployment.

The query graph is calibrated on its real inputs: the query image and the support
features the FP32 support encoder computes for the episode's supports. Episodes run only
through the runtime's ``Segmenter`` (``Segmenter.from_models`` over the FP32 graphs).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Optional

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

    def feeds(self, kind: str, models: Mapping[str, object], shots: int, progress: bool = False) -> list:
        """The graph feeds of this source (export's precision pass asks for them through
        ``PrecisionOptions.calibration``; see :func:`calibration_feeds`)."""
        return calibration_feeds(self, kind, models, shots, progress)

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


def calibration_feeds(source: CalibrationSource, kind: str, models: Mapping[str, object], shots: int,
                      progress: bool = False) -> list[dict[str, np.ndarray]]:
    """``source.episodes`` feeds for the ``kind`` graph of the FP32 ``models`` (kind -> model;
    all in memory: calibration reads them several times).

    Each episode goes through the runtime's one inference path, a ``Segmenter`` over the FP32
    graphs (``Segmenter.from_models``): its support set is prepared (and, for a query graph,
    encoded by the FP32 support encoder) and its query prepared exactly as in deployment."""
    from tqdm import tqdm

    from ..runtime.segmenter import Segmenter

    wanted = (EPISODE,) if kind == EPISODE else (SUPPORT_ENCODER, QUERY)
    missing = [k for k in wanted if k not in models]
    if missing:
        raise UserError(f"calibrating the {kind} graph needs the FP32 {' and '.join(missing)} graph(s) "
                        "(NAME.support.onnx and NAME.query.onnx together)")
    dataset = source.open(shots)
    total = min(source.episodes, len(dataset))
    feeds = []
    with Segmenter.from_models({k: models[k] for k in wanted}, "onnxruntime") as segmenter:
        for n in tqdm(range(total), desc="calibration episodes", unit="ep", disable=not progress):
            try:
                episode = dataset.episode(n)
                support = segmenter.prepare_support(list(episode.support_images), list(episode.support_masks),
                                                    allow_empty_masks=True)
                query, _ = segmenter.prepare_query(episode.query_image)  # (1, 3, S, S)
            except UserError as err:
                raise UserError(f"calibration episode {n}: {err}") from None
            if kind == EPISODE:
                feeds.append({"query_img": query, "support_imgs": support.images, "support_masks": support.masks})
            elif kind == SUPPORT_ENCODER:
                feeds.append({"support_imgs": support.images, "support_masks": support.masks})
            else:
                feeds.append({"query_img": query, **{k: support.features[k] for k in SUPPORT_FEATURES}})
    return feeds
