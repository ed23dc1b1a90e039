"""Numbers a user can trust: eval says when classes had no episode, compare refuses
meaningless tolerances before loading anything, and run / check / bench name an INT8
file's calibration."""

from __future__ import annotations

import json
import math

import pytest
from hsnet_deploy.cli import main
from hsnet_deploy.errors import UserError

# ------------------------------------------------------------- eval: unseen classes


def test_eval_prints_and_writes_the_classes_without_episodes(tmp_path, capsys):
    """3 synthetic episodes cover 3 of the 10 test classes: the official mIoU stays the
    headline, the note and the JSON say 7 had none and give the mean over the 3."""
    pytest.importorskip("torch")
    out_json = tmp_path / "eval.json"
    rc = main(["eval", "reference", "--episodes", "3", "--img-size", "64", "--synthetic-size", "48",
               "--device", "cpu", "--threads", "1", "--json", str(out_json), "--quiet"])
    assert rc == 0
    out = capsys.readouterr().out
    report = json.loads(out_json.read_text())
    seen = [report["class_iou"][c] for c, n in report["class_episodes"].items() if n > 0]
    assert len(seen) == 3 and report["classes_without_episodes"] == 7
    assert report["miou"] == pytest.approx(sum(seen) / 10)
    assert report["miou_sampled_classes"] == pytest.approx(sum(seen) / 3)
    line = next(x for x in out.splitlines() if x.startswith("mIoU"))
    assert line.startswith(f"mIoU {report['miou']:.2f}  FB-IoU {report['fbiou']:.2f}  ")
    assert f"(7 of 10 classes had no episode; mean over the 3 sampled: {sum(seen) / 3:.2f})" in line


# ------------------------------------------------------------- compare: tolerances


@pytest.mark.parametrize("option, value, message", [
    ("--max-outside", "2", "--max-outside is the share of logit elements allowed outside the tolerances, from 0 to 1"),
    ("--max-outside", "1.5", "from 0 to 1 (0.01 = 1 %), got 1.5"),
    ("--max-outside", "nan", "from 0 to 1 (0.01 = 1 %), got nan"),
    ("--max-outside", "-0.1", "from 0 to 1"),
    ("--atol", "inf", "--atol must be a finite number of at least 0, got inf"),
    ("--atol", "-1", "--atol must be a finite number of at least 0, got -1"),
    ("--rtol", "nan", "--rtol must be a finite number of at least 0, got nan"),
    ("--rtol", "-inf", "--rtol must be a finite number"),
])
def test_compare_refuses_bad_tolerances_before_loading(option, value, message, tmp_path, capsys, monkeypatch):
    from hsnet_deploy.runtime import Segmenter

    def no_load(*args, **kwargs):
        raise AssertionError("a model was loaded before the options were checked")

    monkeypatch.setattr(Segmenter, "load", no_load)
    a, b = tmp_path / "a.onnx", tmp_path / "b.onnx"  # missing: only the option check may answer
    rc = main(["compare", str(a), str(b), f"{option}={value}", "--quiet"])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and message in err, err


def test_comparison_is_the_one_home_of_the_tolerance_rule():
    from hsnet_deploy.hsnet.evaluation.compare import Comparison

    ids = [0, 1]
    for atol, rtol, share in ((1e-3, 1e-3, 2.0), (math.nan, 0.1, 0.0), (0.1, math.inf, 0.0), (0.1, 0.1, math.nan)):
        with pytest.raises(UserError):
            Comparison(atol, rtol, ids, share)
    for share in (0.0, 0.02, 1.0):  # the ends of the range are allowed
        assert Comparison(0.0, 0.0, ids, share).summary()["max_outside"] == share


# ------------------------------------------------------------- INT8 provenance


def _calibration(path):
    """The calibration text built from the file's own metadata, through the contract's keys."""
    import onnx
    from hsnet_deploy.runtime.graph_contract import (
        KEY_CALIBRATION_EPISODES,
        KEY_CALIBRATION_METHOD,
        KEY_CALIBRATION_SOURCE,
    )

    meta = {p.key: p.value for p in onnx.load(str(path), load_external_data=False).metadata_props}
    assert meta[KEY_CALIBRATION_SOURCE] and meta[KEY_CALIBRATION_METHOD]
    return f"{meta[KEY_CALIBRATION_SOURCE]}, {meta[KEY_CALIBRATION_EPISODES]} episodes, {meta[KEY_CALIBRATION_METHOD]}"


def test_run_names_the_calibration_of_an_int8_model(exported):
    from hsnet_deploy.runtime import Segmenter

    expected = _calibration(exported["int8"].with_name("ref.int8.query.onnx"))
    with Segmenter.load(exported["int8"]) as seg:
        text = repr(seg)  # what run prints as "model: ..."
    assert "precision=int8" in text and f"calibration={expected!r}" in text
    for precision in ("fp32", "fp16"):
        with Segmenter.load(exported[precision]) as seg:
            assert "calibration" not in repr(seg)


def test_check_prints_the_calibration(exported, capsys):
    query = exported["int8"].with_name("ref.int8.query.onnx")
    assert main(["check", str(query)]) == 0
    out = capsys.readouterr().out
    assert f"  int8 calibration: {_calibration(query)}\n" in out
    assert main(["check", str(exported["fp16"])]) == 0
    assert "calibration" not in capsys.readouterr().out


@pytest.mark.slow
def test_bench_labels_the_int8_configuration_with_its_calibration(exported, capsys):
    pytest.importorskip("torch")
    expected = _calibration(exported["int8"].with_name("ref.int8.query.onnx"))
    rc = main(["bench", "reference", str(exported["int8"]), "--img-size", str(96), "--shots", "1", "--iters", "1",
               "--warmup", "0", "--stage-iters", "1", "--mode", "cached-support",
               "--device", "cpu", "--threads", "1"])
    assert rc == 0
    out = capsys.readouterr().out
    assert f"onnxruntime cached-support int8: INT8 calibration (from its graphs' metadata): {expected}" in out


def test_calibration_text_for_mixed_and_unrecorded_graphs():
    from hsnet_deploy.runtime.graph_contract import (
        KEY_CALIBRATION_EPISODES,
        KEY_CALIBRATION_METHOD,
        KEY_CALIBRATION_SOURCE,
        KEY_PRECISION,
    )
    from hsnet_deploy.runtime.segmenter import calibration_provenance

    calibrated = {KEY_PRECISION: "int8", KEY_CALIBRATION_SOURCE: "folder d (seed 0)",
                  KEY_CALIBRATION_EPISODES: "8", KEY_CALIBRATION_METHOD: "entropy"}
    assert calibration_provenance({"support_encoder": {KEY_PRECISION: "fp16"}, "query": calibrated}) == \
        "folder d (seed 0), 8 episodes, entropy"
    assert calibration_provenance({"support_encoder": {KEY_PRECISION: "int8"}, "query": calibrated}) == \
        "support_encoder: not recorded; query: folder d (seed 0), 8 episodes, entropy"
    assert calibration_provenance({"episode": {}}) == ""
