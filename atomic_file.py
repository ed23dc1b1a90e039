"""Write outputs so that a failure never leaves a half-written or clobbered file.

Everything the tool writes (ONNX files, engines, masks, checkpoints, JSON reports) goes
to a temporary file in the destination folder and is renamed over the target only once
it is complete; ``os.replace`` is atomic on POSIX and Windows within one file system.

A *set* of files that belong together (a split export's three graphs, an engine with
its sidecar) is written by :func:`atomic_paths`: all of them or none. Each target that
already exists is kept as a hard link until every rename has succeeded, so a rename that
fails half way puts the earlier ones back.

Whether a path may be written at all (its folder exists and takes a file, it is not a
folder, it is none of the command's inputs) is :mod:`hsnet_deploy.output_paths`'s rule,
checked before any work; an ``OSError`` that still happens here is one
:class:`~hsnet_deploy.errors.UserError` line naming the path.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator, Mapping, TypeVar, Union

from .errors import UserError

K = TypeVar("K")
PathLike = Union[str, "os.PathLike[str]"]

# errors of the file system being written, as opposed to a bug or an unreadable input
_WRITE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EFBIG,
                           errno.EISDIR, errno.ENOTDIR, errno.EEXIST, errno.EXDEV, errno.ENAMETOOLONG, errno.EIO})


def write_failure(target: PathLike, err: OSError) -> UserError:
    """One line for an OSError met while writing ``target``."""
    reason = err.strerror or str(err) or type(err).__name__
    return UserError(f"cannot write {target}: {reason}")


def _folder(target: Path) -> Path:
    return target.parent if str(target.parent) else Path(".")


def _temporary_beside(target: Path, suffix: str = ".tmp") -> Path:
    folder = _folder(target)
    if not folder.is_dir():
        raise UserError(f"output folder does not exist: {folder}")
    try:
        fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=suffix, dir=folder)
    except OSError as err:
        raise write_failure(target, err) from None
    os.close(fd)
    return Path(name)


def _unlink(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


@contextlib.contextmanager
def atomic_paths(targets: Mapping[K, PathLike]) -> Iterator[dict[K, Path]]:
    """Yield key -> temporary path beside each target; on success rename them all into place.

    The caller writes each whole output to its temporary path. If the block raises, or a
    rename fails, every temporary file is removed and every target is left exactly as it
    was (targets already replaced are restored from their kept links).
    """
    paths = {key: Path(p) for key, p in targets.items()}
    temps: dict[K, Path] = {}
    try:
        for key, target in paths.items():
            temps[key] = _temporary_beside(target)
        try:
            yield dict(temps)
        except OSError as err:
            if err.errno in _WRITE_ERRNOS:
                raise write_failure(_failed_target(err, paths, temps), err) from None
            raise
        _commit(paths, temps)
    finally:
        for tmp in temps.values():
            _unlink(tmp)


def _failed_target(err: OSError, paths: dict, temps: dict) -> Path:
    named = {str(t): paths[k] for k, t in temps.items()}
    return named.get(str(err.filename), next(iter(paths.values())))


def _keep(target: Path) -> Path | None:
    """A hard link (or copy) of an existing target, to put back if the set fails."""
    if not target.exists():
        return None
    kept = _temporary_beside(target, ".keep")
    _unlink(kept)
    try:
        os.link(target, kept)
    except OSError:
        shutil.copy2(target, kept)
    return kept


def _commit(paths: dict, temps: dict) -> None:
    mode = default_file_mode()
    kept: dict = {}
    done: list = []
    try:
        for key, target in paths.items():
            kept[key] = _keep(target)
            os.chmod(temps[key], mode)  # mkstemp makes 0600; an output gets the usual rights
            os.replace(temps[key], target)
            done.append(key)
    except OSError as err:
        for replaced in done:  # put back what this set had already replaced
            if kept.get(replaced) is not None:
                os.replace(kept.pop(replaced), paths[replaced])
            else:
                _unlink(paths[replaced])
        raise write_failure(paths[key], err) from None
    finally:
        for link in kept.values():
            if link is not None:
                _unlink(link)


@contextlib.contextmanager
def atomic_path(target: PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it over ``target`` on success.

    The caller writes the whole output to the yielded path. If the block raises, the
    temporary file is removed and ``target`` is left exactly as it was.
    """
    with atomic_paths({0: target}) as temps:
        yield temps[0]


def default_file_mode() -> int:
    """0666 less the process umask: what ``open(path, "w")`` would have given."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def write_bytes_atomic(target: PathLike, data: bytes) -> None:
    """Write ``data`` to ``target`` atomically."""
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)


def write_text_atomic(target: PathLike, text: str) -> None:
    """Write ``text`` (UTF-8) to ``target`` atomically."""
    write_bytes_atomic(target, text.encode("utf-8"))
