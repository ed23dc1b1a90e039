"""FP16 and INT8 files: what they hold, that onnxruntime runs them, and their calibration.

On the ``exported`` fixture (conftest): the shipped reference model (trained, so its
masks are real) exported at 96x96, split, converted once per session to FP16
(onnxconverter-common, FP32 islands) and INT8 (onnxruntime's QDQ quantizer, 4 calibration
episodes of the synthetic training split).
"""

from __future__ import annotations

import re

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
pytest.importorskip("onnxconverter_common")

from hsnet_deploy.errors import UserError  # noqa: E402
from hsnet_deploy.export.precision.convert import (  # noqa: E402
    PrecisionOptions,
    convert_file,
    convert_graphs,
)

from tests.conftest import PRECISION_SIZE as S  # noqa: E402
from tests.conftest import _precision_calibration  # noqa: E402

CALIB = _precision_calibration()


def _load(path):
    return onnx.load(str(path))


def _meta(model):
    return {p.key: p.value for p in model.metadata_props}


def _episode_logits(path, n_episodes=3):
    """Per-shot logits of the first test episodes through the runtime (either graph kind)."""
    from hsnet_deploy.hsnet.data import SyntheticFewShot
    from hsnet_deploy.hsnet.evaluation.evaluate import SegmenterPredictor
    from hsnet_deploy.runtime import Segmenter

    dataset = SyntheticFewShot(seed=0, split="test", img_size=S, shot=1, n_episodes=n_episodes)
    with Segmenter.load(path) as seg:
        predictor = SegmenterPredictor(seg)
        return [predictor.network_logits(dataset.episode(n)) for n in range(n_episodes)]


def test_fp16_weights_are_half_and_islands_float(exported):
    from hsnet_deploy.export import check_onnx
    from hsnet_deploy.export.precision.node_groups import island_nodes, node_key

    for suffix in ("", ".support", ".query"):
        model = _load(str(exported["fp16"]).replace(".onnx", f"{suffix}.onnx"))
        inits = {t.name: t for t in model.graph.initializer}
        islands = island_nodes(model)
        convs = [n for n in model.graph.node if n.op_type == "Conv"]
        assert convs and all(inits[n.input[1]].data_type == onnx.TensorProto.FLOAT16 for n in convs)
        report = check_onnx(model)
        assert report.ok, report.format()
        assert _meta(model)["hsnet_deploy.precision"] == "fp16"
        # no island node but a Cast reads a FLOAT16 tensor
        types = {vi.name: vi.type.tensor_type.elem_type for vi in [*model.graph.value_info, *model.graph.input]}
        types.update({t.name: t.data_type for t in model.graph.initializer})
        for node in model.graph.node:
            if node_key(node) in islands and node.op_type != "Cast":
                assert all(types.get(i) != onnx.TensorProto.FLOAT16 for i in node.input if i), node.name
        assert sum(types.get(i) == onnx.TensorProto.FLOAT for n in model.graph.node
                   if node_key(n) in islands and n.op_type != "Cast" for i in n.input) > 10
    assert exported["fp16"].stat().st_size < 0.6 * exported["fp32"].stat().st_size


def test_onnxruntime_runs_both_and_they_track_fp32(exported):
    reference = _episode_logits(exported["fp32"])
    for precision, (max_rel, min_agree) in {"fp16": (0.01, 0.999), "int8": (0.35, 0.97)}.items():
        for ref, got in zip(reference, _episode_logits(exported[precision])):
            assert np.isfinite(got).all()
            span = ref.max() - ref.min()
            assert np.abs(got - ref).max() <= max_rel * span, precision
            assert (got.argmax(1) == ref.argmax(1)).mean() >= min_agree, precision


def _source(producer, tensor):
    """The node computing ``tensor``, looking through Q/DQ."""
    node = producer[tensor]
    while node.op_type in ("QuantizeLinear", "DequantizeLinear"):
        node = producer[node.input[0]]
    return node


def test_int8_qdq_is_tensorrt_style(exported):
    from hsnet_deploy.export import check_onnx
    from hsnet_deploy.export.precision.node_groups import island_nodes, node_key

    for suffix in ("", ".support", ".query"):
        model = _load(str(exported["int8"]).replace(".onnx", f"{suffix}.onnx"))
        inits = {t.name: onnx.numpy_helper.to_array(t) for t in model.graph.initializer}
        producer = {o: n for n in model.graph.node for o in n.output}
        qdq = [n for n in model.graph.node if n.op_type in ("QuantizeLinear", "DequantizeLinear")]
        assert qdq
        for node in qdq:
            zero = inits[node.input[2]]
            assert zero.dtype == np.int8 and not zero.any(), node.name
        convs = [n for n in model.graph.node if n.op_type == "Conv"]
        for conv in convs:
            dq = producer[conv.input[1]]
            assert dq.op_type == "DequantizeLinear"
            scale, weight = inits[dq.input[1]], inits[dq.input[0]]
            axis = next((a.i for a in dq.attribute if a.name == "axis"), 1)
            assert scale.shape == (weight.shape[0],) and axis == 0
            assert producer[conv.input[0]].op_type == "DequantizeLinear"  # activations quantized too
        if suffix != ".support":  # data moved between INT8 nodes moves as int8 (node_groups: carried nodes)
            pivots = [n for n in model.graph.node if n.op_type == "Slice" and re.search(r"encoder_layer[234]\.0/", n.name)]
            assert len(pivots) == 3 and all(producer[n.input[0]].op_type == "DequantizeLinear" for n in pivots)
            relu = [n for n in model.graph.node if n.op_type == "Clip" and _source(producer, n.input[0]).op_type == "Concat"]
            assert len(relu) == 3 and all(producer[n.input[0]].op_type == "DequantizeLinear" for n in relu)  # the correlation's
        islands = island_nodes(model)
        for node in model.graph.node:
            if node_key(node) in islands:
                assert all(producer.get(i) is None or producer[i].op_type != "DequantizeLinear" for i in node.input)
        meta = _meta(model)
        assert meta["hsnet_deploy.precision"] == "int8"
        assert meta["hsnet_deploy.calibration_method"] == "max" and meta["hsnet_deploy.calibration_episodes"] == "4"
        assert "trn" in meta["hsnet_deploy.calibration_source"]
        report = check_onnx(model)
        assert report.ok, report.format()
        assert "int8" in report.groups and "fp32" not in report.groups


def _set_attr_zero_point(model, value):
    """Seeded bug: the first QuantizeLinear's zero-point becomes ``value``."""
    q = next(n for n in model.graph.node if n.op_type == "QuantizeLinear")
    init = next(t for t in model.graph.initializer if t.name == q.input[2])
    init.CopyFrom(onnx.numpy_helper.from_array(np.array(value, dtype=np.int8), init.name))


def test_precision_check_catches_seeded_bugs(exported):
    from hsnet_deploy.export import check_onnx

    asymmetric = _load(str(exported["int8"]).replace(".onnx", ".support.onnx"))
    _set_attr_zero_point(asymmetric, 3)
    assert "non-zero zero-point" in check_onnx(asymmetric).check("precision").detail

    per_tensor = _load(str(exported["int8"]).replace(".onnx", ".support.onnx"))
    producer = {o: n for n in per_tensor.graph.node for o in n.output}
    conv = next(n for n in per_tensor.graph.node if n.op_type == "Conv")
    scale = next(t for t in per_tensor.graph.initializer if t.name == producer[conv.input[1]].input[1])
    scale.CopyFrom(onnx.numpy_helper.from_array(np.array(0.01, dtype=np.float32), scale.name))
    assert "per output channel" in check_onnx(per_tensor).check("precision").detail

    mislabelled = _load(str(exported["fp16"]).replace(".onnx", ".query.onnx"))
    meta = {p.key: p for p in mislabelled.metadata_props}
    meta["hsnet_deploy.precision"].value = "int8"
    assert not check_onnx(mislabelled).check("precision").passed

    fp32 = _load(exported["fp32"])
    assert check_onnx(fp32).check("precision").passed


@pytest.mark.slow
def test_fp16_keeps_the_exact_zero_pattern_of_resized_masks_at_400():
    """The parity trap (docs/protocol.md): ragged masks resized to each feature size must be
    exactly zero where the FP32 graph is zero, and non-zero (however tiny) where it is not."""
    import torch
    from hsnet_deploy.export import ExportOptions, build_onnx
    from hsnet_deploy.export.precision.fp16 import to_fp16
    from hsnet_deploy.export.precision.node_groups import MASK_RESIZE, island_nodes
    from hsnet_deploy.hsnet import load_hsnet

    from tests.conftest import random_episode

    model = load_hsnet(checkpoint="reference").eval()
    fp32 = build_onnx(model, ExportOptions(graph="support_encoder", img_size=400, shots=1))
    resizes = [n.name for n in fp32.graph.node
               if island_nodes(fp32).get(n.name) == MASK_RESIZE and n.op_type == "MatMul"][1::2]  # (R_h M) R_wᵀ
    assert len(resizes) >= 3

    def masks_through(converted):
        probe = onnx.ModelProto()
        probe.CopyFrom(converted)
        outputs = [n.output[0] for n in probe.graph.node if n.name in resizes]  # converters rename tensors
        for name in outputs:
            probe.graph.output.add(name=name)
        session = ort.InferenceSession(probe.SerializeToString(), providers=["CPUExecutionProvider"])
        _, supports, masks = random_episode(1, 1, 400, seed=3)
        outs = session.run(outputs, {"support_imgs": supports.numpy(), "support_masks": masks.numpy()})
        return [np.asarray(o, dtype=np.float32) for o in outs]

    want = masks_through(fp32)
    tiny = [((w > 0) & (w < 1e-3)).sum() for w in want]
    assert all(((w > 0) & (w < 1)).any() for w in want) and sum(tiny) > 0  # ragged edges, tiny weights: the trap's inputs
    got = masks_through(to_fp16(fp32))
    for w, g in zip(want, got):
        assert np.array_equal(w == 0, g == 0)
        assert np.array_equal(w, g)  # an island: the FP32 values themselves
    del torch


def test_calibration_reads_the_training_split(exported):
    import onnx
    from hsnet_deploy.calibration.calibration_episodes import calibration_feeds
    from hsnet_deploy.hsnet.data import SyntheticFewShot
    from hsnet_deploy.runtime.preprocess import preprocess_image

    dataset = CALIB.open(shots=1)
    test = SyntheticFewShot(seed=0, split="test", img_size=S, shot=1)
    assert set(dataset.class_ids).isdisjoint(test.class_ids)
    feeds = calibration_feeds(CALIB, "episode", {"episode": onnx.load(str(exported["fp32"]))}, 1)
    train = SyntheticFewShot(seed=0, split="train", img_size=S, shot=1, n_episodes=4)
    assert len(feeds) == 4
    assert np.array_equal(feeds[2]["query_img"][0], preprocess_image(train.episode(2).query_image, S))
    assert not np.array_equal(feeds[2]["query_img"][0], preprocess_image(test.episode(2).query_image, S))


def test_a_bad_calibration_source_is_one_clear_line(tmp_path, capsys, exported):
    from hsnet_deploy.cli import main

    empty = tmp_path / "empty"
    empty.mkdir()
    cases = {
        "folder": (["--calib-benchmark", "folder", "--calib-datapath", str(empty)], "calibration data"),
        "missing": (["--calib-benchmark", "folder", "--calib-datapath", str(tmp_path / "nope")], "does not exist"),
        "no episodes": (["--calib-episodes", "0"], "--calib-episodes must be a positive integer"),
        "pascal without splits": (["--calib-benchmark", "pascal", "--calib-datapath", str(empty)], "--calib-splits"),
    }
    for name, (extra, message) in cases.items():
        out = tmp_path / f"{name.replace(' ', '_')}.onnx"
        rc = main(["convert", str(exported["fp32"]), "--precision", "int8", "-o", str(out), "--quiet", *extra])
        err = capsys.readouterr().err.strip().splitlines()
        assert rc == 2 and len(err) == 1 and message in err[0], (name, err)
        assert not list(tmp_path.glob(f"*{out.stem}*"))  # nothing written, no temporary left


def test_bad_calibration_messages(tmp_path, capsys, exported):
    from hsnet_deploy.cli import main

    (tmp_path / "cls").mkdir()
    (tmp_path / "cls" / "a.jpg").write_bytes(b"not an image")
    rc = main(["convert", str(exported["fp32"]), "--precision", "int8", "-o", str(tmp_path / "x.onnx"),
               "--quiet", "--calib-benchmark", "folder", "--calib-datapath", str(tmp_path)])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and err[0].startswith("hsnet-deploy convert: error: calibration")


@pytest.mark.slow
def test_split_graphs_may_differ_in_precision(tmp_path, exported):
    from hsnet_deploy.runtime import Segmenter

    mixed = tmp_path / "mixed.onnx"
    convert_file(exported["fp32"], mixed, PrecisionOptions("int8", support_precision="fp16", calibration=CALIB))
    assert _meta(_load(tmp_path / "mixed.support.onnx"))["hsnet_deploy.precision"] == "fp16"
    assert _meta(_load(tmp_path / "mixed.query.onnx"))["hsnet_deploy.precision"] == "int8"
    with Segmenter.load(tmp_path / "mixed.support.onnx") as seg:
        assert seg.is_split and "support fp16" in repr(seg) and "query int8" in repr(seg)
    reference = _episode_logits(exported["fp32"], 1)[0]
    got = _episode_logits(tmp_path / "mixed.support.onnx", 1)[0]
    assert (got.argmax(1) == reference.argmax(1)).mean() > 0.97


def test_converting_twice_or_onto_the_source_is_refused(tmp_path, exported):
    with pytest.raises(UserError, match="already int8"):
        convert_file(exported["int8"], tmp_path / "again.onnx", PrecisionOptions("fp16"))
    with pytest.raises(UserError, match="would overwrite an input file"):
        convert_file(exported["fp32"], exported["fp32"], PrecisionOptions("fp16"))
    models = {"query": _load(str(exported["fp32"]).replace(".onnx", ".query.onnx"))}
    with pytest.raises(UserError, match="support encoder"):
        convert_graphs(models, PrecisionOptions("int8", calibration=CALIB))
