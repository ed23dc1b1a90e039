"""Stage timers for a staged forward pass (see :mod:`staged_forward`).

On the CPU every PyTorch op has finished when it returns, so ``time.perf_counter``
around a stage measures it. On CUDA, ops are queued: each stage is bracketed by two
``torch.cuda.Event(enable_timing=True)`` records on the current stream (no
synchronisation in between, so timing does not change the schedule), and the elapsed
times are read once the episode is done (:meth:`CudaEventStages.collect`).
"""

from __future__ import annotations

import contextlib
import time
from collections import defaultdict
from typing import Callable, Iterator, Optional

from .staged_forward import StageObserver


class WallClockStages(StageObserver):
    """Seconds per stage by ``perf_counter``; ``sync`` (e.g. cuda synchronize) runs before each reading."""

    def __init__(self, sync: Optional[Callable[[], None]] = None):
        self.seconds: dict[str, float] = defaultdict(float)
        self._sync = sync

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[None]:
        if self._sync is not None:
            self._sync()
        start = time.perf_counter()
        try:
            yield
        finally:
            if self._sync is not None:
                self._sync()
            self.seconds[name] += time.perf_counter() - start

    def collect(self) -> dict[str, float]:
        return dict(self.seconds)


class CudaEventStages(StageObserver):
    """Seconds per stage from CUDA event pairs, read after the episode by ``collect``."""

    def __init__(self):
        import torch

        self._torch = torch
        self._pending: list[tuple[str, object, object]] = []

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[None]:
        event = self._torch.cuda.Event
        start, end = event(enable_timing=True), event(enable_timing=True)
        start.record()
        try:
            yield
        finally:
            end.record()
            self._pending.append((name, start, end))

    def collect(self) -> dict[str, float]:
        self._torch.cuda.synchronize()
        seconds: dict[str, float] = defaultdict(float)
        for name, start, end in self._pending:
            seconds[name] += start.elapsed_time(end) / 1e3  # elapsed_time is in ms
        self._pending.clear()
        return dict(seconds)


def network_stage_timer(device) -> StageObserver:
    """The right timer for network stages on ``device`` (a torch.device)."""
    return CudaEventStages() if device.type == "cuda" else WallClockStages()
