"""The demo's numbers: latency of the stream, its mIoU, and torch-vs-ONNX agreement.

    latency    per-query wall time of ``segment`` (pre-processing, query graph, resize and
               vote); the first query is the warm-up, reported alone; p50 / p90 / mean
               and queries/s over the others (numpy's linear-interpolation percentiles)
    accuracy   official mIoU / FB-IoU (:class:`MIoUAccumulator`) over the stream's one
               class: ground truth = the query mask at its original size, prediction =
               ``segment``'s mask at that size; with one class, mIoU = that class's IoU
    agreement  % of pixels where the ONNX mask equals the torch mask (both at original
               size, the torch one through the same post-processing), over the stream;
               and the largest |logit difference| at network size
"""

from __future__ import annotations

from typing import List, Sequence

import numpy as np

from ...hsnet.data.held_out_stream import DemoStream
from ...runtime.postprocess import postprocess


def latency_summary(seconds: Sequence[float]) -> dict:
    """Milliseconds: warm-up (first query) and p50 / p90 / mean of the rest; queries/s."""
    if len(seconds) < 2:
        raise ValueError("need a warm-up query and at least one timed query")
    timed = np.asarray(seconds[1:], dtype=np.float64) * 1000.0  # (N - 1,) ms
    return {
        "warmup_ms": float(seconds[0] * 1000.0),
        "latency_p50_ms": float(np.percentile(timed, 50)),
        "latency_p90_ms": float(np.percentile(timed, 90)),
        "latency_mean_ms": float(timed.mean()),
        "timed_queries": int(timed.size),
        "queries_per_s": float(1000.0 / timed.mean()),
    }


def stream_accuracy(stream: DemoStream, masks: Sequence[np.ndarray]) -> dict:
    """Official mIoU and FB-IoU (x 100) of the stream's predictions at original size."""
    from ...hsnet.evaluation.metrics import MIoUAccumulator

    accumulator = MIoUAccumulator([stream.class_id])
    for episode, mask in zip(stream.queries, masks):
        accumulator.add(mask, episode.query_mask, stream.class_id)  # (h, w) each
    return {"miou": accumulator.miou(), "fbiou": accumulator.fbiou()}


def torch_masks(stream: DemoStream, logits: np.ndarray) -> List[np.ndarray]:
    """(N, K, 2, S, S) logits -> N masks at each query's original size (the runtime's vote)."""
    return [postprocess(shot_logits, episode.query_image.shape[:2])
            for shot_logits, episode in zip(logits, stream.queries)]


def agreement(onnx_masks: Sequence[np.ndarray], onnx_logits: np.ndarray,
              reference_masks: Sequence[np.ndarray], reference_logits: np.ndarray) -> dict:
    """Pixel agreement (%) of the masks over the stream, and the max |logit difference|."""
    equal = sum(int(np.count_nonzero(a == b)) for a, b in zip(onnx_masks, reference_masks))
    pixels = sum(int(a.size) for a in onnx_masks)
    identical = sum(bool(np.array_equal(a, b)) for a, b in zip(onnx_masks, reference_masks))
    return {
        "mask_agreement_percent": 100.0 * equal / pixels,
        "identical_masks": int(identical),
        "max_abs_logit_diff": float(np.max(np.abs(onnx_logits - reference_logits))),
    }
