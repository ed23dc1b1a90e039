"""`hsnet-deploy triton-repo` and `hsnet-deploy sidecar` refusals, at the command line: exit
status 2, one stderr line naming the real problem (and only options the command has),
every check before any work, and nothing written."""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import sys
import tempfile
import types

import pytest

onnx = pytest.importorskip("onnx")

from helpers.fake_graphs import make_episode_graph, make_split_graphs  # noqa: E402
from helpers.files import unwritable  # noqa: E402
from hsnet_deploy import cli  # noqa: E402
from hsnet_deploy.cli.triton import repository as triton_repository  # noqa: E402

S = 16


def _tree(folder):
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*"))


def _options(command):
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if a.dest == "command").choices[command]
    return {s for a in sub._actions for s in a.option_strings}


def _refused(capsys, folder, command, *argv):
    """Run ``hsnet-deploy COMMAND ARGV``; assert exit 2, one stderr line naming only the
    command's own options, nothing written under ``folder``; return the message."""
    before = _tree(folder)
    code = cli.main([command, *map(str, argv)])
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1, err
    prefix = f"hsnet-deploy {command}: error: "
    assert lines[0].startswith(prefix), lines[0]
    message = lines[0][len(prefix):]
    named = set(re.findall(r"(?<![\w-])--?[a-z][a-z-]*", re.sub(r"`[^`]*`", "", message)))  # `another command --x` aside
    assert named <= _options(command), (named, message)
    assert _tree(folder) == before
    return message


def _split(folder, name="m", **query_overrides):
    episode = make_episode_graph(folder / f"{name}.onnx", img_size=S)
    make_split_graphs(episode, img_size=S, query_overrides=query_overrides or None)
    return episode


# ---- triton-repo: what MODEL is ---------------------------------------------------------
def test_corrupt_or_foreign_onnx_names_the_real_problem(tmp_path, capsys):
    (tmp_path / "x.onnx").write_bytes(os.urandom(300))
    assert "cannot read ONNX model" in _refused(capsys, tmp_path, "triton-repo", tmp_path / "x.onnx", "-o", tmp_path / "r")
    make_episode_graph(tmp_path / "foreign.onnx", img_size=S, with_metadata=False)
    message = _refused(capsys, tmp_path, "triton-repo", tmp_path / "foreign.onnx", "-o", tmp_path / "r")
    assert "is not an hsnet-deploy model" in message and "split" not in message
    make_episode_graph(tmp_path / "e.onnx", img_size=S)
    assert "has no split graphs beside it" in _refused(capsys, tmp_path, "triton-repo", tmp_path / "e.onnx", "-o", tmp_path / "r")
    _split(tmp_path)
    shutil.copyfile(tmp_path / "m.query.onnx", tmp_path / "lone.onnx")
    message = _refused(capsys, tmp_path, "triton-repo", tmp_path / "lone.onnx", "-o", tmp_path / "r")
    assert "holds a 'query' graph" in message and "lone.support.onnx + lone.query.onnx" in message
    (tmp_path / "m.query.onnx").write_bytes(b"not a protobuf at all")  # a split pair with a broken half
    message = _refused(capsys, tmp_path, "triton-repo", tmp_path / "m.onnx", "-o", tmp_path / "r")
    assert "cannot read ONNX model" in message and "m.query.onnx" in message


@pytest.mark.parametrize("key, value", [
    ("hsnet_deploy.checkpoint_sha256", "a" * 64),
    ("hsnet_deploy.img_size", 32),
    ("hsnet_deploy.shots", 2),
    ("hsnet_deploy.backbone", "resnet50"),
])
def test_halves_of_different_exports_are_refused(tmp_path, capsys, key, value):
    _split(tmp_path, **{key: value})
    message = _refused(capsys, tmp_path, "triton-repo", tmp_path / "m.query.onnx", "-o", tmp_path / "r")
    assert "come from different exports" in message and key.split(".")[1] in message


def test_engine_halves_of_different_exports_are_refused(tmp_path, capsys):
    support, query = make_split_graphs(make_episode_graph(tmp_path / "m.onnx", img_size=S), img_size=S)
    for graph, digest in ((support, "random"), (query, "b" * 64)):
        meta = {p.key: p.value for p in onnx.load(str(graph)).metadata_props}
        meta["hsnet_deploy.checkpoint_sha256"] = digest
        engine = graph.with_suffix(".engine")
        engine.write_bytes(b"plan")
        engine.with_name(engine.name + ".json").write_text(json.dumps(meta))
    message = _refused(capsys, tmp_path, "triton-repo", tmp_path / "m.query.engine", "-o", tmp_path / "r")
    assert "come from different exports (checkpoint_sha256: random vs bbbb" in message


def test_halves_swapped_are_refused(tmp_path, capsys):
    _split(tmp_path)
    os.replace(tmp_path / "m.query.onnx", tmp_path / "q")
    os.replace(tmp_path / "m.support.onnx", tmp_path / "m.query.onnx")
    os.replace(tmp_path / "q", tmp_path / "m.support.onnx")
    message = _refused(capsys, tmp_path, "triton-repo", tmp_path / "m.onnx", "-o", tmp_path / "r")
    assert "holds a 'query' graph, expected a 'support_encoder' graph" in message


# ---- triton-repo: its options -------------------------------------------------------------
@pytest.mark.parametrize("option", ["--max-batch-size", "--instances"])
@pytest.mark.parametrize("value", ["0", "-1"])
def test_counts_below_one_are_refused_first(tmp_path, capsys, option, value):
    message = _refused(capsys, tmp_path, "triton-repo", tmp_path / "missing.onnx", "-o", tmp_path / "r", option, value)
    assert message == f"{option} must be at least 1, got {value}"  # before the missing model


def test_cpu_goes_by_the_backend(tmp_path, capsys):
    for name in ("m.support.engine", "m.query.engine"):
        (tmp_path / name).write_bytes(b"plan")
    message = _refused(capsys, tmp_path, "triton-repo", tmp_path / "m.query.engine", "-o", tmp_path / "r", "--cpu")
    assert message.startswith("--cpu serves .onnx models only")
    _split(tmp_path)
    for tag in ("", ".support", ".query"):  # .ONNX is ONNX as well
        shutil.copyfile(tmp_path / f"m{tag}.onnx", tmp_path / f"U{tag}.ONNX")
    assert cli.main(["triton-repo", str(tmp_path / "U.ONNX"), "-o", str(tmp_path / "cpu"), "--cpu"]) == 0
    assert "kind: KIND_CPU" in (tmp_path / "cpu" / "hsnet_query" / "config.pbtxt").read_text()


# ---- triton-repo: the output folder ---------------------------------------------------------
def test_output_must_be_new_in_a_writable_folder(tmp_path, capsys):
    episode = _split(tmp_path)
    (tmp_path / "taken").mkdir()
    assert "already exists" in _refused(capsys, tmp_path, "triton-repo", episode, "-o", tmp_path / "taken")
    assert "output folder does not exist" in _refused(capsys, tmp_path, "triton-repo", episode, "-o", tmp_path / "no" / "r")
    assert "m.onnx is not a folder" in _refused(capsys, tmp_path, "triton-repo", episode, "-o", tmp_path / "m.onnx" / "r")
    locked = tmp_path / "locked"
    locked.mkdir()
    with unwritable(locked):
        message = _refused(capsys, tmp_path, "triton-repo", episode, "-o", locked / "r")
    assert f"cannot write in {locked}" in message


def test_a_write_that_fails_midway_leaves_nothing(tmp_path, capsys, monkeypatch):
    episode = _split(tmp_path)
    real_copy, copies = shutil.copyfile, []

    def full_disk(source, target):
        copies.append(target)
        if len(copies) == 2:  # the second graph: the first is already in the staging folder
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(target))
        return real_copy(source, target)

    monkeypatch.setattr(triton_repository.shutil, "copyfile", full_disk)
    message = _refused(capsys, tmp_path, "triton-repo", episode, "-o", tmp_path / "r")
    assert message == f"cannot write the model repository {tmp_path / 'r'}: No space left on device"


def test_the_write_probe_refuses_before_any_work(tmp_path, capsys, monkeypatch):
    episode = _split(tmp_path)

    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr(tempfile, "mkstemp", read_only)
    message = _refused(capsys, tmp_path, "triton-repo", episode, "-o", tmp_path / "r")
    assert message.endswith(f"cannot write in {tmp_path}: Read-only file system")


# ---- sidecar ------------------------------------------------------------------------------------
@pytest.mark.parametrize("tensorrt", [None, types.ModuleType("tensorrt")], ids=["absent", "stubs-only"])
def test_sidecar_without_tensorrt_says_so(tmp_path, capsys, monkeypatch, tensorrt):
    from hsnet_deploy.runtime.tensorrt import engine_build

    episode = make_episode_graph(tmp_path / "m.onnx", img_size=S)
    (tmp_path / "m.engine").write_bytes(b"plan")
    monkeypatch.setitem(sys.modules, "tensorrt", tensorrt)
    monkeypatch.setattr(engine_build, "gpu_of", lambda memory: pytest.fail("the GPU was asked for before TensorRT"))
    message = _refused(capsys, tmp_path, "sidecar", tmp_path / "m.engine", "--onnx", episode)
    assert message.startswith("TensorRT is not installed: pip install tensorrt")
    assert message.endswith("sidecar reads the engine with the TensorRT that will run it: run it on the machine with the GPU")


def test_sidecar_checks_its_files_before_tensorrt(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorrt", None)
    episode = make_episode_graph(tmp_path / "m.onnx", img_size=S)
    (tmp_path / "m.engine").write_bytes(b"plan")
    (tmp_path / "d.engine").mkdir()
    (tmp_path / "d.onnx").mkdir()
    cases = [
        ((tmp_path / "d.engine", "--onnx", episode), f"engine {tmp_path / 'd.engine'} is a folder, not a file"),
        ((tmp_path / "gone.engine", "--onnx", episode), f"engine not found: {tmp_path / 'gone.engine'}"),
        ((tmp_path / "m.engine", "--onnx", tmp_path / "d.onnx"), f"ONNX file {tmp_path / 'd.onnx'} is a folder, not a file"),
        ((tmp_path / "m.engine", "--onnx", tmp_path / "gone.onnx"), f"ONNX file not found: {tmp_path / 'gone.onnx'}"),
        ((episode, "--onnx", episode), f"{episode} is not a TensorRT engine file name (an .engine or .plan file)"),
    ]
    for argv, want in cases:
        assert _refused(capsys, tmp_path, "sidecar", *argv) == want
