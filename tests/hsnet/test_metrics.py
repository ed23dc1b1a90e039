"""The official mIoU / FB-IoU accumulator on hand-computed cases."""

import math
import subprocess
import sys

import numpy as np
import pytest
from hsnet_deploy.errors import UserError
from hsnet_deploy.hsnet.evaluation.metrics import (
    MIoUAccumulator,
    foreground_iou,
    intersection_union,
)


def test_intersection_union_by_hand():
    pred = np.array([[1, 1, 0],
                     [0, 1, 0]])
    gt = np.array([[1, 0, 0],
                   [1, 1, 0]])
    inter, union = intersection_union(pred, gt)
    # fg: pred {(0,0),(0,1),(1,1)}, gt {(0,0),(1,0),(1,1)} -> I 2, U 4
    # bg: pred {(0,2),(1,0),(1,2)}, gt {(0,1),(0,2),(1,2)} -> I 2, U 4
    assert inter.tolist() == [2, 2] and union.tolist() == [4, 4]


def test_ignore_pixels_count_in_neither():
    pred = np.array([[1, 1, 1, 0]])
    gt = np.array([[1, 255, 255, 0]])
    inter, union = intersection_union(pred, gt)
    assert inter.tolist() == [1, 1] and union.tolist() == [1, 1]
    # Same without the ignore label: the two pixels become false positives.
    inter, union = intersection_union(pred, np.array([[1, 0, 0, 0]]))
    assert inter.tolist() == [1, 1] and union.tolist() == [3, 3]


def test_empty_prediction_and_empty_ground_truth():
    gt = np.zeros((4, 4), dtype=np.uint8)
    gt[:2, :2] = 1
    inter, union = intersection_union(np.zeros((4, 4)), gt)
    assert inter.tolist() == [12, 0] and union.tolist() == [16, 4]
    inter, union = intersection_union(np.zeros((4, 4)), np.zeros((4, 4)))
    assert inter.tolist() == [16, 0] and union.tolist() == [16, 0]
    assert foreground_iou(np.zeros((4, 4)), np.zeros((4, 4))) == 0.0  # 0 / max(0, 1)


def test_matches_a_pixel_loop_on_random_masks():
    rng = np.random.RandomState(0)
    for _ in range(20):
        pred = rng.randint(0, 2, (7, 9))
        gt = rng.choice([0, 1, 255], (7, 9), p=[0.5, 0.3, 0.2])
        inter, union = [0, 0], [0, 0]
        for p, g in zip(pred.ravel(), gt.ravel()):
            if g == 255:
                continue
            for label in (0, 1):
                inter[label] += p == label and g == label
                union[label] += p == label or g == label
        got_i, got_u = intersection_union(pred, gt)
        assert got_i.tolist() == inter and got_u.tolist() == union


def test_classes_sum_intersections_and_unions_before_dividing():
    acc = MIoUAccumulator([3, 7])
    a = np.array([[1, 1, 1, 1]])
    # Class 3, episode 1: fg I 1, U 4 (IoU .25); episode 2: fg I 2, U 2 (IoU 1).
    acc.add(np.array([[1, 1, 1, 1]]), np.array([[1, 0, 0, 0]]), 3)
    acc.add(np.array([[1, 1, 0, 0]]), np.array([[1, 1, 0, 0]]), 3)
    # Class 7: fg I 0, U 4.
    acc.add(np.zeros_like(a), a, 7)
    iou_3 = (1 + 2) / (4 + 2)  # pooled, not the mean of 0.25 and 1
    assert acc.miou() == pytest.approx(100 * (iou_3 + 0.0) / 2)
    # bg: class 3 I 0 + 2, U 3 + 2; class 7 I 0, U 4 -> 2 / 9
    fg = (1 + 2 + 0) / (4 + 2 + 4)
    assert acc.fbiou() == pytest.approx(100 * (2 / 9 + fg) / 2)
    s = acc.summary()
    assert s["episodes"] == 3 and s["class_episodes"] == {"3": 2, "7": 1}
    assert s["class_iou"]["3"] == pytest.approx(100 * iou_3) and s["class_iou"]["7"] == 0.0
    assert s["miou"] == acc.miou() and s["fbiou"] == acc.fbiou()


def test_unseen_classes_count_as_zero_in_miou():
    acc = MIoUAccumulator([0, 1, 2, 3, 4])
    gt = np.array([[1, 0]])
    acc.add(gt.copy(), gt, 2)  # perfect on class 2, nothing else seen
    assert acc.miou() == pytest.approx(100 / 5)
    assert acc.fbiou() == pytest.approx(100.0)


def test_no_episode_gives_nan_fbiou_and_zero_miou():
    acc = MIoUAccumulator([0, 1])
    assert acc.miou() == 0.0 and math.isnan(acc.fbiou())


def test_bad_inputs_are_user_errors():
    acc = MIoUAccumulator([0, 1])
    with pytest.raises(UserError, match="does not match"):
        acc.add(np.zeros((2, 3)), np.zeros((3, 2)), 0)
    with pytest.raises(UserError, match="only 0 and 1"):
        acc.add(np.full((2, 2), 2), np.zeros((2, 2)), 0)
    with pytest.raises(UserError, match="0, 1 and 255"):
        acc.add(np.zeros((2, 2)), np.full((2, 2), 7), 0)
    with pytest.raises(UserError, match="class 5 is not one of"):
        acc.add(np.zeros((2, 2)), np.zeros((2, 2)), 5)
    with pytest.raises(UserError, match="distinct"):
        MIoUAccumulator([1, 1])


def test_data_and_evaluation_import_without_torch():
    code = ("import sys; sys.modules['torch'] = None\n"
            "import hsnet_deploy.hsnet.data, hsnet_deploy.hsnet.evaluation.metrics\n"
            "import hsnet_deploy.hsnet.evaluation.episode_grid\n"
            "assert 'torch' not in [m for m in sys.modules if sys.modules[m] is not None]\n")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_short_runs_report_unseen_classes_and_the_mean_over_sampled_ones():
    acc = MIoUAccumulator([0, 1, 2, 3])
    acc.add(np.array([[1, 1, 0, 0]]), np.array([[1, 0, 0, 0]]), 1)  # fg IoU 1/2
    acc.add(np.array([[1, 1, 1, 1]]), np.array([[1, 1, 1, 1]]), 3)  # fg IoU 1
    assert acc.miou() == pytest.approx(100 * 1.5 / 4)  # official: unseen classes count 0
    assert acc.classes_without_episodes() == 2
    assert acc.miou_sampled_classes() == pytest.approx(100 * 1.5 / 2)
    s = acc.summary()
    assert s["classes_without_episodes"] == 2 and s["miou_sampled_classes"] == acc.miou_sampled_classes()
    # A sampled class that scored 0 stays in the sampled mean (only unseen classes leave it).
    acc.add(np.zeros((1, 4), np.int64), np.array([[1, 0, 0, 0]]), 0)
    assert acc.classes_without_episodes() == 1
    assert acc.miou_sampled_classes() == pytest.approx(100 * 1.5 / 3)


def test_every_class_sampled_means_both_figures_agree():
    acc = MIoUAccumulator([5, 6])
    acc.add(np.array([[1, 0]]), np.array([[1, 1]]), 5)
    acc.add(np.array([[1, 1]]), np.array([[1, 1]]), 6)
    assert acc.classes_without_episodes() == 0 and acc.miou_sampled_classes() == acc.miou()
    assert math.isnan(MIoUAccumulator([1, 2]).miou_sampled_classes())  # nothing sampled yet


def test_mask_agreement_by_hand():
    """compare's and the backend-agreement tool's mask statistics: one accumulator."""
    from hsnet_deploy.hsnet.evaluation.compare import MaskAgreement

    masks = MaskAgreement()
    assert masks.iou is None and masks.agreement == 0.0
    a = np.array([[1, 1, 0, 0]], np.uint8)
    masks.add(a, np.array([[1, 0, 0, 1]], np.uint8))  # 2 of 4 equal; fg: 1 shared of 3
    masks.add(a, a.copy())  # identical: 4 of 4; fg 2 of 2
    assert masks.agreement == 6 / 8 and masks.iou == 3 / 5 and masks.differing == 1
