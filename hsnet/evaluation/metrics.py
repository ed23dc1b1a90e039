"""mIoU and FB-IoU exactly as the official HSNet evaluation, in numpy.

Per episode (official ``Evaluator.classify_prediction``): the prediction ``pred`` and the
ground truth ``gt`` are (H, W) label maps, pred in {0, 1}, gt in {0, 1, 255}. Pixels
where gt is 255 (PASCAL boundaries) are ignored: the official code sets pred to 255
there and histograms both maps over [0, 1], so those pixels count in neither map. For
label l in {0 = background, 1 = foreground}, over the valid pixels V:

    I_l = |{p in V : pred_p = l and gt_p = l}|
    U_l = |{p in V : pred_p = l}| + |{p in V : gt_p = l}| - I_l

Accumulation (official ``AverageMeter``): per class c, I_l[c] and U_l[c] are summed over
the episodes of class c. Then

    IoU_l[c] = I_l[c] / max(U_l[c], 1)
    mIoU     = 100 * mean over the fold's classes c of IoU_1[c]
    FB-IoU   = 100 * mean over l in {0, 1} of (sum_c I_l[c]) / (sum_c U_l[c])

with c over *all* the fold's classes: a class that had no episode has I = U = 0, so it
contributes IoU 0 to the mIoU (the official mean runs over ``class_ids`` regardless).
A short run (``--episodes 5`` on a 10-class fold) is therefore dragged down by classes
it never saw; beside the official figure we report how many classes had no episode and
the mean over the classes that had at least one (``miou_sampled_classes``), which is
what such a run actually measured. With every class sampled the two are equal.
FB-IoU has no max(., 1) guard officially; here it is NaN when nothing was counted.
The official buffers are float32 on the GPU; we count in int64 (exact; the float32 sums
round once they pass 2^24 pixels, a relative difference below 1e-7).
"""

from __future__ import annotations

from typing import Dict, Iterable, Tuple

import numpy as np

from ...errors import UserError

IGNORE_LABEL = 255


def intersection_union(pred: np.ndarray, gt: np.ndarray,
                       ignore_label: int = IGNORE_LABEL) -> Tuple[np.ndarray, np.ndarray]:
    """Intersection and union of one episode, ``(I, U)``, each int64 (2,) = (bg, fg)."""
    pred = np.asarray(pred)
    gt = np.asarray(gt)
    if pred.shape != gt.shape or pred.ndim != 2:
        raise UserError(f"prediction shape {pred.shape} does not match ground truth {gt.shape} "
                        "(both must be (H, W))")
    if not np.isin(pred, (0, 1)).all():
        raise UserError("prediction mask must hold only 0 and 1")
    if not np.isin(gt, (0, 1, ignore_label)).all():
        raise UserError(f"ground-truth mask must hold only 0, 1 and {ignore_label}")
    valid = gt != ignore_label            # (H, W)
    pred_fg = (pred == 1) & valid
    gt_fg = gt == 1                       # already excludes the ignore label
    inter_fg = np.count_nonzero(pred_fg & gt_fg)
    n_valid = np.count_nonzero(valid)
    n_pred_fg = np.count_nonzero(pred_fg)
    n_gt_fg = np.count_nonzero(gt_fg)
    inter_bg = n_valid - n_pred_fg - n_gt_fg + inter_fg  # valid pixels bg in both
    area_pred = np.array([n_valid - n_pred_fg, n_pred_fg], dtype=np.int64)
    area_gt = np.array([n_valid - n_gt_fg, n_gt_fg], dtype=np.int64)
    inter = np.array([inter_bg, inter_fg], dtype=np.int64)
    return inter, area_pred + area_gt - inter


def foreground_iou(pred: np.ndarray, gt: np.ndarray) -> float:
    """One episode's foreground IoU I_1 / max(U_1, 1) in [0, 1] (for display)."""
    inter, union = intersection_union(pred, gt)
    return float(inter[1]) / max(int(union[1]), 1)


class MIoUAccumulator:
    """Sums per-class intersections and unions; reports the official mIoU and FB-IoU."""

    def __init__(self, class_ids: Iterable[int]):
        self.class_ids = [int(c) for c in class_ids]
        if not self.class_ids or len(set(self.class_ids)) != len(self.class_ids):
            raise UserError("class_ids must be a non-empty list of distinct class ids")
        self._col = {c: i for i, c in enumerate(self.class_ids)}
        self.intersection = np.zeros((2, len(self.class_ids)), dtype=np.int64)  # (bg/fg, C)
        self.union = np.zeros((2, len(self.class_ids)), dtype=np.int64)         # (bg/fg, C)
        self.episodes = np.zeros(len(self.class_ids), dtype=np.int64)           # (C,)

    def add(self, pred: np.ndarray, gt: np.ndarray, class_id: int) -> Tuple[np.ndarray, np.ndarray]:
        """Count one episode; returns its ``(I, U)`` (each (2,) int64, bg then fg)."""
        col = self._col.get(int(class_id))
        if col is None:
            raise UserError(f"class {class_id} is not one of this fold's classes {self.class_ids}")
        inter, union = intersection_union(pred, gt)
        self.intersection[:, col] += inter
        self.union[:, col] += union
        self.episodes[col] += 1
        return inter, union

    def class_iou(self) -> np.ndarray:
        """(2, C) float64: IoU_l[c] = I_l[c] / max(U_l[c], 1), columns in class_ids order."""
        return self.intersection / np.maximum(self.union, 1)

    def miou(self) -> float:
        """100 x mean foreground IoU over all the fold's classes (unseen classes count 0)."""
        return float(self.class_iou()[1].mean() * 100.0)

    def classes_without_episodes(self) -> int:
        """How many of the fold's classes had no episode (each counts IoU 0 in :meth:`miou`)."""
        return int((self.episodes == 0).sum())

    def miou_sampled_classes(self) -> float:
        """100 x mean foreground IoU over the classes with at least one episode (NaN when
        none had one); equals :meth:`miou` once every class has been sampled."""
        sampled = self.episodes > 0
        if not sampled.any():
            return float("nan")
        return float(self.class_iou()[1][sampled].mean() * 100.0)

    def fbiou(self) -> float:
        """100 x mean over {bg, fg} of sum_c I / sum_c U (NaN before any pixel is counted)."""
        inter = self.intersection.sum(axis=1)
        union = self.union.sum(axis=1)
        if (union == 0).any():
            return float("nan")
        return float((inter / union).mean() * 100.0)

    @property
    def count(self) -> int:
        """Episodes added so far."""
        return int(self.episodes.sum())

    def summary(self) -> Dict[str, object]:
        """JSON-ready: ``miou`` (official, over every class), ``fbiou``, ``episodes``,
        ``classes_without_episodes``, ``miou_sampled_classes`` (mean over the classes that
        had an episode), and per class (keyed by str(id)) ``class_iou`` (foreground IoU
        x 100) and ``class_episodes``."""
        fg = self.class_iou()[1] * 100.0
        return {
            "miou": self.miou(),
            "fbiou": self.fbiou(),
            "episodes": self.count,
            "classes_without_episodes": self.classes_without_episodes(),
            "miou_sampled_classes": self.miou_sampled_classes(),
            "class_iou": {str(c): float(v) for c, v in zip(self.class_ids, fg)},
            "class_episodes": {str(c): int(n) for c, n in zip(self.class_ids, self.episodes)},
        }
