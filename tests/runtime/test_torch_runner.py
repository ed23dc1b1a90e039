"""TorchRunner: the PyTorch HSNet behind the Runner interface, and Segmenter on .pt files.

Small random-weight ResNet50 HSNets at 96x96 (a valid pyramid size) keep this quick."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("hsnet_deploy.hsnet.model", reason="the PyTorch model has not landed")

from hsnet_deploy.errors import UserError  # noqa: E402
from hsnet_deploy.runtime import (  # noqa: E402
    Segmenter,
    postprocess,
    preprocess_image,
    preprocess_mask,
)
from hsnet_deploy.runtime.pytorch.runner import TorchModelLoader, TorchRunner  # noqa: E402

S = 96


@pytest.fixture(scope="module")
def model():
    from hsnet_deploy.hsnet import HSNet, randomize_for_testing

    return randomize_for_testing(HSNet("resnet50"), seed=0).eval()


def _episode(seed, k=2):
    rng = np.random.default_rng(seed)
    shapes = [(70, 110)] + [(int(rng.integers(60, 130)), int(rng.integers(60, 130))) for _ in range(k)]
    images = [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for h, w in shapes]
    masks = []
    for h, w in shapes[1:]:
        yy, xx = np.mgrid[:h, :w]
        masks.append((((yy - h / 2) ** 2 + (xx - w / 3) ** 2) < (min(h, w) / 3) ** 2).astype(np.uint8))
    return images[0], images[1:], masks


def _direct_logits(model, query, supports, masks):
    """model(...) on the runtime's preprocessed tensors: the reference."""
    q = torch.from_numpy(preprocess_image(query, S))[None]
    s = torch.from_numpy(np.stack([preprocess_image(i, S) for i in supports]))[None]
    m = torch.from_numpy(np.stack([preprocess_mask(k, S) for k in masks]))[None]
    with torch.no_grad():
        return model(q, s, m)[0].numpy()  # (K, 2, S, S)


def test_torch_runner_graph_kinds_agree_with_the_model(model):
    loader = TorchModelLoader(model, device="cpu")
    query, supports, masks = _episode(0)
    want = _direct_logits(model, query, supports, masks)
    feed = {
        "query_img": preprocess_image(query, S)[None],
        "support_imgs": np.stack([preprocess_image(i, S) for i in supports])[None],
        "support_masks": np.stack([preprocess_mask(k, S) for k in masks])[None],
    }
    with TorchRunner(loader, graph="episode", img_size=S) as episode:
        assert episode.backend == "torch" and episode.metadata["hsnet_deploy.backbone"] == "resnet50"
        out = episode.infer(feed)
    np.testing.assert_allclose(out["logits"][0], want, rtol=1e-5, atol=1e-5)
    assert out["mask"].shape == (1, S, S) and out["mask"].dtype == np.uint8
    with TorchRunner(loader, graph="support_encoder", img_size=S) as enc, TorchRunner(loader, graph="query", img_size=S) as qry:
        features = enc.infer({k: feed[k] for k in ("support_imgs", "support_masks")})
        assert [features[n].ndim for n in ("support_c3", "support_c2", "support_c1")] == [6, 6, 6]
        split = qry.infer({"query_img": feed["query_img"], **features})
    np.testing.assert_allclose(split["logits"][0], want, rtol=1e-5, atol=1e-5)


def test_segmenter_on_a_checkpoint_file(model, tmp_path):
    path = tmp_path / "hsnet.pt"
    torch.save(model.state_dict(), path)
    query, supports, masks = _episode(1)
    want = postprocess(_direct_logits(model, query, supports, masks), query.shape[:2])
    with Segmenter.load(path, device="cpu", img_size=S) as seg:
        assert seg.backend == "torch" and seg.is_split and seg.img_size == S
        assert len(seg.metadata["hsnet_deploy.checkpoint_sha256"]) == 64
        seg.set_support(supports, masks)
        got = seg.segment(query)
    np.testing.assert_array_equal(got, want)


def test_bad_checkpoint_is_a_user_error(tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(UserError, match="bad.pt"):
        Segmenter.load(bad, device="cpu")
