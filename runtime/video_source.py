"""Video, camera and network-stream queries for ``hsnet-deploy run``, read with OpenCV.

    --query clip.mp4                           a video file (anything OpenCV's FFmpeg decodes)
    --query /dev/video0   or   --query 0       a camera (V4L2 on Linux; an index elsewhere)
    --query rtsp://host:8554/cam               a network stream (rtsp, rtmp, http(s), udp, srt, ...)
    --query 'gst:nvarguscamerasrc ! ... ! appsink'   a GStreamer pipeline (JetPack's OpenCV)

    source = VideoSource(parse_stream_spec("clip.mp4"))
    for query in source:        # Query("frame_000000", None, (h, w, 3) uint8 RGB, index 0), ...
        ...

Why OpenCV (``opencv-python-headless``, the ``video`` extra) rather than PyAV: cameras.
The PyPI wheel of OpenCV 5.1 reads V4L2 cameras with its own backend, while PyAV 18.1's
wheel has no ``v4l2`` input format at all; on Jetson, JetPack's OpenCV adds GStreamer,
the usual way to reach a CSI camera. Speed does not decide it (``benchmarks/video_io``).

A stream ends in one of three ways, each reported in one line:
- the source ran out (a file's last frame): the iteration simply ends;
- it broke (a file shorter than its header says, a camera that stops delivering, a
  network stream that drops): :class:`StreamBroken`, raised after every frame before it;
- it never opened (missing camera, unreachable URL, not a video): a ``UserError`` when
  the source is constructed, before any model is loaded.
"""

from __future__ import annotations

import math
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Optional, Union

from ..errors import UserError
from .images import IMAGE_SUFFIXES, Query

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_DEVICE = re.compile(r"^/dev/video(\d+)$")
GSTREAMER_PREFIX = "gst:"
FRAME_NAME = "frame_{:06d}"  # output name of source frame i
_FRAME_STEM = re.compile(r"frame_\d{6,}")  # what FRAME_NAME gives
OPEN_TIMEOUT_MS = 10_000  # network streams: give up opening, or waiting for a frame, after this
READ_TIMEOUT_MS = 10_000


class StreamBroken(UserError):
    """The source stopped before its end (truncated file, camera or network lost)."""

    def __init__(self, message: str, frames: int) -> None:
        super().__init__(message)
        self.frames = frames  # frames delivered before the break


@dataclass(frozen=True)
class StreamSpec:
    kind: str  # "video" | "camera" | "url" | "gstreamer"
    target: Union[str, int]  # what OpenCV opens: a path, a URL, a pipeline or a camera index
    label: str  # how messages name it

    @property
    def path(self) -> Optional[Path]:
        return Path(self.target) if self.kind == "video" else None  # type: ignore[arg-type]


def parse_stream_spec(text: str) -> Optional[StreamSpec]:
    """The stream ``--query`` names, or None for an image file or folder (or a missing path)."""
    if text.startswith(GSTREAMER_PREFIX):
        return StreamSpec("gstreamer", text[len(GSTREAMER_PREFIX):].strip(), "GStreamer pipeline")
    if _URL.match(text):
        return StreamSpec("url", text, f"stream {text}")
    device = _DEVICE.match(text)
    if device:
        return StreamSpec("camera", int(device.group(1)), f"camera {text}")
    path = Path(text)
    if text.isdigit() and not path.exists():
        return StreamSpec("camera", int(text), f"camera {text}")
    if path.is_file() and path.suffix.lower() not in IMAGE_SUFFIXES:
        return StreamSpec("video", str(path), f"video {path}")
    return None


def is_frame_png(path: Path) -> bool:
    """Whether a stream's mask folder could write a file of this name (frame_000012.png)."""
    return path.suffix.lower() == ".png" and _FRAME_STEM.fullmatch(path.stem) is not None


def import_cv2() -> Any:
    """OpenCV, with FFmpeg's and OpenCV's own console logging silenced (errors come as one line here)."""
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # AV_LOG_QUIET
    os.environ.setdefault("OPENCV_LOG_LEVEL", "OFF")
    try:
        import cv2
    except ImportError:
        raise UserError(
            "video, camera and stream queries need OpenCV: pip install 'hsnet-deploy[video]' "
            "(opencv-python-headless)"
        ) from None
    return cv2


def _camera_device(index: int) -> Optional[Path]:
    return Path(f"/dev/video{index}") if sys.platform.startswith("linux") else None


def open_capture(spec: StreamSpec) -> Any:
    """An opened ``cv2.VideoCapture`` for ``spec``; UserError naming why it cannot open."""
    cv2 = import_cv2()
    if spec.kind == "camera":
        device = _camera_device(int(spec.target))
        if device is not None and not device.exists():
            raise UserError(f"{spec.label} not found: there is no {device}")
        backend = cv2.CAP_V4L2 if device is not None else cv2.CAP_ANY
        capture = cv2.VideoCapture(int(spec.target), backend)
        reason = "it is busy, or not a video capture device"
    elif spec.kind == "gstreamer":
        if not re.search(r"GStreamer:\s+YES", cv2.getBuildInformation()):
            raise UserError("this OpenCV was built without GStreamer (JetPack's OpenCV has it; the PyPI wheel does not)")
        capture = cv2.VideoCapture(str(spec.target), cv2.CAP_GSTREAMER)
        reason = "GStreamer could not start the pipeline (it must end in appsink)"
    elif spec.kind == "url":
        params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, OPEN_TIMEOUT_MS, cv2.CAP_PROP_READ_TIMEOUT_MSEC, READ_TIMEOUT_MS]
        capture = cv2.VideoCapture(str(spec.target), cv2.CAP_FFMPEG, params)
        reason = f"unreachable, refused, or not a stream FFmpeg can read (gave up after {OPEN_TIMEOUT_MS // 1000} s at most)"
    else:
        capture = cv2.VideoCapture(str(spec.target), cv2.CAP_FFMPEG)
        reason = "not a video FFmpeg can decode, or damaged (an .mp4 cut short loses its index)"
    if not capture.isOpened():
        capture.release()
        raise UserError(f"cannot open {spec.label}: {reason}")
    return capture


def _positive(value: float) -> Optional[float]:
    return value if math.isfinite(value) and value > 0 else None


class VideoSource:
    """Frames of a video file, camera or network stream, decoded one at a time as RGB."""

    is_folder = False
    is_stream = True

    def __init__(self, spec: StreamSpec) -> None:
        self._cv2 = cv2 = import_cv2()
        self.spec = spec
        self._capture = open_capture(spec)
        self.fps = _positive(float(self._capture.get(cv2.CAP_PROP_FPS)))
        frames = _positive(float(self._capture.get(cv2.CAP_PROP_FRAME_COUNT)))
        # a file's header announces its length; a camera or a live stream has none
        self.expected_frames = int(frames) if frames and spec.kind in ("video", "url") else None
        # a live source delivers frames at its own pace; a file is read as fast as it decodes
        self.live = spec.kind in ("camera", "gstreamer") or (spec.kind == "url" and self.expected_frames is None)

    @property
    def path(self) -> Optional[Path]:
        return self.spec.path

    @property
    def short_label(self) -> str:
        """The progress line's name: a file's name, a camera, or "stream"."""
        if self.spec.kind == "video":
            return Path(str(self.spec.target)).name
        return {"camera": f"camera {self.spec.target}", "url": "stream", "gstreamer": "GStreamer"}[self.spec.kind]

    def describe(self) -> str:
        parts = [self.spec.label]
        if self.expected_frames:
            parts.append(f"{self.expected_frames} frames")
        if self.fps:
            parts.append(f"{self.fps:g} frames/s")
        return ", ".join(parts)

    def __iter__(self) -> Iterator[Query]:
        cv2, capture, count = self._cv2, self._capture, 0
        try:
            while True:
                ok, bgr = capture.read()  # (h, w, 3) uint8 BGR
                if not ok or bgr is None:
                    break
                yield Query(FRAME_NAME.format(count), None, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), count)
                count += 1
        finally:
            self.close()
        self._check_end(count)

    def _check_end(self, count: int) -> None:
        label, expected = self.spec.label, self.expected_frames
        if count == 0:
            raise StreamBroken(f"{label} delivered no frames", 0)
        if self.spec.kind == "camera":
            raise StreamBroken(f"{label} stopped delivering frames after {count}", count)
        # container lengths can be estimates (duration x rate): one frame short is not a break
        if expected is not None and count < expected - 1:
            raise StreamBroken(
                f"{label} ended after {count} of the {expected} frames its header announces: "
                "it is truncated or damaged", count,
            )
        if self.spec.kind == "url" and expected is None:
            raise StreamBroken(f"{label} ended after {count} frames (the connection closed)", count)

    def close(self) -> None:
        self._capture.release()
