"""The fake graphs the runtime tests use follow the graph contract."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from helpers.fake_graphs import make_episode_graph, make_split_graphs, reference_logits


def test_fake_graphs_follow_the_contract(tmp_path):
    ort = pytest.importorskip("onnxruntime")
    episode = make_episode_graph(tmp_path / "m.onnx", img_size=8)
    support, query = make_split_graphs(episode, img_size=8)
    rng = np.random.default_rng(0)
    q = rng.standard_normal((2, 3, 8, 8)).astype(np.float32)
    s = rng.standard_normal((2, 3, 3, 8, 8)).astype(np.float32)
    m = (rng.random((2, 3, 8, 8)) > 0.5).astype(np.float32)
    run = lambda p, feed: ort.InferenceSession(str(p), providers=["CPUExecutionProvider"]).run(None, feed)  # noqa: E731
    logits, mask = run(episode, {"query_img": q, "support_imgs": s, "support_masks": m})
    assert logits.shape == (2, 3, 2, 8, 8) and mask.shape == (2, 8, 8) and mask.dtype == np.uint8
    np.testing.assert_allclose(logits, reference_logits(q, s, m), rtol=1e-5, atol=1e-5)
    c3, c2, c1 = run(support, {"support_imgs": s, "support_masks": m})
    assert c3.shape == (2, 3, 1, 1, 1, 1)
    split_logits, _ = run(query, {"query_img": q, "support_c3": c3, "support_c2": c2, "support_c1": c1})
    np.testing.assert_array_equal(split_logits, logits)
    meta = onnx.load(str(query)).metadata_props
    assert {p.key: p.value for p in meta}["hsnet_deploy.graph"] == "query"
