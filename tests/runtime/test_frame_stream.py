"""Segmenter.stream: the masks of the frame-by-frame path, in order, lazily, with errors
at the frame that caused them and the worker shut down when the consumer stops."""

from __future__ import annotations

import threading

import numpy as np
import pytest

pytest.importorskip("onnxruntime")

from helpers.fake_graphs import make_episode_graph, make_split_graphs  # noqa: E402
from hsnet_deploy.errors import UserError  # noqa: E402
from hsnet_deploy.runtime import Segmenter  # noqa: E402


@pytest.fixture
def segmenter(tmp_path):
    path = make_episode_graph(tmp_path / "m.onnx", img_size=16)
    make_split_graphs(path, img_size=16)
    rng = np.random.default_rng(0)
    supports = [rng.integers(0, 255, (20, 24, 3), dtype=np.uint8) for _ in range(2)]
    masks = [np.zeros((20, 24), np.uint8) for _ in range(2)]
    for m in masks:
        m[4:16, 3:12] = 1
    with Segmenter.load(path, device="cpu") as seg:
        seg.set_support(supports, masks)
        yield seg


def _frames(n, seed=1):
    rng = np.random.default_rng(seed)
    return [np.clip(np.linspace(0, 255, 22)[None, :, None] + rng.normal(0, 60, (18 + i % 3, 22, 3)), 0, 255).astype(np.uint8) for i in range(n)]


@pytest.mark.parametrize("prefetch", [0, 1, 3])
def test_stream_equals_frame_by_frame(segmenter, prefetch):
    frames = _frames(7)
    want = [segmenter.segment(f) for f in frames]
    assert len({w.tobytes() for w in want}) > 1  # the frames really differ
    got = list(segmenter.stream(iter(frames), prefetch=prefetch))
    assert len(got) == len(want)
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)


def test_stream_reads_lazily_and_stops_cleanly(segmenter):
    pulled = []

    def camera():
        for i, frame in enumerate(_frames(50)):
            pulled.append(i)
            yield frame

    stream = segmenter.stream(camera(), prefetch=2)
    first = [next(stream) for _ in range(3)]
    assert len(first) == 3 and max(pulled) <= 3 + 2  # never more than `prefetch` frames ahead
    stream.close()  # the consumer stops: the worker thread ends
    assert not any(t.name.startswith("hsnet-preprocess") and t.is_alive() for t in threading.enumerate())


def test_stream_errors(segmenter, tmp_path):
    frames = _frames(3)
    frames.insert(2, np.zeros((5, 5), np.float64))  # not an image
    stream = segmenter.stream(frames, prefetch=1)
    assert len([next(stream), next(stream)]) == 2  # the frames before it come out
    with pytest.raises(UserError):
        next(stream)
    with pytest.raises(UserError, match="prefetch"):
        next(segmenter.stream(frames, prefetch=-1))
    with Segmenter.load(tmp_path / "m.onnx", device="cpu") as fresh:
        with pytest.raises(UserError, match="no support set"):
            next(fresh.stream(_frames(1)))


@pytest.mark.parametrize("prefetch", [0, 1, 3])
def test_a_breaking_source_raises_after_every_earlier_mask(segmenter, prefetch):
    """A camera or video that breaks at frame 4 (the iterator itself raises): masks 0-3
    still come out, equal to the frame-by-frame path, and then its error."""
    frames = _frames(6)

    def breaking_camera():
        yield from frames[:4]
        raise UserError("camera stopped")

    got = []
    with pytest.raises(UserError, match="camera stopped"):
        for mask in segmenter.stream(breaking_camera(), prefetch=prefetch):
            got.append(mask)
    assert len(got) == 4
    for g, f in zip(got, frames):
        np.testing.assert_array_equal(g, segmenter.segment(f))
