"""Frame rate and latency of a stream run, live (the progress line) and at the end.

    latency(frame)   = mask ready - frame read from the source     (queueing included)
    frames/s (live)  = (n - 1) / (done[last] - done[first]) over the last ``window`` masks
    frames/s (total) = masks / (done[last] - start of the run)

Latency is what a live viewer waits for a frame's mask: waiting behind the frame before
it, pre-processing, the network and post-processing; writing is not in it. A file run
without ``--realtime`` is read ahead on purpose, so there the clock starts at the frame's
turn (``latency_from="turn"``: the previous mask done, or the frame handed over if later).
"""

from __future__ import annotations

import time
from collections import deque
from typing import Optional

import numpy as np


class StreamStats:
    def __init__(self, window: int = 120, latency_from: str = "read") -> None:
        self.start = time.perf_counter()
        self.latency_from = latency_from  # "read" | "turn"
        self.latencies_ms: list[float] = []
        self._recent_done: deque[float] = deque(maxlen=window)
        self._recent_ms: deque[float] = deque(maxlen=window)
        self.last_done: Optional[float] = None

    def add(self, arrived: float, done: float) -> None:
        ms = (done - arrived) * 1e3
        self.latencies_ms.append(ms)
        self._recent_ms.append(ms)
        self._recent_done.append(done)
        self.last_done = done

    @property
    def frames(self) -> int:
        return len(self.latencies_ms)

    def live_text(self, dropped: Optional[int] = None) -> str:
        """The progress line's tail: recent frames/s and latency p50/p90 (and drops)."""
        if not self._recent_ms:
            return "waiting for the first frame"
        done = self._recent_done
        rate = f"{(len(done) - 1) / (done[-1] - done[0]):.1f}" if len(done) > 1 and done[-1] > done[0] else "-"
        p50, p90 = np.percentile(np.asarray(self._recent_ms), [50, 90])
        text = f"{rate} frames/s, latency p50 {p50:.0f} ms p90 {p90:.0f} ms"
        return text if dropped is None else f"{text}, dropped {dropped}"

    def summary(self, source_frames: int, dropped: Optional[int]) -> str:
        """One line for the end of the run."""
        if not self.latencies_ms or self.last_done is None:
            return "no frame was segmented"
        seconds = self.last_done - self.start
        p50, p90 = np.percentile(np.asarray(self.latencies_ms), [50, 90])
        text = (
            f"{self.frames} frames in {seconds:.1f} s: {self.frames / seconds:.2f} frames/s, "
            f"latency p50 {p50:.1f} ms p90 {p90:.1f} ms (from the frame's {self.latency_from})"
        )
        if dropped is not None:
            text += f"; realtime: dropped {dropped} of {source_frames} source frames"
        return text
