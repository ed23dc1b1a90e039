"""hsnet-deploy eval: metric wiring on hand-built episodes, end to end on a .pt model, errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hsnet_deploy.cli import main
from hsnet_deploy.errors import UserError
from hsnet_deploy.hsnet.data.episode import Episode
from hsnet_deploy.hsnet.evaluation.evaluate import (
    evaluate,
    network_size_label,
    predict_and_truth,
)
from hsnet_deploy.hsnet.evaluation.metrics import MIoUAccumulator


class ListDataset:
    """A few hand-made episodes with the dataset interface evaluate() uses."""

    benchmark = "handmade"

    def __init__(self, episodes, class_ids, shot):
        self.episodes, self.class_ids, self.shot = episodes, class_ids, shot

    def __len__(self):
        return len(self.episodes)

    def episode(self, n):
        return self.episodes[n]


def handmade_dataset(shot=2, seed=0):
    """Non-square queries with ignore pixels (255), three classes, one never seen."""
    rng = np.random.RandomState(seed)
    episodes = []
    for n, (h, w, cls) in enumerate([(50, 70, 3), (41, 33, 5), (64, 64, 3), (37, 90, 5)]):
        label = (rng.rand(h, w) < 0.3).astype(np.uint8)
        label[rng.rand(h, w) < 0.1] = 255
        supports = [rng.randint(0, 256, (30, 40, 3), dtype=np.uint8) for _ in range(shot)]
        masks = [np.pad(np.ones((10, 10), np.uint8), 10)[:30, :40] for _ in range(shot)]
        episodes.append(Episode(rng.randint(0, 256, (h, w, 3), dtype=np.uint8), label, supports, masks,
                                cls, f"q{n}", [f"s{n}{k}" for k in range(shot)]))
    return ListDataset(episodes, class_ids=[3, 5, 7], shot=shot)


class FixedPredictor:
    """Per-shot logits chosen by a function of the episode (network size S)."""

    def __init__(self, make, img_size=32, shots=None):
        self.make, self.img_size, self.shots = make, img_size, shots

    def network_logits(self, episode):
        return self.make(episode, self.img_size)


def oracle(episode, size):
    truth = network_size_label(episode.query_mask, size) == 1  # (S, S)
    one = np.stack([~truth, truth]).astype(np.float32)  # (2, S, S)
    return np.stack([one] * len(episode.support_images))  # (K, 2, S, S)


def constant(foreground: bool):
    def make(episode, size):
        z = np.zeros((len(episode.support_images), 2, size, size), np.float32)
        z[:, 1 if foreground else 0] = 1.0
        return z
    return make


def test_network_size_label_keeps_the_ignore_label():
    label = np.array([[0, 1, 255, 1], [1, 255, 0, 0]], np.uint8)
    out = network_size_label(label, 8)
    assert set(np.unique(out)) == {0, 1, 255}
    # PyTorch legacy nearest: output pixel i reads input floor(i * n_in / n_out)
    assert out[0].tolist() == [0, 0, 1, 1, 255, 255, 1, 1] and out[7, 0] == 1


def test_oracle_scores_100():
    ds = handmade_dataset(shot=3)
    result = evaluate(FixedPredictor(oracle), ds, progress=False)
    # Class 7 has no episode: the official mean still runs over it (IoU 0).
    assert result.summary["class_iou"] == {"3": 100.0, "5": 100.0, "7": 0.0}
    assert result.fbiou == 100.0 and result.episodes == 4


def test_empty_prediction_by_hand_at_network_and_original_size():
    ds = handmade_dataset(shot=1)
    for original in (False, True):
        result = evaluate(FixedPredictor(constant(False)), ds, use_original_imgsize=original, progress=False)
        labels = [e.query_mask if original else network_size_label(e.query_mask, 32) for e in ds.episodes]
        valid = sum(int((y != 255).sum()) for y in labels)
        background = sum(int((y == 0).sum()) for y in labels)
        assert result.miou == 0.0
        assert result.fbiou == pytest.approx(50.0 * background / valid)


def test_all_foreground_is_scored_at_the_requested_size():
    ds = handmade_dataset(shot=1)
    for original in (False, True):
        result = evaluate(FixedPredictor(constant(True)), ds, use_original_imgsize=original, progress=False)
        expect = {}
        for cls in (3, 5):
            labels = [e.query_mask if original else network_size_label(e.query_mask, 32)
                      for e in ds.episodes if e.class_id == cls]
            expect[str(cls)] = 100.0 * sum(int((y == 1).sum()) for y in labels) / sum(int((y != 255).sum()) for y in labels)
        got = result.summary["class_iou"]
        assert got["3"] == pytest.approx(expect["3"]) and got["5"] == pytest.approx(expect["5"])
        assert result.miou == pytest.approx((expect["3"] + expect["5"]) / 3)


def test_kshot_vote_and_original_size_resize_in_predict_and_truth():
    rng = np.random.RandomState(1)
    ep = handmade_dataset(shot=5).episodes[0]
    logits = rng.randn(5, 2, 32, 32).astype(np.float32)
    pred, truth = predict_and_truth(logits, ep, use_original_imgsize=True)
    assert pred.shape == truth.shape == ep.query_mask.shape
    pred, truth = predict_and_truth(logits, ep, use_original_imgsize=False)
    votes = (logits[:, 1] > logits[:, 0]).sum(0)
    assert np.array_equal(pred, (2 * votes >= max(votes.max(), 1)).astype(np.uint8))
    assert np.array_equal(truth, network_size_label(ep.query_mask, 32))


def test_fixed_k_model_refuses_other_k():
    with pytest.raises(UserError, match="exported for 5-shot episodes but --nshot is 1"):
        evaluate(FixedPredictor(oracle, shots=5), handmade_dataset(shot=1), progress=False)


# ----------------------------------------------------------------- end to end, .pt


@pytest.fixture(scope="module")
def small_checkpoint(tmp_path_factory):
    pytest.importorskip("torch")
    from hsnet_deploy.hsnet import HSNet, randomize_for_testing
    from hsnet_deploy.hsnet.checkpoint import save_official_checkpoint

    model = randomize_for_testing(HSNet("resnet50"), 3).eval()
    path = tmp_path_factory.mktemp("eval") / "random.pt"
    save_official_checkpoint(model, path)
    return model, path


def test_eval_pt_end_to_end_matches_direct_model(small_checkpoint, tmp_path, capsys):
    import torch
    from hsnet_deploy.hsnet.data.synthetic import SyntheticFewShot
    from hsnet_deploy.runtime.preprocess import preprocess_image, preprocess_mask
    from PIL import Image

    model, path = small_checkpoint
    out_json, out_png = tmp_path / "eval.json", tmp_path / "grid.png"
    rc = main(["eval", str(path), "--benchmark", "synthetic", "--nshot", "2", "--episodes", "5",
               "--img-size", "64", "--synthetic-size", "48", "--device", "cpu", "--json", str(out_json),
               "--grid", str(out_png), "--grid-episodes", "2", "--quiet"])
    assert rc == 0
    report = json.loads(out_json.read_text())
    assert report["episodes"] == 5 and report["config"]["nshot"] == 2
    assert report["config"]["class_ids"] == list(range(20, 30))
    assert report["model"]["backend"] == "torch" and report["model"]["img_size"] == 64
    assert report["model"]["metadata"]["hsnet_deploy.backbone"] == "resnet50"
    assert report["timing"]["episodes_per_s"] > 0 and report["grid"]["episodes"] == [0, 1]
    assert "mIoU" in capsys.readouterr().out
    grid = Image.open(out_png)
    assert grid.mode == "RGB" and grid.height > 2 * 64

    # The same numbers straight from the in-memory model, without the runtime.
    ds = SyntheticFewShot(seed=0, split="test", img_size=48, n_episodes=5, shot=2)
    acc = MIoUAccumulator(ds.class_ids)
    for ep in ds:
        q = torch.from_numpy(preprocess_image(ep.query_image, 64))[None]
        s = torch.from_numpy(np.stack([preprocess_image(i, 64) for i in ep.support_images]))[None]
        m = torch.from_numpy(np.stack([preprocess_mask(x, 64) for x in ep.support_masks]))[None]
        pred = model.predict_mask(q, s, m)[0].numpy()
        acc.add(pred, network_size_label(ep.query_mask, 64), ep.class_id)
    assert report["miou"] == pytest.approx(acc.miou(), abs=1e-9)
    assert report["fbiou"] == pytest.approx(acc.fbiou(), abs=1e-9)


@pytest.mark.slow
def test_eval_onnx_scores_like_the_pt_and_refuses_other_k(small_checkpoint, tmp_path, capsys):
    pytest.importorskip("onnxruntime")
    export = pytest.importorskip("hsnet_deploy.export")

    model, path = small_checkpoint
    fixed = export.export_onnx(model, tmp_path / "k1.onnx", img_size=64, shots=1)  # episode graph, K = 1
    common = ["--benchmark", "synthetic", "--episodes", "3", "--synthetic-size", "48", "--device", "cpu", "--quiet"]
    assert main(["eval", str(path), "--img-size", "64", "--json", str(tmp_path / "pt.json"), *common]) == 0
    assert main(["eval", str(fixed), "--json", str(tmp_path / "onnx.json"), *common]) == 0
    pt, onnx = (json.loads((tmp_path / f"{n}.json").read_text()) for n in ("pt", "onnx"))
    assert onnx["model"]["backend"] == "onnxruntime" and onnx["model"]["graphs"] == ["episode"]
    assert onnx["model"]["shots"] == 1 and pt["model"]["graphs"] == ["support_encoder", "query"]
    # Same episodes, same pre/post-processing: only float rounding in the graphs differs.
    assert onnx["miou"] == pytest.approx(pt["miou"], abs=0.5)
    assert onnx["fbiou"] == pytest.approx(pt["fbiou"], abs=0.5)
    capsys.readouterr()
    assert main(["eval", str(fixed), "--nshot", "2", *common]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "exported for 1-shot episodes but --nshot is 2" in err


@pytest.mark.slow
def test_eval_threads_reach_onnxruntime_and_pytorch(small_checkpoint, tmp_path, monkeypatch):
    """--threads N: the onnxruntime session is built with intra_op_num_threads == N; for a
    .pt, PyTorch runs with N threads (as before the option went through RuntimeOptions)."""
    import torch

    onnxruntime = pytest.importorskip("onnxruntime")
    export = pytest.importorskip("hsnet_deploy.export")

    model, path = small_checkpoint
    graph = export.export_onnx(model, tmp_path / "k1.onnx", img_size=64, shots=1)
    real_session = onnxruntime.InferenceSession
    intra_op_threads = []

    def recording_session(*args, **kwargs):
        intra_op_threads.append(kwargs["sess_options"].intra_op_num_threads)
        return real_session(*args, **kwargs)

    monkeypatch.setattr(onnxruntime, "InferenceSession", recording_session)
    common = ["--benchmark", "synthetic", "--episodes", "1", "--synthetic-size", "48", "--device", "cpu",
              "--threads", "1", "--quiet"]
    torch_threads = torch.get_num_threads()
    try:
        assert main(["eval", str(graph), *common]) == 0
        assert intra_op_threads == [1]
        assert torch.get_num_threads() == torch_threads  # an ONNX model leaves PyTorch alone
        assert main(["eval", str(path), "--img-size", "64", *common]) == 0
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(torch_threads)


def test_eval_folder_benchmark_original_size(small_checkpoint, tmp_path):
    from hsnet_deploy.hsnet.data.synthetic import SyntheticFewShot

    _, path = small_checkpoint
    folder = SyntheticFewShot(seed=4, split="test", img_size=40).write(tmp_path / "data", images_per_class=2,
                                                                       progress=False)
    out_json = tmp_path / "e.json"
    rc = main(["eval", str(path), "--benchmark", "folder", "--datapath", str(folder), "--episodes", "3",
               "--img-size", "64", "--use-original-imgsize", "--json", str(out_json), "--quiet"])
    assert rc == 0
    report = json.loads(out_json.read_text())
    assert report["config"]["use_original_imgsize"] is True and report["episodes"] == 3
    assert len(report["class_iou"]) == 10


# ----------------------------------------------------------------- command-line errors


@pytest.mark.parametrize("argv, message", [
    (["--benchmark", "pascal"], "--benchmark pascal needs --datapath"),
    (["--benchmark", "fss", "--datapath", "."], "--benchmark fss needs --splits"),
    (["--benchmark", "coco", "--datapath", ".", "--splits", ".", "--fold", "4"], "--fold 4 does not exist"),
    (["--benchmark", "folder", "--datapath", "no/such/dir"], "is not a folder"),
    (["--nshot", "0"], "--nshot must be at least 1"),
    ([], "model not found"),
])
def test_cli_errors_are_one_line(argv, message, tmp_path, capsys):
    rc = main(["eval", str(tmp_path / "missing.pt"), *argv, "--quiet"])
    err = capsys.readouterr().err
    assert rc == 2 and message in err and err.count("\n") == 1


def test_evaluation_and_data_side_of_training_import_without_torch():
    import subprocess
    import sys

    code = ("import sys; sys.modules['torch'] = None\n"
            "import hsnet_deploy.hsnet.evaluation.evaluate, hsnet_deploy.cli.eval\n"
            "import hsnet_deploy.hsnet.training.episode_sources, hsnet_deploy.hsnet.training.episodes\n"
            "import hsnet_deploy.cli.train\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


def test_coverage_note_names_unseen_classes_and_the_sampled_mean():
    ds = handmade_dataset(shot=1)  # classes 3 and 5 sampled, 7 never
    result = evaluate(FixedPredictor(constant(True)), ds, progress=False)
    iou = result.summary["class_iou"]
    sampled = (iou["3"] + iou["5"]) / 2
    assert result.classes_without_episodes == 1
    assert result.miou_sampled_classes == pytest.approx(sampled) and result.miou == pytest.approx(2 * sampled / 3)
    assert result.coverage_note() == f"(1 of 3 classes had no episode; mean over the 2 sampled: {sampled:.2f})"
    ds.class_ids = [3, 5]  # every class sampled: no note
    assert evaluate(FixedPredictor(constant(True)), ds, progress=False).coverage_note() == ""
