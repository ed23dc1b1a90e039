"""``hsnet-deploy demo``: the deployment path end to end, at a small setting.

One real run (random weights, 96x96, 3 queries, --export-dir) is shared by the tests
that read its outputs; the export (~30 s here, whatever the size) dominates, so the
temporary-folder test reuses that run's graphs in place of a second export. The
reference-model run (a second real export, in a real temporary folder) needs the
shipped weights and is skipped without them. Nothing here depends on what the trained
model scores.
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import tempfile
from pathlib import Path

import pytest
from hsnet_deploy.cli import main

pytest.importorskip("torch")
pytest.importorskip("onnxruntime")

SMALL = ["--img-size", "96", "--queries", "3", "--threads", "1"]
GRAPH_NAMES = ["hsnet_demo.query.onnx", "hsnet_demo.support.onnx"]  # the split pair: what is deployed
JSON_KEYS = {"latency_p50_ms", "latency_p90_ms", "warmup_ms", "miou", "fbiou", "mask_agreement_percent",
             "max_abs_logit_diff", "export_seconds", "weights", "what"}
# 3 rows (3 queries) of render_episode_grid at tile 160: 3 tiles (support, prediction, truth)
# of 160 + 4 px, + 4; each row 160 + 16 caption + 8 border + 16 title
GRID_SIZE = (3 * (160 + 4) + 4, 3 * (160 + 16 + 8 + 16))


def _run_cli(argv):
    """(exit status, stdout, stderr) of ``hsnet-deploy *argv`` (argparse's exits included)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exit_:
            code = exit_.code
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="session")
def random_run(tmp_path_factory):
    """One full demo run with random weights, keeping its export; (folder, stdout, stderr)."""
    folder = tmp_path_factory.mktemp("demo")
    argv = ["demo", "--random-weights", *SMALL, "--export-dir", str(folder / "export"),
            "-o", str(folder / "grid.png"), "--json", str(folder / "demo.json")]
    code, out, err = _run_cli(argv)
    assert code == 0, err
    return folder, out, err


def _check_grid(path: Path) -> None:
    from PIL import Image

    with Image.open(path) as image:
        assert image.format == "PNG" and image.size == GRID_SIZE


def test_writes_grid_and_json(random_run):
    folder, _, _ = random_run
    _check_grid(folder / "grid.png")
    record = json.loads((folder / "demo.json").read_text())
    assert JSON_KEYS <= set(record)
    assert 0 <= record["mask_agreement_percent"] <= 100 and record["export_seconds"] > 0
    assert 0 < record["latency_p50_ms"] <= record["latency_p90_ms"]
    assert 0 <= record["miou"] <= 100 and record["queries"] == 3 and record["img_size"] == 96
    assert sorted(p.name for p in folder.iterdir()) == ["demo.json", "export", "grid.png"]  # no temp files


def test_export_dir_keeps_the_deployed_graphs(random_run):
    folder, out, _ = random_run
    assert sorted(p.name for p in (folder / "export").iterdir()) == GRAPH_NAMES
    assert f"kept in {folder / 'export'}" in out


@pytest.mark.slow
def test_the_demo_on_openvino_agrees_with_torch(tmp_path):
    pytest.importorskip("openvino")
    code, out, err = _run_cli(["demo", "--random-weights", *SMALL, "--onnx-backend", "openvino", "-o",
                               str(tmp_path / "grid.png"), "--json", str(tmp_path / "demo.json"), "--quiet"])
    assert code == 0, err
    record = json.loads((tmp_path / "demo.json").read_text())
    assert record["backend"] == "openvino" and "runtime: openvino (CPU, f32 inference), torch-free" in out
    assert record["mask_agreement_percent"] >= 99.9  # f32 inference: the parity promise
    code, _, err = _run_cli(["demo", "--openvino-precision", "bf16", "-o", str(tmp_path / "x.png")])
    assert code == 2 and err.strip() == "hsnet-deploy demo: error: --openvino-precision applies only with --onnx-backend openvino"


def test_random_weights_say_random(random_run):
    _, out, err = random_run
    accuracy_lines = [line for line in out.splitlines() if "mIoU" in line]
    assert accuracy_lines and all("RANDOM" in line for line in accuracy_lines)
    assert out.startswith("model: HSNet-resnet50, RANDOM weights")
    assert all(bar in err for bar in ("prepare", "export", "stream"))  # the progress bars


def test_temporary_export_folder_is_removed(random_run, tmp_path, monkeypatch):
    """The folder's life is what is tested: the export copies the session run's graphs."""
    import hsnet_deploy.export.onnx_export as onnx_export

    export = random_run[0] / "export"
    seen = []

    def copy_export(model, path, **options):
        assert options["img_size"] == 96 and options["shots"] == 1 and options["dynamic_batch"]
        paths = {k: p for k, p in onnx_export.split_paths(path).items() if k in options["kinds"]}
        for target in paths.values():
            shutil.copyfile(export / target.name, target)
        seen.append(Path(path).parent)
        return paths

    monkeypatch.setattr(onnx_export, "export_split", copy_export)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    code, out, err = _run_cli(["demo", "--random-weights", *SMALL, "--quiet", "-o", str(tmp_path / "g.png")])
    assert code == 0, err
    assert len(seen) == 1 and seen[0].parent == tmp_path / "tmp" and not seen[0].exists()
    assert list((tmp_path / "tmp").iterdir()) == [] and "in a temporary folder, removed afterwards" in out
    assert "stream" not in err  # --quiet: no bars
    _check_grid(tmp_path / "g.png")


@pytest.mark.slow
def test_reference_model_run(tmp_path, monkeypatch):
    """End to end with the shipped model, its real export in a real temporary folder."""
    from hsnet_deploy.hsnet.reference_model import WARNING, WEIGHTS

    assert WEIGHTS.exists(), "the reference weights ship with the package"
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    code, out, err = _run_cli(["demo", *SMALL, "--quiet", "-o", str(tmp_path / "g.png"),
                               "--json", str(tmp_path / "d.json")])
    assert code == 0, err
    assert list((tmp_path / "tmp").iterdir()) == []
    record = json.loads((tmp_path / "d.json").read_text())
    assert record["weights"] == "reference" and record["what"] == WARNING
    assert 0 <= record["mask_agreement_percent"] <= 100
    assert WARNING in out and "RANDOM" not in out
    _check_grid(tmp_path / "g.png")


@pytest.mark.parametrize("bad", [
    ["--checkpoint", "reference", "--random-weights"],
    ["--random-weights", "--img-size", "16"],
    ["--random-weights", "--img-size", "0"],
    ["--random-weights", "--queries", "0"],
    ["--queries", "0"],
    ["--random-weights", "--shots", "0"],
])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(tmp_path, bad):
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    argv = ["demo", *bad, "--export-dir", str(out_dir / "export"), "-o", str(out_dir / "g.png"),
            "--json", str(out_dir / "d.json")]
    code, out, err = _run_cli(argv)
    assert code == 2 and out == ""
    assert err.startswith("hsnet-deploy demo: error:") and err.count("\n") == 1
    assert list(out_dir.iterdir()) == []


def test_library_refuses_checkpoint_with_random_weights():
    from hsnet_deploy.cli.demo.settings import DemoSettings, resolve_settings
    from hsnet_deploy.errors import UserError

    with pytest.raises(UserError, match="exclude each other"):
        resolve_settings(DemoSettings(checkpoint="reference", random_weights=True))


def test_help_says_what_the_model_is(capsys):
    with pytest.raises(SystemExit):
        main(["demo", "--help"])
    from hsnet_deploy.hsnet.reference_model import WARNING

    text = " ".join(capsys.readouterr().out.split())
    assert WARNING in text and "not for real photographs" in text
    assert "official HSNet checkpoint (best_model.pt)" in text and "--random-weights" in text
