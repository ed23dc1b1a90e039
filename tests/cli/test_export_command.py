"""``hsnet-deploy export`` and ``hsnet-deploy check``: happy paths (parity of what they
write) and one-line errors for bad options, with nothing written on failure."""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from conftest import random_episode  # noqa: E402
from hsnet_deploy.cli import main  # noqa: E402
from hsnet_deploy.hsnet.checkpoint import file_sha256, save_official_checkpoint  # noqa: E402
from hsnet_deploy.runtime.kshot_vote import kshot_vote_torch as kshot_vote  # noqa: E402


def _meta(path) -> dict[str, str]:
    return {p.key: p.value for p in onnx.load(str(path)).metadata_props}


def _run(path, q, s, m):
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return sess.run(None, {"query_img": q.numpy(), "support_imgs": s.numpy(), "support_masks": m.numpy()})


def _assert_parity(model, path, q, s, m):
    with torch.no_grad():
        ref = model(q, s, m).numpy()
    logits, mask = _run(path, q, s, m)
    assert np.abs(logits - ref).max() <= 1e-4 * np.abs(ref).max()
    assert np.array_equal(mask, kshot_vote(torch.from_numpy(ref)).numpy())


@pytest.fixture(scope="module")
def cli_exports(tmp_path_factory, random_hsnet):
    """Two cheap CLI exports at 64x64: ResNet50 from an official-layout checkpoint (fixed
    K = 1, opset 18), and a random VGG16 as a split trio with dynamic K; their stdout and
    stderr are kept for the tests."""
    out = tmp_path_factory.mktemp("cli")
    checkpoint = out / "best_model.pt"
    save_official_checkpoint(random_hsnet("resnet50"), checkpoint)  # ~100 MB (VGG16's classifier would make it 500)
    results = {}
    for name, argv in {
        "checkpoint": ["export", "--checkpoint", str(checkpoint), "--img-size", "64", "--opset", "18", "-o", str(out / "ckpt.onnx")],
        "random": ["export", "--backbone", "vgg16", "--random-weights", "--seed", "0", "--img-size", "64",
                   "--dynamic-shots", "1:4", "--split", "-o", str(out / "vgg.onnx")],
    }.items():
        stdout, stderr = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            rc = main([*argv, "--quiet"])
        results[name] = (rc, stdout.getvalue(), stderr.getvalue())
    return out, checkpoint, results


def test_export_from_checkpoint_records_its_digest_and_matches_pytorch(cli_exports, random_hsnet):
    out, checkpoint, results = cli_exports
    rc, stdout, stderr = results["checkpoint"]
    assert rc == 0, stderr
    assert "WARNING" not in stderr and "ckpt.onnx" in stdout
    meta = _meta(out / "ckpt.onnx")
    assert meta["hsnet_deploy.checkpoint_sha256"] == file_sha256(checkpoint)
    assert (meta["hsnet_deploy.backbone"], meta["hsnet_deploy.shots"], meta["hsnet_deploy.img_size"]) == ("resnet50", "1", "64")
    assert meta["hsnet_deploy.opset"] == "18"  # backbone inferred from the checkpoint, opset as asked
    q, s, m = random_episode(2, 1, 64, seed=31)
    _assert_parity(random_hsnet("resnet50"), out / "ckpt.onnx", q, s, m)


def test_random_weights_export_warns_and_writes_the_split_trio(cli_exports, random_hsnet):
    out, _, results = cli_exports
    rc, stdout, stderr = results["random"]
    assert rc == 0, stderr
    assert "WARNING" in stderr and "RANDOM" in stderr
    names = ("vgg.onnx", "vgg.support.onnx", "vgg.query.onnx")
    for name in names:
        meta = _meta(out / name)
        assert meta["hsnet_deploy.checkpoint_sha256"] == "random"
        assert (meta["hsnet_deploy.shots"], meta["hsnet_deploy.shots_range"]) == ("dynamic", "1:4")
        assert name in stdout
    assert [m["hsnet_deploy.graph"] for m in map(_meta, (out / n for n in names))] == ["episode", "support_encoder", "query"]
    q, s, m = random_episode(1, 3, 64, seed=32)
    _assert_parity(random_hsnet("vgg16", 0), out / "vgg.onnx", q, s, m)  # --seed 0 = the fixture's weights


def test_check_command_passes_exported_files(cli_exports, capsys):
    out, _, _ = cli_exports
    files = [str(out / n) for n in ("ckpt.onnx", "vgg.onnx", "vgg.support.onnx", "vgg.query.onnx")]
    assert main(["check", *files]) == 0
    text = capsys.readouterr().out
    assert text.count("PASS: 13/13 checks passed") == 4 and "FAIL" not in text
    assert "ops (" in text and "Conv " in text  # the op histogram


def test_check_command_fails_a_bad_graph(tmp_path, capsys):
    from onnx import TensorProto, helper, numpy_helper

    graph = helper.make_graph(
        [helper.make_node("Gather", ["x", "idx"], ["y"], axis=0)], "bad",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])],
        initializer=[numpy_helper.from_array(np.array([0, 2], dtype=np.int64), "idx")],
    )
    path = tmp_path / "bad.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8), str(path))
    assert main(["check", str(path)]) == 1
    text = capsys.readouterr().out
    assert "FAIL  no gather" in text and "FAIL  metadata" in text and "Gather 1" in text


def test_check_command_unreadable_files_are_one_line_errors(tmp_path, capsys):
    assert main(["check", str(tmp_path / "missing.onnx")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "not found" in err
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"\x00\xffnot a protobuf" * 10)
    assert main(["check", str(junk)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "cannot read" in err


@pytest.mark.parametrize(
    "argv,message",
    [
        ([], "no --checkpoint given"),
        (["--random-weights", "--dynamic-shots", "1-10"], "MIN:MAX"),
        (["--random-weights", "--dynamic-shots", "5:2"], "1 <= MIN <= MAX"),
        (["--random-weights", "--opset", "16"], "--opset 16 is not supported"),
        (["--random-weights", "--opset", "21"], "--opset 21 is not supported"),
        (["--random-weights", "--backbone", "resnet18"], "unknown backbone 'resnet18'"),
        (["--random-weights", "--backbone", "vgg16", "--img-size", "16"], "too small"),
        (["--random-weights", "--shots", "0"], "at least 1"),
        (["--checkpoint", "nowhere.pt"], "checkpoint not found"),
        (["--checkpoint", "nowhere.pt", "--random-weights"], "exclude each other"),
        (["--random-weights", "-o", "{tmp}/no/such/dir/m.onnx"], "output folder does not exist"),
        (["--random-weights", "-o", "{tmp}/m.bin"], "must end in .onnx"),
    ],
)
def test_export_errors_are_one_line(argv, message, tmp_path, capsys):
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    if "-o" not in argv:
        argv += ["-o", str(tmp_path / "m.onnx")]
    assert main(["export", *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("hsnet-deploy export: error:") and err.count("\n") == 0
    assert message in err
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_fixed_and_dynamic_shots_exclude_each_other(tmp_path):
    with pytest.raises(SystemExit) as exit_:
        main(["export", "--random-weights", "--shots", "2", "--dynamic-shots", "1:3", "-o", str(tmp_path / "m.onnx")])
    assert exit_.value.code == 2
