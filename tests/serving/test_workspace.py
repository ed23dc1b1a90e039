"""A starting server removes what killed servers left, and nothing of a live one."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

from hsnet_deploy.serving import workspace as w


def test_stale_folders_and_their_processes_go_live_ones_stay(tmp_path):
    live = tmp_path / f"pid-{os.getppid()}"  # a process that is alive
    live.mkdir()
    dead_pid = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                              text=True).stdout.strip()
    stale = tmp_path / f"pid-{dead_pid}"
    (stale / "bin").mkdir(parents=True)
    program = stale / "bin" / "sleeper"
    shutil.copy("/bin/sleep", program)  # an "orphaned stub": a program that runs from the stale folder
    orphan = subprocess.Popen([str(program), "600"])
    try:
        assert w.processes_under(stale) == [orphan.pid]
        assert w.clean_stale(tmp_path) == [stale]
        assert orphan.wait(10) == -9 and not stale.exists() and live.is_dir()
    finally:
        orphan.kill()


def test_this_process_gets_a_fresh_folder_of_its_own(tmp_path):
    leftover = tmp_path / f"pid-{os.getpid()}" / "old"
    leftover.mkdir(parents=True)  # a dead process had our pid
    path = w.workspace(tmp_path)
    assert path == tmp_path / f"pid-{os.getpid()}" and not path.exists()
    assert w.clean_stale(tmp_path) == []  # ours is never stale
