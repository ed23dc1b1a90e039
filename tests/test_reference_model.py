"""The reference model shipped in the package: stored learner + seeded backbone, checked
on load (fingerprint, weights' SHA-256), and one name for it wherever a checkpoint goes."""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")

from hsnet_deploy.errors import UserError  # noqa: E402
from hsnet_deploy.hsnet import reference_model  # noqa: E402
from hsnet_deploy.hsnet.reference_model import info_path, load_reference, write_reference  # noqa: E402


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    """A seeded model with a perturbed learner, stored the shipped way."""
    from hsnet_deploy.hsnet.training.seeded_model import build_model

    model = build_model("resnet50", seed=0).eval()
    with torch.no_grad():
        for p in model.hpn_learner.parameters():
            p.add_(0.01 * torch.randn_like(p))
    path = tmp_path_factory.mktemp("ref") / "w.npz"
    write_reference(model, path, extra={"seed": 0, "img_size": 96})
    return model, path


def test_stored_learner_rebuilds_the_model(stored):
    model, path = stored
    loaded = load_reference(path)
    own, back = model.state_dict(), loaded.state_dict()
    for k, v in own.items():
        want = v.half().float() if k.startswith("hpn_learner.") else v  # float16 storage
        assert torch.equal(back[k], want), k
    assert loaded.reference_info["img_size"] == 96 and path.stat().st_size < 8 * 2**20


def test_tampered_fingerprint_and_truncated_weights_are_one_line(stored, tmp_path):
    _, path = stored
    info = json.loads(info_path(path).read_text())
    bad = tmp_path / "w.npz"
    bad.write_bytes(path.read_bytes())
    info_path(bad).write_text(json.dumps({**info, "backbone_sha256": "0" * 64}))
    with pytest.raises(UserError, match="differs from the one the reference model was trained") as err:
        load_reference(bad)
    assert "\n" not in str(err.value)
    info_path(bad).write_text(json.dumps(info))
    bad.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(UserError, match="altered or truncated"):
        load_reference(bad)
    bad.unlink()
    with pytest.raises(UserError, match="files are missing"):
        load_reference(bad)


def test_the_shipped_reference_loads_under_its_one_name():
    from hsnet_deploy.hsnet import load_hsnet
    from hsnet_deploy.runtime.model_files import resolve_model_files

    assert reference_model.WEIGHTS.exists(), "the reference weights ship with the package"
    model = load_hsnet(checkpoint="reference")
    assert model.backbone_name == "resnet50" and not model.training
    assert resolve_model_files("reference").backend == "torch"
    with pytest.raises(UserError, match="resnet50 HSNet with its own seeded backbone"):
        load_hsnet(backbone="vgg16", checkpoint="reference")
    info = reference_model.read_info()
    assert info["img_size"] >= 200 and "not for real photographs" in info["what"]


def test_the_shipped_model_beats_the_untrained_learner_on_held_out_episodes():
    """Both scored here, on the same held-out synthetic episodes, at the shipped size."""
    from hsnet_deploy.hsnet.data.synthetic import SyntheticFewShot
    from hsnet_deploy.hsnet.evaluation.evaluate import SegmenterPredictor, evaluate
    from hsnet_deploy.hsnet.training.seeded_model import build_model
    from hsnet_deploy.runtime import RuntimeOptions, Segmenter

    assert reference_model.WEIGHTS.exists(), "the reference weights ship with the package"
    size = int(reference_model.read_info()["img_size"])
    dataset = SyntheticFewShot(seed=0, split="test", img_size=size, shot=1, n_episodes=12)
    scores = {}
    for name, model in (("shipped", reference_model.load_reference()), ("untrained", build_model("resnet50", 0).eval())):
        options = RuntimeOptions(device="cpu", img_size=size)
        with Segmenter.from_models({"query": model}, "torch", options) as segmenter:
            scores[name] = evaluate(SegmenterPredictor(segmenter), dataset, progress=False).miou
    assert scores["shipped"] > scores["untrained"] + 30, scores
