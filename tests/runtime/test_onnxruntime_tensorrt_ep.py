"""onnxruntime's TensorRT execution provider: its options from the graph contract, the
loader passing them first, and every way the path refuses to run silently elsewhere.

Runs without TensorRT: the loader's ``onnxruntime`` is a stand-in that records what it
was given (and, for the command, delegates inference to a real CPU session)."""

from __future__ import annotations

import argparse
import types

import numpy as np
import pytest
from PIL import Image

ort = pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")

from helpers.fake_graphs import make_episode_graph  # noqa: E402
from hsnet_deploy.errors import UserError  # noqa: E402
from hsnet_deploy.runtime import RuntimeOptions  # noqa: E402
from hsnet_deploy.runtime.backends import make_runners  # noqa: E402
from hsnet_deploy.runtime.graph_contract import GraphInfo  # noqa: E402
from hsnet_deploy.runtime.onnxruntime import loader as loaders  # noqa: E402
from hsnet_deploy.runtime.onnxruntime.loader import OnnxSessionLoader
from hsnet_deploy.runtime.onnxruntime.tensorrt_ep import (  # noqa: E402
    tensorrt_provider_options,
    tensorrt_providers,
)
from hsnet_deploy.runtime.tensorrt.profiles import (  # noqa: E402
    ShapeRange,
    parse_profile,
    profile_shapes,
)

S = 16
TRT = "TensorrtExecutionProvider"
REAL_BACKBONE = {"hsnet_deploy.backbone": "resnet50"}  # the fake graphs' "fake" has no dims


def _graph(tmp_path, shots="dynamic", shots_range="2:5", name="m.onnx"):
    overrides = dict(REAL_BACKBONE)
    if shots == "dynamic":
        overrides["hsnet_deploy.shots_range"] = shots_range
    return make_episode_graph(tmp_path / name, img_size=S, shots=shots, overrides=overrides)


def _info(path) -> GraphInfo:
    meta = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    return GraphInfo.from_metadata(meta, str(path))


def _file_shapes(path):
    """profile_shapes from the file's declared input dims (what the loader and builder use)."""
    from hsnet_deploy.runtime.loaders import onnx_header

    meta, dims = onnx_header(path, str(path))
    return profile_shapes(GraphInfo.from_metadata(meta, str(path)), input_dims=dims)


def _profiles(options):
    return [parse_profile(options[f"trt_profile_{which}_shapes"]) for which in ("min", "opt", "max")]


# ---- the provider options ----------------------------------------------------------------
def test_dynamic_k_profiles_are_the_engine_profiles_shapes(tmp_path):
    info = _info(_graph(tmp_path))
    options = tensorrt_provider_options(info, "/cache/dir", None)
    want = profile_shapes(info)
    for i, got in enumerate(_profiles(options)):
        assert got == {name: triple[i] for name, triple in want.items()}
    lo, opt, hi = _profiles(options)
    assert lo["support_imgs"] == (1, 2, 3, S, S) == opt["support_imgs"]  # optimised for the smallest K
    assert hi["support_imgs"] == (1, 5, 3, S, S) and hi["support_masks"] == (1, 5, S, S)
    assert lo["query_img"] == hi["query_img"] == (1, 3, S, S)  # no K axis
    assert options["trt_profile_max_shapes"].startswith("query_img:1x3x16x16,support_imgs:1x5x3x16x16,")
    assert options["trt_engine_cache_enable"] == "True" and options["trt_engine_cache_path"] == "/cache/dir"
    assert options["trt_timing_cache_enable"] == "True" and options["trt_timing_cache_path"] == "/cache/dir"
    assert options["trt_fp16_enable"] == options["trt_int8_enable"] == "False"  # the file's types decide
    assert all(isinstance(v, str) for v in options.values())
    assert not {"trt_max_workspace_size", "trt_builder_optimization_level", "trt_dla_enable"} & set(options)


def test_fixed_k_gives_min_equal_opt_equal_max(tmp_path):
    options = tensorrt_provider_options(_info(_graph(tmp_path, shots=3)), "c", None)
    lo, opt, hi = _profiles(options)
    assert lo == opt == hi
    assert hi["support_imgs"] == (1, 3, 3, S, S)


def test_given_shapes_and_the_optional_options(tmp_path):
    info = _info(_graph(tmp_path))
    shapes = profile_shapes(info, batch=ShapeRange(1, 2, 4), shots=ShapeRange(2, 3, 4))
    options = tensorrt_provider_options(info, "c", shapes, workspace_mib=512, optimization_level=5, timing_cache=False, dla_core=1)
    lo, opt, hi = _profiles(options)
    assert lo["support_imgs"] == (1, 2, 3, S, S) and opt["support_imgs"] == (2, 3, 3, S, S) and hi["support_imgs"] == (4, 4, 3, S, S)
    assert options["trt_max_workspace_size"] == str(512 * 1024 * 1024)
    assert options["trt_builder_optimization_level"] == "5"
    assert (options["trt_dla_enable"], options["trt_dla_core"]) == ("True", "1")
    assert "trt_timing_cache_enable" not in options and "trt_timing_cache_path" not in options
    for bad, message in [({"workspace_mib": 0}, "workspace"), ({"optimization_level": 6}, "0..5"), ({"dla_core": -1}, "DLA core")]:
        with pytest.raises(UserError, match=message):
            tensorrt_provider_options(info, "c", None, **bad)
    assert tensorrt_providers({"a": "1"}) == [(TRT, {"a": "1"}), "CUDAExecutionProvider", "CPUExecutionProvider"]


# ---- the loader, with a stand-in onnxruntime -----------------------------------------------
class _Session:
    """What the loader got, and the providers it reports; inference by a real CPU session."""

    def __init__(self, fake, model, sess_options=None, providers=None, disabled_optimizers=None):
        fake.created.append({"providers": list(providers), "threads": sess_options.intra_op_num_threads, "disabled": disabled_optimizers})
        self._real = ort.InferenceSession(model, providers=["CPUExecutionProvider"]) if fake.delegate else None
        self._providers = list(fake.running) if fake.running is not None else [p if isinstance(p, str) else p[0] for p in providers]

    def get_providers(self):
        return self._providers

    def __getattr__(self, name):
        return getattr(self._real, name)


def _fake_ort(available=(TRT, "CUDAExecutionProvider", "CPUExecutionProvider"), running=None, delegate=False):
    fake = types.SimpleNamespace(created=[], running=running, delegate=delegate, SessionOptions=ort.SessionOptions)
    fake.get_available_providers = lambda: list(available)
    fake.InferenceSession = lambda *args, **kwargs: _Session(fake, *args, **kwargs)
    return fake


@pytest.fixture
def use_ort(monkeypatch):
    def install(fake):
        monkeypatch.setattr(loaders, "import_onnxruntime", lambda: fake)
        return fake

    return install


def test_the_loader_puts_tensorrt_first_with_the_options(tmp_path, use_ort):
    path = _graph(tmp_path)
    fake = use_ort(_fake_ort())
    cache = tmp_path / "cache" / "engines"
    session = OnnxSessionLoader(path, device="auto", threads=2, tensorrt_cache=cache)()
    assert session.get_providers()[0] == TRT and cache.is_dir()
    want = tensorrt_provider_options(_info(path), str(cache), _file_shapes(path))
    assert want == tensorrt_provider_options(_info(path), str(cache), None)  # file dims == contract dims here
    assert fake.created == [{"providers": [(TRT, want), "CUDAExecutionProvider", "CPUExecutionProvider"], "threads": 2, "disabled": None}]
    assert _profiles(want)[0] != _profiles(want)[2]  # a dynamic K: the profile is a range
    for model in (onnx.load(str(path)), path.read_bytes()):  # the same options from memory
        OnnxSessionLoader(model, device="cuda", tensorrt_cache=cache)()
        assert fake.created[-1]["providers"][0] == (TRT, want)


def test_the_loader_takes_the_shapes_from_the_files_own_dims(tmp_path, use_ort):
    """A backbone the contract has no dims for: only the file's declared dims give shapes."""
    path = make_episode_graph(tmp_path / "m.onnx", img_size=S, overrides={"hsnet_deploy.shots_range": "1:4"})
    with pytest.raises(UserError, match="unknown backbone"):
        profile_shapes(_info(path))
    fake = use_ort(_fake_ort())
    OnnxSessionLoader(path, tensorrt_cache=tmp_path / "c")()
    options = fake.created[0]["providers"][0][1]
    assert parse_profile(options["trt_profile_max_shapes"]) == {"query_img": (1, 3, S, S), "support_imgs": (1, 4, 3, S, S), "support_masks": (1, 4, S, S)}
    assert options == tensorrt_provider_options(_info(path), str(tmp_path / "c"), _file_shapes(path))


def test_the_option_reaches_the_loader_through_runtime_options(tmp_path):
    runners = make_runners({"episode": _graph(tmp_path)}, "onnxruntime", RuntimeOptions(tensorrt_cache=str(tmp_path / "c")))
    assert runners["episode"].loader.tensorrt_cache == str(tmp_path / "c")
    assert make_runners({"episode": _graph(tmp_path)}, "onnxruntime", RuntimeOptions())["episode"].loader.tensorrt_cache is None


def _one_line(err) -> str:
    message = str(err.value)
    assert "\n" not in message
    return message


def test_an_onnxruntime_without_the_tensorrt_ep_is_refused(tmp_path, use_ort):
    fake = use_ort(_fake_ort(available=("CUDAExecutionProvider", "CPUExecutionProvider")))
    cache = tmp_path / "cache"
    with pytest.raises(UserError) as err:
        OnnxSessionLoader(_graph(tmp_path), tensorrt_cache=cache)()
    assert _one_line(err) == loaders.TENSORRT_EP_MISSING
    assert "pip install onnxruntime-gpu" in _one_line(err) and "1.27+ for TensorRT 11" in _one_line(err)
    assert fake.created == [] and not cache.exists()  # nothing built, nothing written


def test_device_cpu_with_a_tensorrt_cache_is_refused(tmp_path, use_ort):
    fake = use_ort(_fake_ort())
    with pytest.raises(UserError, match="CUDA GPU.*device 'cpu'") as err:
        OnnxSessionLoader(_graph(tmp_path), device="cpu", tensorrt_cache=tmp_path / "c")
    _one_line(err)
    with pytest.raises(UserError, match="not both"):
        OnnxSessionLoader(_graph(tmp_path), providers=["CUDAExecutionProvider"], tensorrt_cache=tmp_path / "c")
    assert fake.created == []


def test_a_silent_fallback_to_another_ep_is_refused(tmp_path, use_ort):
    use_ort(_fake_ort(running=["CUDAExecutionProvider", "CPUExecutionProvider"]))  # TensorRT libraries not found
    with pytest.raises(UserError, match="TensorRT execution provider could not load .*libraries are missing") as err:
        OnnxSessionLoader(_graph(tmp_path), tensorrt_cache=tmp_path / "c")()
    assert "CUDAExecutionProvider" in _one_line(err)


def test_a_cache_that_is_a_file_is_refused(tmp_path, use_ort):
    fake = use_ort(_fake_ort())
    path = _graph(tmp_path)
    (tmp_path / "file").write_text("x")
    with pytest.raises(UserError, match="is a file, not a folder") as err:
        OnnxSessionLoader(path, tensorrt_cache=tmp_path / "file")
    _one_line(err)
    loader = OnnxSessionLoader(path, tensorrt_cache=tmp_path / "later")
    (tmp_path / "later").write_text("x")  # became a file after the loader was made
    with pytest.raises(UserError, match="is a file, not a folder"):
        loader()
    assert fake.created == []


# ---- the run command -----------------------------------------------------------------------
def _files(tmp_path):
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (20, 24, 3), dtype=np.uint8)).save(tmp_path / "q.png")
    Image.fromarray(rng.integers(0, 256, (18, 22, 3), dtype=np.uint8)).save(tmp_path / "s.png")
    mask = np.zeros((18, 22), np.uint8)
    mask[4:12, 5:15] = 255
    Image.fromarray(mask).save(tmp_path / "m.png")
    return ["--query", tmp_path / "q.png", "--support", tmp_path / "s.png", "--mask", tmp_path / "m.png"]



def test_run_through_the_tensorrt_ep(tmp_path, use_ort, run_cli):
    fake = use_ort(_fake_ort(delegate=True))
    model, cache = _graph(tmp_path), tmp_path / "engines"
    code, _, err = run_cli(model, *_files(tmp_path), "-o", tmp_path / "p.png", "--ort-tensorrt-cache", cache)
    assert code == 0, err
    assert [c["providers"][0][0] for c in fake.created] == [TRT] and cache.is_dir()
    assert np.asarray(Image.open(tmp_path / "p.png")).shape == (20, 24)


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--memory", "pycuda"], "--memory applies only to .engine models"),
        (["--cuda-graph"], "--cuda-graph applies only to .engine models"),
        (["--ort-tensorrt-cache", "CACHE", "--device", "cpu"], "device 'cpu'"),
    ],
)
def test_run_refuses_options_its_model_would_ignore(tmp_path, run_cli, extra, message):
    extra = [str(tmp_path / "c") if e == "CACHE" else e for e in extra]
    code, _, err = run_cli(_graph(tmp_path), *_files(tmp_path), "-o", tmp_path / "p.png", *extra)
    assert code == 2 and len(err.strip().splitlines()) == 1 and message in err, err
    assert not (tmp_path / "p.png").exists() and not (tmp_path / "c").exists()


def test_run_options_for_engines_and_onnx():
    from hsnet_deploy.cli import run as command

    parser = argparse.ArgumentParser()
    command.add_arguments(parser)
    base = ["m", "--query", "q", "--support", "s", "--mask", "m", "-o", "p.png"]
    engine = command.runtime_options(parser.parse_args(base + ["--memory", "pycuda", "--cuda-graph"]))
    assert (engine.memory, engine.cuda_graph, engine.tensorrt_cache) == ("pycuda", True, None)
    plain = command.runtime_options(parser.parse_args(base))
    assert (plain.memory, plain.cuda_graph) == ("auto", False)
    onnx_options = command.runtime_options(parser.parse_args(base + ["--ort-tensorrt-cache", "dir"]))
    assert onnx_options.tensorrt_cache == "dir"
    with pytest.raises(SystemExit):
        parser.parse_args(base + ["--memory", "nope"])
