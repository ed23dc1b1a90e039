"""`hsnet-deploy triton-repo`: the repository's tree, every config.pbtxt parsed by Triton's
own ModelConfig (tritonclient's protobuf) and equal to its graph's names, dtypes and dims,
and the client example run against an in-process stand-in of the server's infer call."""

from __future__ import annotations

import importlib.util
import os
import re
import stat
import subprocess
import sys
import types

import numpy as np
import pytest

ort = pytest.importorskip("onnxruntime")

from helpers.fake_graphs import make_episode_graph, make_split_graphs  # noqa: E402
from hsnet_deploy.cli import main  # noqa: E402
from hsnet_deploy.cli.triton.repository import (  # noqa: E402
    graph_dims,
    load_model_config_class,
    parse_config,
    write_repository,
)
from hsnet_deploy.errors import UserError  # noqa: E402
from hsnet_deploy.runtime import Segmenter  # noqa: E402

S = 16
TYPES = {1: np.float32, 2: np.uint8}  # ModelConfig DataType numbers: TYPE_UINT8 = 2, TYPE_FP32 = 11
TRITON_DTYPE = {"TYPE_FP32": np.float32, "TYPE_UINT8": np.uint8}


@pytest.fixture(scope="module")
def model_config():
    cls = load_model_config_class(required=False)
    if cls is None:
        pytest.fail("tritonclient is not installed: pip install --no-deps tritonclient (README's test command does)")
    return cls


def _split(tmp_path, shots="dynamic"):
    path = make_episode_graph(tmp_path / "m.onnx", img_size=S, shots=shots)
    make_split_graphs(path, img_size=S, shots=shots)
    return path


def _config(repo, name, model_config):
    return parse_config((repo / name / "config.pbtxt").read_text(), model_config)


def test_repository_tree_and_configs_match_the_graphs(tmp_path, model_config):
    onnx_path = _split(tmp_path)
    repo = tmp_path / "repo"
    assert main(["triton-repo", str(onnx_path), "-o", str(repo), "--max-batch-size", "4", "--instances", "2"]) == 0
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(repo.stat().st_mode) == 0o777 & ~umask  # not a temporary folder's 0700: the server may be another user
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx", "m.query.onnx", "m.support.onnx", "repo"]  # no staging left
    assert sorted(p.relative_to(repo).as_posix() for p in repo.rglob("*") if p.is_file()) == [
        "client_example.py", "hsnet_query/1/model.onnx", "hsnet_query/config.pbtxt",
        "hsnet_support_encoder/1/model.onnx", "hsnet_support_encoder/config.pbtxt"]
    for name, source in (("hsnet_support_encoder", tmp_path / "m.support.onnx"), ("hsnet_query", tmp_path / "m.query.onnx")):
        config = _config(repo, name, model_config)
        assert (repo / name / "1" / "model.onnx").read_bytes() == source.read_bytes()
        assert config.name == name and config.platform == "onnxruntime_onnx" and config.max_batch_size == 4
        assert [(g.count, model_config.DESCRIPTOR.fields_by_name["instance_group"].message_type.enum_types_by_name["Kind"].values_by_number[g.kind].name) for g in config.instance_group] == [(2, "KIND_GPU")]
        session = ort.InferenceSession(str(source), providers=["CPUExecutionProvider"])
        dims = graph_dims(source)
        for tensors, args in ((config.input, session.get_inputs()), (config.output, session.get_outputs())):
            assert [t.name for t in tensors] == [a.name for a in args]
            for t in tensors:
                want = [-1 if isinstance(d, str) else d for d in dims[t.name][1:]]  # batch axis left to max_batch_size
                assert list(t.dims) == want
                assert (want[0] == -1) == (t.name not in ("query_img", "mask"))  # K (axis 1) is dynamic here
                dtype_name = model_config.DESCRIPTOR.fields_by_name["input"].message_type.fields_by_name["data_type"].enum_type.values_by_number[t.data_type].name
                assert TRITON_DTYPE[dtype_name] == {"tensor(float)": np.float32, "tensor(uint8)": np.uint8}[next(a.type for a in args if a.name == t.name)]
        assert config.HasField("dynamic_batching") == (name == "hsnet_query")


def test_fixed_shapes_and_a_fixed_batch(tmp_path, model_config):
    onnx_path = _split(tmp_path, shots=2)
    repo = tmp_path / "repo"
    write_repository(onnx_path, repo)
    query = _config(repo, "hsnet_query", model_config)
    assert list(next(t for t in query.input if t.name == "query_img").dims) == [3, S, S]
    assert list(next(t for t in query.input if t.name == "support_c3").dims) == [2, 1, 1, 1, 1]
    from hsnet_deploy.cli.triton.repository import model_config as config_text

    dims = {n: [1] + d[1:] for n, d in graph_dims(tmp_path / "m.query.onnx").items()}  # a batch-1 export
    fixed = parse_config(config_text("query", "onnxruntime", dims), model_config)
    assert fixed.max_batch_size == 0 and list(fixed.input[0].dims) == [1, 3, S, S] and not fixed.HasField("dynamic_batching")
    with pytest.raises(UserError, match="not a valid Triton model configuration"):
        parse_config("name: 'x'\nmax_batch_size: lots\n", model_config)


def test_refusals_leave_nothing(tmp_path):
    episode_only = make_episode_graph(tmp_path / "e.onnx", img_size=S)
    with pytest.raises(UserError, match="no split graphs"):
        write_repository(episode_only, tmp_path / "repo")
    onnx_path = _split(tmp_path)
    (tmp_path / "taken").mkdir()
    with pytest.raises(UserError, match="already exists"):
        write_repository(onnx_path, tmp_path / "taken")
    with pytest.raises(UserError, match="output folder does not exist"):
        write_repository(onnx_path, tmp_path / "missing" / "repo")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["e.onnx", "m.onnx", "m.query.onnx", "m.support.onnx", "taken"]


def _standin_triton(repo, model_config, calls):
    """tritonclient.http's InferInput / InferRequestedOutput / client.infer, served by
    onnxruntime on the repository's files, checking each request against its config."""
    triton = types.ModuleType("tritonclient.http")

    class InferInput:
        def __init__(self, name, shape, datatype):
            self.name, self.shape, self.datatype, self.data = name, shape, datatype, None

        def set_data_from_numpy(self, array):
            assert list(array.shape) == self.shape
            self.data = array

    class InferRequestedOutput:
        def __init__(self, name):
            self.name = name

    class Result:
        def __init__(self, outputs):
            self.outputs = outputs

        def as_numpy(self, name):
            return self.outputs[name]

    class Client:
        def infer(self, model_name, inputs, outputs=None):
            config = _config(repo, model_name, model_config)
            declared = {t.name: t for t in config.input}
            assert sorted(i.name for i in inputs) == sorted(declared)
            for item in inputs:
                want = [d for d in declared[item.name].dims]
                got = item.shape[1:] if config.max_batch_size else item.shape
                assert len(got) == len(want) and all(w in (-1, g) for w, g in zip(want, got)), (item.name, got, want)
                assert {"FP32": "TYPE_FP32", "UINT8": "TYPE_UINT8"}[item.datatype] in str(declared[item.name])
            session = ort.InferenceSession(str(repo / model_name / "1" / "model.onnx"), providers=["CPUExecutionProvider"])
            names = [o.name for o in outputs]
            calls.append(model_name)
            return Result(dict(zip(names, session.run(names, {i.name: i.data for i in inputs}))))

    class InferenceServerClient(Client):
        def __init__(self, url):
            self.url = url

    triton.InferInput, triton.InferRequestedOutput, triton.Client = InferInput, InferRequestedOutput, Client
    triton.InferenceServerClient = InferenceServerClient
    return triton


def _load_client_example(repo):
    spec = importlib.util.spec_from_file_location("client_example", repo / "client_example.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_client_example_encodes_once_then_streams(tmp_path, model_config):
    onnx_path = _split(tmp_path)
    repo = tmp_path / "repo"
    write_repository(onnx_path, repo)
    client_example = _load_client_example(repo)
    calls = []
    triton = _standin_triton(repo, model_config, calls)
    client = triton.Client()
    rng = np.random.default_rng(0)
    supports = [rng.integers(0, 255, (20, 24, 3), dtype=np.uint8) for _ in range(2)]
    masks = [(rng.random((20, 24)) > 0.5).astype(np.uint8) for _ in range(2)]
    queries = [rng.integers(0, 255, (18 + i, 22, 3), dtype=np.uint8) for i in range(3)]
    features = client_example.encode_support(client, triton, supports, masks, S)
    got = [client_example.segment(client, triton, q, features, S) for q in queries]
    assert calls == ["hsnet_support_encoder"] + ["hsnet_query"] * 3
    with Segmenter.load(onnx_path, device="cpu") as seg:
        seg.set_support(supports, masks)
        for q, mask in zip(queries, got):
            np.testing.assert_array_equal(mask, seg.segment(q))


def test_tensorrt_plans_take_their_dims_from_the_onnx_beside(tmp_path, monkeypatch, model_config):
    from helpers.tensorrt_standin import install
    from hsnet_deploy.runtime.tensorrt.engine_build import build_engines

    install(monkeypatch)
    onnx_path = _split(tmp_path)
    engines = build_engines(onnx_path, bars=None)
    repo = tmp_path / "repo"
    assert main(["triton-repo", str(engines["query"]), "-o", str(repo)]) == 0
    query = _config(repo, "hsnet_query", model_config)
    assert query.platform == "tensorrt_plan" and (repo / "hsnet_query" / "1" / "model.plan").read_bytes() == engines["query"].read_bytes()
    assert [list(t.dims) for t in query.input] == [[3, S, S]] + [[-1, 1, 1, 1, 1]] * 3
    assert main(["triton-repo", str(engines["query"]), "-o", str(tmp_path / "cpu"), "--cpu"]) == 2


def test_client_example_defaults_to_the_export_size(tmp_path, monkeypatch, model_config):
    from PIL import Image

    onnx_path = _split(tmp_path)
    repo = tmp_path / "repo"
    write_repository(onnx_path, repo)
    client_example = _load_client_example(repo)
    assert client_example.IMG_SIZE == S
    calls = []
    package = types.ModuleType("tritonclient")
    package.http = _standin_triton(repo, model_config, calls)
    monkeypatch.setitem(sys.modules, "tritonclient", package)
    monkeypatch.setitem(sys.modules, "tritonclient.http", package.http)
    rng = np.random.default_rng(1)
    support, mask, query = (rng.integers(0, 255, (20, 24, 3), dtype=np.uint8) for _ in range(3))
    mask = ((mask[..., 0] > 127) * 255).astype(np.uint8)
    for name, array in (("s.png", support), ("m.png", mask), ("q.png", query)):
        Image.fromarray(array).save(tmp_path / name)
    argv = [str(tmp_path / "q.png"), "--support", str(tmp_path / "s.png"), "--mask", str(tmp_path / "m.png"), "--out", str(tmp_path)]
    assert client_example.main(argv) == 0  # no --size: the export's 16, not 400
    assert calls == ["hsnet_support_encoder", "hsnet_query"]
    with Segmenter.load(onnx_path, device="cpu") as seg:
        seg.set_support([support], [mask > 0])
        np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "q.mask.png")) > 0, seg.segment(query) > 0)


def test_client_example_help_needs_no_tritonclient_http(tmp_path):
    repo = tmp_path / "repo"
    write_repository(_split(tmp_path), repo)
    script = str(repo / "client_example.py")
    shown = subprocess.run([sys.executable, script, "--help"], capture_output=True, text=True, cwd=tmp_path)
    assert shown.returncode == 0 and shown.stderr == "", shown.stderr
    assert f"(default {S}, the export's)" in " ".join(shown.stdout.split())
    # the script as a user without tritonclient's HTTP client runs it (hidden here, where the serve extra has it)
    hide = ("import runpy, sys; sys.modules['tritonclient.http'] = None; sys.argv = sys.argv[1:]; "
            "runpy.run_path(sys.argv[0], run_name='__main__')")
    run = subprocess.run([sys.executable, "-c", hide, script, "q.png", "--support", "s.png", "--mask", "m.png"],
                         capture_output=True, text=True, cwd=tmp_path)
    assert run.returncode == 2 and run.stdout == ""
    (line,) = run.stderr.splitlines()
    assert line.startswith("client_example.py: error: needs tritonclient[http]: pip install 'tritonclient[http]' (import of ")


@pytest.mark.slow
@pytest.mark.parametrize("shots", ["dynamic", 1])
def test_the_real_tritonserver_reads_the_configs_up_to_its_backend_loader(tmp_path, shots):
    """PyTriton's bundled tritonserver 2.51 has only the Python backend: given the repository,
    it must parse and accept both configs and stop only at the missing onnxruntime backend."""
    pytriton = pytest.importorskip("pytriton")
    from helpers.serve_process import free_ports

    binary = os.path.join(os.path.dirname(pytriton.__file__), "tritonserver", "bin", "tritonserver")
    episode = _split(tmp_path, shots)
    assert main(["triton-repo", str(episode), "-o", str(tmp_path / "repo")]) == 0
    ports = free_ports(3)
    done = subprocess.run(
        [binary, "--model-repository", str(tmp_path / "repo"), "--http-port", str(ports[0]), "--grpc-port",
         str(ports[1]), "--metrics-port", str(ports[2]), "--exit-timeout-secs", "1"],
        capture_output=True, text=True, timeout=120,
    )
    errors = [line for line in (done.stdout + done.stderr).splitlines()  # Triton's error lines: E<MMDD> ...
              if re.match(r"E\d{4} ", line) and "CudaDriverHelper" not in line]
    assert done.returncode != 0  # no model could load: no onnxruntime backend here
    assert len(errors) == 2, errors
    for name in ("hsnet_support_encoder", "hsnet_query"):
        assert any(f"failed to load '{name}' version 1: Invalid argument: unable to find backend library for "
                   "backend 'onnxruntime'" in line for line in errors), errors
