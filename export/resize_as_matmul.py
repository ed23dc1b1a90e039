"""Replace bilinear (align_corners) Resize nodes by two MatMuls with PyTorch's weights.

A bilinear resize with align_corners=True is separable: for X (N, C, h, w),

    Y = R_h · X · R_wᵀ        R_h (H, h), R_w (W, w): 1-D linear interpolation weights

The traced graph has four such Resizes in HSNet's learner (the mixing blocks' query-dim
upsampling, the decoder's x2 and the final resize to the input size), each with a
``sizes`` input computed at run time from ``Shape(x)`` because the leading dim is the
dynamic batch. Rewritten with constant ``R`` matrices from
:func:`hsnet_deploy.hsnet.mask_resize.linear_resize_matrix` (the weights PyTorch itself
uses, exactly as for the support masks), the graph loses the shape arithmetic, every
backend computes the same weights, and TensorRT sees plain MatMuls (cheap here: the
largest is 400x100 on a (B*K, 2, 100, 100) tensor).

Only nodes whose input and output spatial sizes are static are rewritten; anything
else is left alone (and the checks then report the leftover shape computation).
"""

from __future__ import annotations

from typing import Optional

import onnx
from onnx import helper

from .onnx_graph import Inferred, add_initializer, unique_name


def _attr(node: onnx.NodeProto, name: str, default: str) -> str:
    for a in node.attribute:
        if a.name == name:
            return a.s.decode()
    return default


def _same_leading_dims(in_dims, out_dims) -> bool:
    """Channels equal and static; the batch dim equal, or dynamic on both sides.

    Shape inference names an unknown batch dim afresh after a Resize whose ``sizes`` are
    computed (``Concat(Shape(x)[:2], [h, w])``, as the tracer writes ``F.interpolate``),
    so a dynamic N cannot be proven equal; F.interpolate never resizes N or C.
    """
    n_in, c_in = in_dims[:2]
    n_out, c_out = out_dims[:2]
    if not isinstance(c_in, int) or c_in != c_out:
        return False
    return n_in == n_out or (not isinstance(n_in, int) and not isinstance(n_out, int))


def resizes_as_matmul(model: onnx.ModelProto, inferred: Optional[Inferred] = None) -> int:
    """Rewrite every static bilinear align_corners Resize of ``model`` in place; returns how many.

    inferred: a shape inference of ``model`` (or of it before shape-keeping passes);
    computed here when not given.
    """
    from ..hsnet.mask_resize import linear_resize_matrix  # torch: export side only

    graph = model.graph
    shapes = (inferred or Inferred.of(model)).shapes
    nodes: list[onnx.NodeProto] = []
    weights: dict[tuple, str] = {}  # (axis, in, out) -> initializer, shared by same-size resizes
    rewritten = 0

    def weight(axis: str, n_in: int, n_out: int) -> str:
        if (axis, n_in, n_out) not in weights:
            r = linear_resize_matrix(n_in, n_out).numpy()  # (out, in)
            value = r if axis == "rows" else r.T.copy()  # rows: (out, in) on the left; cols: (in, out) on the right
            weights[axis, n_in, n_out] = add_initializer(graph, f"resize_{axis}_{n_in}_to_{n_out}", value)
        return weights[axis, n_in, n_out]

    for node in graph.node:
        in_dims, out_dims = shapes.get(node.input[0]) if node.input else None, shapes.get(node.output[0])
        if (
            node.op_type != "Resize"
            or _attr(node, "mode", "nearest") != "linear"
            or _attr(node, "coordinate_transformation_mode", "half_pixel") != "align_corners"
            or in_dims is None
            or out_dims is None
            or len(in_dims) != 4
            or len(out_dims) != 4
            or not _same_leading_dims(in_dims, out_dims)
            or not all(isinstance(d, int) for d in in_dims[2:] + out_dims[2:])
        ):
            nodes.append(node)
            continue
        (h, w), (oh, ow) = in_dims[2:], out_dims[2:]
        x = node.input[0]
        if oh != h:
            mid = unique_name(graph, f"{node.output[0]}_rows") if ow != w else node.output[0]
            # (oh, h) @ (N, C, h, w) -> (N, C, oh, w)
            nodes.append(helper.make_node("MatMul", [weight("rows", h, oh), x], [mid], name=f"{node.name or mid}_rows"))
            x = mid
        if ow != w:
            # (N, C, oh, w) @ (w, ow) -> (N, C, oh, ow)
            nodes.append(helper.make_node("MatMul", [x, weight("cols", w, ow)], [node.output[0]], name=f"{node.name or node.output[0]}_cols"))
        elif oh == h:
            nodes.append(helper.make_node("Identity", [x], [node.output[0]]))
        rewritten += 1
    del graph.node[:]
    graph.node.extend(nodes)
    return rewritten
