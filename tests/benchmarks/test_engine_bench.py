"""`bench ENGINE`: trtexec-style phases from CUDA events, IProfiler layer times and the
inspector's per-layer precision, against the stand-in TensorRT (whose fake stream clock
advances 0.25 ms per recorded event, so every phase must come out exactly 0.25 ms)."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("onnxruntime")

from helpers.fake_graphs import make_episode_graph, make_split_graphs  # noqa: E402
from helpers.tensorrt_standin import install  # noqa: E402
from hsnet_deploy.cli import main  # noqa: E402
from hsnet_deploy.runtime.tensorrt.engine_build import build_engines  # noqa: E402
from hsnet_deploy.runtime.tensorrt.timing import (  # noqa: E402
    layer_precisions,
    precision_of_format,
    summary,
)


def test_precision_of_inspector_formats_10_and_11():
    assert precision_of_format("Row major linear FP16 format") == "fp16"
    assert precision_of_format("Channel major FP16 format where channel % 8 == 0") == "fp16"
    assert precision_of_format("Row major Int8 format") == "int8"
    assert precision_of_format("Row major linear FP32") == "fp32"
    assert precision_of_format("Half") == "fp16"
    ten = json.dumps({"Layers": [{"Name": "conv1", "LayerType": "CaskConvolution", "TacticName": "sm90_xmma",
                                  "Outputs": [{"Name": "t", "Format/Datatype": "Channel major Int8 format"}]}, "names_only_layer"]})
    eleven = json.dumps({"Layers": [{"Name": "conv1", "LayerType": "Convolution", "Outputs": [{"Name": "t", "Format": "Row major", "DataType": "Half"}]}]})
    assert layer_precisions(ten) == {"conv1": {"type": "CaskConvolution", "precision": "int8", "tactic": "sm90_xmma"},
                                     "names_only_layer": {"type": "", "precision": "unknown", "tactic": ""}}
    assert layer_precisions(eleven)["conv1"]["precision"] == "fp16"


def test_summary_percentiles():
    stats = summary([float(v) for v in range(1, 101)])
    assert (stats["min"], stats["max"], stats["mean"]) == (1.0, 100.0, 50.5)
    assert stats["p50"] == pytest.approx(50.5) and stats["p90"] == pytest.approx(90.1) and stats["p99"] == pytest.approx(99.01)


def test_bench_engine_reports_phases_layers_and_chart(tmp_path, monkeypatch, capsys):
    _, memory = install(monkeypatch)
    onnx_path = make_episode_graph(tmp_path / "m.onnx", img_size=16)
    make_split_graphs(onnx_path, img_size=16)
    written = build_engines(onnx_path, bars=None)
    out_json, out_png = tmp_path / "e.json", tmp_path / "e.png"
    assert main(["bench", str(written["query"]), "--shots", "1,3", "--iters", "4", "--warmup", "1", "--layer-iters", "2",
                 "--json", str(out_json), "--plot", str(out_png)]) == 0
    report = json.loads(out_json.read_text())
    assert [(r["shots"], [g["graph"] for g in r["graphs"]]) for r in report["results"]] == [(1, ["support_encoder", "query"]), (3, ["support_encoder", "query"])]
    timing = report["results"][0]["graphs"][1]["timing"]
    phases = ("h2d_ms", "gpu_compute_ms", "d2h_ms")
    for phase in phases:
        assert 0 < timing[phase]["p50"] <= timing[phase]["p90"] <= timing[phase]["p99"]
    # trtexec's rule, not the stand-in's numbers: host latency is H2D + GPU compute + D2H
    assert timing["host_latency_ms"]["mean"] == pytest.approx(sum(timing[p]["mean"] for p in phases))
    assert timing["iters"] == 4
    layers = report["results"][0]["graphs"][1]["layers"]
    assert len(layers) >= 3 and all(layer["precision"] == "fp32" and layer["ms"] > 0 for layer in layers)
    assert out_png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    text = capsys.readouterr().out
    assert "host latency" in text and "m.query.engine" in text
    assert main(["bench", str(written["query"]), str(onnx_path)]) == 2
    assert "on their own" in capsys.readouterr().err
