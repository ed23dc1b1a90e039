"""The three memory layouts of HSNet's 6-D correlation tensors, and moves between them.

A 4D correlation holds, for every query position (ha, wa) and support position (hb, wb),
C channels. Which two of the four grid axes are innermost decides which branch of a
center-pivot conv is a plain Conv2d over a reshape (free) and which needs a permute:

    NATIVE         (B, C, Ha, Wa, Hb, Wb)   the official layout; both branches permute
    SUPPORT_GRIDS  (B, Ha, Wa, C, Hb, Wb)   a (C, Hb, Wb) image per query position:
                                            the (strided) support branch is free
    QUERY_GRIDS    (B, Hb, Wb, C, Ha, Wa)   a (C, Ha, Wa) image per support position:
                                            the query branch, the query-dim upsample of
                                            the mixing blocks and the final mean are free
    SUPPORT_CHANNELS_LAST                   SUPPORT_GRIDS with the channels innermost:
                   (B, Ha, Wa, Hb, Wb, C)   an (Hb, Wb, C) channels-last image per query
                                            position, and the pivots an (Ha, Wa·M', C) one

The learner squeezes with its support grids outermost (large strided support grids): the
correlation arrives in SUPPORT_GRIDS, each squeezing block's first center-pivot conv writes
SUPPORT_CHANNELS_LAST and the rest stay there; it changes layout once per pyramid level
after squeezing (the tensor is smallest there), and mixes in QUERY_GRIDS (tiny support
grids; see ``CenterPivotConv4d``). Every layout holds the same numbers; only the order of
the axes differs.

Why channels last while squeezing: CPU runtimes run these small-channel convolutions on
channels-last data (OpenVINO's CPU plugin always, onnxruntime's NCHWc kernels after a
reorder), and both fold a Transpose between NHWC and NCHW placed right at a Conv's input
or output into the conv itself (onnxruntime: ``ReorderInput``/``ReorderOutput`` with
``channels_last``; OpenVINO: its ``nspc`` convolution). So in SUPPORT_CHANNELS_LAST the
permutes around the squeezing convs cost nothing, where SUPPORT_GRIDS paid a layout reorder
on each side of every conv. Measured (the reference model's 400x400 query graph alone, 2
threads, AMD EPYC with AVX-512, 12 rounds of 3 runs each, both backends and both graphs
in one run): onnxruntime 268 -> 258 ms, OpenVINO 268 -> 247 ms.

What a move costs depends on what stays contiguous. NATIVE <-> SUPPORT_GRIDS keeps the
(Hb, Wb) block whole: a copy of contiguous runs. SUPPORT_GRIDS <-> QUERY_GRIDS exchanges
the two grids around the channels, so no run is longer than one number; onnxruntime's
6-D Transpose then moves ~50M numbers/s. :func:`swap_grids` writes that move as two
2-D block transposes, which onnxruntime runs 3-12x faster (ResNet50 at 400x400, 2
threads: (1, 50, 50, 128, 2, 2) 15.8 -> 4.6 ms, (1, 50, 50, 64, 4, 4) 107 -> 8.5 ms).
SUPPORT_CHANNELS_LAST <-> QUERY_GRIDS is a single such block transpose: the (Ha, Wa)
block and the (Hb, Wb, C) block trade places (:func:`swap_blocks`).
"""

from __future__ import annotations

import math

import torch

NATIVE = "native"
SUPPORT_GRIDS = "support-grids"
QUERY_GRIDS = "query-grids"
SUPPORT_CHANNELS_LAST = "support-channels-last"
LAYOUTS = (NATIVE, SUPPORT_GRIDS, QUERY_GRIDS, SUPPORT_CHANNELS_LAST)

# the native axis (0 B, 1 C, 2 Ha, 3 Wa, 4 Hb, 5 Wb) held by each axis of a layout:
# x_layout = x_native.permute(_ORDER[layout])
_ORDER = {
    NATIVE: (0, 1, 2, 3, 4, 5),
    SUPPORT_GRIDS: (0, 2, 3, 1, 4, 5),  # (B, Ha, Wa, C, Hb, Wb)
    QUERY_GRIDS: (0, 4, 5, 1, 2, 3),  # (B, Hb, Wb, C, Ha, Wa)
    SUPPORT_CHANNELS_LAST: (0, 2, 3, 4, 5, 1),  # (B, Ha, Wa, Hb, Wb, C)
}


def check_layout(layout: str) -> None:
    """A ValueError naming the layouts when ``layout`` is not one of them."""
    if layout not in _ORDER:
        raise ValueError(f"unknown correlation layout {layout!r}; expected one of {', '.join(LAYOUTS)}")


def permutation(src: str, dst: str) -> tuple[int, ...]:
    """The axes order p with ``x_dst = x_src.permute(p)``."""
    check_layout(src)
    check_layout(dst)
    return tuple(_ORDER[src].index(native_axis) for native_axis in _ORDER[dst])


def convert(x: torch.Tensor, src: str, dst: str) -> torch.Tensor:
    """``x`` (a 6-D correlation in layout ``src``) in layout ``dst`` (no copy if equal)."""
    if src == dst:
        check_layout(src)
        return x
    if {src, dst} == {SUPPORT_GRIDS, QUERY_GRIDS}:
        return swap_grids(x)
    if {src, dst} == {SUPPORT_CHANNELS_LAST, QUERY_GRIDS}:
        return swap_blocks(x, 2 if src == SUPPORT_CHANNELS_LAST else 3)
    return x.permute(permutation(src, dst))


def swap_grids(x: torch.Tensor) -> torch.Tensor:
    """(B, G1, G2, C, G3, G4) -> (B, G3, G4, C, G1, G2): SUPPORT_GRIDS <-> QUERY_GRIDS, as two
    2-D block transposes (module docstring)."""
    b, g1, g2, ch, g3, g4 = x.shape
    y = x.reshape(b, g1 * g2, ch, g3 * g4).transpose(2, 3)  # (B, G1*G2, G3*G4, C)
    y = y.reshape(b, g1 * g2, g3 * g4 * ch).transpose(1, 2)  # (B, G3*G4*C, G1*G2)
    return y.reshape(b, g3, g4, ch, g1, g2)


def swap_blocks(x: torch.Tensor, leading: int) -> torch.Tensor:
    """(B, X..., Y...) -> (B, Y..., X...) with X the ``leading`` axes after B: one 2-D block
    transpose. SUPPORT_CHANNELS_LAST -> QUERY_GRIDS with X = (Ha, Wa), back with X = (Hb, Wb, C)."""
    first, rest = x.shape[1 : 1 + leading], x.shape[1 + leading :]
    n_first, n_rest = math.prod(int(d) for d in first), math.prod(int(d) for d in rest)
    y = x.reshape(-1, n_first, n_rest).transpose(1, 2)  # (B, prod Y, prod X)
    return y.reshape(-1, *rest, *first)


def native_dims(shape, layout: str) -> tuple[int, int, int, int, int, int]:
    """(B, C, Ha, Wa, Hb, Wb) of a tensor of ``shape`` held in ``layout``."""
    check_layout(layout)
    order = _ORDER[layout]
    return tuple(int(shape[order.index(axis)]) for axis in range(6))  # type: ignore[return-value]
