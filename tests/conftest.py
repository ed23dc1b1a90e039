"""Shared fixtures: small deterministic HSNets (built once per session, they are slow-ish)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
for folder in (TESTS, TESTS.parent / "tools" / "research"):  # helpers.*, and the research scripts
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

torch = pytest.importorskip("torch")

# A test is slow when it needs one of these (real exports of a model, INT8 calibration, a
# benchmark run, mypy), or says so with @pytest.mark.slow; `pytest -m "not slow"` leaves it out.
SLOW_FIXTURES = frozenset({
    "exported", "r50_split", "r50_400", "small_exports", "export_dir", "cli_exports", "tiny_run", "random_run",
    "checker", "r50_checkpoint", "small_checkpoint",
})


def pytest_collection_modifyitems(items):
    for item in items:
        if SLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def random_hsnet():
    """random_hsnet(backbone, seed=0) -> eval-mode HSNet with random non-trivial weights."""
    from hsnet_deploy.hsnet import HSNet, randomize_for_testing

    cache = {}

    def make(backbone: str = "resnet50", seed: int = 0):
        key = (backbone, seed)
        if key not in cache:
            cache[key] = randomize_for_testing(HSNet(backbone), seed).eval()
        return cache[key]

    return make


@pytest.fixture
def run_cli(monkeypatch, capsys):
    """run_cli(*argv) -> (exit code, stdout, stderr) of ``hsnet-deploy run ARGV``, in-process,
    with only the run command registered (other commands' imports stay out)."""
    from hsnet_deploy import cli

    monkeypatch.setattr(cli, "COMMANDS", {"run": cli.COMMANDS["run"]})

    def run(*argv):
        code = cli.main(["run", *map(str, argv)])
        out, err = capsys.readouterr()
        return code, out, err

    return run


def random_episode(b: int, k: int, size: int, seed: int = 0):
    """Random normalised images and ragged binary masks (blobs, never empty)."""
    g = torch.Generator().manual_seed(seed)
    query = torch.randn(b, 3, size, size, generator=g)
    supports = torch.randn(b, k, 3, size, size, generator=g)
    yy, xx = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    masks = torch.zeros(b, k, size, size)
    for i in range(b):
        for j in range(k):
            cy, cx, r = (torch.rand(3, generator=g) * torch.tensor([size, size, size / 3])).tolist()
            wobble = torch.sin(xx * 0.37 + yy * 0.21 + i + j) * size / 12
            masks[i, j] = (((yy - cy) ** 2 + (xx - cx) ** 2).sqrt() < r + size / 8 + wobble).float()
    return query, supports, masks


PRECISION_SIZE = 96  # the precision tests' graphs (the learner is size-agnostic)


def _precision_calibration():
    from hsnet_deploy.calibration.calibration_episodes import CalibrationSource

    return CalibrationSource("synthetic", episodes=4, synthetic_size=PRECISION_SIZE)




@pytest.fixture(scope="session")
def exported(tmp_path_factory):
    """FP32 / FP16 / INT8 split exports of the reference model at 96x96: precision -> NAME.onnx."""
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxconverter_common")
    from hsnet_deploy.export import export_split
    from hsnet_deploy.export.precision.convert import PrecisionOptions, convert_file
    from hsnet_deploy.hsnet import load_hsnet

    folder = tmp_path_factory.mktemp("precision")
    model = load_hsnet(checkpoint="reference").eval()
    fp32 = folder / "ref.onnx"
    export_split(model, fp32, img_size=PRECISION_SIZE, shots=1)
    files = {"fp32": fp32}
    for precision in ("fp16", "int8"):
        files[precision] = folder / f"ref.{precision}.onnx"
        convert_file(fp32, files[precision], PrecisionOptions(precision, calibration=_precision_calibration()))
    return files
