"""The learner's memory layouts: conversions, the grid GroupNorm, the 1x1 support matrix,
and that the exported learner really moves fewer bytes (Transpose nodes)."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from hsnet_deploy.hsnet.center_pivot_conv import CenterPivotConv4d, support_tap_index  # noqa: E402
from hsnet_deploy.hsnet.grid_group_norm import GridGroupNorm  # noqa: E402
from hsnet_deploy.hsnet.grid_layout import (  # noqa: E402
    LAYOUTS,
    NATIVE,
    QUERY_GRIDS,
    SUPPORT_CHANNELS_LAST,
    SUPPORT_GRIDS,
    convert,
    native_dims,
    permutation,
)


def test_layouts_round_trip_and_name_their_axes():
    x = torch.arange(2 * 3 * 4 * 5 * 6 * 7).reshape(2, 3, 4, 5, 6, 7)  # (B, C, Ha, Wa, Hb, Wb)
    assert convert(x, NATIVE, SUPPORT_GRIDS).shape == (2, 4, 5, 3, 6, 7)
    assert convert(x, NATIVE, QUERY_GRIDS).shape == (2, 6, 7, 3, 4, 5)
    for a in LAYOUTS:
        for b in LAYOUTS:
            y = convert(convert(x, NATIVE, a), a, b)
            assert native_dims(y.shape, b) == (2, 3, 4, 5, 6, 7)
            assert torch.equal(convert(y, b, NATIVE), x)
    # element (b, c, ha, wa, hb, wb) sits where each layout says
    assert convert(x, NATIVE, QUERY_GRIDS)[1, 5, 6, 2, 3, 4] == x[1, 2, 3, 4, 5, 6]
    assert convert(x, NATIVE, SUPPORT_GRIDS)[1, 3, 4, 2, 5, 6] == x[1, 2, 3, 4, 5, 6]
    assert convert(x, NATIVE, SUPPORT_CHANNELS_LAST)[1, 3, 4, 5, 6, 2] == x[1, 2, 3, 4, 5, 6]
    # the block-transpose move gives what the plain permute gives, both ways
    cl = convert(x, NATIVE, SUPPORT_CHANNELS_LAST)
    assert torch.equal(convert(cl, SUPPORT_CHANNELS_LAST, QUERY_GRIDS), cl.permute(permutation(SUPPORT_CHANNELS_LAST, QUERY_GRIDS)))
    qg = convert(x, NATIVE, QUERY_GRIDS)
    assert torch.equal(convert(qg, QUERY_GRIDS, SUPPORT_CHANNELS_LAST), qg.permute(permutation(QUERY_GRIDS, SUPPORT_CHANNELS_LAST)))
    assert permutation(SUPPORT_GRIDS, QUERY_GRIDS) == (0, 4, 5, 3, 1, 2)
    with pytest.raises(ValueError, match="unknown correlation layout"):
        convert(x, NATIVE, "channels-last")


@pytest.mark.parametrize("layout", [SUPPORT_GRIDS, QUERY_GRIDS, SUPPORT_CHANNELS_LAST])
def test_grid_group_norm_equals_torch_group_norm(layout):
    g = torch.Generator().manual_seed(1)
    norm = GridGroupNorm(4, 16)
    norm.weight.data = torch.rand(16, generator=g) + 0.5
    norm.bias.data = torch.randn(16, generator=g)
    # per-group offsets and scales, so a wrong grouping (or a wrong axis) changes the result
    x = torch.randn(3, 16, 5, 4, 3, 2, generator=g) * (torch.arange(16) + 1.0).view(1, 16, 1, 1, 1, 1)
    x = x + torch.arange(16.0).view(1, 16, 1, 1, 1, 1) * 4
    expected = torch.nn.functional.group_norm(x, 4, norm.weight, norm.bias, norm.eps)
    got = convert(norm(convert(x, NATIVE, layout), layout), layout, NATIVE)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(norm(x), expected)  # no layout: PyTorch's own
    assert list(norm.state_dict()) == ["weight", "bias"]


def test_support_tap_index_joins_positions_by_their_kernel_tap():
    # 1-D view: Hb = 1 row; Wb = 4, k = 3, stride 2 -> outputs at support columns 0, 2
    index = support_tap_index(1, 4, 3, 2)  # (1*2, 1*4)
    none = 9  # k²: no tap
    # output 0 centred on column 0 (taps at columns -1, 0, 1 -> kernel columns 0, 1, 2 of row 1)
    assert index[0].tolist() == [4, 5, none, none]
    assert index[1].tolist() == [none, 3, 4, 5]  # output 1 centred on column 2


def test_support_matrix_is_the_strided_conv():
    torch.manual_seed(0)
    conv = CenterPivotConv4d(3, 5, 3, 2).double()
    x = torch.randn(7, 3, 3, 2, dtype=torch.float64)  # 7 query positions, a 3 x 2 support grid
    weight, bias = conv.support_matrix(3, 2)  # (M'*O, M*C, 1, 1)
    assert weight.shape == (2 * 1 * 5, 3 * 2 * 3, 1, 1)
    flat = x.permute(0, 2, 3, 1).reshape(7, -1, 1, 1)  # channels ordered (hb, wb, c)
    got = torch.nn.functional.conv2d(flat, weight, bias).reshape(7, 2, 1, 5).permute(0, 3, 1, 2)
    torch.testing.assert_close(got, conv.conv2(x))


def test_official_computation_gives_the_same_logits_in_the_official_layout(random_hsnet):
    from conftest import random_episode

    model = random_hsnet("resnet50", seed=3)
    q, s, m = random_episode(1, 2, 128, seed=4)
    with torch.no_grad():
        ours = model(q, s, m)
        assert model.correlation_layout == SUPPORT_GRIDS
        with model.official_computation():
            assert model.correlation_layout == NATIVE and model.hpn_learner.mix_layout == NATIVE
            official = model(q, s, m)
        assert not model.hpn_learner.official_layout  # restored
    torch.testing.assert_close(ours, official, rtol=1e-4, atol=1e-5 * float(official.abs().max()))


def test_support_grid_correlation_eager_and_traced_forms_equal_the_official_product():
    """Eager PyTorch and the traced (exported) graph take different products; both must give the
    official correlation, negative cosines clamped to 0, moved to SUPPORT_GRIDS."""
    from hsnet_deploy.hsnet.correlation import (
        level_correlation,
        stack_rows,
        support_grid_correlation,
    )

    g = torch.Generator().manual_seed(0)
    q, s = torch.randn(2, 3, 8, 5, 6, generator=g), torch.randn(2, 3, 3, 8, 4, 7, generator=g)  # B=2, K=3, L=3
    official = level_correlation(q, s)  # (B*K, L, Ha, Wa, Hb, Wb)
    assert (official == 0).any() and (official > 0).any()
    def from_stack(query, support):
        return support_grid_correlation(stack_rows(query), query.shape[-2:], support)

    eager = from_stack(q, s)
    traced = torch.jit.trace(from_stack, (q, s))(q, s)
    for got in (eager, traced):
        assert got.shape == (6, 5, 6, 3, 4, 7)
        torch.testing.assert_close(convert(got, SUPPORT_GRIDS, NATIVE), official)


def test_an_unknown_layout_is_a_clear_error():
    conv = CenterPivotConv4d(2, 3, 3, 2)
    with pytest.raises(ValueError, match="unknown correlation layout 'nchw'"):
        conv(torch.zeros(1, 2, 3, 3, 4, 4), "nchw")
    with pytest.raises(ValueError, match="unknown correlation layout 'nchw'"):
        conv(torch.zeros(1, 2, 3, 3, 4, 4), NATIVE, "nchw")


@pytest.mark.parametrize("src,dst", [(QUERY_GRIDS, SUPPORT_CHANNELS_LAST), (SUPPORT_CHANNELS_LAST, SUPPORT_GRIDS), (NATIVE, QUERY_GRIDS)])
def test_a_center_pivot_conv_changes_layout_only_into_channels_last(src, dst):
    conv = CenterPivotConv4d(2, 3, 3, 2)
    with pytest.raises(ValueError, match=f"cannot go from {src} to {dst}"):
        conv(convert(torch.zeros(1, 2, 3, 3, 4, 4), NATIVE, src), src, dst)


@pytest.mark.parametrize("kernel,stride", [(3, 2), (5, 4), (3, 1)])
def test_the_first_squeezing_conv_reads_support_grids_and_writes_channels_last(kernel, stride):
    torch.manual_seed(kernel + stride)
    conv = CenterPivotConv4d(3, 4, kernel, stride).double()
    x = torch.randn(2, 3, 5, 6, 9, 7, dtype=torch.float64)  # NATIVE
    expected = conv(x)  # the official formulation
    got = conv(convert(x, NATIVE, SUPPORT_GRIDS), SUPPORT_GRIDS, SUPPORT_CHANNELS_LAST)
    torch.testing.assert_close(convert(got, SUPPORT_CHANNELS_LAST, NATIVE), expected, rtol=1e-12, atol=1e-12)


def test_onnxruntime_folds_every_channels_last_permute_of_a_squeezing_block_into_its_convs(tmp_path):
    """The exported squeezing block (SUPPORT_GRIDS in, SUPPORT_CHANNELS_LAST after its first conv):
    after onnxruntime's optimisations the only Transpose left is the first conv's pivots moved
    to NATIVE; every other NHWC <-> NCHW permute became a channels-last ReorderInput/Output of
    an NCHWc conv (center_pivot_conv: the flat sum keeps the transpose optimizer from moving
    the output permutes away from their convs)."""
    ort = pytest.importorskip("onnxruntime")
    onnx = pytest.importorskip("onnx")
    from hsnet_deploy.hsnet.learner import building_block, run_block

    torch.manual_seed(0)
    block = building_block(4, (16, 64, 128), (5, 5, 3), (4, 4, 2)).eval()  # HSNet's C1 squeezing block

    class Squeeze(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.block = block

        def forward(self, corr):  # (1, Ha, Wa, L, Hb, Wb)
            return run_block(self.block, corr, SUPPORT_GRIDS, SUPPORT_CHANNELS_LAST)

    corr = torch.rand(1, 6, 5, 4, 26, 26)
    path, optimized = tmp_path / "squeeze.onnx", tmp_path / "optimized.onnx"
    with torch.no_grad():
        expected = convert(run_block(block, convert(corr, SUPPORT_GRIDS, NATIVE), NATIVE), NATIVE, SUPPORT_CHANNELS_LAST)
        torch.onnx.export(Squeeze(), (corr,), str(path), dynamo=False, opset_version=17, input_names=["corr"])
    options = ort.SessionOptions()
    options.optimized_model_filepath = str(optimized)
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    got = session.run(None, {"corr": corr.numpy()})[0]
    torch.testing.assert_close(torch.from_numpy(got), expected, rtol=1e-4, atol=1e-4)
    nodes = onnx.load(str(optimized)).graph.node
    if not any(n.op_type == "ReorderInput" or n.op_type == "NchwcConv" for n in nodes):
        pytest.skip("onnxruntime runs no NCHWc kernels on this CPU")
    transposes = [[int(i) for i in n.attribute[0].ints] for n in nodes if n.op_type == "Transpose"]
    assert transposes == [[0, 3, 1, 2, 4, 5]]  # the first conv's pivots, SUPPORT_GRIDS -> NATIVE
    channels_last = [next(a.i for a in n.attribute if a.name == "channels_last") for n in nodes if n.op_type in ("ReorderInput", "ReorderOutput")]
    # every reorder is a folded permute: the 6 branch outputs and both branch inputs of the 2nd and 3rd convs
    assert channels_last == [1] * (6 + 4)
