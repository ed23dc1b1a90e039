"""A frame source read in a thread of its own, so decoding overlaps inference.

    reader = FrameReader(source, realtime=False)          # every frame, in order
    reader = FrameReader(source, realtime=True, fps=25)   # the newest frame; older ones dropped
    for frame, arrived in reader:                         # arrived: time.perf_counter() at read
        ...
    reader.dropped                                        # frames never handed out

Two policies:
- ``realtime=False``: a queue of ``capacity`` frames; the reader waits while it is full,
  so nothing is lost and memory stays bounded when inference is slower than decoding.
- ``realtime=True``: one slot. A frame still in it when the next one arrives is dropped
  and counted, so the consumer always gets the newest frame and never falls behind the
  source. Given ``fps`` (a file played as if it were a camera), frame i is released at
  ``start + i / fps``, not as fast as it decodes.

An error of the source is raised to the consumer after every frame read before it.
Stopping early (``close``, or leaving the ``for`` loop) stops the reader thread.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Generic, Iterable, Iterator, Optional, TypeVar

T = TypeVar("T")


class FrameReader(Generic[T]):
    def __init__(self, frames: Iterable[T], *, realtime: bool, fps: Optional[float] = None, capacity: int = 2) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.realtime = realtime
        self._frames = frames
        self._period = 1.0 / fps if fps else None
        self._capacity = 1 if realtime else capacity
        self._queue: deque[tuple[T, float]] = deque()
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._done = False
        self._error: Optional[BaseException] = None
        self.read = 0  # frames taken from the source
        self.dropped = 0  # frames replaced before the consumer took them (realtime only)
        self._thread = threading.Thread(target=self._run, name="hsnet-frame-reader", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        iterator = iter(self._frames)
        start = time.perf_counter()
        try:
            for index, frame in enumerate(iterator):
                if self._period is not None:  # wait for the frame's time, as a camera would
                    self._stop.wait(max(0.0, start + index * self._period - time.perf_counter()))
                if self._stop.is_set():
                    break
                self._publish(frame)
        except BaseException as err:  # handed to the consumer, after the frames before it
            self._error = err
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()  # a generator source releases its device here, in this thread
            with self._cond:
                self._done = True
                self._cond.notify_all()

    def _publish(self, frame: T) -> None:
        with self._cond:
            if self.realtime:
                self.dropped += len(self._queue)
                self._queue.clear()
            else:
                while len(self._queue) >= self._capacity and not self._stop.is_set():
                    self._cond.wait()
            self.read += 1
            self._queue.append((frame, time.perf_counter()))
            self._cond.notify_all()

    def __iter__(self) -> Iterator[tuple[T, float]]:
        try:
            while True:
                with self._cond:
                    while not self._queue and not self._done:
                        self._cond.wait()
                    if self._queue:
                        item = self._queue.popleft()
                        self._cond.notify_all()
                    elif self._error is not None:
                        raise self._error
                    else:
                        return
                yield item
        finally:
            self.close()

    def close(self, timeout: float = 5.0) -> None:
        """Stop reading; waits up to ``timeout`` s for a read in progress (a camera's next frame)."""
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout)
