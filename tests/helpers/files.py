"""Folders a test can make unwritable, the way a user's read-only disk is."""

import contextlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest


@contextlib.contextmanager
def unwritable(folder: Path):
    """``folder`` refusing new files: chattr +i for root (who ignores mode bits), else mode 0555."""
    if os.geteuid() != 0:
        folder.chmod(0o555)
        undo = ["chmod", "755", str(folder)]
    elif shutil.which("chattr") and subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode == 0:
        undo = ["chattr", "-i", str(folder)]
    else:
        pytest.skip("cannot make a folder unwritable here (root without chattr +i)")
    try:
        try:  # the folder must really refuse a new file, or the test would prove nothing
            os.close(os.open(folder / "probe", os.O_CREAT | os.O_WRONLY))
        except OSError:
            yield folder
        else:
            pytest.skip("the folder stays writable here")
    finally:
        subprocess.run(undo, check=True)
