"""Where ``hsnet-deploy run`` writes, checked before anything is loaded or written.

Each of ``-o`` (masks) and ``--overlay`` (the query with its mask drawn) is one target:

    query           -o / --overlay          written
    one image       x.png                   one PNG, atomically
    image folder    DIR                     DIR/<stem>.png per query
    video / camera  DIR                     DIR/frame_000000.png ... per segmented frame
    video / camera  out.mp4 | .mkv | .avi   one video (for -o: the overlaid video)

Folder targets are written to hidden staging folders beside them and moved into place
by ``Writer.commit``; a video is written under a temporary name and renamed by it. The
runner commits when the queries ran out, and for a stream also when it broke or was
interrupted (what was segmented is kept, the video closed so it plays); any other
failure (a corrupt query image) discards everything, leaving the targets as they were.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional

import numpy as np

from ..atomic_file import atomic_path, write_failure
from ..errors import UserError
from ..output_paths import (
    check_output_file,
    check_output_folder,
    parent_folder,
    same_file,
)
from .images import Query
from .overlay import overlay as draw_overlay
from .video_source import is_frame_png
from .video_writer import VIDEO_SUFFIXES, VideoFileWriter


def _check_folder_name(path: Path, what: str, why: str) -> None:
    """A new folder target must not look like a file: ``-o out.webm`` is a typo, not a folder."""
    if not path.is_dir() and path.suffix:
        videos = ", ".join(sorted(VIDEO_SUFFIXES))
        raise UserError(f"{what} {path}: {why} a folder, and '{path.suffix}' is neither a video type this "
                        f"writes ({videos}) nor a folder name; name a folder without an extension")


def _check_output_folder(path: Path, what: str, query_folder: Optional[Path], stems: list[str], inputs: list[Path]) -> None:
    if path.exists() and not path.is_dir():
        raise UserError(f"{what} {path} must be a folder for a folder or stream of queries")
    if query_folder is not None and same_file(path, query_folder):
        raise UserError(f"{what} folder {path} is the query folder; write predictions elsewhere")
    check_output_folder(path, what)
    for stem in stems:
        if any(same_file(path / f"{stem}.png", p) for p in inputs):
            raise UserError(f"writing {path / (stem + '.png')} would overwrite an input file")
    for p in inputs:  # a stream's frames are named later: refuse an input a frame could overwrite
        if not stems and is_frame_png(p) and p.exists() and same_file(parent_folder(p), path):
            raise UserError(f"{what} folder {path} holds the input {p.name}, which a frame's PNG would overwrite")


@dataclass(frozen=True)
class Target:
    path: Path
    kind: str  # "png" | "folder" | "video"
    draws: str  # "mask" | "overlay"


def _stream_target(path: Path, what: str, draws: str, inputs: list[Path]) -> Target:
    suffix = path.suffix.lower()
    if suffix in VIDEO_SUFFIXES:
        check_output_file(path, what, VIDEO_SUFFIXES, inputs)
        return Target(path, "video", "overlay")  # a video of masks alone would show nothing more
    if suffix == ".png" or (path.exists() and not path.is_dir()):
        raise UserError(
            f"{what} {path}: a video or camera query gives many frames; name a video file "
            f"({', '.join(sorted(VIDEO_SUFFIXES))}) or a folder for one PNG per frame"
        )
    _check_folder_name(path, what, "a video or camera query writes a video file or")
    _check_output_folder(path, what, None, [], inputs)
    return Target(path, "folder", draws)


@dataclass
class OutputPlan:
    targets: list[Target]
    fps: Optional[float] = None  # a stream's frame rate, for video targets

    @classmethod
    def checked(cls, source, output: Path, overlay: Optional[Path], inputs: list[Path]) -> "OutputPlan":
        """The plan for ``source``; UserError for any target that cannot or must not be written."""
        wanted = [(output, "output", "mask"), *([(overlay, "overlay", "overlay")] if overlay is not None else [])]
        if overlay is not None and same_file(overlay, output):
            raise UserError("--overlay and -o name the same file or folder")
        if getattr(source, "is_stream", False):
            video_input = [source.path] if source.path is not None else []
            targets = [_stream_target(p, what, draws, [*video_input, *inputs]) for p, what, draws in wanted]
            if sum(t.kind == "video" for t in targets) > 1:
                raise UserError("-o and --overlay both name a video, which would hold the same overlaid frames")
            return cls(targets, source.fps)
        if source.is_folder:
            for p, what, _ in wanted:
                _check_folder_name(p, what, "a folder of queries writes one PNG per query into")
                _check_output_folder(p, what, source.folder, source.stems, inputs)
            return cls([Target(p, "folder", draws) for p, _, draws in wanted])
        for p, what, _ in wanted:
            check_output_file(p, what, frozenset({".png"}), [*source.files, *inputs])
        return cls([Target(p, "png", draws) for p, _, draws in wanted])

    @contextlib.contextmanager
    def writer(self) -> Iterator["Writer"]:
        """A writer whose staged outputs move into place when the block ends without
        error, and are deleted otherwise."""
        writer = Writer(self)
        try:
            yield writer
            writer.commit()
        finally:
            writer.discard()


def _mask_image(mask: np.ndarray):
    from PIL import Image

    return Image.fromarray((mask * np.uint8(255)).astype(np.uint8))


class Writer:
    """Writes each query's mask (and overlay) where the plan says."""

    def __init__(self, plan: OutputPlan) -> None:
        self.plan = plan
        self.written = 0  # queries written
        self._staging: dict[Path, Path] = {}  # target folder -> its staging folder
        self._videos = {t.path: VideoFileWriter(t.path, plan.fps) for t in plan.targets if t.kind == "video"}
        self._committed: list[str] = []

    def _folder(self, target: Path) -> Path:
        if target not in self._staging:
            self._staging[target] = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=parent_folder(target)))
        return self._staging[target]

    def write(self, query: Query, mask: np.ndarray) -> None:
        """One query's outputs; a stream frame's ``query.index`` lets a video hold its
        last picture over frames dropped in between."""
        for video in self._videos.values():  # a frame goes into every target or into none
            video.check(query.image, query.index)
        overlay = None
        for target in self.plan.targets:
            if target.draws == "overlay" and overlay is None:
                overlay = draw_overlay(query.image, mask)
            picture = overlay if target.draws == "overlay" else _mask_image(mask)
            try:
                if target.kind == "png":
                    with atomic_path(target.path) as tmp:
                        picture.save(tmp, format="PNG")
                elif target.kind == "folder":
                    picture.save(self._folder(target.path) / f"{query.name}.png", format="PNG")
                else:
                    self._videos[target.path].write(np.asarray(picture), query.index)
            except OSError as err:  # a disk that filled up or went read-only meanwhile
                raise write_failure(target.path, err) from None
        self.written += 1

    def commit(self) -> None:
        """Move every staged file into place (each move an atomic rename), close the videos."""
        for target, staging in self._staging.items():
            try:
                target.mkdir(parents=True, exist_ok=True)
                for staged in sorted(staging.iterdir()):
                    os.replace(staged, target / staged.name)
            except OSError as err:
                raise write_failure(target, err) from None
        for path, video in self._videos.items():
            if video.commit():
                held = f", {video.held} held for dropped frames" if video.held else ""
                self._committed.append(f"{path} ({video.frames} frames{held})")

    def discard(self) -> None:
        for staging in self._staging.values():
            shutil.rmtree(staging, ignore_errors=True)
        self._staging.clear()
        for video in self._videos.values():
            video.discard()

    def summary(self) -> str:
        if self.written == 0:
            return "wrote nothing"
        parts = []
        for target in self.plan.targets:
            if target.kind == "png":
                parts.append(str(target.path))
            elif target.kind == "folder":
                parts.append(f"{self.written} {target.draws}(s) to {target.path}")
        parts.extend(self._committed)
        return "wrote " + " and ".join(parts)
