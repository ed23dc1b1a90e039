"""ONNX Runtime runner and the Segmenter facade, on the stand-in graphs of
test_runtime_fake_graphs (contract I/O names, shapes and metadata)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("onnxruntime")

from helpers.fake_graphs import (  # noqa: E402
    make_episode_graph,
    make_split_export,
    make_split_graphs,
    random_feeds,
    reference_logits,
)
from hsnet_deploy.errors import UserError  # noqa: E402
from hsnet_deploy.runtime import (  # noqa: E402
    Segmenter,
    postprocess,
    preprocess_image,
    preprocess_mask,
)
from hsnet_deploy.runtime.onnxruntime.runner import OnnxRuntimeRunner  # noqa: E402

S = 16  # network input size of the fake graphs


def _episode(shapes, seed=0):
    """Images (h, w, 3) uint8 and blob masks (h, w) {0, 1} of the given sizes."""
    rng = np.random.default_rng(seed)
    images, masks = [], []
    for h, w in shapes:
        ramp = np.linspace(0, 255, w)[None, :, None]  # dark left, bright right: a non-trivial mask
        noise = rng.normal(0, 30, (h, w, 3))
        images.append(np.clip(ramp + noise, 0, 255).astype(np.uint8))
        m = np.zeros((h, w), np.uint8)
        y, x = rng.integers(0, h // 2), rng.integers(0, w // 2)
        m[y : y + h // 2, x : x + w // 2] = 1
        masks.append(m)
    return images, masks


def _expected_logits(query, supports, masks, size=S):
    """The whole pipeline by hand: preprocess, the fakes' function, resize."""
    q = preprocess_image(query, size)[None]
    s = np.stack([preprocess_image(i, size) for i in supports])[None]
    m = np.stack([preprocess_mask(k, size) for k in masks])[None]
    return reference_logits(q, s, m)[0]  # (K, 2, S, S)


@pytest.fixture
def episode_model(tmp_path):
    return make_episode_graph(tmp_path / "fake.onnx", img_size=S)


@pytest.fixture
def split_model(tmp_path):
    return make_split_export(tmp_path, img_size=S, name="fake.onnx")


# ---- the runner ----------------------------------------------------------------------------
def test_onnxruntime_runner_io_metadata_and_values(episode_model):
    with OnnxRuntimeRunner(episode_model, device="cpu") as runner:
        assert runner.backend == "onnxruntime" and runner.providers == ["CPUExecutionProvider"]
        assert runner.metadata["hsnet_deploy.graph"] == "episode" and runner.info.img_size == S
        assert runner.inputs["support_imgs"].shape == (None, None, 3, S, S)
        assert runner.inputs["support_masks"].dtype == np.float32
        assert runner.outputs["mask"].dtype == np.uint8
        feed = random_feeds(2, 3, S, seed=1)
        out = runner.infer(feed)
        assert out["logits"].shape == (2, 3, 2, S, S) and out["mask"].shape == (2, S, S)
        np.testing.assert_allclose(out["logits"], reference_logits(**feed), rtol=1e-5, atol=1e-5)
        with pytest.raises(UserError, match="missing.*support_masks"):
            runner.infer({k: v for k, v in feed.items() if k != "support_masks"})
        with pytest.raises(UserError, match="query_img' must have shape"):
            runner.infer({**feed, "query_img": feed["query_img"][..., :8]})
        with pytest.raises(UserError, match="must be float32"):
            runner.infer({**feed, "query_img": feed["query_img"].astype(np.float64)})
    assert not runner.is_active


def test_runner_refuses_foreign_and_broken_files(tmp_path):
    foreign = make_episode_graph(tmp_path / "foreign.onnx", with_metadata=False)
    with pytest.raises(UserError, match="not an hsnet-deploy model"):
        OnnxRuntimeRunner(foreign, device="cpu").activate()
    assert OnnxRuntimeRunner(foreign, device="cpu", validate=False).activate().info is None
    wrong_kind = make_episode_graph(tmp_path / "w.onnx", overrides={"hsnet_deploy.graph": "query"})
    with pytest.raises(UserError, match="'query' graph needs inputs"):
        OnnxRuntimeRunner(wrong_kind, device="cpu").activate()
    bad_size = make_episode_graph(tmp_path / "b.onnx", overrides={"hsnet_deploy.img_size": "big"})
    with pytest.raises(UserError, match="img_size"):
        OnnxRuntimeRunner(bad_size, device="cpu").activate()
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"\x00\x01 definitely not protobuf" * 10)
    with pytest.raises(UserError, match="cannot load ONNX model .*garbage.onnx"):
        OnnxRuntimeRunner(garbage, device="cpu").activate()
    with pytest.raises(UserError, match="model not found"):
        OnnxRuntimeRunner(tmp_path / "none.onnx").activate()


def test_cuda_request_without_cuda_provider_is_a_clear_error(episode_model):
    import onnxruntime

    if "CUDAExecutionProvider" in onnxruntime.get_available_providers():
        pytest.skip("this onnxruntime has CUDA")
    with pytest.raises(UserError, match="no CUDAExecutionProvider"):
        Segmenter.load(episode_model, device="cuda")


# ---- the Segmenter --------------------------------------------------------------------------
def test_segment_any_size_matches_the_pipeline_by_hand(episode_model):
    images, masks = _episode([(23, 41), (30, 30), (17, 9)], seed=2)
    query, supports, support_masks = images[0], images[1:], masks[1:]
    with Segmenter.load(episode_model, device="cpu") as seg:
        assert not seg.is_split and seg.img_size == S and seg.shots is None and seg.backend == "onnxruntime"
        logits = seg.segment_logits(query, supports, support_masks)
        assert logits.shape == (2, 2, 23, 41) and logits.dtype == np.float32
        want = _expected_logits(query, supports, support_masks)
        mask = seg.segment(query, supports, support_masks)
    assert mask.shape == (23, 41) and mask.dtype == np.uint8
    np.testing.assert_array_equal(mask, postprocess(want, (23, 41)))
    assert 0 < mask.sum() < mask.size  # the fakes give a non-trivial mask here


def test_inputs_as_paths_pil_and_arrays_agree(episode_model, tmp_path):
    images, masks = _episode([(20, 28), (25, 19)], seed=3)
    Image.fromarray(images[0]).save(tmp_path / "q.png")
    Image.fromarray(images[1]).save(tmp_path / "s.png")
    Image.fromarray(masks[1] * 255).save(tmp_path / "m.png")
    with Segmenter.load(episode_model, device="cpu") as seg:
        from_arrays = seg.segment(images[0], [images[1]], [masks[1]])
        from_paths = seg.segment(tmp_path / "q.png", [str(tmp_path / "s.png")], [tmp_path / "m.png"])
        from_pil = seg.segment(Image.fromarray(images[0]), Image.fromarray(images[1]), Image.fromarray(masks[1]))
    np.testing.assert_array_equal(from_arrays, from_paths)
    np.testing.assert_array_equal(from_arrays, from_pil)


def test_split_graphs_encode_the_support_once(split_model, monkeypatch):
    calls = {"support_encoder": 0, "query": 0, "episode": 0}
    original = OnnxRuntimeRunner._infer

    def counting(self, feed, copy_outputs):
        calls[self.info.kind] += 1
        return original(self, feed, copy_outputs)

    monkeypatch.setattr(OnnxRuntimeRunner, "_infer", counting)
    images, masks = _episode([(19, 27), (22, 22), (31, 18), (15, 15), (40, 12), (26, 33)], seed=4)
    supports, support_masks, queries = images[:2], masks[:2], images[2:]
    with Segmenter.load(split_model, device="cpu") as seg:
        assert seg.is_split and set(seg.runners) == {"support_encoder", "query"}
        seg.set_support(supports, support_masks)
        results = [seg.segment(q) for q in queries]
    assert calls == {"support_encoder": 1, "query": len(queries), "episode": 0}
    for q, got in zip(queries, results):
        np.testing.assert_array_equal(got, postprocess(_expected_logits(q, supports, support_masks), q.shape[:2]))


def test_split_and_episode_graphs_agree_and_pair_is_found_from_either_half(split_model, tmp_path):
    images, masks = _episode([(21, 35), (18, 24), (27, 20)], seed=5)
    episode_only = make_episode_graph(tmp_path / "other.onnx", img_size=S)
    with Segmenter.load(episode_only, device="cpu") as seg:
        want = seg.segment_logits(images[0], images[1:], masks[1:])
    for path in (split_model, tmp_path / "fake.support.onnx", tmp_path / "fake.query.onnx"):
        with Segmenter.load(path, device="cpu") as seg:
            assert seg.is_split
            np.testing.assert_allclose(seg.segment_logits(images[0], images[1:], masks[1:]), want, rtol=1e-6, atol=1e-6)


def test_split_pair_problems(tmp_path):
    path = make_episode_graph(tmp_path / "a.onnx", img_size=S)
    support, query = make_split_graphs(path, img_size=S)
    query.unlink()
    with pytest.raises(UserError, match="partner .*a.query.onnx is missing"):
        Segmenter.load(support)
    with Segmenter.load(path, device="cpu") as seg:  # half a pair beside it: the episode graph
        assert not seg.is_split
    make_split_graphs(path, img_size=S, query_overrides={"hsnet_deploy.checkpoint_sha256": "abc"})
    with pytest.raises(UserError, match="different exports"):
        Segmenter.load(path, device="cpu")


def test_episode_graph_caches_preprocessed_support(episode_model):
    images, masks = _episode([(20, 20), (24, 30), (33, 21), (12, 40)], seed=6)
    with Segmenter.load(episode_model, device="cpu") as seg:
        with pytest.raises(UserError, match="no support set"):
            seg.segment(images[0])
        seg.set_support(images[1:3], masks[1:3])
        assert seg.has_support
        for q in (images[0], images[3]):
            np.testing.assert_array_equal(seg.segment(q), seg.segment(q, images[1:3], masks[1:3]))
        # explicit supports do not replace the cached ones
        seg.segment(images[0], images[3:], masks[3:])
        np.testing.assert_array_equal(seg.segment(images[0]), seg.segment(images[0], images[1:3], masks[1:3]))
        seg.clear_support()
        assert not seg.has_support


def test_fixed_shot_graph_refuses_other_k(tmp_path):
    one_shot = make_episode_graph(tmp_path / "k1.onnx", img_size=S, shots=1)
    images, masks = _episode([(20, 20), (20, 20), (20, 20)], seed=7)
    with Segmenter.load(one_shot, device="cpu") as seg:
        assert seg.shots == 1
        assert seg.segment(images[0], images[1:2], masks[1:2]).shape == (20, 20)
        with pytest.raises(UserError, match=r"exported for 1-shot episodes but 2 support"):
            seg.segment(images[0], images[1:], masks[1:])


def test_support_validation_errors(episode_model):
    images, masks = _episode([(20, 30), (20, 30)], seed=8)
    with Segmenter.load(episode_model, device="cpu") as seg:
        with pytest.raises(UserError, match=r"mask support mask 1 is 29x20 but its image support image 1 is 30x20"):
            seg.set_support([images[1]], [masks[1][:, :-1]])
        with pytest.raises(UserError, match="is empty"):
            seg.set_support([images[1]], [np.zeros((20, 30), np.uint8)])
        with pytest.raises(UserError, match="not binary"):
            seg.set_support([images[1]], [masks[1] * 3])
        with pytest.raises(UserError, match="1 support image.* but 2 mask"):
            seg.set_support([images[1]], [masks[1], masks[1]])
        with pytest.raises(UserError, match="no support image"):
            seg.set_support([], [])
        tiny = np.zeros((400, 400), np.uint8)
        tiny[1, 1] = 1  # nearest resize to 16x16 samples rows/cols 0, 25, 50, ...
        big = np.zeros((400, 400, 3), np.uint8)
        with pytest.raises(UserError, match="too small to survive resizing to 16x16"):
            seg.set_support([big], [tiny])
        with pytest.raises(UserError, match=r"\(h, w, 3\) uint8"):
            seg.segment(images[0].astype(np.float32), [images[1]], [masks[1]])
        assert not seg.has_support  # failed set_support calls cache nothing


def test_load_refuses_unknown_or_missing_files(tmp_path):
    with pytest.raises(UserError, match="model not found"):
        Segmenter.load(tmp_path / "none.onnx")
    (tmp_path / "model.h5").write_bytes(b"x")
    with pytest.raises(UserError, match=r"unknown model file type '\.h5'"):
        Segmenter.load(tmp_path / "model.h5")
    with pytest.raises(UserError, match="unknown device"):
        Segmenter.load(tmp_path / "model.h5", device="tpu")


def test_segmenter_runs_with_torch_blocked(episode_model):
    code = textwrap.dedent(
        f"""
        import sys
        sys.modules["torch"] = None
        import numpy as np
        from hsnet_deploy.runtime import Segmenter
        rng = np.random.default_rng(0)
        img = rng.integers(0, 256, (20, 25, 3), dtype=np.uint8)
        mask = np.zeros((20, 25), np.uint8); mask[5:15, 5:20] = 1
        with Segmenter.load({str(episode_model)!r}, device="cpu") as seg:
            print(seg.segment(img, [img], [mask]).shape)
        """
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "(20, 25)"
