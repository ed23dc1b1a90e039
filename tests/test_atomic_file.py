"""Outputs are written through a temporary file and a rename, with ordinary permissions."""

from __future__ import annotations

import os
import stat

import pytest
from hsnet_deploy.atomic_file import atomic_path, write_text_atomic


def test_written_file_has_the_umask_permissions_not_mkstemps(tmp_path):
    previous = os.umask(0o022)
    try:
        target = tmp_path / "out.txt"
        write_text_atomic(target, "x")
        assert stat.S_IMODE(target.stat().st_mode) == 0o644  # mkstemp alone gives 0600
    finally:
        os.umask(previous)


def test_a_failed_write_leaves_the_target_and_no_temp_file(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("disk full")
    assert target.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]
