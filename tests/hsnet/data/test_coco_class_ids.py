"""COCO-20i class splits and their order, for every fold (not only fold 0).

Official ``data/coco.py``: fold i tests classes {i + 4 v : v = 0..19} (0-based) in that
order, trains on the other 60 in increasing order, and every episode draws its class
with ``np.random.choice(class_ids, 1, replace=False)[0]`` over that list, so a rotated or
reordered list changes the episode sequence even though the set of classes is the same.
The expected lists are written out literally below.
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from helpers.coco_plan import naive_coco_plan
from hsnet_deploy.hsnet.data import CocoDataset
from hsnet_deploy.hsnet.data.coco import coco_fold_classes

TEST_CLASSES = {
    0: [0, 4, 8, 12, 16, 20, 24, 28, 32, 36, 40, 44, 48, 52, 56, 60, 64, 68, 72, 76],
    1: [1, 5, 9, 13, 17, 21, 25, 29, 33, 37, 41, 45, 49, 53, 57, 61, 65, 69, 73, 77],
    2: [2, 6, 10, 14, 18, 22, 26, 30, 34, 38, 42, 46, 50, 54, 58, 62, 66, 70, 74, 78],
    3: [3, 7, 11, 15, 19, 23, 27, 31, 35, 39, 43, 47, 51, 55, 59, 63, 67, 71, 75, 79],
}
TRAIN_CLASSES = {
    0: [1, 2, 3, 5, 6, 7, 9, 10, 11, 13, 14, 15, 17, 18, 19, 21, 22, 23, 25, 26, 27, 29, 30, 31, 33, 34, 35, 37, 38, 39,
        41, 42, 43, 45, 46, 47, 49, 50, 51, 53, 54, 55, 57, 58, 59, 61, 62, 63, 65, 66, 67, 69, 70, 71, 73, 74, 75, 77, 78, 79],
    1: [0, 2, 3, 4, 6, 7, 8, 10, 11, 12, 14, 15, 16, 18, 19, 20, 22, 23, 24, 26, 27, 28, 30, 31, 32, 34, 35, 36, 38, 39,
        40, 42, 43, 44, 46, 47, 48, 50, 51, 52, 54, 55, 56, 58, 59, 60, 62, 63, 64, 66, 67, 68, 70, 71, 72, 74, 75, 76, 78, 79],
    2: [0, 1, 3, 4, 5, 7, 8, 9, 11, 12, 13, 15, 16, 17, 19, 20, 21, 23, 24, 25, 27, 28, 29, 31, 32, 33, 35, 36, 37, 39,
        40, 41, 43, 44, 45, 47, 48, 49, 51, 52, 53, 55, 56, 57, 59, 60, 61, 63, 64, 65, 67, 68, 69, 71, 72, 73, 75, 76, 77, 79],
    3: [0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, 16, 17, 18, 20, 21, 22, 24, 25, 26, 28, 29, 30, 32, 33, 34, 36, 37, 38,
        40, 41, 42, 44, 45, 46, 48, 49, 50, 52, 53, 54, 56, 57, 58, 60, 61, 62, 64, 65, 66, 68, 69, 70, 72, 73, 74, 76, 77, 78],
}


def test_the_literal_lists_are_the_protocol():
    """Sanity of the literals themselves: 4 disjoint test sets covering 0..79; train = rest."""
    assert sorted(c for f in range(4) for c in TEST_CLASSES[f]) == list(range(80))
    for f in range(4):
        assert len(TEST_CLASSES[f]) == 20 and len(TRAIN_CLASSES[f]) == 60
        assert sorted(TEST_CLASSES[f] + TRAIN_CLASSES[f]) == list(range(80))
        assert TRAIN_CLASSES[f] == sorted(TRAIN_CLASSES[f])


@pytest.mark.parametrize("fold", [0, 1, 2, 3])
def test_coco_fold_classes_in_the_official_order(fold):
    assert coco_fold_classes(fold) == TEST_CLASSES[fold]


def _names(cls, count):
    return [f"val2014/COCO_val2014_{100000 + 100 * cls + i:012d}.jpg" for i in range(count)]


@pytest.fixture
def coco_all_folds(tmp_path):
    """COCO2014/ (empty: plans read no image) and splits/coco/{val,trn}/fold{0..3}.pkl,
    every class with 2 + c % 3 image names."""
    (tmp_path / "data" / "COCO2014").mkdir(parents=True)
    classwise = {c: _names(c, 2 + c % 3) for c in range(80)}
    for split in ("val", "trn"):
        (tmp_path / "splits" / "coco" / split).mkdir(parents=True)
        for fold in range(4):
            with open(tmp_path / "splits" / "coco" / split / f"fold{fold}.pkl", "wb") as f:
                pickle.dump(classwise, f)
    return tmp_path / "data", tmp_path / "splits", classwise


# The official sampling written out (seeded numpy; class by np.random.choice over the list
# in order; query and supports by np.random.choice over the class's images).
naive_plan = naive_coco_plan


@pytest.mark.parametrize("fold", [0, 1, 2, 3])
def test_coco_dataset_class_ids_and_seed0_episode_classes(coco_all_folds, fold):
    datapath, splits, classwise = coco_all_folds
    test = CocoDataset(datapath, splits, fold=fold, split="test", shot=1, seed=0, n_episodes=60)
    assert test.class_ids == TEST_CLASSES[fold]
    refs = test.refs()
    # The first episodes' classes with np.random.seed(0)-style draws over the literal list.
    rng = np.random.RandomState(0)
    first = int(rng.choice(TEST_CLASSES[fold], 1, replace=False)[0])
    assert refs[0].class_id == first
    got = [(r.query_name, r.support_names, r.class_id) for r in refs]
    assert got == naive_plan(classwise, TEST_CLASSES[fold], 1, 0, 60)

    train = CocoDataset(datapath, splits, fold=fold, split="trn", shot=1, seed=0, n_episodes=40)
    assert train.class_ids == TRAIN_CLASSES[fold]
    got = [(r.query_name, r.support_names, r.class_id) for r in train.refs()]
    assert got == naive_plan(classwise, TRAIN_CLASSES[fold], 1, 0, 40)
    assert not {r.class_id for r in train.refs()} & set(TEST_CLASSES[fold])
