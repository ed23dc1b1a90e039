"""Score a model on few-shot episodes with the official HSNet evaluation protocol.

The same code scores every backend and precision: a model is anything
:meth:`hsnet_deploy.runtime.Segmenter.load` opens (``.pt``, ``.onnx``, ``.engine``), seen
through its network-size graph, ``Segmenter.network_logits`` (per-shot logits
(K, 2, S, S)). Everything around it is the runtime's shared numpy pre/post-processing, so
two backends given the same episodes differ only in their graphs.

Protocol (docs/protocol.md#official-evaluation-protocol; official ``test.py``), per episode n =
0, 1, 2, ... in order, drawn by the dataset from seed 0 (one process, no shuffling):

1. supports: ``preprocess_image`` (PIL bilinear to S x S, ImageNet normalisation) and
   ``preprocess_mask`` (PyTorch legacy nearest to S x S). A support whose mask does not
   survive the resize is kept, as officially (its features are all zero);
2. query: ``preprocess_image``; the model returns logits z (K, 2, S, S);
3. prediction and ground truth, two modes:

   - default (official ``use_original_imgsize=False``): pred = vote(z) at S x S, compared
     with the query label map (values {0, 1, 255}) resized to S x S by the same legacy
     nearest rule (the ignore label 255 is resized with it, as the official dataset
     resizes ``query_ignore_idx``);
   - ``use_original_imgsize=True``: each shot's logits are resized bilinearly
     (align_corners=True) to the query's original (h, w), then voted, and compared with
     the original-size label map;

   vote = the official K-shot vote (argmax per shot, sum, divide by the per-image
   maximum vote (at least 1), foreground where >= 0.5);
4. metric: :class:`~hsnet_deploy.hsnet.evaluation.metrics.MIoUAccumulator` over the
   dataset's ``class_ids``: per-class sums of intersection and union over the episodes,
   ignore pixels excluded; mIoU = 100 x mean_c I_fg[c] / max(U_fg[c], 1);
   FB-IoU = 100 x mean over {bg, fg} of sum_c I / sum_c U. The mean runs over every class
   of the fold, so a run too short to draw each class is pulled down by the unseen ones;
   :meth:`EvalResult.coverage_note` says how many and gives the mean over the sampled ones.

Timing: ``seconds`` is the whole loop (file reading, preprocessing, model, metric);
``model_seconds`` only the model calls (support encoding and query graph).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Callable, List, Optional, Protocol

import numpy as np

from ...errors import UserError
from ..data.episode import IGNORE_LABEL, Episode
from .metrics import MIoUAccumulator


class EpisodePredictor(Protocol):
    """What :func:`evaluate` needs from a model."""

    img_size: int  # network input side S
    shots: Optional[int]  # fixed K of the model, None when any K works

    def network_logits(self, episode: Episode) -> np.ndarray:
        """Per-shot logits (K, 2, S, S) float32 of one episode at the network size."""


def network_size_label(label: np.ndarray, size: int) -> np.ndarray:
    """Query label map (h, w) in {0, 1, 255} -> (size, size), PyTorch legacy nearest.

    Same rule as the runtime's ``preprocess_mask`` (output pixel i reads input pixel
    min(floor(i * n_in / n_out), n_in - 1)) but the values are kept, so the ignore label
    survives.
    """
    from ...runtime.preprocess import nearest_indices

    label = np.asarray(label)
    if label.ndim != 2:
        raise UserError(f"expected an (h, w) label map, got shape {tuple(label.shape)}")
    rows = nearest_indices(label.shape[0], size)  # (S,)
    cols = nearest_indices(label.shape[1], size)  # (S,)
    return np.ascontiguousarray(label[rows[:, None], cols[None, :]])


class SegmenterPredictor:
    """An :class:`EpisodePredictor` over a runtime ``Segmenter`` (any backend)."""

    def __init__(self, segmenter) -> None:
        self.segmenter = segmenter
        self.img_size = int(segmenter.img_size)
        self.shots = segmenter.shots

    def support_set(self, episode: Episode):
        """Preprocessed (and, with split graphs, encoded) supports of ``episode``, through
        the runtime's one support path; an empty support mask (or one that vanishes when
        resized) is kept, as the official protocol keeps such an episode (its features
        are all zero)."""
        return self.segmenter.prepare_support(
            list(episode.support_images), list(episode.support_masks), allow_empty_masks=True
        )

    def network_logits(self, episode: Episode) -> np.ndarray:
        support = self.support_set(episode)
        query, _ = self.segmenter.prepare_query(episode.query_image)  # (1, 3, S, S)
        return self.segmenter.network_logits(query, support)[0]  # (K, 2, S, S)


@dataclass
class EvalResult:
    """Numbers of one evaluation run (``summary`` is the accumulator's, JSON-ready)."""

    summary: dict
    seconds: float
    model_seconds: float
    grid_episodes: List[int] = field(default_factory=list)

    @property
    def miou(self) -> float:
        return float(self.summary["miou"])

    @property
    def fbiou(self) -> float:
        return float(self.summary["fbiou"])

    @property
    def episodes(self) -> int:
        return int(self.summary["episodes"])

    @property
    def classes_without_episodes(self) -> int:
        """Classes of the fold no episode drew (each counts IoU 0 in :attr:`miou`)."""
        return int(self.summary["classes_without_episodes"])

    @property
    def miou_sampled_classes(self) -> float:
        """Mean foreground IoU x 100 over only the classes that had an episode."""
        return float(self.summary["miou_sampled_classes"])

    def coverage_note(self) -> str:
        """'' when every class had an episode, else how many had none and the mean over
        the sampled ones, e.g. ``(5 of 10 classes had no episode; mean over the 5 sampled: 65.84)``."""
        missing = self.classes_without_episodes
        if missing == 0:
            return ""
        total = len(self.summary["class_iou"])
        return (f"({missing} of {total} classes had no episode; "
                f"mean over the {total - missing} sampled: {self.miou_sampled_classes:.2f})")

    def timing(self) -> dict:
        n = max(self.episodes, 1)
        return {
            "seconds": self.seconds,
            "episodes_per_s": n / self.seconds if self.seconds > 0 else float("nan"),
            "model_seconds": self.model_seconds,
            "model_episodes_per_s": n / self.model_seconds if self.model_seconds > 0 else float("nan"),
            "model_ms_per_episode": 1000.0 * self.model_seconds / n,
        }


def predict_and_truth(logits: np.ndarray, episode: Episode, use_original_imgsize: bool):
    """(prediction, ground truth) label maps for the metric, per the protocol above."""
    from ...runtime.kshot_vote import kshot_vote
    from ...runtime.resize import resize_logits

    logits = np.asarray(logits)
    if use_original_imgsize:
        truth = episode.query_mask  # (h, w)
        return kshot_vote(resize_logits(logits, truth.shape)), truth
    return kshot_vote(logits), network_size_label(episode.query_mask, logits.shape[-1])  # (S, S) each


def evaluate(predictor: EpisodePredictor, dataset, use_original_imgsize: bool = False,
             n_episodes: Optional[int] = None, grid_path: Optional[str | os.PathLike] = None,
             grid_count: int = 4, progress: bool = True,
             on_episode: Optional[Callable[[int, np.ndarray], None]] = None) -> EvalResult:
    """Run episodes 0 .. n-1 of ``dataset`` in order through ``predictor``; see module doc.

    ``n_episodes``: at most this many (default: all of the dataset). ``grid_path``: also
    write a PNG with the first ``grid_count`` episodes (supports, ground truth, prediction
    at the query's original size). ``on_episode(n, logits)``: optional hook (tests).
    """
    from tqdm import tqdm

    total = len(dataset) if n_episodes is None else min(int(n_episodes), len(dataset))
    if total < 1:
        raise UserError("no episode to evaluate (--episodes must be at least 1)")
    shot = int(dataset.shot)
    if predictor.shots is not None and predictor.shots != shot:
        raise UserError(f"the model was exported for {predictor.shots}-shot episodes but --nshot is {shot}; "
                        f"export it with dynamic or {shot} shots")
    accumulator = MIoUAccumulator(dataset.class_ids)
    grid_items = []
    model_seconds = 0.0
    start = time.perf_counter()
    bar = tqdm(range(total), desc=f"eval {dataset.benchmark} {shot}-shot", unit="ep", disable=not progress)
    for n in bar:
        episode = dataset.episode(n)
        t0 = time.perf_counter()
        logits = predictor.network_logits(episode)  # (K, 2, S, S)
        model_seconds += time.perf_counter() - t0
        if logits.shape[0] != shot:
            raise UserError(f"the model returned {logits.shape[0]} shot(s) for a {shot}-shot episode")
        pred, truth = predict_and_truth(logits, episode, use_original_imgsize)
        accumulator.add(pred, truth, episode.class_id)
        if on_episode is not None:
            on_episode(n, logits)
        if grid_path is not None and len(grid_items) < grid_count:
            grid_items.append((n, episode, logits))
        bar.set_postfix(mIoU=f"{accumulator.miou():.2f}", refresh=False)
    bar.close()
    seconds = time.perf_counter() - start
    if grid_path is not None:
        write_grid(grid_path, grid_items)
    return EvalResult(accumulator.summary(), seconds, model_seconds, [n for n, _, _ in grid_items])


def write_grid(path: str | os.PathLike, items) -> None:
    """One PNG: a row per episode (``episode_grid`` layout), prediction at original size."""
    from PIL import Image

    from ...atomic_file import atomic_path
    from ...runtime.postprocess import postprocess
    from .episode_grid import render_episode_grid

    rows = [render_episode_grid(episode, postprocess(logits, episode.query_mask.shape),
                                title=f"episode {n}  class {episode.class_id}  {episode.query_name}")
            for n, episode, logits in items]
    width = max(r.width for r in rows)
    sheet = Image.new("RGB", (width, sum(r.height for r in rows)), (0, 0, 0))
    y = 0
    for row in rows:
        sheet.paste(row, (0, y))
        y += row.height
    with atomic_path(path) as tmp:
        sheet.save(tmp, format="PNG")


__all__ = ["EpisodePredictor", "SegmenterPredictor", "EvalResult", "evaluate", "network_size_label",
           "predict_and_truth", "IGNORE_LABEL"]
