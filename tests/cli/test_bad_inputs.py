"""The careless user's family of bad inputs, command by command, at the command line.

Each case is a command, its exit status, its one stderr line, and the SHA-256 of every
file it must not touch (the inputs, and whatever already sat where it would write).
Where a case must be refused *before the work*, the work's entry point is replaced by one
that fails the test if called.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import numpy as np
import pytest
from helpers import REPO
from helpers.fake_graphs import make_split_export, make_split_graphs  # noqa: E402
from helpers.files import unwritable  # noqa: E402
from hsnet_deploy import cli
from PIL import Image

S = 32  # the fake graphs' size


def sha256s(paths) -> dict:
    return {str(p): hashlib.sha256(Path(p).read_bytes()).hexdigest() for p in paths if Path(p).is_file()}


def listing(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


@pytest.fixture
def cli_run(capsys):
    def run(*argv):
        code = cli.main([str(a) for a in argv])
        out, err = capsys.readouterr()
        return code, out, err

    return run


def assert_refused(result, pattern: str, code: int = 2) -> None:
    got, _, err = result
    lines = err.strip().splitlines()
    assert got == code and len(lines) == 1, err
    assert re.search(pattern, lines[0]), lines[0]


@pytest.fixture
def no_work(monkeypatch):
    """Every command's heavy entry point fails the test if reached."""

    def forbidden(*_, **__):
        raise AssertionError("the work started before the bad input was refused")

    from hsnet_deploy.benchmarks import bench_session
    from hsnet_deploy.cli import export as export_command
    from hsnet_deploy.cli.demo import pipeline
    from hsnet_deploy.export import graph_files
    from hsnet_deploy.runtime.segmenter import Segmenter

    monkeypatch.setattr(export_command, "load_model", forbidden)
    monkeypatch.setattr(bench_session, "run_benchmark", forbidden)
    monkeypatch.setattr(graph_files, "read_graphs", forbidden)
    monkeypatch.setattr(pipeline, "run_demo", forbidden)
    monkeypatch.setattr(Segmenter, "load", classmethod(lambda cls, *a, **k: forbidden()))


@pytest.fixture
def files(tmp_path):
    """A fake split export, a support image + mask, a query, an existing folder named like a file."""
    model = make_split_export(tmp_path / "data", img_size=S)
    data = model.parent
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (24, 32, 3), dtype=np.uint8)).save(data / "s.png")
    Image.fromarray(np.pad(np.full((10, 10), 255, np.uint8), ((7, 7), (11, 11)))).save(data / "sm.png")  # 24x32
    Image.fromarray(rng.integers(0, 255, (20, 20, 3), dtype=np.uint8)).save(data / "q.png")
    (tmp_path / "adir.onnx").mkdir()
    (tmp_path / "adir.json").mkdir()
    (tmp_path / "locked").mkdir()
    return {"data": data, "model": model, "support": ["--support", data / "s.png", "--mask", data / "sm.png"],
            "tmp": tmp_path, "locked": tmp_path / "locked"}


# ---- 2. no command writes over a file of its own input set -------------------------------
@pytest.mark.parametrize("source, output", [("ref.query.onnx", "x/ref.onnx"), ("ref.query.onnx", "x/ref.support.onnx"),
                                            ("ref.onnx", "x/ref.query.onnx"), ("ref.support.onnx", "x/ref.onnx")])
@pytest.mark.slow
@pytest.mark.parametrize("precision", ["fp16", "int8"])
def test_convert_never_writes_over_its_source_set(exported, cli_run, no_work, source, output, precision):
    folder = exported["fp32"].parent
    before = sha256s(folder.iterdir())
    result = cli_run("convert", folder / source, "--precision", precision, "-o", folder / Path(output).name)
    assert_refused(result, r"-o .* would overwrite an input file")
    assert sha256s(folder.iterdir()) == before


# ---- 4. one rule for split sets ------------------------------------------------------------
def _mismatched(files) -> Path:
    """m.support.onnx from one export, m.query.onnx from another (other weights)."""
    make_split_graphs(files["model"], img_size=S, query_overrides={"hsnet_deploy.checkpoint_sha256": "f" * 64})
    return files["model"]


@pytest.mark.parametrize("command", ["run", "eval", "compare", "bench", "build", "triton-repo", "convert", "check"])
def test_every_command_refuses_halves_of_different_exports(files, cli_run, no_work, command):
    model, tmp = _mismatched(files), files["tmp"]
    query = files["model"].with_name("m.query.onnx")
    argv = {
        "run": ["run", query, "--query", files["data"] / "q.png", *files["support"], "-o", tmp / "p.png"],
        "eval": ["eval", query, "--episodes", "1"],
        "compare": ["compare", query, query, "--episodes", "1"],
        "bench": ["bench", query],
        "build": ["build", query, "--print-trtexec"],
        "triton-repo": ["triton-repo", query, "-o", tmp / "repo"],
        "convert": ["convert", model, "-o", tmp / "c.onnx"],
        "check": ["check", query],
    }[command]
    before = sha256s(files["data"].iterdir())
    assert_refused(cli_run(*argv), r"come from different exports \(checkpoint_sha256")
    assert sha256s(files["data"].iterdir()) == before and not (tmp / "repo").exists() and not (tmp / "p.png").exists()


# ---- 5. every output target checked before the work ------------------------------------------
def _output_cases(files):
    model, tmp, locked = files["model"], files["tmp"], files["locked"]
    run = ["run", model, "--query", files["data"] / "q.png", *files["support"]]
    return {
        "export": (["export", "--random-weights", "--img-size", "64", "-o", locked / "x.onnx"], "cannot write in"),
        "export-folder": (["export", "--random-weights", "--img-size", "64", "-o", tmp / "adir.onnx"], "is a folder"),
        "export-proc": (["export", "--random-weights", "--img-size", "64", "-o", "/proc/x.onnx"], "cannot write in /proc"),
        "eval": (["eval", model, "--json", locked / "r.json"], "cannot write in"),
        "eval-folder": (["eval", model, "--json", tmp / "adir.json"], "is a folder"),
        "eval-grid": (["eval", model, "--grid", tmp / "g.jpg"], "must be a .png file"),
        "compare": (["compare", model, model, "--json", "/proc/x.json"], "cannot write in /proc"),
        "bench": (["bench", "--json", locked / "b.json"], "cannot write in"),
        "bench-plot": (["bench", "--plot", tmp / "adir.json"], "must be a .png file"),
        "demo": (["demo", "-o", locked / "g.png"], "cannot write in"),
        "demo-json": (["demo", "--json", tmp / "adir.json"], "is a folder"),
        "run": ([*run, "-o", locked / "p.png"], "cannot write in"),
        "convert": (["convert", model, "-o", locked / "c.onnx"], "cannot write in"),
        "triton-repo": (["triton-repo", model, "-o", locked / "repo"], "cannot write in"),
        "train": (["train", "--out", locked / "run", "--iters", "1"], "cannot write in"),
    }


@pytest.mark.parametrize("case", ["export", "export-folder", "export-proc", "eval", "eval-folder", "eval-grid", "compare",
                                  "bench", "bench-plot", "demo", "demo-json", "run", "convert", "triton-repo", "train"])
def test_an_output_that_cannot_be_written_is_refused_before_the_work(files, cli_run, no_work, case):
    argv, message = _output_cases(files)[case]
    before, tree = sha256s(files["data"].iterdir()), listing(files["tmp"])
    with unwritable(files["locked"]):
        assert_refused(cli_run(*argv), message)
    assert sha256s(files["data"].iterdir()) == before and listing(files["tmp"]) == tree


def test_a_write_that_fails_late_is_one_line_and_leaves_the_set_as_it_was(tmp_path, monkeypatch):
    from hsnet_deploy.atomic_file import atomic_paths
    from hsnet_deploy.errors import UserError

    a, b = tmp_path / "a.onnx", tmp_path / "a.query.onnx"
    a.write_text("old a")
    b.write_text("old b")
    real_replace = os.replace

    def replace(src, dst):  # the second rename fails: the first must be undone
        if Path(dst) == b and str(src).endswith(".tmp"):
            raise OSError(28, "No space left on device")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(UserError, match=r"cannot write .*a.query.onnx: No space left on device"):
        with atomic_paths({"a": a, "b": b}) as temps:
            temps["a"].write_text("new a")
            temps["b"].write_text("new b")
    assert (a.read_text(), b.read_text()) == ("old a", "old b") and sorted(p.name for p in tmp_path.iterdir()) == ["a.onnx", "a.query.onnx"]


# ---- 6. options that do not apply --------------------------------------------------------------
def _option_cases(files):
    model, tmp = files["model"], files["tmp"]
    run = ["run", model, "--query", files["data"] / "q.png", *files["support"], "-o", tmp / "p.png"]
    return [
        (["bench", "--cuda-graph"], "--cuda-graph applies only to TensorRT engines"),
        (["bench", "--layer-iters", "-1"], "--layer-iters applies only to TensorRT engines"),
        (["bench", "x.engine", "--threads", "2"], "--threads applies only to .pt / .onnx models"),
        (["bench", "x.engine", "--stage-iters", "0"], "--stage-iters applies only to .pt / .onnx models"),
        (["export", "--random-weights", "-o", tmp / "x.onnx", "--calib-episodes", "0"], "--calib-episodes applies only when a graph is INT8"),
        (["export", "--checkpoint", "reference", "--precision", "int8", "--calib-episodes", "0", "-o", tmp / "x.onnx"],
         "--calib-episodes must be a positive integer"),
        (["export", "--checkpoint", "reference", "--seed", "3", "-o", tmp / "x.onnx"], "--seed applies only with --random-weights"),
        (["export", "--checkpoint", "reference", "--precision", "int8", "--int8-gate", "2", "-o", tmp / "x.onnx"],
         "--int8-gate applies only with --int8-auto"),
        (["convert", model, "--precision", "fp16", "--calib-method", "entropy", "-o", tmp / "c.onnx"], "--calib-method applies only when a graph is INT8"),
        ([*run, "--img-size", "64"], "--img-size applies only to .pt checkpoints"),
        ([*run, "--cuda-graph"], "--cuda-graph applies only to .engine models"),
        (["eval", model, "--img-size", "64"], "--img-size applies only to .pt checkpoints"),
        (["eval", model, "--fold", "2"], "--fold applies only with --benchmark pascal or coco"),
        (["compare", model, model, "--backbone", "vgg16"], "--backbone applies only to .pt checkpoints"),
        (["demo", "--write-images", tmp / "w", "--queries", "3"], "--queries applies only to the demo itself"),
    ]


@pytest.mark.parametrize("index", range(15))
def test_an_option_that_does_not_apply_is_refused_by_one_rule(files, cli_run, no_work, index):
    argv, message = _option_cases(files)[index]
    tree = listing(files["tmp"])
    assert_refused(cli_run(*argv), re.escape(message))
    assert listing(files["tmp"]) == tree


# ---- 7. messages that name the real problem ------------------------------------------------------
@pytest.mark.parametrize("argv, message", [
    (["check", "{tmp}/adir.onnx"], "is a folder, not a file"),
    (["convert", "{tmp}/adir.onnx", "-o", "{tmp}/c.onnx"], "is a folder, not a file"),
    (["export", "--checkpoint", "{tmp}/adir.onnx", "-o", "{tmp}/x.onnx"], "checkpoint .* is a folder, not a file"),
    (["run", "{tmp}/adir.onnx", "--query", "q", "--support", "s", "--mask", "m", "-o", "{tmp}/p.png"], "is a folder, not a file"),
    (["export", "--random-weights", "--img-size", "13", "-o", "{tmp}/x.onnx"], "at least 32 pixels a side"),
    (["demo", "--img-size", "13"], "at least 32"),
])
def test_messages_name_the_real_problem(files, cli_run, no_work, argv, message):
    assert_refused(cli_run(*[a.format(tmp=files["tmp"]) for a in argv]), message)


def test_the_demo_without_onnxruntime_names_the_extra(cli_run, monkeypatch, tmp_path):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "onnxruntime" else real(name, *a))
    assert_refused(cli_run("demo", "-o", tmp_path / "g.png"), r"onnxruntime, which is not installed: pip install 'hsnet-deploy\[cpu\]'")
    assert not list(tmp_path.iterdir())


def test_the_plain_install_brings_what_the_demo_imports():
    """onnx is imported by the export the demo runs: it must be a hard dependency."""
    import configparser

    config = configparser.ConfigParser()
    config.read(REPO / "setup.cfg")
    required = config["options"]["install_requires"].split()
    assert any(r.startswith("onnx>") for r in required)
    extras = config["options.extras_require"]
    assert "onnxruntime>=" in extras["cpu"] and "onnxruntime-gpu>=" in extras["gpu"]
    assert not any("onnxruntime>=" in extras[name] for name in ("gpu", "precision", "trt"))  # they must not pull the CPU build
