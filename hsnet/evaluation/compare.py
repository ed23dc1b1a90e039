"""Two models on the same episodes, Polygraphy-style: how far apart are their outputs?

    comparison = Comparison(atol=1e-3, rtol=1e-3, class_ids=dataset.class_ids)
    comparison.add(logits_a, logits_b, episode)    # per episode, (K, 2, S, S) each
    summary = comparison.summary(); summary["passed"]

Per output (``logits``: the per-shot network logits; ``mask``: the K-shot vote of each),
with a = model A, b = model B (the reference), over every element of every episode:

    abs error     |a - b|: max, mean, p99
    rel error     |a - b| / |b| (|b| = 0 counts as relative error 0 where a = b, else inf)
    outside       the share of elements with abs > atol AND rel > rtol: an element
                  fails only where both tolerances are exceeded (Polygraphy's rule)
    tolerances    the smallest atol that passes with rtol = 0 (max abs), and the
                  smallest rtol that passes with atol = 0 (max rel)
    NaN / Inf     counted in a (a non-finite value always fails)
    masks         pixel agreement and foreground IoU of the two votes (None when
                  neither predicts any foreground); mIoU of each
                  against the ground truth (the official metric) and their difference

The gate passes when no element of the logits is outside both tolerances (or at most
the share ``max_outside`` of them, a fraction in [0, 1]: 0.01 allows 1 %), and no output
is NaN / Inf. :func:`check_tolerances` is the one place that says which atol, rtol and
max_outside make sense; :class:`Comparison` calls it, and so does ``compare`` before it
loads anything. p99 is read from a uniform sample
of at most :data:`SAMPLE` errors per output, so memory stays bounded on long runs.
"""

from __future__ import annotations

import math

import numpy as np

from ...errors import UserError
from .metrics import MIoUAccumulator

SAMPLE = 2_000_000


def check_tolerances(atol: float, rtol: float, max_outside: float) -> None:
    """Raise :class:`UserError` unless atol and rtol are finite and >= 0 and max_outside
    is a share in [0, 1] (NaN fails every check; named as ``compare``'s options)."""
    for value, name in ((atol, "--atol"), (rtol, "--rtol")):
        if not (math.isfinite(value) and value >= 0):
            raise UserError(f"{name} must be a finite number of at least 0, got {value:g}")
    if not 0 <= max_outside <= 1:
        raise UserError(f"--max-outside is the share of logit elements allowed outside the tolerances, "
                        f"from 0 to 1 (0.01 = 1 %), got {max_outside:g}")


class _ErrorStats:
    def __init__(self, atol: float, rtol: float) -> None:
        self.atol, self.rtol = atol, rtol
        self.count = self.outside = self.non_finite = 0
        self.max_abs = self.max_rel = self.sum_abs = self.sum_rel = 0.0
        self.samples: list[np.ndarray] = []
        self.sampled = 0

    def add(self, a: np.ndarray, b: np.ndarray) -> None:
        a, b = np.asarray(a, dtype=np.float64).ravel(), np.asarray(b, dtype=np.float64).ravel()
        finite = np.isfinite(a)
        self.non_finite += int((~finite).sum())
        diff = np.abs(a - b)
        with np.errstate(divide="ignore", invalid="ignore"):
            rel = np.where(diff == 0, 0.0, diff / np.abs(b))
        fail = (diff > self.atol) & (rel > self.rtol) | ~finite
        self.outside += int(fail.sum())
        self.count += diff.size
        finite_diff = np.where(finite, diff, 0.0)
        self.max_abs = max(self.max_abs, float(finite_diff.max(initial=0.0)))
        self.max_rel = max(self.max_rel, float(np.where(finite, rel, 0.0).max(initial=0.0)))
        self.sum_abs += float(finite_diff.sum())
        self.sum_rel += float(np.where(np.isfinite(rel) & finite, rel, 0.0).sum())
        step = max(1, int(np.ceil(diff.size * max(1, len(self.samples) + 1) / SAMPLE)))
        self.samples.append(finite_diff[::step].astype(np.float32))
        self.sampled += self.samples[-1].size
        if self.sampled > SAMPLE:  # thin what is kept to stay under the bound
            self.samples = [s[::2] for s in self.samples]
            self.sampled = sum(s.size for s in self.samples)

    def summary(self) -> dict:
        n = max(self.count, 1)
        sample = np.concatenate(self.samples) if self.samples else np.zeros(1, np.float32)
        return {
            "elements": self.count,
            "max_abs": self.max_abs, "mean_abs": self.sum_abs / n, "p99_abs": float(np.percentile(sample, 99)),
            "max_rel": self.max_rel, "mean_rel": self.sum_rel / n,
            "outside_share": self.outside / n, "outside": self.outside, "non_finite": self.non_finite,
            "passing_atol": self.max_abs, "passing_rtol": self.max_rel,
        }


class MaskAgreement:
    """Pixel agreement and foreground IoU between pairs of binary masks, summed over pairs
    (also what ``tools/research/openvino_agreement.py`` reports across backends)."""

    def __init__(self) -> None:
        self.agree = self.pixels = self.inter = self.union = self.differing = 0

    def add(self, a: np.ndarray, b: np.ndarray) -> None:
        fg_a, fg_b = a == 1, b == 1
        equal = int((a == b).sum())
        self.agree += equal
        self.pixels += a.size
        self.inter += int((fg_a & fg_b).sum())
        self.union += int((fg_a | fg_b).sum())
        self.differing += int(equal != a.size)  # pairs that differ anywhere

    @property
    def agreement(self) -> float:
        return self.agree / max(self.pixels, 1)

    @property
    def iou(self):
        """None when neither predicts any foreground."""
        return self.inter / self.union if self.union else None


class Comparison:
    """Accumulates the statistics of the module doc over episodes."""

    def __init__(self, atol: float, rtol: float, class_ids, max_outside: float = 0.0) -> None:
        check_tolerances(atol, rtol, max_outside)
        self.atol, self.rtol, self.max_outside = atol, rtol, max_outside
        self.logits = _ErrorStats(atol, rtol)
        self.masks = _ErrorStats(0.0, 0.0)
        self.miou_a, self.miou_b = MIoUAccumulator(class_ids), MIoUAccumulator(class_ids)
        self.agreement = MaskAgreement()
        self.episodes = 0

    def add(self, logits_a: np.ndarray, logits_b: np.ndarray, episode) -> None:
        from .evaluate import predict_and_truth

        if logits_a.shape != logits_b.shape:
            raise UserError(f"the models' logits differ in shape: {tuple(logits_a.shape)} vs {tuple(logits_b.shape)}")
        self.logits.add(logits_a, logits_b)
        pred_a, truth = predict_and_truth(logits_a, episode, False)
        pred_b, _ = predict_and_truth(logits_b, episode, False)
        self.masks.add(pred_a, pred_b)
        self.miou_a.add(pred_a, truth, episode.class_id)
        self.miou_b.add(pred_b, truth, episode.class_id)
        self.agreement.add(pred_a, pred_b)
        self.episodes += 1

    def summary(self) -> dict:
        logits, masks = self.logits.summary(), self.masks.summary()
        miou_a, miou_b = float(self.miou_a.miou()), float(self.miou_b.miou())
        passed = logits["outside_share"] <= self.max_outside and logits["non_finite"] == 0
        return {
            "episodes": self.episodes, "atol": self.atol, "rtol": self.rtol, "max_outside": self.max_outside,
            "logits": logits,
            "mask": {"agreement": self.agreement.agreement, "iou": self.agreement.iou,
                     "differing_pixels": masks["outside"], "non_finite": masks["non_finite"]},
            "miou_a": miou_a, "miou_b": miou_b, "delta_miou": miou_a - miou_b,
            "passed": bool(passed),
        }


def format_summary(summary: dict, name_a: str, name_b: str) -> str:
    """The lines ``hsnet-deploy compare`` prints."""
    lg, mk = summary["logits"], summary["mask"]
    lines = [
        f"A = {name_a}\nB = {name_b}  (reference)\n{summary['episodes']} episodes, {lg['elements']} logit elements",
        f"logits  abs max {lg['max_abs']:.4g}  mean {lg['mean_abs']:.4g}  p99 {lg['p99_abs']:.4g}   "
        f"rel max {lg['max_rel']:.4g}  mean {lg['mean_rel']:.4g}",
        f"        outside atol {summary['atol']:g} and rtol {summary['rtol']:g}: {100 * lg['outside_share']:.4f} % "
        f"({lg['outside']} elements); NaN/Inf: {lg['non_finite']}",
        f"        would pass with --atol {lg['passing_atol']:.4g} (any rtol) or --rtol {lg['passing_rtol']:.4g} (any atol)",
        f"mask    agreement {100 * mk['agreement']:.4f} %  foreground IoU "
        + (f"{100 * mk['iou']:.3f} %" if mk["iou"] is not None else "n/a (neither predicts foreground)")
        + f"  ({mk['differing_pixels']} pixels differ)",
        f"mIoU    A {summary['miou_a']:.2f}  B {summary['miou_b']:.2f}  difference {summary['delta_miou']:+.2f}",
        "PASSED" if summary["passed"] else "FAILED: " + (
            f"{lg['non_finite']} NaN/Inf" if lg["non_finite"] else
            f"{100 * lg['outside_share']:.4f} % of the logits outside the tolerances "
            f"(allowed {100 * summary['max_outside']:.4f} %)"),
    ]
    return "\n".join(lines)
