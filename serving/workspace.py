"""Where PyTriton keeps this server's files, and what a killed server left behind.

PyTriton copies tritonserver into a workspace folder (22 MB) and removes it when it stops.
A server that is SIGKILLed (or loses power) cannot: the folder stays, and so can one of
Triton's Python-backend stub processes, orphaned (seen here: one per SIGKILL, ~48 MB
each, deaf to SIGTERM). So each server works in ``<tmp>/hsnet-serve/pid-<its pid>``, and
a starting server removes the folders of servers whose process is gone, SIGKILLing the
processes still running from them first:

    root/pid-4242/   pid 4242 alive    -> another server's: kept
    root/pid-5151/   pid 5151 is gone  -> stale: its stubs killed, the folder removed
"""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
from pathlib import Path

ROOT = Path(tempfile.gettempdir()) / "hsnet-serve"


def workspace(root: Path = ROOT) -> Path:
    """This process's workspace path (PyTriton creates it; it must not exist yet)."""
    root.mkdir(parents=True, exist_ok=True)
    path = root / f"pid-{os.getpid()}"
    if path.exists():  # a dead process had this pid before us
        _remove(path)
    return path


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def processes_under(folder: Path) -> list[int]:
    """Pids of processes whose program lies in ``folder`` (Linux /proc)."""
    found, prefix = [], str(folder.resolve()) + os.sep
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            if os.readlink(entry / "exe").startswith(prefix):
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def _remove(folder: Path) -> None:
    for pid in processes_under(folder):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    shutil.rmtree(folder, ignore_errors=True)


def clean_stale(root: Path = ROOT) -> list[Path]:
    """Remove the workspaces of servers that are gone (and kill what runs from them)."""
    removed = []
    for folder in root.glob("pid-*"):
        try:
            pid = int(folder.name[len("pid-"):])
        except ValueError:
            continue
        if pid != os.getpid() and not _alive(pid):
            _remove(folder)
            removed.append(folder)
    return removed
