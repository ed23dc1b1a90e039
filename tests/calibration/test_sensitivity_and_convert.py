"""Sensitivity analysis, ``--int8-auto``, ``--int8-keep``, ``compare`` and ``export --precision``."""

from __future__ import annotations

import json

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from hsnet_deploy.cli import main  # noqa: E402
from hsnet_deploy.export.precision.convert import PrecisionOptions  # noqa: E402

from tests.conftest import PRECISION_SIZE as S  # noqa: E402
from tests.conftest import _precision_calibration  # noqa: E402

CALIB = _precision_calibration()


def _meta(path):
    return {p.key: p.value for p in onnx.load(str(path), load_external_data=False).metadata_props}


@pytest.mark.slow
def test_sensitivity_scores_each_group_alone_and_auto_meets_its_gate(exported, tmp_path):
    from hsnet_deploy.calibration.sensitivity import (
        Int8Trials,
        choose_float_groups,
        measure_sensitivity,
    )
    from hsnet_deploy.export.precision.node_groups import group_order

    fp32 = onnx.load(str(exported["fp32"]))
    options = PrecisionOptions("int8", calibration=CALIB)
    with Int8Trials(fp32, options, n_episodes=3) as trials:
        report = measure_sensitivity(trials)
        assert list(report["groups"]) == group_order(trials.groups.values())
        assert len(report["groups"]) == 13  # 4 backbone stages, 3 correlations, 3 squeeze, 2 mix, decoder
        assert all(numbers["nodes"] >= 1 and numbers["max_rel"] < 1 for numbers in report["groups"].values())
        # INT8 changes the logits through nearly every group; at 96x96 the deepest correlation
        # (3x3 grids) of these episodes is all negative, so ReLU hides layer4 entirely
        changed = [g for g, numbers in report["groups"].items() if numbers["max_rel"] > 0]
        assert len(changed) >= 11, report["groups"]
        everything = trials.score(trials.nodes_without(()))
        assert everything[1]["mean_abs"] > max(g["mean_abs"] for g in report["groups"].values())
        assert trials.score([]) == (trials.fp32_miou, {"max_rel": 0.0, "mean_abs": 0.0})
    # a gate no INT8 trial can meet keeps every group in float32, most sensitive first
    path = tmp_path / "sens.json"
    chosen = choose_float_groups({"episode": fp32}, options, gate=-1.0, n_episodes=3, report_path=str(path))
    saved = json.loads(path.read_text())
    by_drop = sorted(saved["groups"], key=lambda g: (saved["groups"][g]["delta_miou"], saved["groups"][g]["max_rel"]),
                     reverse=True)
    assert chosen == by_drop and not saved["gate_met"] and len(saved["trials"]) == 14
    assert (tmp_path / "sens.json.png").stat().st_size > 1000
    # a gate every trial meets keeps nothing
    assert choose_float_groups({"episode": fp32}, options, gate=100.0, n_episodes=3) == []


@pytest.mark.slow
def test_int8_keep_records_its_groups_and_refuses_unknown_ones(exported, tmp_path, capsys):
    from hsnet_deploy.export import check_onnx

    out = tmp_path / "keep.onnx"
    rc = main(["convert", str(exported["fp32"]), "--precision", "int8", "--calib-episodes", "2",
               "--calib-synthetic-size", str(S), "--int8-keep", "backbone /4,decoder", "-o", str(out), "--quiet"])
    assert rc == 0
    meta = _meta(out)
    assert meta["hsnet_deploy.islands"].endswith("backbone /4,decoder")
    report = check_onnx(str(out))
    assert report.ok and "backbone /4 fp32" in report.groups and "decoder fp32" in report.groups
    assert "backbone /8 int8" in report.groups
    capsys.readouterr()
    rc = main(["convert", str(exported["fp32"]), "--precision", "int8", "--int8-keep", "backbone 4",
               "-o", str(tmp_path / "typo.onnx"), "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "unknown node group(s) 'backbone 4'" in err[0]


@pytest.mark.slow
def test_compare_passes_identical_files_and_fails_a_perturbed_one(exported, tmp_path, capsys):
    fp32 = exported["fp32"]
    model = onnx.load(str(fp32))
    conv = next(n for n in model.graph.node if n.op_type == "Conv" and "decoder2" in n.name)
    weight = next(t for t in model.graph.initializer if t.name == conv.input[1])
    weight.CopyFrom(onnx.numpy_helper.from_array(onnx.numpy_helper.to_array(weight) * np.float32(1.02), weight.name))
    perturbed = tmp_path / "perturbed.onnx"
    onnx.save(model, str(perturbed))
    common = ["--episodes", "2", "--synthetic-size", str(S), "--quiet"]
    assert main(["compare", str(fp32), str(fp32), *common]) == 0
    out = capsys.readouterr().out
    assert "PASSED" in out and "abs max 0 " in out
    json_path = tmp_path / "cmp.json"
    assert main(["compare", str(perturbed), str(fp32), *common, "--json", str(json_path)]) == 1
    summary = json.loads(json_path.read_text())
    logits = summary["logits"]
    assert not summary["passed"] and 0 < logits["outside_share"] <= 1 and logits["max_abs"] > 1e-3
    assert logits["p99_abs"] <= logits["max_abs"] and logits["mean_abs"] <= logits["p99_abs"] + 1e-12
    # the tolerances it reports would have passed
    assert main(["compare", str(perturbed), str(fp32), *common, "--atol", str(logits["passing_atol"] * 1.0001)]) == 0
    assert main(["compare", str(perturbed), str(fp32), *common, "--rtol", str(logits["passing_rtol"] * 1.0001)]) == 0


def test_compare_statistics_follow_the_polygraphy_rule():
    from hsnet_deploy.hsnet.evaluation.compare import _ErrorStats

    stats = _ErrorStats(atol=0.1, rtol=0.1)
    b = np.array([1.0, 10.0, 0.0, 1.0, 2.0])
    a = np.array([1.05, 10.5, 0.0, 1.5, np.nan])  # abs-only, rel-only, equal, both, NaN
    stats.add(a, b)
    s = stats.summary()
    assert s["outside"] == 2 and s["non_finite"] == 1  # only "both exceeded" and the NaN fail
    assert s["max_abs"] == pytest.approx(0.5) and s["max_rel"] == pytest.approx(0.5)


@pytest.mark.slow
def test_export_writes_the_precision_it_is_asked_for(tmp_path):
    out = tmp_path / "k.onnx"
    rc = main(["export", "--checkpoint", "reference", "--img-size", "64", "--split", "--dynamic-shots", "1:2", "--precision", "fp16",
               "--support-precision", "int8", "--calib-episodes", "2", "-o", str(out), "--quiet"])
    assert rc == 0
    assert _meta(out)["hsnet_deploy.precision"] == "fp16"
    assert _meta(tmp_path / "k.query.onnx")["hsnet_deploy.precision"] == "fp16"
    support = _meta(tmp_path / "k.support.onnx")
    assert support["hsnet_deploy.precision"] == "int8" and "synthetic" in support["hsnet_deploy.calibration_source"]


def test_compare_mask_iou_is_none_when_neither_predicts_foreground():
    from hsnet_deploy.hsnet.data import SyntheticFewShot
    from hsnet_deploy.hsnet.evaluation.compare import Comparison, format_summary

    dataset = SyntheticFewShot(seed=0, split="test", img_size=32, shot=1, n_episodes=1)
    episode = dataset.episode(0)
    background = np.zeros((1, 2, 32, 32), np.float32)
    background[:, 0] = 1.0  # every pixel votes background
    comparison = Comparison(1e-3, 1e-3, dataset.class_ids)
    comparison.add(background, background + np.float32(1e-4), episode)
    summary = comparison.summary()
    assert summary["mask"]["iou"] is None and summary["mask"]["agreement"] == 1.0 and summary["passed"]
    assert "n/a (neither predicts foreground)" in format_summary(summary, "a", "b")
