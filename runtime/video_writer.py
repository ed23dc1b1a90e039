"""A video file written frame by frame with OpenCV, complete or not at all.

    writer = VideoFileWriter(Path("out.mp4"), fps=25.0)
    writer.write(rgb, index=0)    # (h, w, 3) uint8 RGB; opens the file on the first frame
    writer.write(rgb, index=3)    # frames 1 and 2 were dropped: the previous picture is held
    writer.commit()               # close the file and rename it over out.mp4
    writer.discard()              # or: close and delete it; out.mp4 untouched

Frames go to a hidden temporary file beside the target (same suffix, so FFmpeg picks the
container) that ``commit`` renames over it; a stream that breaks still commits the frames
written so far, and the file is closed first, so it is playable. Codecs are those the
PyPI OpenCV wheel can encode: MPEG-4 Part 2 in .mp4 / .mkv, Motion-JPEG in .avi (it has
no H.264 encoder). A .mkv stays readable even if the process is killed mid-write.
Odd frame sizes are padded by one edge pixel (4:2:0 video needs even sizes).

``index`` keeps a stream's timeline: when realtime mode drops source frames, the last
segmented picture is repeated in their place, so the video lasts as long as its source.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Any, Optional

import numpy as np

from ..atomic_file import default_file_mode
from ..errors import UserError
from .video_source import import_cv2

FOURCC_BY_SUFFIX = {".mp4": "mp4v", ".mkv": "mp4v", ".avi": "MJPG"}
VIDEO_SUFFIXES = frozenset(FOURCC_BY_SUFFIX)
DEFAULT_FPS = 30.0  # for a source that does not report its rate (some cameras)


def _even(image: np.ndarray) -> np.ndarray:
    h, w = image.shape[:2]
    if h % 2 == 0 and w % 2 == 0:
        return image
    return np.pad(image, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")


class VideoFileWriter:
    def __init__(self, target: Path, fps: Optional[float]) -> None:
        suffix = target.suffix.lower()
        if suffix not in FOURCC_BY_SUFFIX:
            raise UserError(f"video output {target} must end in one of {', '.join(sorted(VIDEO_SUFFIXES))}")
        self.target = target
        self.fps = fps or DEFAULT_FPS
        self.fourcc = FOURCC_BY_SUFFIX[suffix]
        self.frames = 0  # frames in the file, held ones included
        self.held = 0  # of which repeats standing in for dropped source frames
        self._tmp: Optional[Path] = None
        self._writer: Any = None
        self._size: Optional[tuple[int, int]] = None  # (w, h) of the first frame
        self._last: Optional[np.ndarray] = None
        self._next_index: Optional[int] = None  # the source index the next frame should have

    def _open(self, width: int, height: int) -> None:
        cv2 = import_cv2()
        folder = self.target.parent if str(self.target.parent) else Path(".")
        fd, name = tempfile.mkstemp(prefix=f".{self.target.stem}.", suffix=f".tmp{self.target.suffix}", dir=folder)
        os.close(fd)
        self._tmp = Path(name)
        even = (width + width % 2, height + height % 2)
        self._writer = cv2.VideoWriter(str(self._tmp), cv2.VideoWriter_fourcc(*self.fourcc), self.fps, even)
        if not self._writer.isOpened():
            self.discard()
            raise UserError(f"cannot write {self.target}: this OpenCV has no {self.fourcc} encoder for {self.target.suffix}")

    def check(self, rgb: np.ndarray, index: Optional[int] = None) -> None:
        """UserError if ``rgb`` cannot go into this video (its size differs from the first frame's)."""
        h, w = rgb.shape[:2]
        if self._size is not None and (w, h) != self._size:
            raise UserError(f"frame {index} is {w}x{h} but the video {self.target} was opened at {self._size[0]}x{self._size[1]}")

    def write(self, rgb: np.ndarray, index: Optional[int] = None) -> None:
        self.check(rgb, index)
        h, w = rgb.shape[:2]
        if self._writer is None:
            self._open(w, h)
            self._size = (w, h)
        bgr = _even(np.ascontiguousarray(rgb[..., ::-1]))
        if index is not None and self._next_index is not None:
            for _ in range(index - self._next_index):  # dropped source frames: hold the last picture
                self._writer.write(self._last)
                self.frames += 1
                self.held += 1
        self._writer.write(bgr)
        self._last = bgr
        self.frames += 1
        self._next_index = None if index is None else index + 1

    def _release(self) -> None:
        if self._writer is not None:
            self._writer.release()  # writes the container's index: the file is complete
            self._writer = None

    def commit(self) -> bool:
        """Close and rename over the target; False (and nothing written) if no frame came."""
        self._release()
        if self._tmp is None:
            return False
        os.chmod(self._tmp, default_file_mode())  # mkstemp makes 0600
        os.replace(self._tmp, self.target)
        self._tmp = None
        return True

    def discard(self) -> None:
        self._release()
        if self._tmp is not None:
            with contextlib.suppress(FileNotFoundError):
                self._tmp.unlink()
            self._tmp = None
