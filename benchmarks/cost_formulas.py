"""Analytic cost of the layers HSNet is made of: FLOPs and elements moved.

Conventions (stated once, used everywhere):

- FLOPs = 2 x multiply-accumulates (one multiply + one add each). Biases, activations,
  normalisation, interpolation and masking are not counted as FLOPs (they are well
  under 1 % of HSNet's arithmetic).
- Elements moved = every operand read once from memory and every result written once
  (no fusion across layers, no cache reuse across layers). Multiply by the bytes of an
  element (4 FP32, 2 FP16, 1 INT8) for bytes. BatchNorm and ReLU are assumed folded into
  the preceding convolution, as inference engines do.

Layers, for a batch of N:

    Conv2d (C -> O, kernel kh x kw, groups g), output (N, O, Ho, Wo):
        MACs = N * O * Ho * Wo * (C / g) * kh * kw
        moved = N*C*Hi*Wi + O*(C/g)*kh*kw (+ O bias) + N*O*Ho*Wo
    MatMul (batch, m x k) @ (k x n):   MACs = batch * m * k * n
    Correlation of one pyramid level, query (B, L, C, Ha, Wa) with support
    (B, K, L, C, Hb, Wb):              MACs = B * K * L * (Ha Wa) * C * (Hb Wb)
    Center-pivot 4D conv (C -> O, kernel k, support stride s) on (N, C, Ha, Wa, Hb, Wb),
    Hb' = ceil(Hb / s) (odd k, padding k // 2):
        query branch:   Conv2d on N*Hb'*Wb' images (C, Ha, Wa) -> (O, Ha, Wa)
        support branch: Conv2d on N*Ha*Wa images (C, Hb, Wb) -> (O, Hb', Wb'), stride s
        MACs = N*O*C*k^2 * Ha*Wa*Hb'*Wb' * 2
        plus the slices and layout copies of the layout it runs in (read + write each) and
        the final sum (2 reads, 1 write); in QUERY_GRIDS on a support grid of M <= k²
        positions the support branch is a 1x1 conv of M'·O x M·C per query position
    Dense 4D conv (C -> O, kernel k^4, support stride s), the Table 5 baseline:
        MACs = N * O * C * k^4 * Ha*Wa*Hb'*Wb'
        moved = input + O*C*k^4 (+ O) weights + output

    GroupNorm: moved = 2 x elements (read, write); FLOPs not counted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional


@dataclass(frozen=True)
class Cost:
    """FLOPs and elements moved of some piece of work; costs add up."""

    flops: int = 0
    elements: int = 0

    def __add__(self, other: "Cost") -> "Cost":
        return Cost(self.flops + other.flops, self.elements + other.elements)

    def scaled(self, factor: int) -> "Cost":
        return Cost(self.flops * factor, self.elements * factor)


def conv_output_size(n: int, kernel: int, stride: int = 1, padding: int | None = None) -> int:
    """Output length of a convolution along one axis (padding defaults to kernel // 2)."""
    padding = kernel // 2 if padding is None else padding
    return (n + 2 * padding - kernel) // stride + 1


def conv2d_cost(
    batch: int,
    in_channels: int,
    out_channels: int,
    kernel: tuple[int, int],
    in_hw: tuple[int, int],
    out_hw: tuple[int, int],
    groups: int = 1,
    bias: bool = True,
) -> Cost:
    kh, kw = kernel
    weights = out_channels * (in_channels // groups) * kh * kw
    macs = batch * out_channels * out_hw[0] * out_hw[1] * (in_channels // groups) * kh * kw
    moved = batch * in_channels * in_hw[0] * in_hw[1] + weights + (out_channels if bias else 0)
    moved += batch * out_channels * out_hw[0] * out_hw[1]
    return Cost(2 * macs, moved)


def linear_cost(rows: int, in_features: int, out_features: int, bias: bool = True) -> Cost:
    macs = rows * in_features * out_features
    moved = rows * in_features + in_features * out_features + (out_features if bias else 0) + rows * out_features
    return Cost(2 * macs, moved)


def matmul_cost(batch: int, m: int, k: int, n: int) -> Cost:
    """(batch, m, k) @ (batch, k, n)."""
    return Cost(2 * batch * m * k * n, batch * (m * k + k * n + m * n))


def correlation_cost(batch: int, shots: int, layers: int, channels: int, query_hw: tuple[int, int], support_hw: tuple[int, int]) -> Cost:
    """One pyramid level: the query read once, shared by the K supports."""
    qa = query_hw[0] * query_hw[1]
    sb = support_hw[0] * support_hw[1]
    macs = batch * shots * layers * qa * channels * sb
    moved = batch * layers * channels * qa + batch * shots * layers * (channels * sb + qa * sb)
    return Cost(2 * macs, moved)


LAYOUT_VARIANTS = ("native", "support-grids", "query-grids-matrix", "query-grids-swap", "support-channels-last", "support-grids-to-channels-last")


def center_pivot_layout_elements(
    batch: int, in_channels: int, out_channels: int, stride: int, shape4d: tuple[int, int, int, int], variant: str = "native"
) -> int:
    """Elements read + written by the slices, layout copies and the branch sum of a CP conv
    run as ``variant`` (hsnet.center_pivot_conv): a copy reads and writes each element, the
    sum reads two and writes one, a grid swap is two block transposes. In
    SUPPORT_CHANNELS_LAST the permutes at each conv's input and output are folded into the
    conv by the runtimes (hsnet.grid_layout), so they move nothing of their own."""
    ha, wa, hb, wb = shape4d
    hb2, wb2 = -(-hb // stride), -(-wb // stride)
    pivots = batch * in_channels * ha * wa * hb2 * wb2
    full = batch * in_channels * ha * wa * hb * wb
    out = batch * out_channels * ha * wa * hb2 * wb2
    sliced = 2 * pivots if stride > 1 else 0
    support_grids = sliced + 2 * pivots + 2 * out + 3 * out  # pivots to NATIVE, the query result back, the sum
    if variant == "support-grids":
        return support_grids
    if variant == "support-channels-last":
        return sliced + 3 * out
    if variant == "support-grids-to-channels-last":
        return sliced + 2 * pivots + 3 * out  # only the pivots' move to NATIVE is a copy
    if variant == "query-grids-matrix":
        return sliced + 3 * out
    if variant == "query-grids-swap":
        return sliced + 4 * full + 4 * out + 3 * out  # the input and the support result through two swaps each
    if variant == "native":
        return 2 * full + 2 * out + support_grids  # to SUPPORT_GRIDS and back
    raise ValueError(f"unknown variant {variant!r} (expected one of {', '.join(LAYOUT_VARIANTS)})")


def center_pivot_conv_cost(
    batch: int, in_channels: int, out_channels: int, kernel: int, stride: int, shape4d: tuple[int, int, int, int], layout: str = "native",
    out_layout: Optional[str] = None,
) -> Cost:
    """Both branches of a center-pivot 4D conv as they execute in ``layout`` (writing
    ``out_layout``, default the same), plus its copies.
    In QUERY_GRIDS with Hb·Wb <= k² the support branch is the 1x1 support matrix: M'·O x M·C
    multiply-adds per query position (M = Hb·Wb, M' = Hb'·Wb'), fewer than the conv's."""
    from ..hsnet.center_pivot_conv import uses_support_matrix

    ha, wa, hb, wb = shape4d
    hb2, wb2 = conv_output_size(hb, kernel, stride), conv_output_size(wb, kernel, stride)
    query_branch = conv2d_cost(batch * hb2 * wb2, in_channels, out_channels, (kernel, kernel), (ha, wa), (ha, wa))
    variant = layout
    if out_layout == "support-channels-last" and layout == "support-grids":
        variant = "support-grids-to-channels-last"
    if layout == "query-grids":
        variant = "query-grids-matrix" if uses_support_matrix(hb, wb, kernel) else "query-grids-swap"
    if variant == "query-grids-matrix":
        support_branch = conv2d_cost(batch, hb * wb * in_channels, hb2 * wb2 * out_channels, (1, 1), (ha, wa), (ha, wa))
    else:
        support_branch = conv2d_cost(batch * ha * wa, in_channels, out_channels, (kernel, kernel), (hb, wb), (hb2, wb2))
    layout_elements = center_pivot_layout_elements(batch, in_channels, out_channels, stride, shape4d, variant)
    return query_branch + support_branch + Cost(0, layout_elements)


def dense_conv4d_cost(batch: int, in_channels: int, out_channels: int, kernel: int, stride: int, shape4d: tuple[int, int, int, int]) -> Cost:
    """A full k^4 kernel over (Ha, Wa, Hb, Wb), support dims strided by s."""
    ha, wa, hb, wb = shape4d
    hb2, wb2 = conv_output_size(hb, kernel, stride), conv_output_size(wb, kernel, stride)
    weights = out_channels * in_channels * kernel**4 + out_channels
    macs = batch * out_channels * in_channels * kernel**4 * ha * wa * hb2 * wb2
    moved = batch * in_channels * ha * wa * hb * wb + weights + batch * out_channels * ha * wa * hb2 * wb2
    return Cost(2 * macs, moved)
