"""`hsnet-deploy build` / `sidecar` / `--print-trtexec` against the stand-in TensorRT
(tests/tensorrt_standin.py, whose names test_tensorrt_typing checks against the stubs):
strongly typed networks on 10.x and 11.x, profiles from the metadata, the timing cache,
sidecar contents, parser errors, DLA, nothing left behind by a failed build, and the
engines the builder writes running through the runner (with and without CUDA graphs)."""

from __future__ import annotations

import hashlib
import json
import sys
import types

import numpy as np
import pytest

pytest.importorskip("onnxruntime")

from helpers.fake_graphs import make_episode_graph, make_split_graphs  # noqa: E402
from helpers.tensorrt_standin import install  # noqa: E402
from hsnet_deploy.cli import main  # noqa: E402
from hsnet_deploy.errors import UserError  # noqa: E402
from hsnet_deploy.runtime import Segmenter  # noqa: E402
from hsnet_deploy.runtime.backends import RuntimeOptions  # noqa: E402
from hsnet_deploy.runtime.graph_contract import GraphInfo  # noqa: E402
from hsnet_deploy.runtime.tensorrt.build_options import BuildOptions  # noqa: E402
from hsnet_deploy.runtime.tensorrt.engine_build import build_engines  # noqa: E402
from hsnet_deploy.runtime.tensorrt.profiles import ShapeRange, profile_shapes  # noqa: E402
from hsnet_deploy.runtime.tensorrt.sidecar import read_engine_sidecar  # noqa: E402
from hsnet_deploy.runtime.tensorrt.trtexec_line import shapes_of_command  # noqa: E402

S = 16


def _graph(tmp_path, name="m.onnx", shots="dynamic", shots_range="1:5", split=False):
    overrides = {"hsnet_deploy.shots_range": shots_range} if shots == "dynamic" and shots_range else None
    path = make_episode_graph(tmp_path / name, img_size=S, shots=shots, overrides=overrides)
    if split:
        make_split_graphs(path, img_size=S, shots=shots)
    return path


def _profile(trt, index=-1):
    return trt.standin_log["configs"][index].profiles[0].shapes


def test_network_is_strongly_typed_on_10_and_11(tmp_path, monkeypatch):
    """10.x: create_network gets 1 << STRONGLY_TYPED; 11.x: 0 (always strongly typed).
    The 11.x stand-in has no FP16/INT8 builder flags, so touching them would fail."""
    onnx_path = _graph(tmp_path)
    trt, _ = install(monkeypatch, version="10.13.0")
    build_engines(onnx_path, output=tmp_path / "a.engine", bars=None)
    assert trt.standin_log["networks"][-1].flags == 1 << 1
    trt, _ = install(monkeypatch, version="11.4.0")
    assert not hasattr(trt.BuilderFlag, "FP16") and not hasattr(trt.BuilderFlag, "INT8")
    build_engines(onnx_path, output=tmp_path / "b.engine", bars=None)
    assert trt.standin_log["networks"][-1].flags == 0
    assert read_engine_sidecar(tmp_path / "b.engine")["hsnet_deploy.tensorrt_version"] == "11.4.0"


def test_profile_shapes_come_from_the_metadata(tmp_path, monkeypatch):
    trt, _ = install(monkeypatch)
    dynamic = _graph(tmp_path, shots_range="2:6")
    build_engines(dynamic, bars=None)
    shapes = _profile(trt)
    assert shapes["support_imgs"] == [[1, 2, 3, S, S], [1, 2, 3, S, S], [1, 6, 3, S, S]]  # K 2..6, opt at 2
    assert shapes["query_img"] == [[1, 3, S, S]] * 3
    build_engines(dynamic, BuildOptions(batch=ShapeRange(1, 2, 4), shots=ShapeRange(3, 4, 5)), output=tmp_path / "o.engine", bars=None)
    assert _profile(trt)["support_masks"] == [[1, 3, S, S], [2, 4, S, S], [4, 5, S, S]]
    with pytest.raises(UserError, match=r"exported for K in 2\.\.6"):
        build_engines(dynamic, BuildOptions(shots=ShapeRange(1, 1, 6)), bars=None)
    fixed = _graph(tmp_path, "k3.onnx", shots=3)
    build_engines(fixed, bars=None)
    assert _profile(trt)["support_imgs"] == [[1, 3, 3, S, S]] * 3
    with pytest.raises(UserError, match="exported for K = 3 only"):
        build_engines(fixed, BuildOptions(shots=ShapeRange(1, 3, 5)), bars=None)
    with pytest.raises(UserError, match="MIN:OPT:MAX"):
        ShapeRange.parse("1:2", "--shots")
    with pytest.raises(UserError, match="1 <= MIN <= OPT <= MAX"):
        ShapeRange.parse("3:2:4", "--shots")


def test_build_options_reach_the_config(tmp_path, monkeypatch):
    trt, _ = install(monkeypatch)
    options = BuildOptions(workspace_mib=256, optimization_level=5)
    build_engines(_graph(tmp_path), options, bars=None)
    config = trt.standin_log["configs"][-1]
    assert config.pools == {"workspace": 256 << 20}
    assert config.builder_optimization_level == 5 and config.profiling_verbosity == "detailed"
    with pytest.raises(UserError, match="0..5"):
        BuildOptions(optimization_level=6)


def test_sidecar_records_onnx_hash_precision_and_options(tmp_path, monkeypatch):
    install(monkeypatch)
    onnx_path = _graph(tmp_path)
    engine = build_engines(onnx_path, BuildOptions(workspace_mib=64, timing_cache=tmp_path / "t.cache"), bars=None)["episode"]
    record = read_engine_sidecar(engine)
    assert record["hsnet_deploy.onnx_sha256"] == hashlib.sha256(onnx_path.read_bytes()).hexdigest()
    assert record["hsnet_deploy.onnx_file"] == "m.onnx" and record["hsnet_deploy.graph"] == "episode"
    assert record["hsnet_deploy.tensorrt_version"] == "10.13.0" and record["hsnet_deploy.compute_capability"] == "9.0"
    assert record["hsnet_deploy.build_workspace_mib"] == "64" and record["hsnet_deploy.build_timing_cache"] == "t.cache"
    assert record["hsnet_deploy.build_strongly_typed"] == "true"
    assert record["hsnet_deploy.build_max_shapes"].startswith("query_img:1x3x16x16,support_imgs:1x5x3x16x16")
    assert record.get("hsnet_deploy.precision", "fp32") == "fp32"


def test_timing_cache_round_trip(tmp_path, monkeypatch):
    trt, _ = install(monkeypatch)
    onnx_path, cache = _graph(tmp_path), tmp_path / "hsnet.cache"
    build_engines(onnx_path, BuildOptions(timing_cache=cache), output=tmp_path / "a.engine", bars=None)
    assert cache.is_file() and trt.standin_log["builds"][-1] == {"reused_timing": False}
    build_engines(onnx_path, BuildOptions(timing_cache=cache), output=tmp_path / "b.engine", bars=None)
    assert trt.standin_log["builds"][-1] == {"reused_timing": True}  # loaded, used
    assert json.loads(cache.read_bytes()[len(b"TCACHE:"):]) == ["fake_hsnet", "fake_hsnet"]  # saved again
    cache.write_bytes(b"garbage")
    with pytest.raises(UserError, match="cannot read it"):
        build_engines(onnx_path, BuildOptions(timing_cache=cache), output=tmp_path / "c.engine", bars=None)
    cache.write_bytes(b'TCACHE:["other-gpu"]')
    with pytest.raises(UserError, match="another TensorRT or GPU"):
        build_engines(onnx_path, BuildOptions(timing_cache=cache), output=tmp_path / "c.engine", bars=None)
    assert not (tmp_path / "c.engine").exists() and cache.read_bytes() == b'TCACHE:["other-gpu"]'


def test_parser_errors_one_per_line_with_the_node(tmp_path, monkeypatch):
    install(monkeypatch, unsupported_ops=("ReduceMean", "Mul"))
    onnx_path = _graph(tmp_path)
    import onnx

    bad = [(i, n) for i, n in enumerate(onnx.load(str(onnx_path)).graph.node) if n.op_type in ("ReduceMean", "Mul")]
    with pytest.raises(UserError) as err:
        build_engines(onnx_path, bars=None)
    lines = str(err.value).splitlines()
    assert lines[0].startswith(f"TensorRT's ONNX parser rejected {onnx_path} ({len(bad)} errors)")
    assert len(lines) == 1 + len(bad) and len(bad) >= 2
    for line, (i, node) in zip(lines[1:], bad):
        assert line.strip().startswith(f"node {i} (") and f": {node.op_type}): no importer for {node.op_type}" in line


def test_dla_is_refused_where_there_is_none(tmp_path, monkeypatch):
    """The builder's own DLA core count decides, on 10.x and 11.x alike."""
    onnx_path = _graph(tmp_path)
    for version in ("10.3.0", "11.4.1"):
        install(monkeypatch, version=version, dla_cores=0)  # a desktop GPU, an Orin Nano
        with pytest.raises(UserError, match=f"TensorRT {version} reports no DLA cores"):
            build_engines(onnx_path, BuildOptions(dla_core=0), bars=None)
        trt, _ = install(monkeypatch, version=version, dla_cores=2)
        with pytest.raises(UserError, match=r"DLA cores 0\.\.1"):
            build_engines(onnx_path, BuildOptions(dla_core=2), bars=None)
        build_engines(onnx_path, BuildOptions(dla_core=1), bars=None)
        config = trt.standin_log["configs"][-1]
        assert (config.default_device_type, config.DLA_core, config.flags) == ("dla", 1, {"gpu_fallback"})


def test_failed_build_leaves_nothing_and_clobbers_nothing(tmp_path, monkeypatch):
    onnx_path = _graph(tmp_path, split=True)
    query_engine = tmp_path / "m.query.engine"
    query_engine.write_bytes(b"an older engine")
    install(monkeypatch, unsupported_ops=("Squeeze",))  # only the query graph has one
    cache = tmp_path / "t.cache"
    with pytest.raises(UserError, match="m.query.onnx"):
        build_engines(onnx_path, BuildOptions(timing_cache=cache), bars=None)  # the support graph built fine first
    install(monkeypatch, fail_build=True)
    with pytest.raises(UserError, match="could not build"):
        build_engines(onnx_path, bars=None)
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == ["m.onnx", "m.query.engine", "m.query.onnx", "m.support.onnx"]
    assert query_engine.read_bytes() == b"an older engine"


def test_progress_monitor_drives_one_bar_per_top_phase(tmp_path, monkeypatch):
    install(monkeypatch)
    bars = []

    class Bar:
        def __init__(self, name, total):
            self.name, self.total, self.done, self.postfix, self.closed = name, total, 0, [], False
            bars.append(self)

        def update(self, n):
            self.done += n

        def set_postfix_str(self, text):
            self.postfix.append(text)

        def close(self):
            self.closed = True

    build_engines(_graph(tmp_path), bars=Bar)
    assert [(b.name, b.total, b.done, b.postfix, b.closed) for b in bars] == [("Building engine", 2, 2, ["Tactic timing"], True)]


def test_built_split_engines_run_through_the_runner_with_cuda_graphs(tmp_path, monkeypatch):
    _, memory = install(monkeypatch)
    onnx_path = _graph(tmp_path, split=True)
    written = build_engines(onnx_path, BuildOptions(shots=ShapeRange(1, 2, 3)), bars=None)
    assert sorted(written) == ["query", "support_encoder"]
    rng = np.random.default_rng(0)
    imgs = [rng.integers(0, 255, (20, 24, 3), dtype=np.uint8) for _ in range(6)]
    masks = [(rng.random((20, 24)) > 0.5).astype(np.uint8) for _ in range(6)]
    with Segmenter.load(onnx_path, device="cpu") as ref:
        want = [ref.segment_logits(imgs[0], imgs[1:k + 1], masks[1:k + 1]) for k in (2, 2, 3)]
        want.append(ref.segment_logits(imgs[5], imgs[1:4], masks[1:4]))
    with Segmenter.load(written["query"], options=RuntimeOptions(cuda_graph=True)) as seg:
        got = [seg.segment_logits(imgs[0], imgs[1:k + 1], masks[1:k + 1]) for k in (2, 2, 3)]
        captures, launches = memory.captures, memory.launches
        got.append(seg.segment_logits(imgs[5], imgs[1:4], masks[1:4]))  # same shapes, new query: replay
        assert memory.launches > launches and memory.captures == captures
    assert captures >= 4 and memory.pinned > 0  # K changed: recaptured; pinned staging buffers
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)
    with Segmenter.load(written["query"]) as seg:
        with pytest.raises(UserError, match=r"outside the engine's optimisation profile \(built for support_imgs:1x1x3x16x16"):
            seg.segment_logits(imgs[0], imgs[1:5], masks[1:5])  # K = 4 > 3


def test_print_trtexec_parses_back_to_the_builders_shapes(tmp_path, capsys):
    onnx_path = _graph(tmp_path, split=True)
    assert main(["build", str(onnx_path), "--print-trtexec", "--shots", "1:2:4", "--workspace", "512",
                 "--timing-cache", str(tmp_path / "c.cache"), "--trtexec", "/usr/src/tensorrt/bin/trtexec"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 4  # trtexec + sidecar, per split graph
    from hsnet_deploy.runtime.tensorrt.engine_build import read_onnx_header

    for line, name in zip(lines[::2], ("m.support", "m.query")):
        header = read_onnx_header(tmp_path / f"{name}.onnx")
        info = GraphInfo.from_metadata(header.metadata, name)
        assert shapes_of_command(line) == profile_shapes(info, None, ShapeRange(1, 2, 4), header.input_dims)
        assert line.startswith("/usr/src/tensorrt/bin/trtexec --onnx=") and "--stronglyTyped" in line
        assert "--memPoolSize=workspace:512" in line.split() and f"--saveEngine={tmp_path / name}.engine" in line
    assert lines[1] == f"hsnet-deploy sidecar {tmp_path / 'm.support.engine'} --onnx {tmp_path / 'm.support.onnx'}"
    assert main(["build", str(_graph(tmp_path, "k1.onnx", shots=1)), "--print-trtexec"]) == 0
    (lo, opt, hi), = {tuple(v) for v in shapes_of_command(capsys.readouterr().out.splitlines()[0]).values() if len(v[0]) == 5}
    assert lo == opt == hi == (1, 1, 3, S, S)  # K fixed at 1, B 1:1:1
    from hsnet_deploy.runtime.tensorrt.trtexec_line import trtexec_arguments

    static = GraphInfo("episode", "resnet50", 400, 1, "random", "s.onnx", batch=1)
    argv = trtexec_arguments(tmp_path / "s.onnx", tmp_path / "s.engine", static, profile_shapes(static), BuildOptions())
    assert not any("Shapes=" in a for a in argv)  # a static graph takes no shapes


def test_sidecar_step_makes_an_external_engine_loadable(tmp_path, monkeypatch):
    install(monkeypatch)
    onnx_path = _graph(tmp_path)
    engine = build_engines(onnx_path, BuildOptions(shots=ShapeRange(1, 1, 3)), bars=None)["episode"]
    (tmp_path / "m.engine.json").unlink()  # as trtexec leaves it
    with pytest.raises(UserError, match="no sidecar"):
        Segmenter.load(engine)
    assert main(["sidecar", str(engine), "--onnx", str(onnx_path)]) == 0
    record = read_engine_sidecar(engine)
    assert record["hsnet_deploy.build_tool"] == "external (trtexec)"
    assert record["hsnet_deploy.build_max_shapes"].startswith("query_img:1x3x16x16,support_imgs:1x3x3x16x16")
    with Segmenter.load(engine) as seg:
        assert seg.backend == "tensorrt"
    other = make_episode_graph(tmp_path / "s32.onnx", img_size=32)
    from hsnet_deploy.cli.sidecar import write_sidecar_for

    with pytest.raises(UserError, match="not built from this file"):
        write_sidecar_for(engine, other)


def test_missing_tensorrt_is_one_line(tmp_path, monkeypatch, capsys):
    onnx_path = _graph(tmp_path)
    monkeypatch.setitem(sys.modules, "tensorrt", None)  # import fails
    assert main(["build", str(onnx_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "pip install tensorrt" in err
    monkeypatch.setitem(sys.modules, "tensorrt", types.ModuleType("tensorrt"))  # tensorrt-stubs alone
    assert main(["build", str(onnx_path)]) == 2
    assert "only its type stubs are installed" in capsys.readouterr().err
    assert not (tmp_path / "m.engine").exists()
