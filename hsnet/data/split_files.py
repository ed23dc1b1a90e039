"""Locate and read the official split lists (``splits_dir``: ``pascal/``, ``coco/``, ``fss/``).

The layout is the official HSNet release's ``data/splits`` folder:
``pascal/{trn,val}/foldN.txt``, ``coco/{trn,val}/foldN.pkl``, ``fss/{trn,val,test}.txt``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import List

from ...errors import UserError

SPLITS = ("trn", "val", "test")


def require_dir(path: str | os.PathLike, what: str) -> Path:
    """Return ``path`` as a Path, or raise UserError naming ``what`` when it is no folder."""
    path = Path(path)
    if not path.is_dir():
        raise UserError(f"{what} not found (no such folder): {path}")
    return path


def require_file(path: str | os.PathLike, what: str) -> Path:
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{what} not found: {path}")
    return path


def check_split(split: str) -> str:
    if split not in SPLITS:
        raise UserError(f"unknown split {split!r}; expected one of {', '.join(SPLITS)}")
    return split


def check_fold(fold: int, nfolds: int = 4) -> int:
    if not isinstance(fold, (int,)) or isinstance(fold, bool) or not 0 <= fold < nfolds:
        raise UserError(f"unknown fold {fold!r}; expected 0..{nfolds - 1}")
    return int(fold)


def check_shot(shot: int) -> int:
    if not isinstance(shot, int) or isinstance(shot, bool) or shot < 1:
        raise UserError(f"shot must be a positive integer, got {shot!r}")
    return shot


def read_split_lines(path: Path) -> List[str]:
    """Non-empty lines of a split text file, stripped of whitespace (and of CRLF).

    The official loaders use ``f.read().split('\\n')[:-1]`` in text mode (universal
    newlines), which equals this for files that end with a newline, as all official
    split files do.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise UserError(f"cannot read split file {path}: {err}") from None
    return [line.strip() for line in text.splitlines() if line.strip()]
