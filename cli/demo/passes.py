"""The two passes of the demo's query stream over one cached support set.

1. :func:`run_onnx_stream` (the deployment, torch-free): the split ONNX graphs in
   onnxruntime; ``set_support`` once, then each query through ``segment`` on its own,
   timed one by one (the mask at the query's original size is what a user gets). An
   untimed second look, in batches, keeps the network-size logits for the comparison.
2. :func:`run_torch_stream` (the reference): the same support set and queries through
   the PyTorch model behind the same runtime (``Segmenter.from_models``), in batches.

Both go through the runtime's one inference path, so they differ only by the network.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional

import numpy as np

from ...hsnet.data.held_out_stream import DemoStream

BATCH = 4  # queries per graph call in the untimed passes (the graphs have a dynamic batch)


@dataclass
class OnnxPass:
    """What the deployed graphs did with the stream."""

    masks: List[np.ndarray]  # N x (h, w) uint8 {0, 1}, segment()'s output at original size
    logits: np.ndarray  # (N, K, 2, S, S) float32 at network size
    query_seconds: List[float]  # N wall times of segment(), the first one the warm-up
    support_seconds: float  # set_support: the support encoder, once
    open_seconds: float  # opening both sessions
    providers: List[str]


def _batched_logits(segmenter, stream: DemoStream, bar) -> np.ndarray:
    """(N, K, 2, S, S): every query of ``stream`` against its support set, BATCH at a time."""
    support = segmenter.prepare_support(stream.support_images, stream.support_masks)
    chunks = []
    images = [episode.query_image for episode in stream.queries]
    for start in range(0, len(images), BATCH):
        query_img, _ = segmenter.prepare_queries(images[start:start + BATCH])  # (B, 3, S, S)
        chunks.append(segmenter.network_logits(query_img, support))  # (B, K, 2, S, S)
        if bar is not None:
            bar.update(len(query_img))
    return np.concatenate(chunks)


def run_onnx_stream(onnx_path: Path, stream: DemoStream, threads: Optional[int], bar=None,
                    backend_options: Optional[dict] = None) -> OnnxPass:
    """The deployment: split graphs on the CPU (onnxruntime, or ``backend_options``' runtime:
    RuntimeOptions keywords), one cached support set."""
    from ...runtime import RuntimeOptions, Segmenter

    options = RuntimeOptions(device="cpu", threads=threads, graphs="split", **(backend_options or {}))
    name = options.onnx_backend
    start = time.perf_counter()
    with Segmenter.load(onnx_path, options=options) as segmenter:
        open_seconds = time.perf_counter() - start
        if bar is not None:
            bar.set_postfix_str(f"{name}: segment, one query at a time")
        start = time.perf_counter()
        segmenter.set_support(stream.support_images, stream.support_masks)
        support_seconds = time.perf_counter() - start
        masks, seconds = [], []
        for episode in stream.queries:
            start = time.perf_counter()
            masks.append(segmenter.segment(episode.query_image))  # (h, w) uint8
            seconds.append(time.perf_counter() - start)
            if bar is not None:
                bar.update()
        if bar is not None:
            bar.set_postfix_str(f"{name}: logits for the comparison")
        logits = _batched_logits(segmenter, stream, bar)
        providers = list(getattr(segmenter.runners["query"], "providers", None) or
                         ([f"{options.openvino_device}, {options.openvino_precision} inference"] if name == "openvino" else []))
    return OnnxPass(masks, logits, seconds, support_seconds, open_seconds, providers)


def run_torch_stream(model, stream: DemoStream, img_size: int, threads: Optional[int], bar=None) -> np.ndarray:
    """(N, K, 2, S, S) logits of the PyTorch model on the same stream (the reference)."""
    from ...runtime import RuntimeOptions, Segmenter

    if bar is not None:
        bar.set_postfix_str("torch: the reference")
    options = RuntimeOptions(device="cpu", img_size=img_size, threads=threads)
    with Segmenter.from_models({"query": model}, "torch", options) as segmenter:
        return _batched_logits(segmenter, stream, bar)
