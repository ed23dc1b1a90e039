"""The runtime's pure pre/post-processing: torch-free import, PyTorch-exact resizes,
the K-shot vote, the official preprocessing, mask binarisation, image errors."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest
from hsnet_deploy.errors import UserError
from hsnet_deploy.runtime import (
    kshot_vote,
    load_image,
    load_mask,
    overlay,
    postprocess,
    preprocess_image,
    preprocess_mask,
    resize_bilinear_align_corners,
    resize_logits,
)
from hsnet_deploy.runtime.resize import align_corners_taps
from PIL import Image


# ---- torch-free ---------------------------------------------------------------------------
def test_runtime_imports_without_torch_onnxruntime_or_tensorrt():
    code = textwrap.dedent(
        """
        import sys
        for blocked in ("torch", "onnxruntime", "tensorrt", "cuda", "pycuda"):
            sys.modules[blocked] = None   # any import of them raises ImportError
        import importlib, pkgutil
        import hsnet_deploy.runtime as runtime
        names = [m.name for m in pkgutil.walk_packages(runtime.__path__, "hsnet_deploy.runtime.")]
        assert len(names) >= 30, names
        for name in names:  # every backend sub-package too (tensorrt/ ...)
            importlib.import_module(name)
        # the engine toolchain too: a Jetson builds and benches engines without torch
        for name in ("cli.build", "cli.sidecar", "cli.run", "benchmarks.engine_bench", "benchmarks.layer_chart"):
            importlib.import_module("hsnet_deploy." + name)
        import numpy as np
        mask = runtime.postprocess(np.zeros((1, 2, 4, 4), np.float32), (5, 7))
        assert mask.shape == (5, 7)
        assert not any(m in sys.modules and sys.modules[m] is not None for m in ("torch", "onnxruntime"))
        print("ok")
        """
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


# ---- bilinear, align_corners=True ---------------------------------------------------------
@pytest.mark.parametrize(
    "in_hw, out_hw",
    [((16, 16), (37, 23)), ((50, 50), (400, 400)), ((400, 400), (333, 517)), ((13, 7), (5, 3)), ((9, 9), (1, 4)), ((1, 5), (6, 5))],
)
def test_resize_matches_torch_interpolate(in_hw, out_hw):
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(sum(in_hw + out_hw)).standard_normal((3, 2, *in_hw)).astype(np.float32)
    ours = resize_bilinear_align_corners(x, out_hw)
    theirs = torch.nn.functional.interpolate(torch.from_numpy(x), size=out_hw, mode="bilinear", align_corners=True).numpy()
    assert ours.shape == theirs.shape and ours.dtype == np.float32
    np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-6)  # float32 rounding only


@pytest.mark.parametrize("n_in, n_out", [(400, 50), (50, 400), (13, 25), (400, 333), (7, 7), (3, 1)])
def test_resize_weights_are_torch_weights_bit_for_bit(n_in, n_out):
    """Interpolating unit vectors reads PyTorch's weight matrix exactly: same exact zeros."""
    torch = pytest.importorskip("torch")
    basis = torch.eye(n_in, dtype=torch.float32).reshape(n_in, 1, 1, n_in)  # row j = e_j
    theirs = torch.nn.functional.interpolate(basis, size=(1, n_out), mode="bilinear", align_corners=True)
    theirs = theirs.reshape(n_in, n_out).T.numpy()  # (n_out, n_in): weight of input j in output i
    taps = align_corners_taps(n_in, n_out)
    ours = np.zeros((n_out, n_in), np.float32)
    np.add.at(ours, (np.arange(n_out), taps.index0), taps.weight0)
    np.add.at(ours, (np.arange(n_out), taps.index1), taps.weight1)
    np.testing.assert_array_equal(ours, theirs)


def test_resize_keeps_corners_and_constants():
    x = np.random.default_rng(1).standard_normal((1, 2, 6, 9)).astype(np.float32)
    out = resize_logits(x, (31, 4))
    np.testing.assert_array_equal(out[..., [0, -1], :][..., [0, -1]], x[..., [0, -1], :][..., [0, -1]])
    const = resize_bilinear_align_corners(np.full((4, 4), 2.5, np.float32), (9, 11))
    np.testing.assert_allclose(const, 2.5, rtol=0, atol=1e-6)
    with pytest.raises(UserError, match=r"\(K, 2, H, W\)"):
        resize_logits(np.zeros((2, 3, 4, 4), np.float32), (5, 5))


# ---- K-shot vote --------------------------------------------------------------------------
def _logits_from_votes(fg: np.ndarray) -> np.ndarray:
    """(K, h, w) {0,1} shot decisions -> logits (K, 2, h, w) with exactly those argmaxes."""
    fg = np.asarray(fg, np.float32)
    return np.stack([1.0 - fg, fg], axis=1)


def test_vote_majority_relative_to_best_pixel():
    # K = 4. Votes per pixel: [4, 2, 1, 0] -> max 4 -> >= 2 votes is foreground.
    fg = np.array([[[1, 1, 1, 0]], [[1, 1, 0, 0]], [[1, 0, 0, 0]], [[1, 0, 0, 0]]])
    np.testing.assert_array_equal(kshot_vote(_logits_from_votes(fg)), [[1, 1, 0, 0]])


def test_vote_without_majority_uses_the_best_supported_pixel():
    # K = 5 but no pixel gets more than 2 votes: max_vote = 2, so 1 vote is enough.
    fg = np.zeros((5, 1, 4))
    fg[0, 0, :2] = 1  # pixel 0: 2 votes, pixel 1: 1 vote, pixels 2-3: 0
    fg[1, 0, 0] = 1
    mask = kshot_vote(_logits_from_votes(fg))
    assert mask.dtype == np.uint8
    np.testing.assert_array_equal(mask, [[1, 1, 0, 0]])


def test_vote_all_background_and_ties():
    # No votes at all: max_vote is clamped to 1, everything stays background.
    assert kshot_vote(_logits_from_votes(np.zeros((3, 2, 2)))).sum() == 0
    # A tie between the two logits is background.
    tie = np.zeros((1, 2, 2, 2), np.float32)
    assert kshot_vote(tie).sum() == 0


def test_vote_matches_the_reference_formula_on_random_logits():
    rng = np.random.default_rng(3)
    for k in (1, 2, 5):
        logits = rng.standard_normal((k, 2, 7, 9)).astype(np.float32)
        votes = (logits[:, 1] > logits[:, 0]).sum(0)
        want = (votes / max(votes.max(), 1) >= 0.5).astype(np.uint8)
        np.testing.assert_array_equal(kshot_vote(logits), want)


def test_postprocess_resizes_before_voting():
    torch = pytest.importorskip("torch")
    logits = np.random.default_rng(4).standard_normal((3, 2, 8, 8)).astype(np.float32)
    big = torch.nn.functional.interpolate(torch.from_numpy(logits), size=(21, 13), mode="bilinear", align_corners=True)
    votes = (big[:, 1] > big[:, 0]).sum(0).numpy()
    want = (votes / max(votes.max(), 1) >= 0.5).astype(np.uint8)
    np.testing.assert_array_equal(postprocess(logits, (21, 13)), want)


# ---- preprocessing ------------------------------------------------------------------------
def test_preprocess_image_is_pil_bilinear_then_imagenet_normalisation():
    rng = np.random.default_rng(5)
    img = rng.integers(0, 256, (37, 61, 3), dtype=np.uint8)
    x = preprocess_image(img, 24)
    assert x.shape == (3, 24, 24) and x.dtype == np.float32
    resized = np.asarray(Image.fromarray(img).resize((24, 24), Image.BILINEAR)).astype(np.float64)
    mean = np.array([0.485, 0.456, 0.406])  # the official ImageNet statistics, written out here
    std = np.array([0.229, 0.224, 0.225])  # (not imported from the code under test)
    want = ((resized / 255.0 - mean) / std).transpose(2, 0, 1)
    np.testing.assert_allclose(x, want, rtol=0, atol=1e-5)


def test_preprocess_image_channels_are_rgb_in_order():
    img = np.zeros((10, 10, 3), np.uint8)
    img[..., 0] = 255  # pure red
    x = preprocess_image(img, 8)
    np.testing.assert_allclose(x[0], (1.0 - 0.485) / 0.229, rtol=1e-6)
    np.testing.assert_allclose(x[1], (0.0 - 0.456) / 0.224, rtol=1e-6)
    np.testing.assert_allclose(x[2], (0.0 - 0.406) / 0.225, rtol=1e-6)


@pytest.mark.parametrize("hw, size", [((37, 61), 24), ((400, 300), 400), ((500, 375), 400), ((50, 50), 400), ((3, 7), 5)])
def test_preprocess_mask_is_torch_nearest(hw, size):
    torch = pytest.importorskip("torch")
    mask = (np.random.default_rng(hw[0]).random(hw) > 0.5).astype(np.uint8)
    ours = preprocess_mask(mask, size)
    theirs = torch.nn.functional.interpolate(torch.from_numpy(mask).float()[None, None], size=(size, size), mode="nearest")[0, 0].numpy()
    assert ours.dtype == np.float32
    np.testing.assert_array_equal(ours, theirs)


# ---- masks and images from files ----------------------------------------------------------
@pytest.fixture
def blob():
    m = np.zeros((12, 20), np.uint8)
    m[3:9, 5:15] = 1
    return m


@pytest.mark.parametrize("encoding", ["01_L", "0255_L", "mode1", "palette", "grey_rgb"])
def test_load_mask_accepts_binary_encodings(tmp_path, blob, encoding):
    path = tmp_path / "m.png"
    if encoding == "01_L":
        Image.fromarray(blob).save(path)
    elif encoding == "0255_L":
        Image.fromarray(blob * 255).save(path)
    elif encoding == "mode1":
        Image.fromarray(blob.astype(bool)).save(path)
    elif encoding == "palette":
        img = Image.fromarray(blob).convert("P")
        img.putpalette([0, 0, 0, 128, 0, 0] + [0] * 762)  # index 1 shows dark red
        img.save(path)
    else:
        Image.fromarray(np.repeat(blob[..., None] * 255, 3, axis=2)).save(path)
    if encoding == "palette":
        assert Image.open(path).mode == "P"
    mask = load_mask(path)
    assert mask.dtype == np.uint8
    np.testing.assert_array_equal(mask, blob)


@pytest.mark.parametrize(
    "values, match",
    [((0, 1, 2), "not binary.*0, 1, 2"), ((0, 1, 255), "not binary"), ((0, 128), "not binary.*0, 128"), ((3,), "not binary")],
)
def test_load_mask_rejects_non_binary(tmp_path, blob, values, match):
    m = np.full(blob.shape, values[0], np.uint8)
    for i, v in enumerate(values[1:], start=1):
        m[i, i] = v
    Image.fromarray(m).save(tmp_path / "bad.png")
    with pytest.raises(UserError, match=match) as err:
        load_mask(tmp_path / "bad.png")
    assert "bad.png" in str(err.value) and "\n" not in str(err.value)


def test_load_mask_rejects_colour_and_jpeg_noise(tmp_path, blob):
    colour = np.zeros((*blob.shape, 3), np.uint8)
    colour[..., 0] = blob * 255
    Image.fromarray(colour).save(tmp_path / "red.png")
    with pytest.raises(UserError, match="colour image"):
        load_mask(tmp_path / "red.png")
    noisy = np.random.default_rng(0).integers(0, 256, blob.shape).astype(np.uint8)
    Image.fromarray(noisy).save(tmp_path / "m.jpg", quality=50)
    with pytest.raises(UserError, match="m.jpg is not binary"):
        load_mask(tmp_path / "m.jpg")


def test_load_image_reads_rgb_from_grey_and_rgba(tmp_path):
    Image.fromarray(np.full((4, 6), 77, np.uint8)).save(tmp_path / "g.png")
    img = load_image(tmp_path / "g.png")
    assert img.shape == (4, 6, 3) and img.dtype == np.uint8 and (img == 77).all()
    Image.fromarray(np.full((4, 6, 4), 9, np.uint8)).save(tmp_path / "a.png")
    assert load_image(tmp_path / "a.png").shape == (4, 6, 3)


def test_load_image_errors_name_the_file(tmp_path):
    with pytest.raises(UserError, match=r"image not found: .*nope\.jpg"):
        load_image(tmp_path / "nope.jpg")
    (tmp_path / "text.jpg").write_text("not an image")
    with pytest.raises(UserError, match=r"cannot read image .*text\.jpg"):
        load_image(tmp_path / "text.jpg")
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(tmp_path / "full.png")
    data = (tmp_path / "full.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(UserError, match=r"cannot read image .*cut\.png"):
        load_image(tmp_path / "cut.png")
    with pytest.raises(UserError, match="not a file"):
        load_image(tmp_path)


def test_overlay_tints_only_the_foreground(blob):
    img = np.full((*blob.shape, 3), 100, np.uint8)
    out = np.asarray(overlay(img, blob))
    assert out.shape == img.shape
    np.testing.assert_array_equal(out[blob == 0], img[blob == 0])
    assert (out[blob == 1] != 100).any(axis=-1).all()
    with pytest.raises(UserError):
        overlay(img, blob[:-1])
