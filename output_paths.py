"""What an output target may be: one rule for every command, checked before any work.

    check_output_file(path, "--json", suffixes={".json"}, inputs=[model])
    check_output_folder(path, "-o", must_not_exist=True)

A file target

- names a file type the command writes (``suffixes``; a ``.png`` where a PNG is written,
  never a folder named ``out.webm``);
- is not an existing folder (``-o adir.onnx`` is refused before a 17 s export, not after);
- lies in an existing folder that really takes a new file: the folder is probed by
  creating and removing a temporary file, since permission bits say nothing to root, and
  ``chattr +i`` folders, read-only mounts and ``/proc`` only fail on a write;
- is none of the command's inputs (``inputs``: every file the command reads; a split
  export's three graphs are one input set, so naming any of them is refused).

A folder target is a folder (or a new name in such a probed folder). Writing itself goes
through :mod:`hsnet_deploy.atomic_file`, which turns a late ``OSError`` into one line too.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Collection, Iterable, Optional, Union

from .errors import UserError

PathLike = Union[str, "os.PathLike[str]"]


def parent_folder(path: PathLike) -> Path:
    path = Path(path)
    return path.parent if str(path.parent) else Path(".")


def same_file(a: PathLike, b: PathLike) -> bool:
    """Whether two paths name the same file (links and ``..`` resolved)."""
    a, b = Path(a), Path(b)
    with contextlib.suppress(OSError):
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
    return a.resolve() == b.resolve()


def check_folder_takes_files(folder: PathLike, what: str) -> None:
    """UserError unless ``folder`` is an existing folder a new file can be created in."""
    folder = Path(folder)
    if not folder.exists():
        raise UserError(f"{what}: output folder does not exist: {folder}")
    if not folder.is_dir():
        raise UserError(f"{what}: {folder} is not a folder")
    try:
        fd, probe = tempfile.mkstemp(prefix=".hsnet-deploy-probe.", dir=folder)
    except OSError as err:
        raise UserError(f"{what}: cannot write in {folder}: {err.strerror or err}") from None
    os.close(fd)
    with contextlib.suppress(OSError):
        os.unlink(probe)


def check_not_input(path: PathLike, what: str, inputs: Iterable[PathLike]) -> None:
    for source in inputs:
        if same_file(path, source):
            raise UserError(f"{what} {path} would overwrite an input file ({source})")


def check_output_file(
    path: PathLike,
    what: str,
    suffixes: Optional[Collection[str]] = None,
    inputs: Iterable[PathLike] = (),
) -> Path:
    """UserError unless ``path`` can be written as a new or replaced file (see the module doc)."""
    path = Path(path)
    if suffixes is not None and path.suffix.lower() not in suffixes:
        wanted = " / ".join(sorted(suffixes))
        raise UserError(f"{what} {path} must be a {wanted} file")
    if path.is_dir():
        raise UserError(f"{what} {path} is a folder; give a file name")
    check_folder_takes_files(parent_folder(path), what)
    check_not_input(path, what, inputs)
    return path


def check_output_folder(
    path: PathLike,
    what: str,
    must_not_exist: bool = False,
    inputs: Iterable[PathLike] = (),
    make_parents: bool = False,
) -> Path:
    """UserError unless ``path`` is (or can be made as) a folder that takes files
    (``make_parents``: the command creates missing parents too; the nearest existing one is probed)."""
    path = Path(path)
    if path.exists():
        if must_not_exist:
            raise UserError(f"{what} {path} already exists; give a new folder")
        if not path.is_dir():
            raise UserError(f"{what} {path} exists and is not a folder")
        check_folder_takes_files(path, what)
    else:
        parent = parent_folder(path)
        while make_parents and not parent.exists() and parent != parent.parent:
            parent = parent.parent
        check_folder_takes_files(parent, what)
    for source in inputs:
        if same_file(path, source):
            raise UserError(f"{what} {path} is an input folder; write elsewhere")
    return path
