"""``hsnet-deploy run`` on a video, camera or network stream: the frame loop.

    source (reader thread) -> Segmenter.stream (pre-processing one frame ahead) -> writer
                                   live line: frames/s, latency p50/p90, dropped

The support set is encoded once, before; every frame goes through the query path only.
Without ``realtime`` every frame is segmented: the reader waits when it is two frames
ahead, so a slow model slows the read, never grows a queue. With ``realtime`` the model
always takes the newest frame; frames that arrive while it is busy are dropped and
counted (a file is played at its own frame rate, as a camera would deliver it).

The loop ends when the source ends, breaks (``StreamBroken``), is interrupted (Ctrl-C,
SIGTERM) or meets a frame it cannot take (a ``UserError``): in each case what was
segmented is kept and :class:`StreamReport` says why it stopped. Anything else is a bug:
it propagates, and the caller's writer discards everything.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Callable, Iterator, Optional

import numpy as np

from ..errors import UserError
from .frame_reader import FrameReader
from .images import Query
from .stream_stats import StreamStats
from .video_source import StreamBroken, VideoSource


@dataclass
class StreamReport:
    stats: StreamStats
    source_frames: int  # frames read from the source
    dropped: Optional[int]  # realtime only
    stopped: Optional[str]  # why it stopped early: the break's message, or "interrupted"
    exit_code: int  # 0 ended, 1 broke, 2 a frame it cannot take, 130 interrupted

    def summary(self) -> str:
        return self.stats.summary(self.source_frames, self.dropped)


class StopSignals:
    """Ctrl-C and SIGTERM (``docker stop``, systemd) stop a stream cleanly, output kept.

    Either raises KeyboardInterrupt, except inside ``deferred()`` (a frame being written):
    there it is held until the write is complete, so no half-written PNG or video frame
    is ever committed.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self._deferring = False
        self._pending = False
        self._previous: dict = {}

    def _handle(self, signum, frame) -> None:
        if self._deferring:
            self._pending = True
        else:
            raise KeyboardInterrupt

    def __enter__(self) -> "StopSignals":
        if threading.current_thread() is threading.main_thread():
            self._previous = {s: signal.signal(s, self._handle) for s in self.SIGNALS}
        return self

    def __exit__(self, *exc) -> None:
        for s, handler in self._previous.items():
            signal.signal(s, handler)

    @contextlib.contextmanager
    def deferred(self) -> Iterator[None]:
        self._deferring = True
        try:
            yield
        finally:
            self._deferring = False
        if self._pending:
            raise KeyboardInterrupt


def segment_stream(
    segmenter,
    source: VideoSource,
    write: Callable[[Query, np.ndarray], None],
    *,
    realtime: bool = False,
    progress: bool = True,
) -> StreamReport:
    """Segment every frame (or, realtime, the newest one) of ``source``; ``write(query,
    mask)`` is called for each in order. Returns how it went and why it stopped."""
    from tqdm import tqdm

    reader: FrameReader[Query] = FrameReader(source, realtime=realtime, fps=None if source.live else source.fps)
    in_flight: deque[tuple[Query, float]] = deque()  # frames handed to the segmenter, in order

    # a file without realtime is read ahead on purpose: its frames' latency counts from their
    # turn (taken by the segmenter, or the previous mask done, whichever is later), not the read
    read_ahead = not realtime and not source.live

    def images() -> Iterator[np.ndarray]:
        for query, arrived in reader:
            in_flight.append((query, time.perf_counter() if read_ahead else arrived))
            yield query.image  # (h, w, 3) uint8 RGB

    stats = StreamStats(latency_from="turn" if read_ahead else "read")
    total = None if realtime else source.expected_frames
    shape = "{percentage:3.0f}%|{bar:20}| {n_fmt}/{total_fmt}" if total else "{n_fmt} frames"
    bar = tqdm(  # its own rate is left out: the postfix has the windowed one and the latencies
        total=total, desc=source.short_label, disable=not progress, dynamic_ncols=True,
        bar_format="{desc}: " + shape + " [{elapsed}{postfix}]",
    )
    stopped, code = None, 0
    try:
        with StopSignals() as signals:
            for mask in segmenter.stream(images(), prefetch=0 if realtime else 1):
                query, arrived = in_flight.popleft()
                if read_ahead and stats.last_done is not None:
                    arrived = max(arrived, stats.last_done)
                stats.add(arrived, time.perf_counter())
                with signals.deferred():
                    write(query, mask)
                bar.set_postfix_str(stats.live_text(reader.dropped if realtime else None), refresh=False)
                bar.update(1)
    except StreamBroken as err:
        stopped, code = str(err), 1
    except UserError as err:  # a frame it cannot take (its size changed mid-stream, ...)
        stopped, code = str(err), 2
    except KeyboardInterrupt:
        stopped, code = "interrupted", 130
    finally:
        reader.close()
        bar.close()
    return StreamReport(stats, reader.read, reader.dropped if realtime else None, stopped, code)
