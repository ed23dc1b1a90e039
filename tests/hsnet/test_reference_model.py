"""The reference model shipped in the package: stored learner + seeded backbone, checked
on load (fingerprint, weights' SHA-256), and one name for it wherever a checkpoint goes."""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")

from hsnet_deploy.errors import UserError  # noqa: E402
from hsnet_deploy.hsnet import reference_model  # noqa: E402
from hsnet_deploy.hsnet.reference_model import (  # noqa: E402
    info_path,
    load_reference,
    write_reference,
)


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


def _held_out_miou(model, size: int, episodes: int) -> float:
    """1-shot mIoU of ``model`` (eager, CPU) on held-out synthetic episodes at network side
    ``size``, the data generated at the record's synthetic size."""
    from hsnet_deploy.hsnet.data.synthetic import SyntheticFewShot
    from hsnet_deploy.hsnet.evaluation.evaluate import SegmenterPredictor, evaluate
    from hsnet_deploy.runtime import RuntimeOptions, Segmenter

    synthetic = int(reference_model.read_info().get("synthetic_size", size))
    dataset = SyntheticFewShot(seed=0, split="test", img_size=synthetic, shot=1, n_episodes=episodes)
    with Segmenter.from_models({"query": model}, "torch", RuntimeOptions(device="cpu", img_size=size)) as segmenter:
        return evaluate(SegmenterPredictor(segmenter), dataset, progress=False).miou


@pytest.fixture(scope="module")
def shipped():
    return reference_model.load_reference()


@pytest.mark.slow
def test_the_shipped_model_beats_the_untrained_learner_on_held_out_episodes(shipped):
    """Both scored here, on the same held-out synthetic episodes, at the recorded size."""
    from hsnet_deploy.hsnet.training.seeded_model import build_model

    assert reference_model.WEIGHTS.exists(), "the reference weights ship with the package"
    size = int(reference_model.read_info()["img_size"])
    scores = {name: _held_out_miou(model, size, episodes=12)
              for name, model in (("shipped", shipped), ("untrained", build_model("resnet50", 0).eval()))}
    assert scores["shipped"] > scores["untrained"] + 30, scores


# ---- the reference runs at the size it was trained at; its exports say which weights they hold
def _cli(*argv):
    from hsnet_deploy import cli

    return cli.main([str(a) for a in argv])


@pytest.mark.slow
def test_the_reference_runs_at_its_training_size_in_run_export_and_compare_both_orders(tmp_path, capsys):
    """Every command takes the recorded size unless told otherwise (the model shipped until
    2026-12 predicted nothing away from it), and compare agrees whichever side it is on."""
    import numpy as np
    from hsnet_deploy.hsnet.data.synthetic import SyntheticFewShot
    from PIL import Image

    size = int(reference_model.read_info()["img_size"])
    data = SyntheticFewShot(seed=0, split="test", img_size=size).write(tmp_path / "shapes", 2, progress=False)
    cls = sorted(data.iterdir())[0]
    assert _cli("run", "reference", "--query", cls / "001.jpg", "--support", cls / "000.jpg", "--mask", cls / "000.png",
                "-o", tmp_path / "p.png") == 0
    predicted, truth = np.asarray(Image.open(tmp_path / "p.png")) > 0, np.asarray(Image.open(cls / "001.png")) > 0
    assert f"img_size={size}" in capsys.readouterr().out
    assert (predicted & truth).sum() / (predicted | truth).sum() > 0.5

    assert _cli("export", "--checkpoint", "reference", "-o", tmp_path / "ref.onnx", "--quiet") == 0  # no --img-size
    assert f"{size}x{size}" in capsys.readouterr().out
    for a, b in (("reference", tmp_path / "ref.onnx"), (tmp_path / "ref.onnx", "reference")):
        assert _cli("compare", a, b, "--episodes", "2", "--quiet") == 0, capsys.readouterr().err
        assert "mask    agreement 100.0000 %" in capsys.readouterr().out


@pytest.mark.slow
def test_an_in_memory_export_records_the_weights_it_holds(tmp_path):
    """export_split(load_hsnet("reference")) records the reference digest, so a support encoder
    of other weights cannot be paired with its query graph; changed weights read "random"."""
    import onnx
    from hsnet_deploy.export import export_split
    from hsnet_deploy.hsnet import load_hsnet, randomize_for_testing
    from hsnet_deploy.runtime.model_files import resolve_model_files

    def digest(path):
        return {p.key: p.value for p in onnx.load(str(path), load_external_data=False).metadata_props}["hsnet_deploy.checkpoint_sha256"]

    model = load_hsnet(checkpoint="reference")
    ref = export_split(model, tmp_path / "ref.onnx", img_size=64, kinds=("support_encoder", "query"))
    assert digest(ref["query"]) == reference_model.read_info()["weights_sha256"]
    randomize_for_testing(model.hpn_learner, seed=1)  # no longer the shipped weights
    other = export_split(model, tmp_path / "other.onnx", img_size=64, kinds=("support_encoder",))
    assert digest(other["support_encoder"]) == "random"
    other["support_encoder"].replace(ref["support_encoder"])  # pair a foreign support encoder with the query graph
    with pytest.raises(UserError, match="come from different exports .checkpoint_sha256"):
        resolve_model_files(ref["query"])


# ---- the reference segments at every size users export, not only where it was trained
@pytest.mark.parametrize("size", [200, 400])
def test_the_shipped_weights_segment_held_out_classes_at_two_sizes(shipped, size):
    """A floor well under the 1000-episode figures (README) but far above a blank model (0)."""
    assert _held_out_miou(shipped, size, episodes=6) > 40


@pytest.mark.slow
def test_the_fp32_export_at_the_default_size_predicts_foreground(tmp_path):
    """The blank-mask guard: exported at the size export picks by itself, the FP32 graphs
    find foreground in every held-out query, about as much as there is."""
    import numpy as np
    from hsnet_deploy.hsnet.data.synthetic import SyntheticFewShot
    from hsnet_deploy.runtime import RuntimeOptions, Segmenter

    assert _cli("export", "--checkpoint", "reference", "--split", "-o", tmp_path / "ref.onnx", "--quiet") == 0
    size = int(reference_model.read_info()["img_size"])
    synthetic = int(reference_model.read_info().get("synthetic_size", size))
    dataset = SyntheticFewShot(seed=0, split="test", img_size=synthetic, shot=1, n_episodes=5)
    predicted, truth = [], []
    with Segmenter.load(tmp_path / "ref.onnx", options=RuntimeOptions(img_size=size)) as segmenter:
        assert segmenter.img_size == size
        for i in range(len(dataset)):
            ep = dataset.episode(i)
            mask = segmenter.segment(ep.query_image, ep.support_images, ep.support_masks)
            predicted.append(float(mask.mean()))
            truth.append(float((ep.query_mask == 1).mean()))
    assert all(p > 0.25 * t for p, t in zip(predicted, truth)), (predicted, truth)
    assert 0.5 < np.sum(predicted) / np.sum(truth) < 2, (predicted, truth)
