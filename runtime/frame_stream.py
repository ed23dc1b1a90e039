"""Masks for a stream of frames against one cached support set, with the next frames'
pre-processing overlapped with the current frame's inference.

    with Segmenter.load("hsnet.onnx") as seg:
        seg.set_support(supports, masks)                 # encoded once
        for mask in seg.stream(frames, prefetch=2):      # frames: any iterable of images
            ...                                          # (h, w) uint8 {0, 1}, in order

    main thread:   ... network(frame i) -> postprocess(i) -> network(i+1) ...
    worker thread: decode/preprocess(i+1), (i+2), ... up to ``prefetch`` frames ahead

The overlap helps where the backend releases the GIL while it computes (onnxruntime,
TensorRT and PyTorch all do); ``prefetch=0`` runs everything in the caller's thread.
Frames are pulled from the iterable lazily (a camera is never read ahead by more than
``prefetch`` frames), masks come out in frame order, and an error in one frame (a corrupt
image, or the frame source itself breaking) is raised at that frame, after every earlier
mask was yielded. Stopping early (``break``) shuts the worker down.
"""

from __future__ import annotations

from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Iterable, Iterator

import numpy as np

from ..errors import UserError
from .images import ImageLike
from .postprocess import postprocess

if TYPE_CHECKING:  # pragma: no cover - types only
    from .segmenter import Segmenter


def _failed(err: Exception) -> Future:
    future: Future = Future()
    future.set_exception(err)
    return future


def stream_masks(segmenter: "Segmenter", frames: Iterable[ImageLike], prefetch: int = 1) -> Iterator[np.ndarray]:
    if not isinstance(prefetch, int) or isinstance(prefetch, bool) or prefetch < 0:
        raise UserError(f"prefetch must be 0 or a positive number of frames, got {prefetch!r}")
    support = segmenter._support_for(None, None)  # the cached set, or a one-line error
    if prefetch == 0:
        for frame in frames:
            query_img, size = segmenter.prepare_query(frame)
            yield postprocess(segmenter.network_logits(query_img, support)[0], size)
        return
    frames = iter(frames)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="hsnet-preprocess") as pool:
        pending: deque[Future] = deque()
        source_done = False

        def fill() -> None:
            nonlocal source_done
            while not source_done and len(pending) <= prefetch:
                try:
                    frame = next(frames)
                except StopIteration:
                    source_done = True
                    return
                except Exception as err:  # the source broke: raise it after the frames before it
                    source_done = True
                    pending.append(_failed(err))
                    return
                pending.append(pool.submit(segmenter.prepare_query, frame))

        try:
            fill()
            while pending:
                query_img, size = pending.popleft().result()  # re-raises the frame's error here
                fill()  # the next frames decode while this one runs
                yield postprocess(segmenter.network_logits(query_img, support)[0], size)
        finally:
            for future in pending:
                future.cancel()
