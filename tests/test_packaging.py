"""The installed distribution: every subpackage shipped, one namespace, torch-free runtime."""

from __future__ import annotations

import configparser
import subprocess
import sys

from helpers import REPO

ROOT = REPO


def test_every_package_folder_is_listed_in_setup_cfg():
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    listed = set(cfg["options"]["packages"].split())
    on_disk = {"hsnet_deploy"} | {
        "hsnet_deploy." + ".".join(init.parent.relative_to(ROOT).parts)
        for init in ROOT.rglob("__init__.py")
        if init.parent != ROOT and not {"tests", "build", ".venv", "venv"} & set(init.relative_to(ROOT).parts)
        and not any(part.startswith(".") or part.endswith(".egg-info") for part in init.relative_to(ROOT).parts)
    }
    assert on_disk == listed, f"missing from setup.cfg: {on_disk - listed}; listed but absent: {listed - on_disk}"


def test_design_card_subpackages_import_under_one_namespace():
    import importlib

    for name in ("hsnet", "export", "calibration", "runtime", "benchmarks"):
        module = importlib.import_module(f"hsnet_deploy.{name}")
        assert module.__name__ == f"hsnet_deploy.{name}"


def test_runtime_imports_without_torch():
    streams = ", ".join(f"hsnet_deploy.runtime.{m}" for m in ("video_source", "video_writer", "frame_reader", "stream_run", "output_plan"))
    code = f"import sys; sys.modules['torch'] = None; import hsnet_deploy.runtime, hsnet_deploy.hsnet.data, {streams}; print('ok')"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd="/")
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr
