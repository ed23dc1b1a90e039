"""Where ``hsnet-deploy run`` writes, checked before anything is loaded or written.

Single query: ``-o pred.png`` (and ``--overlay ov.png``), each written atomically.
Folder of queries: ``-o DIR`` (and ``--overlay DIR2``) get ``<stem>.png`` per query.
Folder predictions are written to hidden staging folders beside the targets and moved
into place only when the whole folder has been segmented (``Writer.commit``), so a
failure part-way (a corrupt query) leaves the targets exactly as they were.
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

from ..atomic_file import atomic_path
from ..errors import UserError
from .overlay import overlay as draw_overlay
from .query_source import Query, QuerySource


def _same(a: Path, b: Path) -> bool:
    return a.resolve() == b.resolve()


def _check_png_target(path: Path, what: str, inputs: list[Path]) -> None:
    if path.suffix.lower() != ".png":
        raise UserError(f"{what} {path} must be a .png file")
    if path.is_dir():
        raise UserError(f"{what} {path} is a folder; pass a .png file name")
    folder = path.parent
    if not folder.is_dir():
        raise UserError(f"output folder does not exist: {folder}")
    if any(_same(path, p) for p in inputs):
        raise UserError(f"{what} {path} would overwrite an input file")


def _check_output_folder(path: Path, what: str, query_folder: Path, stems: list[str], inputs: list[Path]) -> None:
    if path.exists() and not path.is_dir():
        raise UserError(f"{what} {path} must be a folder when --query is a folder")
    if _same(path, query_folder):
        raise UserError(f"{what} folder {path} is the query folder; write predictions elsewhere")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise UserError(f"output folder does not exist: {parent}")
    for stem in stems:
        if any(_same(path / f"{stem}.png", p) for p in inputs):
            raise UserError(f"writing {path / (stem + '.png')} would overwrite an input file")


def _save_png(target: Path, image) -> None:
    with atomic_path(target) as tmp:
        image.save(tmp, format="PNG")


def _mask_image(mask: np.ndarray):
    from PIL import Image

    return Image.fromarray((mask * np.uint8(255)).astype(np.uint8))


@dataclass
class OutputPlan:
    mask_target: Path  # a .png, or a folder
    overlay_target: Optional[Path]
    folder_mode: bool
    count: int

    @classmethod
    def checked(cls, source: QuerySource, output: Path, overlay: Optional[Path], inputs: list[Path]) -> "OutputPlan":
        """The plan for ``source``; UserError for any target that cannot or must not be written."""
        if source.is_folder:
            folder = source.folder  # type: ignore[attr-defined]
            for target, what in ((output, "output"), (overlay, "overlay")):
                if target is not None:
                    _check_output_folder(target, what, folder, source.stems, inputs)
            if overlay is not None and _same(overlay, output):
                raise UserError("--overlay and -o must be different folders (file names would clash)")
        else:
            everything = [*source.files, *inputs]
            _check_png_target(output, "output", everything)
            if overlay is not None:
                _check_png_target(overlay, "overlay", everything)
                if _same(overlay, output):
                    raise UserError("--overlay and -o name the same file")
        return cls(output, overlay, source.is_folder, len(source))

    @contextlib.contextmanager
    def writer(self) -> Iterator["Writer"]:
        """A writer; in folder mode its staged files move into place when the block ends
        without error, and are deleted otherwise."""
        writer = Writer(self)
        try:
            yield writer
            writer.commit()
        finally:
            writer.discard()

    def summary(self) -> str:
        overlay = self.overlay_target
        if not self.folder_mode:
            return f"wrote {self.mask_target}" + (f" and {overlay}" if overlay else "")
        return f"wrote {self.count} mask(s) to {self.mask_target}" + (f" and overlays to {overlay}" if overlay else "")


class Writer:
    """Writes one query's mask (and overlay) where the plan says."""

    def __init__(self, plan: OutputPlan) -> None:
        self.plan = plan
        self._staging: dict[Path, Path] = {}  # target folder -> its staging folder

    def _folder(self, target: Path) -> Path:
        if target not in self._staging:
            parent = target.parent if str(target.parent) else Path(".")
            self._staging[target] = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=parent))
        return self._staging[target]

    def write(self, query: Query, mask: np.ndarray) -> None:
        plan = self.plan
        if not plan.folder_mode:
            _save_png(plan.mask_target, _mask_image(mask))
            if plan.overlay_target is not None:
                _save_png(plan.overlay_target, draw_overlay(query.image, mask))
            return
        _mask_image(mask).save(self._folder(plan.mask_target) / f"{query.name}.png", format="PNG")
        if plan.overlay_target is not None:
            draw_overlay(query.image, mask).save(self._folder(plan.overlay_target) / f"{query.name}.png", format="PNG")

    def commit(self) -> None:
        """Move every staged file into its target folder (each move an atomic rename)."""
        for target, staging in self._staging.items():
            target.mkdir(parents=True, exist_ok=True)
            for staged in sorted(staging.iterdir()):
                os.replace(staged, target / staged.name)

    def discard(self) -> None:
        for staging in self._staging.values():
            shutil.rmtree(staging, ignore_errors=True)
        self._staging.clear()
