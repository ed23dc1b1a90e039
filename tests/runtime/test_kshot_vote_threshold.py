"""The K-shot vote's threshold, v / V >= 0.5 (i.e. 2 v >= V), in all three forms of
runtime/kshot_vote.py, written side by side there:

    kshot_vote         numpy, (K, 2, h, w) -> (h, w) uint8
    kshot_vote_torch   torch, (B, K, 2, H, W) -> (B, H, W) int64 (the model's)
    kshot_vote_graph   the in-graph vote (torch ops traced into the ONNX graphs), also
                       exported on its own and run in onnxruntime

The inputs put vote ratios on both sides of the threshold and right at it: 1.0, 0.6,
0.556 (5/9), 0.5 exactly (5/10, 4/8, 1/2), 0.444 (4/9), 0.4 (4/10, 2/5), 0.375 (3/8).
A pixel's shots that do not vote foreground alternate between a background logit and a
tie (a tie is background). The expected masks come from the counts the test put in and
the rule written out, never from the code under test.
"""

from __future__ import annotations

import numpy as np
import pytest
from hsnet_deploy.runtime.kshot_vote import kshot_vote as numpy_vote

# Per image: the foreground vote count of each pixel (H = 2, W = 5).
K = 10
VOTE_COUNTS = np.array([
    [[10, 6, 5, 4, 0], [1, 3, 7, 2, 8]],  # V = 10: 0.6 and 0.5 fg, 0.4 bg, 0.3 / 0.2 / 0.1 bg
    [[9, 5, 4, 0, 1], [2, 3, 6, 4, 5]],  # V = 9: 5/9 = 0.556 fg, 4/9 = 0.444 bg
    [[8, 4, 3, 0, 1], [2, 5, 4, 3, 6]],  # V = 8: 4/8 = 0.5 fg, 3/8 = 0.375 bg
    [[5, 3, 2, 0, 1], [2, 3, 4, 0, 5]],  # V = 5: 3/5 = 0.6 fg, 2/5 = 0.4 bg
    [[2, 1, 0, 0, 1], [0, 2, 1, 0, 0]],  # V = 2: 1/2 = 0.5 fg
    [[0, 0, 0, 0, 0], [0, 0, 0, 0, 0]],  # nobody votes: V clamps to 1, empty mask
    [[1, 0, 0, 1, 0], [0, 0, 1, 0, 0]],  # V = 1: every voted pixel
])
# The rule written out by hand for the first rows (ratio >= 0.5 is foreground).
HAND_MASKS = {
    0: [[1, 1, 1, 0, 0], [0, 0, 1, 0, 1]],
    1: [[1, 1, 0, 0, 0], [0, 0, 1, 0, 1]],
    2: [[1, 1, 0, 0, 0], [0, 1, 1, 0, 1]],
    3: [[1, 1, 0, 0, 0], [0, 1, 1, 0, 1]],
    4: [[1, 1, 0, 0, 1], [0, 1, 1, 0, 0]],
    5: [[0, 0, 0, 0, 0], [0, 0, 0, 0, 0]],
    6: [[1, 0, 0, 1, 0], [0, 0, 1, 0, 0]],
}


def logits_for_counts(counts: np.ndarray, k: int) -> np.ndarray:
    """counts (B, H, W) in 0..k -> logits (B, k, 2, H, W) float32 whose per-shot argmax
    (a tie being background) gives exactly counts[b, y, x] foreground shots. Which shots
    vote rotates from pixel to pixel; non-voting shots alternate background / tie."""
    b, h, w = counts.shape
    z = np.zeros((b, k, 2, h, w), np.float32)
    rng = np.random.default_rng(0)
    for i in range(b):
        for y in range(h):
            for x in range(w):
                order = np.roll(np.arange(k), (3 * y + x + i) % k)
                for rank, shot in enumerate(order):
                    base = rng.uniform(-2.0, 2.0)
                    if rank < counts[i, y, x]:
                        z[i, shot, :, y, x] = (base, base + rng.uniform(0.1, 3.0))  # foreground wins
                    elif rank % 2:
                        z[i, shot, :, y, x] = (base, base)  # a tie: background
                    else:
                        z[i, shot, :, y, x] = (base + rng.uniform(0.1, 3.0), base)  # background wins
    return z


def rule_mask(counts: np.ndarray) -> np.ndarray:
    """(B, H, W) vote counts -> (B, H, W) uint8: 2 v >= V, V = max(max v, 1) per image."""
    out = np.zeros(counts.shape, np.uint8)
    for i, c in enumerate(counts):
        v_max = max(int(c.max()), 1)
        out[i] = (2 * c >= v_max)
    return out


@pytest.fixture(scope="module")
def cases():
    """(logits (B, K, 2, H, W), expected mask (B, H, W)) for K = 10, and for K = 9."""
    z10 = logits_for_counts(VOTE_COUNTS, K)
    counts9 = np.array([[[9, 5, 4, 0, 8], [1, 2, 3, 6, 7]], [[4, 2, 1, 0, 3], [0, 1, 2, 3, 4]]])  # V = 9; V = 4
    z9 = logits_for_counts(counts9, 9)
    for z, c in ((z10, VOTE_COUNTS), (z9, counts9)):  # the logits say what the test meant
        assert np.array_equal((z[:, :, 1] > z[:, :, 0]).sum(axis=1), c)
    return [(z10, rule_mask(VOTE_COUNTS)), (z9, rule_mask(counts9))]


def test_the_expected_masks_are_the_rule_at_threshold_one_half(cases):
    assert {i: m.tolist() for i, m in enumerate(cases[0][1])} == HAND_MASKS
    assert cases[1][1].tolist() == [[[1, 1, 0, 0, 1], [0, 0, 0, 1, 1]], [[1, 1, 0, 0, 1], [0, 0, 1, 1, 1]]]


def test_runtime_numpy_vote_threshold(cases):
    for logits, want in cases:
        for z, m in zip(logits, want):
            got = numpy_vote(z)
            assert got.dtype == np.uint8
            assert np.array_equal(got, m), f"got {got.tolist()}, want {m.tolist()} for votes {(z[:, 1] > z[:, 0]).sum(0).tolist()}"


@pytest.mark.parametrize("module, function, dtype", [
    ("hsnet_deploy.runtime.kshot_vote", "kshot_vote_torch", "int64"),  # the model's vote
    ("hsnet_deploy.runtime.kshot_vote", "kshot_vote_graph", "uint8"),  # the vote traced into the graphs
])
def test_torch_votes_threshold(cases, module, function, dtype):
    torch = pytest.importorskip("torch")
    import importlib

    vote = getattr(importlib.import_module(module), function)
    for logits, want in cases:
        got = vote(torch.from_numpy(logits))
        assert got.dtype == getattr(torch, dtype)
        assert np.array_equal(got.numpy(), want), f"got {got.tolist()}, want {want.tolist()}"


def test_exported_vote_threshold_in_onnxruntime(cases, tmp_path):
    """vote_mask traced the way the exporter traces it, run by onnxruntime: the graph's
    GreaterOrEqual / ReduceMax / Clip do what the rule says."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    import warnings

    from hsnet_deploy.runtime.kshot_vote import kshot_vote_graph as vote_mask

    class Vote(torch.nn.Module):
        def forward(self, logits):
            return vote_mask(logits)

    path = tmp_path / "vote.onnx"
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(Vote(), (torch.from_numpy(cases[0][0]),), str(path), dynamo=False, opset_version=17,
                          input_names=["logits"], output_names=["mask"],
                          dynamic_axes={"logits": {0: "batch", 1: "shots"}, "mask": {0: "batch"}})
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for logits, want in cases:
        (got,) = sess.run(None, {"logits": logits})
        assert got.dtype == np.uint8
        assert np.array_equal(got, want), f"got {got.tolist()}, want {want.tolist()}"
