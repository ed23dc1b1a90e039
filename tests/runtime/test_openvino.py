"""The OpenVINO backend: the same ONNX files, the same numbers as onnxruntime, explicit numerics."""

from __future__ import annotations

import numpy as np
import pytest

ov = pytest.importorskip("openvino")

from helpers.fake_graphs import make_split_export, random_feeds, reference_logits  # noqa: E402
from hsnet_deploy.errors import UserError  # noqa: E402
from hsnet_deploy.runtime import RuntimeOptions, Segmenter  # noqa: E402
from hsnet_deploy.runtime.openvino.loader import OpenVinoLoader  # noqa: E402
from hsnet_deploy.runtime.openvino.runner import OpenVinoRunner  # noqa: E402

S = 16


@pytest.fixture
def graphs(tmp_path):
    return make_split_export(tmp_path, img_size=S)


def test_episode_graph_matches_the_reference_for_every_k_on_one_compiled_model(graphs):
    with OpenVinoRunner(str(graphs)) as runner:
        assert runner.backend == "openvino" and runner.info.kind == "episode"
        for b, k in ((1, 1), (2, 3), (1, 5)):  # dynamic B and K through OpenVINO's partial shapes
            feed = random_feeds(b, k, S, seed=k)
            out = runner.infer(feed)
            np.testing.assert_allclose(out["logits"], reference_logits(**feed), rtol=1e-5, atol=1e-5)
            assert out["mask"].dtype == np.uint8 and out["mask"].shape == (b, S, S)


def test_each_input_shape_runs_on_its_own_static_compile(graphs, monkeypatch):
    """Static shapes run faster than the file's dynamic B and K (loader doc): one compile per
    new shape, reused after, the least recently used dropped past MAX_SHAPES."""
    from hsnet_deploy.runtime.openvino import loader as ov_loader

    monkeypatch.setattr(ov_loader, "MAX_SHAPES", 2)
    with OpenVinoRunner(str(graphs)) as runner:
        compiles = []
        compile_once = runner.loader.compile
        monkeypatch.setattr(runner.loader, "compile", lambda shapes=None, profiling=False:
                            compiles.append(shapes) or compile_once(shapes, profiling))
        for b, k in ((1, 1), (1, 1), (2, 3), (1, 1)):
            feed = random_feeds(b, k, S, seed=k)
            np.testing.assert_allclose(runner.infer(feed)["logits"], reference_logits(**feed), rtol=1e-5, atol=1e-5)
        assert [s["support_imgs"] for s in compiles] == [(1, 1, 3, S, S), (2, 3, 3, S, S)]
        compiled = runner._requests.last.get_compiled_model()
        assert [tuple(p.get_shape()) for p in compiled.inputs if "support_imgs" in p.get_names()] == [(1, 1, 3, S, S)]
        runner.infer(random_feeds(1, 5, S))  # a third shape: (2, 3) was used least recently
        runner.infer(random_feeds(2, 3, S))
        assert len(compiles) == 4 and len(runner._requests) == 2


def test_in_memory_model_and_split_pair_through_the_segmenter(graphs):
    import onnx

    with OpenVinoRunner(onnx.load(str(graphs))) as runner:  # a converter's ModelProto, never written
        assert runner.info.kind == "episode"
    rng = np.random.default_rng(3)
    image, support = rng.integers(0, 255, (20, 24, 3), np.uint8), rng.integers(0, 255, (20, 24, 3), np.uint8)
    mask = np.zeros((20, 24), np.uint8)
    mask[4:14, 5:17] = 1
    masks = {}
    for backend in ("onnxruntime", "openvino"):
        with Segmenter.load(graphs, options=RuntimeOptions(device="cpu", onnx_backend=backend)) as seg:
            assert seg.is_split and seg.backend == backend
            masks[backend] = seg.segment(image, [support], [mask])
    np.testing.assert_array_equal(masks["openvino"], masks["onnxruntime"])


def test_the_inference_precision_is_always_set(graphs):
    """OpenVINO's own default on a CPU with AVX-512 BF16 or AMX is bf16: never left implicit."""
    assert OpenVinoLoader(str(graphs)).properties()["INFERENCE_PRECISION_HINT"] == "f32"
    compiled, _ = OpenVinoLoader(str(graphs), precision="bf16", threads=1)()
    hint = str(compiled.get_property("INFERENCE_PRECISION_HINT")).lower()
    caps = ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")
    assert ("bf16" in hint or "bfloat16" in hint) or "BF16" not in caps  # a CPU without BF16 falls back
    compiled, _ = OpenVinoLoader(str(graphs))()
    assert str(compiled.get_property("INFERENCE_PRECISION_HINT")).lower() in ("f32", "<type: 'float32'>", "float32")


def test_the_compiled_model_cache_is_used(graphs, tmp_path):
    cache = tmp_path / "ov-cache"
    OpenVinoLoader(str(graphs), cache_dir=cache)()
    blobs = sorted(cache.iterdir())
    assert blobs, "OpenVINO wrote no cached blob"
    OpenVinoLoader(str(graphs), cache_dir=cache)()  # the second start reads it
    assert sorted(cache.iterdir()) == blobs
    # what runs: one blob per static input shapes, read again by the next start
    OpenVinoLoader(str(graphs), cache_dir=cache).requests().request_for(random_feeds(1, 1, S))
    per_shape = sorted(cache.iterdir())
    assert len(per_shape) == len(blobs) + 1
    OpenVinoLoader(str(graphs), cache_dir=cache).requests().request_for(random_feeds(1, 1, S, seed=1))
    assert sorted(cache.iterdir()) == per_shape


def test_refusals_are_one_line(graphs, monkeypatch):
    import sys

    if "GPU" not in ov.Core().available_devices:
        with pytest.raises(UserError, match="OpenVINO device GPU is not available here"):
            OpenVinoLoader(str(graphs), device="GPU")()
    with pytest.raises(UserError, match="unknown OpenVINO device 'TPU'"):
        RuntimeOptions(onnx_backend="openvino", openvino_device="TPU")
    with pytest.raises(UserError, match="unknown OpenVINO inference precision 'fp8'"):
        RuntimeOptions(onnx_backend="openvino", openvino_precision="fp8")
    with pytest.raises(UserError, match="unknown ONNX backend 'tvm'"):
        RuntimeOptions(onnx_backend="tvm")
    from hsnet_deploy.runtime.openvino import loader

    monkeypatch.setattr(loader, "_CORE", [])  # as in a process that has not made one yet
    monkeypatch.setitem(sys.modules, "openvino", None)
    with pytest.raises(UserError, match=r"pip install 'hsnet-deploy\[openvino\]'"):
        OpenVinoLoader(str(graphs))()


def test_a_stop_signal_after_the_models_are_released_is_handled(graphs):
    """Measured: with the last Core and compiled models gone, OpenVINO unloads its CPU plugin
    and a later SIGTERM crashed the process (segmentation fault). The loader keeps one Core for
    the process; a stream's stop handling must still see the signal."""
    import subprocess
    import sys
    import textwrap

    code = textwrap.dedent(f"""
        import gc, os, signal, time
        from hsnet_deploy.runtime.openvino.loader import OpenVinoLoader
        first, _ = OpenVinoLoader({str(graphs)!r}, threads=1, precision="bf16")()
        second, _ = OpenVinoLoader({str(graphs)!r})()
        del first, second
        gc.collect()
        seen = []
        signal.signal(signal.SIGTERM, lambda *a: seen.append("SIGTERM"))
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.2)
        print(seen)
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and result.stdout.strip() == "['SIGTERM']", (result.returncode, result.stderr[-400:])


def test_cli_options_apply_only_with_openvino_and_to_onnx_models(graphs, tmp_path, capsys):
    from hsnet_deploy import cli

    base = ["run", str(graphs), "--query", "q.png", "--support", "s.png", "--mask", "m.png", "-o", str(tmp_path / "p.png")]
    assert cli.main(base + ["--openvino-precision", "bf16"]) == 2
    assert "--openvino-precision applies only with --onnx-backend openvino" in capsys.readouterr().err
    assert cli.main(["run", "reference", *base[2:], "--onnx-backend", "openvino"]) == 2
    assert "--onnx-backend applies only to .onnx models" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.parametrize("precision", ["fp32", "fp16", "int8"])
def test_real_exports_agree_with_onnxruntime(exported, precision):
    """The reference model's FP32 / FP16 / INT8 split exports (96x96): FP32 logits within 1e-4
    (relative to their range) of onnxruntime's with f32 inference, masks near-identical."""
    from hsnet_deploy.hsnet.data.synthetic import SyntheticFewShot

    dataset = SyntheticFewShot(seed=0, split="test", img_size=96, n_episodes=6)
    logits, masks = {}, {}
    for backend in ("onnxruntime", "openvino"):
        with Segmenter.load(exported[precision], options=RuntimeOptions(device="cpu", onnx_backend=backend)) as seg:
            outs = []
            for n in range(len(dataset)):
                episode = dataset.episode(n)
                support = seg.prepare_support(list(episode.support_images), list(episode.support_masks))
                query, _ = seg.prepare_query(episode.query_image)
                outs.append(seg.network_logits(query, support)[0])
            logits[backend] = np.stack(outs)
            masks[backend] = logits[backend][:, :, 1] > logits[backend][:, :, 0]
    span = float(logits["onnxruntime"].max() - logits["onnxruntime"].min())
    worst = float(np.abs(logits["openvino"] - logits["onnxruntime"]).max()) / span
    agree = float((masks["openvino"] == masks["onnxruntime"]).mean())
    if precision == "fp32":
        assert worst < 1e-4 and agree == 1.0, (worst, agree)
    else:  # different kernels for FP16 / Q/DQ: close, not equal
        assert agree > 0.97, (worst, agree)
