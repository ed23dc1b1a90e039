"""hsnet-deploy bench end to end on a tiny configuration, the JSON's fields, the PNG, and
one-line errors for bad input. Behaviour only: no test asserts a speed."""

from __future__ import annotations

import contextlib
import io
import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from hsnet_deploy.cli import main  # noqa: E402

RESULT_FIELDS = {
    "key", "label", "is_baseline", "backend", "mode", "precision", "cuda_graph", "shots", "model", "device",
    "latency_ms", "network_latency_ms", "fps", "latency_ratio_to_baseline", "speedup_vs_baseline",
    "stages_ms", "stages_source", "support_encoding_ms", "memory", "parameters", "flops_per_stage",
    "flops_total", "gflops_total", "elements_moved_per_stage", "elements_moved_total",
    "support_encoding_flops", "agreement_with_baseline", "operator_ms", "operator_shares", "achieved_per_stage", "notes",
}
LATENCY_FIELDS = {"n", "median_ms", "p90_ms", "p99_ms", "mean_ms", "std_ms", "min_ms", "max_ms", "fps"}
TOP_FIELDS = {"schema", "environment", "settings", "results", "skipped", "notes", "gemm_peaks"}  # Table 5, roofline: tools/research

try:
    import onnxruntime  # noqa: F401  (only whether they import matters)
    from hsnet_deploy.export import export_onnx  # noqa: F401

    HAVE_ONNX_PATH = True
except ImportError:
    HAVE_ONNX_PATH = False


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """`hsnet-deploy bench` with no MODEL (random model + its ONNX export), K = 1 and 2, at 96x96."""
    folder = tmp_path_factory.mktemp("bench")
    out_json, out_png = folder / "bench.json", folder / "bench.png"
    argv = [
        "bench", "--img-size", "96", "--shots", "1,2", "--iters", "2", "--warmup", "1", "--stage-iters", "1",
        "--device", "cpu", "--threads", "1",
        "--json", str(out_json), "--plot", str(out_png),
    ]
    threads = torch.get_num_threads()
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        status = main(argv)
    assert torch.get_num_threads() == threads  # --threads 1 applied to the run only
    return status, stdout.getvalue(), out_json, out_png


def test_tiny_run_writes_table_json_and_png(tiny_run):
    status, text, out_json, out_png = tiny_run
    assert status == 0
    assert "TABLE 5" not in text and "ROOFLINE" not in text  # research, no longer re-run by every bench
    for heading in ("MEASURED", "baseline"):
        assert heading in text
    report = json.loads(out_json.read_text())
    assert TOP_FIELDS <= set(report)
    assert report["environment"]["torch_threads"] == 1 and report["settings"]["threads"] == 1
    from PIL import Image

    with Image.open(out_png) as img:
        assert img.format == "PNG" and img.size[0] > 400 and img.size[1] > 100
    with Image.open(out_png.with_name("bench.peak.png")) as img:  # each stage's share of the measured peak
        assert img.format == "PNG" and img.size[0] > 400 and img.size[1] > 100


def test_json_has_every_field_and_ordered_percentiles(tiny_run):
    report = json.loads(tiny_run[2].read_text())
    results = report["results"]
    assert results
    for r in results:
        assert RESULT_FIELDS <= set(r), RESULT_FIELDS - set(r)
        lat = r["latency_ms"]
        assert LATENCY_FIELDS <= set(lat)
        assert lat["n"] == 2
        assert 0 < lat["min_ms"] <= lat["median_ms"] <= lat["p90_ms"] <= lat["p99_ms"] <= lat["max_ms"]
        assert r["fps"] == pytest.approx(1e3 / lat["median_ms"])
        assert r["speedup_vs_baseline"] == pytest.approx(1 / r["latency_ratio_to_baseline"])
        assert r["stages_ms"] and all(v >= 0 for v in r["stages_ms"].values())
        assert r["flops_total"] == sum(r["flops_per_stage"].values()) > 0
        assert r["parameters"]["total"] > 0
        mem = r["memory"]
        assert mem["peak_rss_mb"] is not None and mem["peak_rss_mb"] > 0
        assert mem["first_run"]["peak_rss_mb"] > 0
        agree = r["agreement_with_baseline"]
        assert 0.0 <= agree["mask_pixels_equal"] <= 1.0 and agree["logits_max_abs_diff"] >= 0
        if r["mode"] == "cached-support":
            assert r["support_encoding_ms"] > 0 and r["support_encoding_flops"] > 0


def test_baseline_present_for_every_k_and_is_the_reference(tiny_run):
    report = json.loads(tiny_run[2].read_text())
    results = report["results"]
    for k in (1, 2):
        base = [r for r in results if r["shots"] == k and r["is_baseline"]]
        assert len(base) == 1
        b = base[0]
        assert b["backend"] == "torch" and b["precision"] == "fp32" and b["latency_ratio_to_baseline"] == 1.0
        assert b["agreement_with_baseline"]["mask_pixels_equal"] == 1.0
        # The official way recomputes the query's backbone for every shot.
        batched = next(r for r in results if r["shots"] == k and r["key"] == "torch-batched")
        assert b["flops_per_stage"]["query backbone"] == k * batched["flops_per_stage"]["query backbone"]
        assert {r["key"] for r in results if r["shots"] == k} >= {"baseline", "torch-batched", "torch-cached"}
        # the staged pass timed every network stage of the PyTorch configurations
        assert {"query backbone", "correlation", "squeezing blocks", "mixing blocks", "decoder"} <= set(b["stages_ms"])


@pytest.mark.skipif(not HAVE_ONNX_PATH, reason="needs onnxruntime and the exporter")
def test_default_run_includes_its_onnx_export(tiny_run):
    report = json.loads(tiny_run[2].read_text())
    keys = {(r["key"], r["shots"]) for r in report["results"]}
    for k in (1, 2):
        assert ("onnxruntime-episode", k) in keys and ("onnxruntime-cached", k) in keys
    network_stages = {"query backbone", "correlation", "squeezing blocks", "mixing blocks", "decoder"}
    for r in report["results"]:
        if r["backend"] == "onnxruntime":
            # the profiled staged runs replace the one "network" stage by HSNet's stages
            assert "network" not in r["stages_ms"] and network_stages <= set(r["stages_ms"])
            assert ("support backbone + masking" in r["stages_ms"]) == (r["mode"] == "episode")
            assert r["stages_ms"].get("unattributed", 0.0) <= 0.01 * sum(r["stages_ms"].values())
            assert r["operator_shares"] and sum(r["operator_shares"].values()) == pytest.approx(1.0)
            # same weights as the baseline: the exported graph must agree with it
            assert r["agreement_with_baseline"]["logits_max_abs_diff"] < 1e-2
        # throughput per stage against this run's measured peak of the same backend
        peak = report["gemm_peaks"][f"{r['backend']} fp32"]["gflops"]
        assert peak > 0
        for stage, a in r["achieved_per_stage"].items():
            expected = r["flops_per_stage"][stage] / (r["stages_ms"][stage] / 1e3) / 1e9
            assert a["gflops"] == pytest.approx(expected) and a["share_of_peak"] == pytest.approx(expected / peak)


@pytest.mark.slow
def test_openvino_rows_beside_onnxruntime_with_their_own_peaks(tmp_path):
    pytest.importorskip("openvino")
    out_json = tmp_path / "bench.json"
    argv = ["bench", "--img-size", "96", "--iters", "1", "--warmup", "1", "--stage-iters", "1", "--device", "cpu",
            "--threads", "1", "--onnx-backends", "onnxruntime,openvino", "--json", str(out_json)]
    with contextlib.redirect_stdout(io.StringIO()) as stdout:
        assert main(argv) == 0
    assert "openvino cached-support" in stdout.getvalue()  # the table has the rows
    report = json.loads(out_json.read_text())
    rows = {r["key"]: r for r in report["results"]}
    for key in ("onnxruntime-episode", "onnxruntime-cached", "openvino-episode", "openvino-cached"):
        assert key in rows
    for key in ("openvino-episode", "openvino-cached"):
        row = rows[key]
        assert row["backend"] == "openvino" and row["device"] == "openvino CPU, f32 inference"
        assert row["agreement_with_baseline"]["logits_max_abs_diff"] < 1e-2  # f32 inference: the same graph's numbers
        # OpenVINO's performance counters split the network into HSNet's stages, like onnxruntime's profiler
        assert "network" not in row["stages_ms"] and {"query backbone", "correlation", "squeezing blocks"} <= set(row["stages_ms"])
        assert row["stages_ms"].get("unattributed", 0.0) <= 0.01 * sum(row["stages_ms"].values())
        assert all(a["share_of_peak"] > 0 for a in row["achieved_per_stage"].values())  # against OpenVINO's fp32 peak
    for precision in ("fp32", "bf16", "int8"):
        assert report["gemm_peaks"][f"openvino {precision}"]["gflops"] > 0


# ------------------------------------------------------------------------ bad input


@pytest.mark.parametrize(
    "argv, message",
    [
        (["bench", "no_such_model.pt"], "model not found"),
        (["bench", "torch", "--shots", "1,x"], "--shots"),
        (["bench", "torch", "--shots", "0"], "--shots"),
        (["bench", "torch", "--iters", "0"], "--iters"),
        (["bench", "torch", "--threads", "0"], "--threads"),
        (["bench", "torch", "--json", "/no/such/folder/out.json"], "output folder does not exist"),
        (["bench", "torch", "--plot", "chart.jpg"], "--plot"),
        (["bench", "torch", "--backbone", "vgg16", "--img-size", "16"], "too small"),
        (["bench", "torch", "--backbone", "vgg16", "--img-size", "264"], "valid HSNet pyramid"),
        (["bench", "torch", "--backbone", "resnet18"], "unknown backbone"),
        (["bench", "--onnx-backends", "tensorrt"], "--onnx-backends must name each of onnxruntime, openvino at most once"),
        (["bench", "--onnx-backends", "openvino,openvino"], "--onnx-backends must name each of"),
    ],
)
def test_bad_input_is_one_line(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on a machine without a GPU")
def test_cuda_without_a_gpu_is_one_line(capsys):
    assert main(["bench", "torch", "--device", "cuda"]) == 2
    err = capsys.readouterr().err.strip()
    assert "no CUDA GPU" in err and len(err.splitlines()) == 1


def test_wrong_file_type_and_broken_split(tmp_path, capsys):
    text = tmp_path / "model.txt"
    text.write_text("not a model")
    assert main(["bench", str(text)]) == 2
    assert "expected a .pt/.pth checkpoint or an .onnx file" in capsys.readouterr().err
    half = tmp_path / "m.support.onnx"
    half.write_bytes(b"x")
    assert main(["bench", str(half)]) == 2
    assert "partner" in capsys.readouterr().err
    corrupt = tmp_path / "corrupt.onnx"
    corrupt.write_bytes(b"not a protobuf")
    assert main(["bench", str(corrupt)]) == 2
    err = capsys.readouterr().err.strip()
    assert "corrupt.onnx" in err and len(err.splitlines()) == 1


# -------------------------------------------------------------- FP16 path on the CPU


def test_fp16_configuration_runs_under_autocast(random_hsnet, monkeypatch):
    """The CUDA FP16 configuration's code path, exercised with CPU autocast (the model keeps
    its mask resize in FP32 itself: tests/test_model.py): it enters the runtime's autocast
    for fp16 and its logits are the FP32 configuration's up to FP16 rounding, on the same
    episode and the same (staged) path."""
    from hsnet_deploy.benchmarks import torch_configuration
    from hsnet_deploy.benchmarks.configurations import COST_EPISODE
    from hsnet_deploy.benchmarks.synthetic_episode import make_episodes

    entered = []
    runtime_autocast = torch_configuration.autocast

    def recording_autocast(device, precision):
        context = runtime_autocast(device, precision)
        entered.append((precision, type(context).__name__))
        return context

    monkeypatch.setattr(torch_configuration, "autocast", recording_autocast)
    model, cpu = random_hsnet("resnet50"), torch.device("cpu")
    episode = make_episodes(2)[0]
    outputs = {}
    for precision in ("fp32", "fp16"):
        cfg = torch_configuration.TorchConfiguration(f"torch-{precision}", precision, model, cpu, 2, 96, "random", COST_EPISODE, precision)
        outputs[precision] = cfg.run(episode, staged=True)
    assert ("fp16", "autocast") in entered and ("fp32", "autocast") not in entered
    fp32, fp16 = outputs["fp32"], outputs["fp16"]
    assert fp16.mask.shape == episode.query_image.shape[:2] and set(np.unique(fp16.mask)) <= {0, 1}
    assert fp16.logits.shape == fp32.logits.shape == (2, 2, 96, 96) and fp16.logits.dtype == np.float32
    assert np.isfinite(fp16.logits).all()
    diff = float(np.max(np.abs(fp16.logits - fp32.logits)))
    assert 0.0 < diff < 0.05, diff  # FP16 really ran (not bit-equal), and only rounding apart
    assert np.mean(fp16.mask == fp32.mask) > 0.99


def test_model_arguments_name_the_graphs_to_run(tmp_path):
    from hsnet_deploy.benchmarks.model_arguments import parse_model_argument

    assert parse_model_argument("torch").kind == "torch" and parse_model_argument("torch").checkpoint is None
    ckpt = tmp_path / "best_model.pt"
    ckpt.write_bytes(b"x")
    assert parse_model_argument(str(ckpt)).checkpoint == ckpt
    from helpers.fake_graphs import (  # a set is read as one export
        make_episode_graph,
        make_split_graphs,
    )

    episode = make_episode_graph(tmp_path / "m.onnx")
    alone = parse_model_argument(str(episode))
    assert alone.episode_graph == episode and alone.split_graphs is None
    make_split_graphs(episode)
    both = parse_model_argument(str(episode))
    assert both.episode_graph == episode and both.split_graphs == (tmp_path / "m.support.onnx", tmp_path / "m.query.onnx")
    split_only = parse_model_argument(str(tmp_path / "m.query.onnx"))
    assert split_only.episode_graph is None and split_only.split_graphs == both.split_graphs
