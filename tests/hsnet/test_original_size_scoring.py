"""use_original_imgsize=True: each shot's logits are resized bilinearly (align_corners=True)
to the query's original size and *then* voted. Voting at the network size and upsampling
the mask (nearest) gives a different boundary; the test's logits make the two orders
disagree, and the expected prediction is computed here from an independent resize
(torch.nn.functional.interpolate, or an explicit numpy formula) and the vote rule."""

from __future__ import annotations

import numpy as np
import pytest
from hsnet_deploy.hsnet.data.episode import Episode
from hsnet_deploy.hsnet.evaluation.evaluate import predict_and_truth

S = 8
H, W = 13, 21


def bilinear_align_corners(x: np.ndarray, h: int, w: int) -> np.ndarray:
    """(..., s, t) -> (..., h, w), align_corners=True, in float64: out(i, j) samples the input
    at (i (s-1)/(h-1), j (t-1)/(w-1)) with the four-neighbour bilinear weights."""
    s, t = x.shape[-2:]
    ys, xs = np.arange(h) * (s - 1) / (h - 1), np.arange(w) * (t - 1) / (w - 1)
    y0, x0 = np.floor(ys).astype(int), np.floor(xs).astype(int)
    y1, x1 = np.minimum(y0 + 1, s - 1), np.minimum(x0 + 1, t - 1)
    ly, lx = (ys - y0)[:, None], (xs - x0)[None, :]
    a = x[..., y0[:, None], x0[None, :]]
    b = x[..., y0[:, None], x1[None, :]]
    c = x[..., y1[:, None], x0[None, :]]
    d = x[..., y1[:, None], x1[None, :]]
    return (1 - ly) * ((1 - lx) * a + lx * b) + ly * ((1 - lx) * c + lx * d)


def vote(logits: np.ndarray) -> np.ndarray:
    """(K, 2, h, w) -> (h, w): argmax per shot (tie = background), 2 v >= max(max v, 1)."""
    votes = (logits[:, 1] > logits[:, 0]).sum(axis=0)
    return (2 * votes >= max(int(votes.max()), 1)).astype(np.uint8)


def ramp_logits() -> np.ndarray:
    """(K=3, 2, 8, 8): shot 0's foreground margin is a ramp in x crossing 0 at x = 3.3,
    shot 1's a ramp in y crossing 0 at y = 4.6, shot 2's a diagonal ramp; background 0."""
    yy, xx = np.mgrid[0:S, 0:S].astype(np.float64)
    margins = [xx - 3.3, 4.6 - yy, (xx + yy) - 7.4]
    z = np.zeros((3, 2, S, S), np.float32)
    for k, m in enumerate(margins):
        z[k, 1] = m
    return z


def episode(h, w) -> Episode:
    label = np.zeros((h, w), np.uint8)
    label[:, w // 2:] = 1
    label[0, 0] = 255
    img = np.zeros((h, w, 3), np.uint8)
    return Episode(img, label, [img] * 3, [np.ones((h, w), np.uint8)] * 3, 0, "q", ["s0", "s1", "s2"])


def test_original_size_resizes_logits_then_votes():
    torch = pytest.importorskip("torch")
    from torch.nn import functional as F

    logits = ramp_logits()
    ep = episode(H, W)
    pred, truth = predict_and_truth(logits, ep, use_original_imgsize=True)

    resized = F.interpolate(torch.from_numpy(logits), size=(H, W), mode="bilinear", align_corners=True).double().numpy()
    explicit = bilinear_align_corners(logits.astype(np.float64), H, W)
    np.testing.assert_allclose(resized, explicit, atol=1e-5)  # the two references agree
    margin = resized[:, 1] - resized[:, 0]
    assert np.abs(margin).min() > 1e-3  # no pixel is a near-tie: the expectation is robust to rounding
    want = vote(resized)

    # The wrong order (vote at 8x8, nearest-upsample the mask) differs from it here.
    from hsnet_deploy.runtime.preprocess import nearest_indices

    small = vote(logits)
    wrong = small[nearest_indices(S, H)[:, None], nearest_indices(S, W)[None, :]]
    assert (wrong != want).sum() >= 5

    assert pred.shape == truth.shape == (H, W)
    assert np.array_equal(pred, want), f"{int((pred != want).sum())} pixels differ from resize-then-vote"
    assert np.array_equal(truth, ep.query_mask)


def test_original_size_boundary_by_hand_one_shot():
    """K = 1, a ramp in x crossing 0 at x = 3.3 on 8 columns, resized to 21 columns: output
    column j samples x = 0.35 j, so columns j >= 10 (x = 3.5) are foreground; voting first
    would put the boundary at input column 4, i.e. output column 11 (nearest: floor(8 j / 21))."""
    z = np.zeros((1, 2, S, S), np.float32)
    z[0, 1] = np.arange(S, dtype=np.float32)[None, :] - 3.3
    pred, _ = predict_and_truth(z, episode(H, W), use_original_imgsize=True)
    want = np.zeros((H, W), np.uint8)
    want[:, 10:] = 1
    assert np.array_equal(pred, want), pred[0].tolist()
