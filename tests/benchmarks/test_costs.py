"""Benchmark arithmetic: FLOP formulas against hand counts, the hook counter, latency
statistics, roofline arithmetic, the dense 4D kernel, the staged forward passes."""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from conftest import random_episode  # noqa: E402
from dense_conv4d import DenseConv4d, dense_learner_like  # noqa: E402
from hsnet_deploy.benchmarks.cost_counter import CostCounter  # noqa: E402
from hsnet_deploy.benchmarks.cost_formulas import (  # noqa: E402
    Cost,
    center_pivot_conv_cost,
    conv2d_cost,
    dense_conv4d_cost,
)
from hsnet_deploy.benchmarks.latency_stats import summarize  # noqa: E402
from hsnet_deploy.benchmarks.staged_forward import (  # noqa: E402
    NETWORK_STAGES,
    StageObserver,
    staged_episode,
    staged_official,
    staged_query,
)
from hsnet_deploy.hsnet import CenterPivotConv4d, HSNet  # noqa: E402
from roofline import TARGETS, Target, estimate_episode  # noqa: E402
from torch import nn  # noqa: E402


def counted(module: nn.Module, x: torch.Tensor) -> Cost:
    counter = CostCounter(module)
    with torch.no_grad():
        module(x)
    counter.close()
    return counter.total


# ------------------------------------------------------------------------------ FLOPs


def test_conv2d_flops_match_hand_count():
    conv = nn.Conv2d(3, 8, kernel_size=3, stride=2, padding=1)
    x = torch.zeros(2, 3, 10, 10)
    # output 5x5 (ceil(10/2)); each output value: 3 channels x 3 x 3 taps = 27 multiply-adds
    hand_macs = 2 * 8 * 5 * 5 * (3 * 3 * 3)  # batch * out_ch * Ho * Wo * taps = 10,800
    hand_elements = 2 * 3 * 10 * 10 + 8 * 3 * 3 * 3 + 8 + 2 * 8 * 5 * 5  # input + weights + bias + output
    formula = conv2d_cost(2, 3, 8, (3, 3), (10, 10), (5, 5))
    assert formula == Cost(2 * hand_macs, hand_elements)
    assert counted(conv, x) == formula


def test_grouped_conv_and_linear_counts():
    conv = nn.Conv2d(4, 8, kernel_size=1, groups=2, bias=False)
    cost = counted(conv, torch.zeros(1, 4, 6, 6))
    assert cost.flops == 2 * (8 * 36 * 2)  # each output sees 4/2 input channels
    linear = nn.Linear(5, 7)
    assert counted(linear, torch.zeros(3, 5)).flops == 2 * 3 * 5 * 7


def test_center_pivot_conv_flops_match_hand_count():
    # C=2 -> O=4, kernel 3, support stride 2, input (1, 2, Ha=5, Wa=5, Hb=6, Wb=6)
    cp = CenterPivotConv4d(2, 4, 3, support_stride=2)
    x = torch.zeros(1, 2, 5, 5, 6, 6)
    # support dims 6 -> 3 (positions 0, 2, 4)
    query_branch = (3 * 3) * (4 * 5 * 5) * (2 * 3 * 3)  # 9 pivot images x 100 outputs x 18 taps = 16,200
    support_branch = (5 * 5) * (4 * 3 * 3) * (2 * 3 * 3)  # 25 query positions x 36 outputs x 18 taps = 16,200
    assert center_pivot_conv_cost(1, 2, 4, 3, 2, (5, 5, 6, 6)).flops == 2 * (query_branch + support_branch)
    # the hook counter sees the same FLOPs and the same elements (conv operands + layout copies)
    assert counted(cp, x) == center_pivot_conv_cost(1, 2, 4, 3, 2, (5, 5, 6, 6))
    assert cp(x).shape == (1, 4, 5, 5, 3, 3)


def test_channels_last_center_pivot_conv_moves_only_its_slice_its_pivots_and_its_sum():
    from hsnet_deploy.benchmarks.cost_formulas import center_pivot_layout_elements
    from hsnet_deploy.hsnet.grid_layout import (
        NATIVE,
        SUPPORT_CHANNELS_LAST,
        SUPPORT_GRIDS,
        convert,
    )

    # C=2 -> O=4, stride 2 on (Ha, Wa, Hb, Wb) = (5, 5, 6, 6): pivots 2*25*9 = 450, output 4*25*9 = 900
    sliced, pivots_to_native, total = 2 * 450, 2 * 450, 3 * 900
    assert center_pivot_layout_elements(1, 2, 4, 2, (5, 5, 6, 6), "support-channels-last") == sliced + total
    assert center_pivot_layout_elements(1, 2, 4, 2, (5, 5, 6, 6), "support-grids-to-channels-last") == sliced + pivots_to_native + total
    cp = CenterPivotConv4d(2, 4, 3, support_stride=2)
    x = torch.zeros(1, 2, 5, 5, 6, 6)
    for layout in (SUPPORT_GRIDS, SUPPORT_CHANNELS_LAST):
        counter = CostCounter(cp)
        with torch.no_grad():
            cp(convert(x, NATIVE, layout), layout, SUPPORT_CHANNELS_LAST)
        counter.close()
        assert counter.total == center_pivot_conv_cost(1, 2, 4, 3, 2, (5, 5, 6, 6), layout, SUPPORT_CHANNELS_LAST)
        assert counter.total.flops == center_pivot_conv_cost(1, 2, 4, 3, 2, (5, 5, 6, 6)).flops  # same arithmetic


def test_dense_conv4d_flops_and_equivalence_with_center_pivot():
    torch.manual_seed(0)
    for k, s in ((3, 1), (3, 2), (5, 4)):
        cp = CenterPivotConv4d(3, 4, k, support_stride=s)
        x = torch.randn(2, 3, 5, 6, 9, 8)
        dense = DenseConv4d.from_center_pivot(cp)
        with torch.no_grad():
            torch.testing.assert_close(dense(x), cp(x), atol=1e-5, rtol=1e-5)
        out = dense(x)
        hb2, wb2 = out.shape[-2:]
        hand = 2 * (2 * 4 * 5 * 6 * hb2 * wb2) * (3 * k**4)  # outputs x (C x k^4 taps), x2 for FLOPs
        assert dense_conv4d_cost(2, 3, 4, k, s, (5, 6, 9, 8)).flops == hand
        assert counted(dense, x).flops == hand


def test_dense_learner_has_the_papers_parameter_count():
    # Paper Table 5 (ResNet101): center-pivot 2.6M, dense 11.3M learnable parameters.
    with torch.device("meta"):
        model = HSNet("resnet101")
        dense = dense_learner_like(model.hpn_learner)
    cp_params = sum(p.numel() for p in model.hpn_learner.parameters())
    dense_params = sum(p.numel() for p in dense.parameters())
    assert round(cp_params / 1e6, 1) == 2.6
    assert round(dense_params / 1e6, 1) == 11.3
    assert not any(isinstance(m, CenterPivotConv4d) for m in dense.modules())


# ------------------------------------------------------------------------- statistics


def test_latency_stats_are_ordered_and_consistent():
    rng = np.random.default_rng(0)
    seconds = list(rng.lognormal(-2, 0.5, size=37))
    st = summarize(seconds)
    ms = np.array(seconds) * 1e3
    assert st.n == 37
    assert st.min_ms <= st.median_ms <= st.p90_ms <= st.p99_ms <= st.max_ms
    assert st.median_ms == pytest.approx(float(np.median(ms)))
    assert st.mean_ms == pytest.approx(float(ms.mean()))
    assert st.std_ms == pytest.approx(math.sqrt(((ms - ms.mean()) ** 2).sum() / 36))
    assert st.fps == pytest.approx(1e3 / st.median_ms)
    one = summarize([0.5])
    assert one.median_ms == one.p99_ms == 500.0 and one.std_ms == 0.0
    with pytest.raises(ValueError):
        summarize([])


# --------------------------------------------------------------------------- roofline


def test_roofline_takes_the_slower_of_compute_and_memory():
    target = Target("toy", fp16_tflops=10.0, int8_tops=20.0, bandwidth_gbs=100.0, source="test")
    stages = {"compute-heavy": Cost(flops=2 * 10**12, elements=10**9), "memory-heavy": Cost(flops=10**9, elements=10**11)}
    fp16 = estimate_episode(stages, target, "fp16")
    # compute: 2e12 / 10e12 = 200 ms vs memory 1e9 * 2 B / 100e9 = 20 ms
    assert fp16["stages"]["compute-heavy"] == {"ms": pytest.approx(200.0), "bound": "compute"}
    # memory: 1e11 * 2 B / 100e9 = 2000 ms vs compute 0.1 ms
    assert fp16["stages"]["memory-heavy"] == {"ms": pytest.approx(2000.0), "bound": "memory"}
    assert fp16["total_ms"] == pytest.approx(2200.0)
    int8 = estimate_episode(stages, target, "int8")
    assert int8["total_ms"] == pytest.approx(100.0 + 1000.0)  # half the compute time, half the bytes
    for t in TARGETS:  # every target names its source and has positive peaks
        assert t.source and t.fp16_tflops > 0 and t.int8_tops >= t.fp16_tflops and t.bandwidth_gbs > 0


# ----------------------------------------------------------------------- staged passes


def test_staged_passes_equal_the_model(random_hsnet):
    model = random_hsnet("resnet50")
    q, s, m = random_episode(1, 2, 96, seed=3)
    observer = StageObserver()
    with torch.no_grad():
        expected = model(q, s, m)
        torch.testing.assert_close(staged_episode(model, q, s, m, observer), expected, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(staged_official(model, q, s, m, observer), expected, atol=1e-4, rtol=1e-4)
        feats = model.encode_support(s, m)
        torch.testing.assert_close(staged_query(model, q, feats, observer), model.forward_with_support(q, *feats))


def test_counter_attributes_flops_to_stages_on_meta():
    with torch.device("meta"):
        model = HSNet("resnet50").eval()
        q, s, m = torch.zeros(1, 3, 96, 96), torch.zeros(1, 2, 3, 96, 96), torch.zeros(1, 2, 96, 96)
    from hsnet_deploy.benchmarks.cost_counter import count_costs

    single = count_costs(model, lambda obs: staged_episode(model, q, s[:, :1], m[:, :1], obs))
    batched = count_costs(model, lambda obs: staged_episode(model, q, s, m, obs))
    official = count_costs(model, lambda obs: staged_official(model, q, s, m, obs))
    for c in (single, batched, official):
        assert set(c.per_stage) == set(NETWORK_STAGES)
        assert all(c.per_stage[st].flops > 0 for st in NETWORK_STAGES)
    one = single.per_stage
    # batched K=2: query backbone once, everything else twice; official: everything twice
    assert batched.per_stage["query backbone"] == one["query backbone"]
    for st in NETWORK_STAGES:
        assert official.per_stage[st].flops == 2 * one[st].flops
        if st != "query backbone":
            assert batched.per_stage[st].flops == 2 * one[st].flops
