"""The seeded synthetic few-shot dataset."""

import itertools

import numpy as np
import pytest
from hsnet_deploy.errors import UserError
from hsnet_deploy.hsnet.data import FolderDataset, SyntheticFewShot
from hsnet_deploy.hsnet.data.synthetic import CATALOGUE, SPLIT_CLASSES, class_name


def assert_same_episode(a, b):
    assert a.class_id == b.class_id
    assert np.array_equal(a.query_image, b.query_image)
    assert np.array_equal(a.query_mask, b.query_mask)
    for x, y in zip(a.support_images + a.support_masks, b.support_images + b.support_masks):
        assert np.array_equal(x, y)


def test_same_seed_same_arrays_any_order():
    a = SyntheticFewShot(seed=3, split="train", img_size=64, n_episodes=6, shot=2)
    b = SyntheticFewShot(seed=3, split="train", img_size=64, n_episodes=6, shot=2)
    forward = list(a)
    backward = [b.episode(n) for n in reversed(range(6))][::-1]
    for x, y in zip(forward, backward):
        assert_same_episode(x, y)
    other = SyntheticFewShot(seed=4, split="train", img_size=64, n_episodes=6, shot=2)
    assert not np.array_equal(other.episode(0).query_image, forward[0].query_image)
    assert not np.array_equal(forward[0].query_image, forward[len(a.class_ids) % 6].query_image)


@pytest.mark.parametrize("split", ["train", "test"])
def test_episodes_are_well_formed(split):
    ds = SyntheticFewShot(seed=0, split=split, img_size=96, n_episodes=2 * len(SPLIT_CLASSES[split]),
                          shot=3)
    seen = set()
    for n, ep in enumerate(ds):
        ep.check()
        assert ep.class_id == ds.class_ids[n % len(ds.class_ids)]
        seen.add(ep.class_id)
        assert ep.query_image.shape == (96, 96, 3) and ep.shot == 3
        for mask in [ep.query_mask] + ep.support_masks:
            assert set(np.unique(mask)) == {0, 1}        # binary and never empty
            assert mask.sum() >= 0.002 * 96 * 96
    assert seen == set(ds.class_ids)


def test_masks_are_exactly_the_drawn_object():
    """Foreground pixels are saturated object colours; the muted background is not
    (noise aside), so a colourfulness test recovers most of the mask."""
    ds = SyntheticFewShot(seed=1, split="test", img_size=128, n_episodes=10)
    for ep in ds:
        img = ep.query_image.astype(np.int16)
        chroma = img.max(axis=2) - img.min(axis=2)           # (H, W)
        fg = ep.query_mask == 1
        assert np.median(chroma[fg]) > np.median(chroma[~fg]) + 40


def test_mask_is_exactly_the_visible_target_colour():
    """Class 20 (hexagon, flat, cyan) is the only cyan class of the test split, and flat:
    its visible pixels are exactly the saturated bright cyan ones. A distractor or
    occluder wrongly counted in (or left out of) the mask would break the equality."""
    from PIL import Image

    ds = SyntheticFewShot(seed=5, split="test", img_size=96, n_episodes=300, shot=1)
    assert ds.class_ids[0] == 20 and ds.class_names[0].endswith("flat-cyan")
    for n in range(0, 300, 10):  # episodes of class 20
        ep = ds.episode(n)
        for img, mask in [(ep.query_image, ep.query_mask),
                          (ep.support_images[0], ep.support_masks[0])]:
            hsv = np.asarray(Image.fromarray(img).convert("HSV")).astype(int)  # (H, W, 3)
            cyan = (np.abs(hsv[..., 0] - 128) < 14) & (hsv[..., 1] > 140) & (hsv[..., 2] > 140)
            assert np.array_equal(cyan, mask == 1)


def test_class_catalogue():
    assert len(set(CATALOGUE)) == len(CATALOGUE) == 30
    assert set(SPLIT_CLASSES["train"]).isdisjoint(SPLIT_CLASSES["test"])
    assert sorted(SPLIT_CLASSES["train"] + SPLIT_CLASSES["test"]) == list(range(30))
    for a, b in itertools.combinations(CATALOGUE, 2):
        assert sum(x != y for x, y in zip(a, b)) >= 2, (a, b)  # never outline-only
    train_colours = {CATALOGUE[c][2] for c in SPLIT_CLASSES["train"]}
    train_textures = {CATALOGUE[c][1] for c in SPLIT_CLASSES["train"]}
    for c in SPLIT_CLASSES["test"]:
        assert CATALOGUE[c][2] in train_colours and CATALOGUE[c][1] in train_textures
    names = [class_name(c) for c in range(30)]
    assert names == sorted(names)


def test_distractors_come_from_other_classes_of_the_split():
    ds = SyntheticFewShot(seed=0, split="test", img_size=64, n_episodes=1)
    assert ds.class_ids == SPLIT_CLASSES["test"] and ds.nclass == 30
    train = SyntheticFewShot(seed=0, split="train", img_size=64, n_episodes=1)
    assert set(train.class_ids).isdisjoint(ds.class_ids)


def test_write_then_read_as_folder(tmp_path):
    ds = SyntheticFewShot(seed=2, split="test", img_size=48)
    root = ds.write(tmp_path / "syn", images_per_class=2, progress=False)
    folder = FolderDataset(root, shot=1, seed=0)
    assert folder.class_names == [class_name(c) for c in SPLIT_CLASSES["test"]]
    assert len(folder) == 20
    ep = folder.episode(0)
    ep.check()
    rng = np.random.default_rng([2, 1, 1_000_003, SPLIT_CLASSES["test"][0], 0])
    image, mask = ds.render(SPLIT_CLASSES["test"][0], rng)
    assert np.array_equal(ep.query_mask, mask)  # PNG masks are exact
    # JPEG at quality 95, no chroma subsampling: close to the rendered pixels.
    assert np.abs(ep.query_image.astype(int) - image).mean() < 6


def test_bad_arguments():
    with pytest.raises(UserError, match="unknown synthetic split"):
        SyntheticFewShot(split="val")
    with pytest.raises(UserError, match="img_size"):
        SyntheticFewShot(img_size=8)
    with pytest.raises(UserError, match="shot"):
        SyntheticFewShot(shot=0)
    with pytest.raises(IndexError):
        SyntheticFewShot(n_episodes=3).episode(3)
