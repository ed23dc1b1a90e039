"""hsnet-deploy train: the cached path equals the model, loss goes down, backbone frozen,
best checkpoint loads, resume continues the same run, errors are one line."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from helpers import REPO

torch = pytest.importorskip("torch")

from hsnet_deploy.cli import main  # noqa: E402
from hsnet_deploy.errors import UserError  # noqa: E402
from hsnet_deploy.hsnet.training.episode_sources import DataConfig  # noqa: E402
from hsnet_deploy.hsnet.training.trainer import BEST, LOG, TrainConfig, Trainer  # noqa: E402

SIZE = 64


def tiny_config(out, **overrides) -> TrainConfig:
    settings = dict(out_dir=str(out), data=DataConfig(synthetic_size=48, val_episodes=4), img_size=SIZE,
                    batch_size=2, epoch_size=4, iters=2, cache_features=True, cache_episodes=6,
                    cache_dtype="float32", seed=0, device="cpu", progress=False)
    settings.update(overrides)
    return TrainConfig(**settings)


@pytest.fixture(scope="module")
def built_model():
    """The seeded model once (building and randomising ResNet50 is the slow part)."""
    from hsnet_deploy.hsnet.training.seeded_model import build_model

    model = build_model("resnet50", seed=0)
    return {k: v.clone() for k, v in model.state_dict().items()}


def fresh_trainer(out, built_model, **overrides) -> Trainer:
    from hsnet_deploy.hsnet import HSNet

    model = HSNet("resnet50")
    model.load_state_dict(built_model)
    return Trainer(tiny_config(out, **overrides), model=model)


def test_seeded_model_is_reproducible(built_model):
    from hsnet_deploy.hsnet.training.seeded_model import build_model

    other = build_model("resnet50", seed=0).state_dict()
    assert all(torch.equal(other[k], v) for k, v in built_model.items())
    different = build_model("resnet50", seed=1).state_dict()
    assert not torch.equal(different["backbone.conv1.weight"], built_model["backbone.conv1.weight"])
    assert not torch.equal(different["hpn_learner.decoder2.2.weight"], built_model["hpn_learner.decoder2.2.weight"])


def test_cached_features_give_the_model_logits(tmp_path, built_model):
    from hsnet_deploy.hsnet.training.episodes import collate_episodes
    from hsnet_deploy.hsnet.training.feature_cache import pool_images, store_logits

    trainer = fresh_trainer(tmp_path, built_model)
    trainer._build_caches()
    store, model = trainer.val_store, trainer.model.eval()
    episodes = list(trainer.data.val_episodes())
    assert len(store) == 2 * len(episodes) == len(pool_images(episodes, dedupe=False))
    q = torch.arange(0, len(store), 2)
    with torch.no_grad():
        cached = store_logits(model, store, q, store, q + 1)
        batch = collate_episodes(episodes, SIZE)
        direct = model(batch.query_img, batch.support_imgs, batch.support_masks)
    assert cached.shape == direct.shape == (len(episodes), 1, 2, SIZE, SIZE)
    assert torch.allclose(cached, direct, rtol=1e-4, atol=1e-4 * float(direct.abs().max()))
    assert torch.equal(store.labels[q], batch.query_label)


def test_pair_sampler_draws_other_images_of_the_same_class():
    from hsnet_deploy.hsnet.training.feature_cache import PairSampler

    classes = torch.tensor([0, 1, 0, 2, 1, 0, 1])  # class 2 has one image: never a query
    sampler = PairSampler(classes)
    q, s = sampler.sample(400, np.random.RandomState(0))
    assert (q != s).all() and (classes[q] == classes[s]).all() and (classes[q] != 2).all()
    assert {(int(a), int(b)) for a, b in zip(q, s)} == {
        (a, b) for a in range(7) for b in range(7) if a != b and classes[a] == classes[b] != 2}


def test_overfitting_one_batch_lowers_the_loss(tmp_path, built_model):
    trainer = fresh_trainer(tmp_path, built_model, cache_dtype="float16", batch_size=4)
    trainer._build_caches()
    q, s = trainer.sampler.sample(4, np.random.RandomState(1))
    trainer.sampler.sample = lambda batch, rng: (q, s)  # the same batch every step
    losses = [trainer.train_step()[0] for _ in range(12)]
    assert losses[-1] < 0.7 * losses[0], losses


def test_backbone_and_batchnorm_statistics_stay_frozen(tmp_path, built_model):
    trainer = fresh_trainer(tmp_path, built_model, cache_features=False)  # the backbone runs each step
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    for _ in range(2):
        trainer.train_step()
    after = trainer.model.state_dict()
    backbone = [k for k in before if k.startswith("backbone.")]
    assert any("running_mean" in k for k in backbone)
    assert all(torch.equal(before[k], after[k]) for k in backbone)
    assert not all(torch.equal(before[k], after[k]) for k in before if k.startswith("hpn_learner."))


@pytest.mark.slow
def test_best_checkpoint_loads_and_gives_the_in_memory_logits(tmp_path, built_model):
    from conftest import random_episode
    from hsnet_deploy.hsnet import load_hsnet

    trainer = fresh_trainer(tmp_path, built_model, save_initial=True)
    summary = trainer.fit()
    assert summary["steps"] == 2 and summary["best_step"] == 2  # one validation: it is the best
    loaded = load_hsnet(checkpoint=str(tmp_path / BEST))
    initial = load_hsnet(checkpoint=str(tmp_path / "initial_model.pt"))
    q, s, m = random_episode(1, 1, SIZE)
    with torch.no_grad():
        want = trainer.model.eval()(q, s, m)
        assert torch.allclose(loaded(q, s, m), want, atol=1e-6)
        assert not torch.allclose(initial(q, s, m), want, atol=1e-6)  # training changed it
    rows = list(csv.DictReader((tmp_path / LOG).open()))
    assert [int(r["step"]) for r in rows] == [2] and 0 <= float(rows[0]["val_miou"]) <= 100

    # recipes/ship_reference.py: float16 learner + seed -> the same model, learner rounded to float16.
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "ship_reference", REPO / "recipes" / "ship_reference.py")
    recipe = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(recipe)
    recipe.ship(str(tmp_path / BEST), str(tmp_path / "learner.npz"), img_size=SIZE, seed=0, install=False)
    recipe.assemble(str(tmp_path / "learner.npz"), str(tmp_path / "assembled.pt"))
    a, b = (torch.load(tmp_path / n, weights_only=True) for n in (BEST, "assembled.pt"))
    assert a.keys() == b.keys()
    for k in a:
        want = a[k].half().float() if "hpn_learner" in k else a[k]  # the learner ships as float16
        assert torch.equal(b[k], want), k


@pytest.mark.slow
def test_resume_continues_the_same_run(tmp_path, built_model):
    straight = fresh_trainer(tmp_path / "a", built_model, iters=4)
    straight.fit()
    first = fresh_trainer(tmp_path / "b", built_model, iters=2)
    first.fit()
    with pytest.raises(UserError, match="already holds a training run"):
        fresh_trainer(tmp_path / "b", built_model, iters=4)
    with pytest.raises(UserError, match="img_size"):
        fresh_trainer(tmp_path / "b", built_model, iters=4, resume=True, img_size=96).fit()
    from hsnet_deploy.hsnet import HSNet

    other = HSNet("resnet50")
    other.load_state_dict(built_model)
    with torch.no_grad():
        other.backbone.conv1.weight.add_(1.0)  # not the backbone the run was trained with
    with pytest.raises(UserError, match="backbone built now differs"):
        Trainer(tiny_config(tmp_path / "b", iters=4, resume=True), model=other).fit()
    resumed = fresh_trainer(tmp_path / "b", built_model, iters=4, resume=True)
    summary = resumed.fit()
    assert summary["steps"] == 4 and resumed.episodes == straight.episodes == 8
    assert [r["step"] for r in resumed.log] == [2, 4]
    a, b = straight.model.state_dict(), resumed.model.state_dict()
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a if k.startswith("hpn_learner."))
    assert straight.log[-1]["val_miou"] == pytest.approx(resumed.log[-1]["val_miou"], abs=1e-6)
    rows = list(csv.DictReader((tmp_path / "b" / LOG).open()))
    assert [int(r["step"]) for r in rows] == [2, 4]


@pytest.mark.parametrize("argv, message", [
    (["--benchmark", "pascal"], "--benchmark pascal needs --datapath"),
    (["--benchmark", "coco", "--fold", "5"], "--fold 5 does not exist"),
    (["--img-size", "264", "--backbone", "vgg16"], "valid HSNet pyramid"),
    (["--batch-size", "0"], "--batch-size must be at least 1"),
    (["--resume"], "nothing to resume"),
])
def test_cli_errors_are_one_line(argv, message, tmp_path, capsys):
    rc = main(["train", "--out", str(tmp_path / "run"), "--quiet", *argv])
    err = capsys.readouterr().err
    assert rc == 2 and message in err and err.count("\n") == 1, err


@pytest.mark.slow
def test_init_from_starts_the_learner_from_a_checkpoint(tmp_path, built_model):
    from hsnet_deploy.hsnet import load_hsnet

    first = fresh_trainer(tmp_path / "a", built_model)
    first.fit()
    trained = load_hsnet(checkpoint=str(tmp_path / "a" / BEST)).hpn_learner.state_dict()
    second = fresh_trainer(tmp_path / "b", built_model, init_from=str(tmp_path / "a" / BEST), img_size=96, save_initial=True)
    second.fit()
    started = load_hsnet(checkpoint=str(tmp_path / "b" / "initial_model.pt")).hpn_learner.state_dict()
    assert all(torch.equal(started[k], v) for k, v in trained.items())  # the initial learner is the trained one
    fresh = built_model
    assert not torch.equal(started["decoder2.2.weight"], fresh["hpn_learner.decoder2.2.weight"])
    other = {k: (v + 1 if k == "backbone.conv1.weight" else v) for k, v in built_model.items()}
    with pytest.raises(UserError, match="its backbone differs"):
        fresh_trainer(tmp_path / "c", other, init_from=str(tmp_path / "a" / BEST)).fit()
    with pytest.raises(UserError, match="checkpoint not found"):
        fresh_trainer(tmp_path / "d", built_model, init_from=str(tmp_path / "none.pt")).fit()


@pytest.mark.parametrize("argv, message", [
    (["--train-sizes", "64,96", "--cache-features"], "do not apply with --cache-features"),
    (["--val-sizes", "64,96", "--cache-features"], "do not apply with --cache-features"),
    (["--train-sizes", "64,x"], "--train-sizes must be a positive integer or a comma list"),
    (["--val-sizes", "0"], "--val-sizes must be a positive integer or a comma list"),
    (["--train-sizes", "64,264", "--backbone", "vgg16"], "valid HSNet pyramid"),
])
def test_size_list_errors_are_one_line(argv, message, tmp_path, capsys):
    rc = main(["train", "--out", str(tmp_path / "run"), "--quiet", *argv])
    err = capsys.readouterr().err
    assert rc == 2 and message in err and err.count("\n") == 1, err
    assert not (tmp_path / "run").exists()


def test_several_train_sizes_draw_one_side_per_step_reproducibly(tmp_path, built_model, monkeypatch):
    """Each step's batch comes at a side drawn from --train-sizes by the run's own generator
    (so a resumed run draws the same), and validation reports every --val-sizes side."""
    from hsnet_deploy.hsnet.training import trainer as trainer_module

    real = trainer_module.collate_episodes

    def run(out):
        seen = []

        def spy(episodes, size):
            seen.append(size)
            return real(episodes, size)

        monkeypatch.setattr(trainer_module, "collate_episodes", spy)
        t = fresh_trainer(out, built_model, cache_features=False, train_sizes=(64, 96), val_sizes=(64, 96),
                          iters=6, epoch_size=12, data=DataConfig(synthetic_size=48, val_episodes=2))
        t.fit()
        return seen, t.log[-1]

    seen, row = run(tmp_path / "a")
    train_sides = seen[:6]
    assert set(train_sides) == {64, 96}, seen  # both drawn (seed 0), one side per batch
    assert seen[6:] == [64, 96]  # then validation at each side
    assert row["val_miou"] == pytest.approx((row["val_miou@64"] + row["val_miou@96"]) / 2)
    logged = list(csv.DictReader((tmp_path / "a" / LOG).open()))[-1]
    assert float(logged["val_miou@96"]) == pytest.approx(row["val_miou@96"], abs=1e-4)
    again, _ = run(tmp_path / "b")
    assert again == seen
