"""The hypercorrelation's ReLU: C = ReLU(cos(F_q(xa), F_s(xb))).

Random-weight backbones give non-negative features, so no exported or PyTorch model in
the other tests ever has a negative cosine to clamp. Here the features are built by hand
with signed values, so that many query/support pairs have a negative cosine similarity;
the expectation is a brute-force float64 loop over every pair, written from the formula
x̂ = x / (‖x‖₂ + 1e-5), C = max(x̂_q · x̂_s, 0).
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from hsnet_deploy.hsnet.correlation import (  # noqa: E402
    l2_normalize_channels,
    level_correlation,
    mask_and_normalize,
)


def unit(x: np.ndarray) -> np.ndarray:
    """x (C,) float64 -> x / (‖x‖ + 1e-5)."""
    return x / (np.sqrt((x * x).sum()) + 1e-5)


def brute_force_correlation(query: np.ndarray, support: np.ndarray) -> np.ndarray:
    """query (B, L, C, Ha, Wa), support (B, K, L, C, Hb, Wb), both raw (not normalised)
    -> (B*K, L, Ha, Wa, Hb, Wb): the clamped cosine of every pair, in float64."""
    b, layers, _, ha, wa = query.shape
    k, hb, wb = support.shape[1], support.shape[-2], support.shape[-1]
    out = np.zeros((b, k, layers, ha, wa, hb, wb))
    for i in range(b):
        for s in range(k):
            for l in range(layers):
                for ya in range(ha):
                    for xa in range(wa):
                        qv = unit(query[i, l, :, ya, xa])
                        for yb in range(hb):
                            for xb in range(wb):
                                cos = float(qv @ unit(support[i, s, l, :, yb, xb]))
                                out[i, s, l, ya, xa, yb, xb] = max(cos, 0.0)
    return out.reshape(b * k, layers, ha, wa, hb, wb)


def signed_features(seed: int, shape) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape)


def cosines(query: np.ndarray, support: np.ndarray) -> np.ndarray:
    """The unclamped cosines, same layout as brute_force_correlation (vectorised)."""
    qn = query / (np.linalg.norm(query, axis=2, keepdims=True) + 1e-5)
    sn = support / (np.linalg.norm(support, axis=3, keepdims=True) + 1e-5)
    cos = np.einsum("blcij,bklcmn->bklijmn", qn, sn)
    b, k = support.shape[:2]
    return cos.reshape(b * k, *cos.shape[2:])


def test_level_correlation_clamps_negative_cosines_to_exactly_zero():
    b, k, layers, ch = 2, 3, 2, 5
    query = signed_features(0, (b, layers, ch, 3, 2))  # (B, L, C, Ha, Wa)
    support = signed_features(1, (b, k, layers, ch, 2, 4))  # (B, K, L, C, Hb, Wb)
    # One support position is the negated query vector: cosine exactly -1 (~), and one the
    # query itself: cosine 1 (~).
    support[0, 0, 0, :, 0, 0] = -query[0, 0, :, 0, 0]
    support[0, 0, 0, :, 0, 1] = 2.0 * query[0, 0, :, 0, 0]
    raw = cosines(query, support)
    assert (raw < -0.05).mean() > 0.3 and (raw > 0.05).mean() > 0.3  # both signs, plenty of each

    q = l2_normalize_channels(torch.from_numpy(query).float().reshape(b * layers, ch, 3, 2)).reshape(b, layers, ch, 3, 2)
    s = l2_normalize_channels(torch.from_numpy(support).float().reshape(b * k * layers, ch, 2, 4)).reshape(b, k, layers, ch, 2, 4)
    got = level_correlation(q, s).double().numpy()
    want = brute_force_correlation(query, support)
    assert got.shape == (b * k, layers, 3, 2, 2, 4)
    negative = raw < 0
    assert np.all(got[negative] == 0.0), (f"{int((got[negative] != 0).sum())} of {int(negative.sum())} negative-cosine pairs "
                                          f"not clamped to 0 (values down to {got[negative].min():.3g})")
    assert np.all(got >= 0.0)
    np.testing.assert_allclose(got, want, atol=1e-6, rtol=0)
    np.testing.assert_allclose(got[~negative], raw[~negative], atol=1e-6, rtol=0)
    assert got[0, 0, 0, 0, 0, 0] == 0.0 and got[0, 0, 0, 0, 0, 1] == pytest.approx(1.0, abs=1e-5)


def test_masked_support_pipeline_zero_where_masked_or_anticorrelated():
    """mask_and_normalize + l2_normalize_channels + level_correlation (the model's path from
    features to C) on signed features: masked-out support positions give 0, negative
    cosines give 0, positive ones the cosine of the masked support feature."""
    layers, ch, size = 1, 4, 4
    feat_q = signed_features(2, (1, ch, size, size))
    feat_s = signed_features(3, (1, ch, size, size))
    mask = np.zeros((1, 8, 8), dtype=np.float32)  # image-size mask, resized to the 4x4 features
    mask[0, :, :4] = 1.0  # left half of the support is the object
    q = l2_normalize_channels(torch.from_numpy(feat_q).float()).reshape(1, layers, ch, size, size)
    s = mask_and_normalize(torch.from_numpy(feat_s).float(), torch.from_numpy(mask)).reshape(1, 1, layers, ch, size, size)
    got = level_correlation(q, s).double().numpy()[0, 0]  # (Ha, Wa, Hb, Wb)

    from hsnet_deploy.hsnet.mask_resize import resize_masks

    m = resize_masks(torch.from_numpy(mask), (size, size)).double().numpy()[0]  # (4, 4), as the model resizes
    masked = feat_s[0] * m[None]  # (C, Hb, Wb)
    raw = cosines(feat_q[:, None], masked[None, None, None])[0, 0]
    want = brute_force_correlation(feat_q[:, None], masked[None, None, None])[0, 0]
    assert (raw < -0.05).any() and (raw > 0.05).any()
    np.testing.assert_allclose(got, want, atol=1e-6, rtol=0)
    assert np.all(got[raw < 0] == 0.0)
    assert np.all(got[..., m == 0] == 0.0) and (m == 0).any()
