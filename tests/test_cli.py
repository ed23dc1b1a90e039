"""The hsnet-deploy command itself: version, help, demo, one-line usage errors."""

from __future__ import annotations

import subprocess
import sys

import pytest

from hsnet_deploy import __version__
from hsnet_deploy.cli import COMMANDS, main


def test_version_and_help(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0 and __version__ in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert all(name in out for name in COMMANDS)


def test_unknown_option_is_one_line_exit_2(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["demo", "--no-such-option"])
    err = capsys.readouterr().err
    assert exc.value.code == 2
    assert err.count("\n") == 1 and "unrecognized arguments: --no-such-option" in err


def test_console_script_entry_point_runs():
    out = subprocess.run([sys.executable, "-m", "hsnet_deploy", "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip() == f"hsnet-deploy {__version__}"


def test_demo_writes_overlay_and_reports(tmp_path, capsys):
    pytest.importorskip("torch")
    from PIL import Image

    target = tmp_path / "overlay.png"
    assert main(["demo", "--img-size", "96", "--iters", "1", "--shots", "2", "-o", str(target)]) == 0
    out = capsys.readouterr().out
    assert "logits         (1, 2, 2, 96, 96)" in out and "total learnable 2,573,794" in out
    with Image.open(target) as img:
        assert img.format == "PNG" and img.height == 96 and img.width == 4 * 96 + 3 * 8  # 2 supports, pred, truth
    assert [p.name for p in tmp_path.iterdir()] == ["overlay.png"]  # no temp file left behind


def test_demo_bad_size_is_one_line(tmp_path, capsys):
    pytest.importorskip("torch")
    assert main(["demo", "--backbone", "vgg16", "--img-size", "16", "-o", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("hsnet-deploy demo: error:") and err.count("\n") == 1
    assert not (tmp_path / "x.png").exists()
