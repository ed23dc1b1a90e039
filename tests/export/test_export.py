"""ONNX export: clean graphs (check_onnx), parity with PyTorch in onnxruntime, split graphs,
the support-mask parity trap at 400x400, and atomic writes.

Exports are slow (a trace plus cleaning passes), so each file is exported once per
session by a fixture and shared by the tests that read it.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from conftest import random_episode  # noqa: E402
from helpers.tiny_model import tiny_model as _tiny_model  # noqa: E402
from hsnet_deploy.export import (  # noqa: E402  # noqa: E402
    check_onnx,
    export_onnx,
    export_split,
    graph_files,
    onnx_export,
)
from hsnet_deploy.export.static_reshape import plan_target  # noqa: E402
from hsnet_deploy.hsnet.mask_resize import linear_resize_matrix  # noqa: E402
from hsnet_deploy.runtime.kshot_vote import kshot_vote_graph as vote_mask  # noqa: E402
from hsnet_deploy.runtime.kshot_vote import kshot_vote_torch as kshot_vote  # noqa: E402

INPUTS = ("query_img", "support_imgs", "support_masks")


# ---------------------------------------------------------------- helpers


_SESSIONS: dict = {}


def session(path) -> "ort.InferenceSession":
    key = str(path)
    if key not in _SESSIONS:
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 2
        _SESSIONS[key] = ort.InferenceSession(key, opts, providers=["CPUExecutionProvider"])
    return _SESSIONS[key]


def run_episode(path, q, s, m):
    logits, mask = session(path).run(None, {"query_img": q.numpy(), "support_imgs": s.numpy(), "support_masks": m.numpy()})
    return logits, mask


def assert_parity(model, path, q, s, m):
    """logits within 1e-4 of their range, masks identical, mask dtype uint8."""
    with torch.no_grad():
        ref = model(q, s, m).numpy()
    want_mask = kshot_vote(torch.from_numpy(ref)).numpy()
    logits, mask = run_episode(path, q, s, m)
    assert logits.shape == ref.shape and mask.shape == want_mask.shape
    assert mask.dtype == np.uint8
    err = np.abs(logits - ref).max()
    assert err <= 1e-4 * np.abs(ref).max(), f"max |logits diff| {err:.3g} vs max |logits| {np.abs(ref).max():.3g}"
    assert np.array_equal(mask, want_mask), f"{int((mask != want_mask).sum())} mask pixels differ"
    return logits, mask


def meta(path) -> dict[str, str]:
    return {p.key: p.value for p in onnx.load(str(path), load_external_data=False).metadata_props}


# ---------------------------------------------------------------- exported files (once per session)


@pytest.fixture(scope="session")
def export_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("export")


@pytest.fixture(scope="session")
def r50_split(export_dir, random_hsnet):
    """ResNet50 at 128, dynamic batch and dynamic K: episode + support encoder + query graphs."""
    return export_split(random_hsnet("resnet50"), export_dir / "r50_128.onnx", img_size=128, shots=None, shots_range=(1, 5))


@pytest.fixture(scope="session")
def r50_400(export_dir, random_hsnet):
    """ResNet50 at 400 (the paper's size), 1-shot, batch fixed at 1 (a fully static graph;
    tracing 2 images at 400 instead of 6): the parity-trap graph."""
    return export_onnx(random_hsnet("resnet50"), export_dir / "r50_400.onnx", img_size=400, shots=1, dynamic_batch=False)


@pytest.fixture(scope="session")
def small_exports(export_dir, random_hsnet):
    """VGG16 and ResNet101 at 96 (fixed K = 1, dynamic batch); VGG16 at 64 with opset 20 and dynamic K."""
    return {
        "vgg16": export_onnx(random_hsnet("vgg16"), export_dir / "vgg16_96.onnx", img_size=96, shots=1),
        "resnet101": export_onnx(random_hsnet("resnet101"), export_dir / "r101_96.onnx", img_size=96, shots=1),
        "vgg16-opset20": export_onnx(random_hsnet("vgg16"), export_dir / "vgg16_64_op20.onnx", img_size=64, shots=None, opset=20),
    }


# ---------------------------------------------------------------- pure pieces


def test_reshape_target_planning():
    inputs = {"support_imgs": ["batch", "shots", 3, 96, 96], "query_img": ["batch", 3, 96, 96]}
    # one dynamic dim -> -1 there, everything else constant
    assert plan_target(["?", 4, 512, 144], ["?", 512, 12, 12], inputs) == [[-1, 512, 12, 12]]
    # B*K unflattened to (B, K): read both from the graph input that declares them
    assert plan_target(["?", 2, 96, 96], ["batch", "shots", 2, 96, 96], inputs) == [("support_imgs", 0, 2), [2, 96, 96]]
    # dims the input already has at the same index are copied with 0
    assert plan_target(["batch", "shots", 4, 512, 12, 12], ["batch", "shots", 4, 512, 144], inputs) == [[0, 0, 4, 512, 144]]
    # two dims nobody declares cannot be planned
    assert plan_target(["?", 8], ["?", "?", 2, 2], inputs) is None


def test_graph_vote_equals_official_vote():
    g = torch.Generator().manual_seed(2)
    for b, k in ((3, 1), (2, 4), (1, 5)):
        logits = torch.randint(-2, 3, (b, k, 2, 9, 7), generator=g).float()  # small ints: many ties
        logits[0] = -1.0
        logits[0, :, 0] = 1.0  # an image nobody votes for: empty mask, not a division by zero
        got = vote_mask(logits)
        assert got.dtype == torch.uint8
        assert torch.equal(got.long(), kshot_vote(logits))


# ---------------------------------------------------------------- every file is clean


def _all_exports(r50_split, r50_400, small_exports):
    return [*r50_split.values(), r50_400, *small_exports.values()]


def test_every_exported_file_passes_the_checks(r50_split, r50_400, small_exports):
    for path in _all_exports(r50_split, r50_400, small_exports):
        report = check_onnx(path)
        assert report.ok, report.format()
        ops = set(report.op_histogram)
        assert not ops & {"Gather", "GatherND", "GatherElements", "InstanceNormalization", "GroupNormalization", "Resize", "ArgMax"}
        assert report.op_histogram.get("Shape", 0) <= 1  # only with dynamic B and K: Shape(input)[0:2]


def test_fixed_shots_graph_has_no_shape_ops_at_all(small_exports):
    report = check_onnx(small_exports["resnet101"])
    assert "Shape" not in report.op_histogram and "Concat" in report.op_histogram  # stacks remain, shape math does not
    graph = onnx.load(str(small_exports["resnet101"])).graph
    inits = {t.name: onnx.numpy_helper.to_array(t) for t in graph.initializer}
    for node in graph.node:
        if node.op_type == "Reshape":
            target = inits[node.input[1]]
            assert (target == -1).sum() <= 1 and (target[1:] > 0).all()  # -1 only at the batch dim


def test_metadata_records_the_export(r50_split, r50_400, small_exports):
    from hsnet_deploy import __version__

    for kind, path in r50_split.items():
        m = meta(path)
        assert m["hsnet_deploy.graph"] == kind
        assert (m["hsnet_deploy.backbone"], m["hsnet_deploy.img_size"], m["hsnet_deploy.shots"]) == ("resnet50", "128", "dynamic")
        assert (m["hsnet_deploy.opset"], m["hsnet_deploy.checkpoint_sha256"]) == ("17", "random")
        assert m["hsnet_deploy.version"] == __version__ and m["hsnet_deploy.shots_range"] == "1:5"
    assert meta(small_exports["vgg16"])["hsnet_deploy.shots"] == "1"
    assert (meta(r50_400)["hsnet_deploy.batch"], meta(r50_split["query"])["hsnet_deploy.batch"]) == ("1", "dynamic")
    static = onnx.load(str(r50_400)).graph
    assert all(d.HasField("dim_value") for vi in [*static.input, *static.output] for d in vi.type.tensor_type.shape.dim)
    assert meta(small_exports["vgg16-opset20"])["hsnet_deploy.opset"] == "20"
    assert onnx.load(str(small_exports["vgg16-opset20"])).opset_import[0].version == 20


def test_runtime_reads_the_exported_metadata_and_io(r50_split):
    """The torch-free runtime (its own parser of the contract) accepts the split trio as one export."""
    from hsnet_deploy.runtime.graph_contract import GraphInfo, check_io_names

    infos = {}
    for kind, path in r50_split.items():
        model = onnx.load(str(path))
        info = GraphInfo.from_metadata(meta(path), str(path))
        assert (info.kind, info.backbone, info.img_size, info.shots) == (kind, "resnet50", 128, None)
        check_io_names(kind, tuple(i.name for i in model.graph.input), tuple(o.name for o in model.graph.output), str(path))
        infos[kind] = info
    infos["support_encoder"].check_same_export(infos["query"])
    infos["episode"].check_same_export(infos["query"])


# ---------------------------------------------------------------- parity with PyTorch


@pytest.mark.parametrize("backbone", ["vgg16", "resnet101"])
def test_parity_small_backbones(backbone, small_exports, random_hsnet):
    q, s, m = random_episode(1, 1, 96, seed=5)  # batch 1 through a graph traced with batch 2
    assert_parity(random_hsnet(backbone), small_exports[backbone], q, s, m)


def test_parity_opset20_dynamic_shots(small_exports, random_hsnet):
    q, s, m = random_episode(1, 3, 64, seed=7)
    assert_parity(random_hsnet("vgg16"), small_exports["vgg16-opset20"], q, s, m)


def test_parity_resnet50_five_shots_batch_two(r50_split, random_hsnet):
    q, s, m = random_episode(2, 5, 128, seed=15)  # dynamic B and K, traced with B = K = 2
    assert_parity(random_hsnet("resnet50"), r50_split["episode"], q, s, m)


def test_split_graphs_equal_episode_graph_and_pytorch(r50_split, random_hsnet):
    model = random_hsnet("resnet50")
    q, s, m = random_episode(2, 3, 128, seed=21)
    feats = session(r50_split["support_encoder"]).run(None, {"support_imgs": s.numpy(), "support_masks": m.numpy()})
    with torch.no_grad():
        ref_feats = model.encode_support(s, m)
    for got, ref in zip(feats, ref_feats):
        assert got.shape == tuple(ref.shape)
        np.testing.assert_allclose(got, ref.numpy(), atol=1e-5)
        assert np.array_equal(got == 0, ref.numpy() == 0)  # masked-out positions: exactly zero in both
    names = ("support_c3", "support_c2", "support_c1")
    split_logits, split_mask = session(r50_split["query"]).run(None, {"query_img": q.numpy(), **dict(zip(names, feats))})
    episode_logits, episode_mask = assert_parity(model, r50_split["episode"], q, s, m)
    assert np.array_equal(split_mask, episode_mask)
    np.testing.assert_allclose(split_logits, episode_logits, atol=1e-5 * np.abs(episode_logits).max())


def _conv_count(path) -> int:
    return sum(n.op_type == "Conv" for n in onnx.load(str(path)).graph.node)


def test_query_graph_holds_only_query_backbone_correlation_and_learner(r50_split, random_hsnet):
    model = random_hsnet("resnet50")
    query = onnx.load(str(r50_split["query"])).graph
    assert [i.name for i in query.input] == ["query_img", "support_c3", "support_c2", "support_c1"]
    consumed = {i for n in query.node for i in n.input}
    assert not consumed & {"support_imgs", "support_masks"}
    backbone_convs = sum(isinstance(mod, torch.nn.Conv2d) for mod in model.backbone.modules())  # all used up to layer4
    learner_convs = sum(isinstance(mod, torch.nn.Conv2d) for mod in model.hpn_learner.modules())
    n_query, n_support, n_episode = (_conv_count(r50_split[k]) for k in ("query", "support_encoder", "episode"))
    assert n_support == backbone_convs  # backbone only: no learner in the support encoder
    assert n_query == backbone_convs + learner_convs  # one backbone pass, not two
    assert n_episode == 2 * backbone_convs + learner_convs
    assert len(query.node) + backbone_convs <= len(onnx.load(str(r50_split["episode"])).graph.node)
    # no mask resizing in the query graph: no (n, 128) / (128, n) weights for the feature sides n
    mask_weight_shapes = {s for n in (16, 8, 4) for s in ((n, 128), (128, n))}
    assert not any(tuple(t.dims) in mask_weight_shapes for t in query.initializer)
    assert any(tuple(t.dims) in mask_weight_shapes for t in onnx.load(str(r50_split["episode"])).graph.initializer)
    # the query's features enter their products as rows (hsnet/correlation.py): no stacked level
    # transposed as a whole and split again; the only Splits take the cached support levels apart
    perms = [list(a.ints) for n in query.node if n.op_type == "Transpose" for a in n.attribute if a.name == "perm"]
    assert [0, 1, 2, 4, 3] not in perms
    assert sum(n.op_type == "Split" for n in query.node) == 3


# ---------------------------------------------------------------- the parity trap (docs/protocol.md) at 400x400


def _mask_resize_constants(graph):
    """The constant operands of MatMuls that act on tensors computed from the masks alone."""
    inits = {t.name: onnx.numpy_helper.to_array(t) for t in graph.initializer}
    mask_only, found = {"support_masks"}, []
    for node in graph.node:
        ins = [i for i in node.input if i]
        if any(i in mask_only for i in ins) and all(i in mask_only or i in inits for i in ins):
            mask_only.update(node.output)
            if node.op_type == "MatMul":
                found += [inits[i] for i in ins if i in inits]
        assert not (node.op_type == "Resize" and node.input[0] in mask_only)
    return found


def test_masks_are_resized_with_pytorchs_own_weights(r50_400):
    graph = onnx.load(str(r50_400)).graph
    found = _mask_resize_constants(graph)
    expected = [linear_resize_matrix(400, n).numpy() for n in (50, 25, 13)]  # ResNet50 feature sides at 400
    for r in expected:  # rows on the left (n, 400) and columns on the right (400, n), bit for bit
        assert any(f.shape == r.shape and np.array_equal(f, r) for f in found)
        assert any(f.shape == r.T.shape and np.array_equal(f, r.T) for f in found)
    assert not any(n.op_type == "Resize" for n in graph.node)


def test_ragged_masks_at_400_exercise_the_trap():
    """The test data must contain what bites: resized-mask weights that are tiny but not zero."""
    _, _, m = random_episode(1, 1, 400, seed=3)
    r = linear_resize_matrix(400, 50)
    resized = r @ m[0, 0] @ r.t()
    tiny = ((resized > 0) & (resized < 1e-4)).sum().item()
    assert tiny > 0 and (resized == 0).any()


def _with_extra_output(path, tmp_path, dims_filter):
    """A copy of the graph that also outputs the one tensor whose inferred dims match."""
    model = onnx.load(str(path))
    matches = [vi for vi in model.graph.value_info
               if dims_filter([d.dim_value if d.HasField("dim_value") else None for d in vi.type.tensor_type.shape.dim])]
    assert len(matches) == 1, [vi.name for vi in matches]
    model.graph.output.append(matches[0])
    out = tmp_path / "with_corr.onnx"
    onnx.save(model, str(out))
    return out, matches[0].name


@pytest.mark.slow
def test_resnet50_400_ragged_masks_logits_masks_and_correlation(r50_400, random_hsnet, tmp_path):
    """The parity trap of docs/protocol.md: naive exports got C1 0.99 off, logits 7.9 % off, 0.65 % of pixels flipped."""
    from hsnet_deploy.hsnet.correlation import support_grid_correlation

    model = random_hsnet("resnet50")
    q, s, m = random_episode(1, 1, 400, seed=3)
    # the graph plus its masked C1 correlation, SUPPORT_GRIDS (B*K, 50, 50, 4, 50, 50), as an extra output
    path, name = _with_extra_output(r50_400, tmp_path, lambda d: d[1:] == [50, 50, 4, 50, 50])
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    logits, mask, corr = sess.run(["logits", "mask", name], {"query_img": q.numpy(), "support_imgs": s.numpy(), "support_masks": m.numpy()})
    with torch.no_grad():
        support = model.encode_support(s, m)
        ref_logits = model.forward_with_support(q, *support).numpy()
        rows, grid = model.encode_query_rows(q)[2]  # C1
        ref_corr = support_grid_correlation(rows, grid, support[2]).numpy()
    assert corr.shape == ref_corr.shape
    assert np.abs(corr - ref_corr).max() <= 1e-4  # cosine similarities in [0, 1]
    assert np.abs(logits - ref_logits).max() <= 1e-4 * np.abs(ref_logits).max()
    assert np.array_equal(mask, kshot_vote(torch.from_numpy(ref_logits)).numpy())


# ---------------------------------------------------------------- each check can fail


def _tiny_graph(extra_nodes=(), extra_inits=(), meta_overrides=None, opset=17):
    """support_masks (1, 1, 8, 8) resized to 4x4 by two constant MatMuls, with contract metadata;
    ``extra_*`` add the problem a test wants the checks to find."""
    from onnx import TensorProto, helper, numpy_helper

    rows = linear_resize_matrix(8, 4).numpy()
    inits = [numpy_helper.from_array(rows, "rows"), numpy_helper.from_array(rows.T.copy(), "cols"), *extra_inits]
    nodes = [helper.make_node("MatMul", ["rows", "support_masks"], ["half"]), helper.make_node("MatMul", ["half", "cols"], ["y"]), *extra_nodes]
    graph = helper.make_graph(
        nodes, "tiny", [helper.make_tensor_value_info("support_masks", TensorProto.FLOAT, [1, 1, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1, 4, 4])], initializer=inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=8)
    meta = {"hsnet_deploy.graph": "support_encoder", "hsnet_deploy.backbone": "resnet50", "hsnet_deploy.img_size": "8",
            "hsnet_deploy.shots": "1", "hsnet_deploy.opset": str(opset), "hsnet_deploy.checkpoint_sha256": "random",
            "hsnet_deploy.version": "0"}
    meta.update(meta_overrides or {})
    for key, value in meta.items():
        if value is not None:
            model.metadata_props.add(key=key, value=value)
    return model


def test_each_check_can_fail():
    from onnx import helper, numpy_helper

    base = check_onnx(_tiny_graph())
    assert {"opset", "tensorrt ops", "no gather", "rank <= 8", "static shapes", "constants folded", "metadata", "mask resize"} <= {
        c.name for c in base.checks if c.passed}
    assert not base.check("graph i/o").passed  # not the contract's support-encoder I/O
    idx = numpy_helper.from_array(np.array([0], dtype=np.int64), "idx")
    shape9 = numpy_helper.from_array(np.array([1] * 7 + [8, 8], dtype=np.int64), "shape9")
    scales = numpy_helper.from_array(np.array([1, 1, 0.5, 0.5], dtype=np.float32), "scales")
    problems = {
        "no gather": dict(extra_nodes=[helper.make_node("Gather", ["support_masks", "idx"], ["g"], axis=2)], extra_inits=[idx]),
        "rank <= 8": dict(extra_nodes=[helper.make_node("Reshape", ["support_masks", "shape9"], ["r9"])], extra_inits=[shape9]),
        "static shapes": dict(extra_nodes=[helper.make_node("NonZero", ["support_masks"], ["nz"])]),
        "constants folded": dict(extra_nodes=[helper.make_node("Add", ["rows", "rows"], ["twice"])]),
        # Det: a well-typed op TensorRT's parser lacks (MatMulInteger on float inputs also failed type checks)
        "tensorrt ops": dict(extra_nodes=[helper.make_node("Det", ["support_masks"], ["det"])]),
        "mask resize": dict(extra_nodes=[helper.make_node("Resize", ["support_masks", "", "scales"], ["small"], mode="linear")], extra_inits=[scales]),
        "metadata": dict(meta_overrides={"hsnet_deploy.checkpoint_sha256": None}),
        "opset": dict(meta_overrides={"hsnet_deploy.opset": "18"}),
    }
    base_failed = {c.name for c in base.failed}
    for check, problem in problems.items():
        report = check_onnx(_tiny_graph(**problem))
        assert not report.check(check).passed, f"{check} missed: {report.format()}"
        # the problem fails its own check and nothing else: the base graph already fails
        # "graph i/o", so "not report.ok" alone would hold whatever the checks did
        newly = {c.name for c in report.failed} - base_failed
        assert newly == {check}, f"{check}: newly failing {sorted(newly)}: {report.format()}"


# ---------------------------------------------------------------- failures write nothing


def test_failed_write_leaves_target_untouched(tmp_path, monkeypatch, random_hsnet):
    target = tmp_path / "model.onnx"
    target.write_bytes(b"previous export")
    monkeypatch.setattr(onnx_export, "build_onnx", lambda *a, **k: _tiny_model())

    def half_write(proto, tmp):
        tmp.write_bytes(b"half")
        raise OSError("disk full")

    monkeypatch.setattr(graph_files, "save_graph", half_write)
    with pytest.raises(OSError, match="disk full"):
        export_onnx(random_hsnet("vgg16"), target, img_size=64)
    assert target.read_bytes() == b"previous export"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx"]  # no temp file left


def test_split_export_writes_all_three_or_none(tmp_path, monkeypatch, random_hsnet):
    target = tmp_path / "model.onnx"
    target.write_bytes(b"previous export")
    monkeypatch.setattr(onnx_export, "build_onnx", lambda *a, **k: _tiny_model())
    calls = []

    def third_write_fails(proto, tmp):
        calls.append(tmp)
        tmp.write_bytes(b"graph")
        if len(calls) == 3:
            raise RuntimeError("crash while writing the query graph")

    monkeypatch.setattr(graph_files, "save_graph", third_write_fails)
    with pytest.raises(RuntimeError, match="query graph"):
        export_split(random_hsnet("vgg16"), target, img_size=64)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx"]
    assert target.read_bytes() == b"previous export"


def test_a_graph_failing_its_checks_is_never_written(tmp_path, monkeypatch, random_hsnet):
    """Skip the cleaning passes: the raw traced graph must fail the checks, and nothing is written."""
    from hsnet_deploy.export import pipeline

    every_pass = pipeline.fp32_passes
    monkeypatch.setattr(pipeline, "fp32_passes", lambda: [p for p in every_pass() if p.stage != "clean" or p.name == "metadata"])
    target = tmp_path / "raw.onnx"
    with pytest.raises(onnx_export.ExportCheckFailed) as err:
        export_onnx(random_hsnet("vgg16"), target, img_size=64)
    text = str(err.value)
    for check in ("no gather", "static shapes", "reshape targets"):  # the tracer's Shape/Gather chains
        assert f"FAIL  {check}" in text
    assert "PASS  mask resize" in text  # the model itself resizes masks with matrices
    assert list(tmp_path.iterdir()) == []


def test_bad_options_are_user_errors(tmp_path, random_hsnet):
    from hsnet_deploy.errors import UserError

    model = random_hsnet("vgg16")
    with pytest.raises(UserError, match="opset 13"):
        export_onnx(model, tmp_path / "m.onnx", img_size=64, opset=13)
    with pytest.raises(UserError, match="too small"):
        export_onnx(model, tmp_path / "m.onnx", img_size=16)
    with pytest.raises(UserError, match="unknown graph kind"):
        export_onnx(model, tmp_path / "m.onnx", img_size=64, graph="decoder")
    with pytest.raises(UserError, match="does not exist"):
        export_onnx(model, tmp_path / "missing" / "m.onnx", img_size=64)
    with pytest.raises(UserError, match=r"\.onnx"):
        export_split(model, tmp_path / "m.bin", img_size=64)
    assert list(tmp_path.iterdir()) == []
