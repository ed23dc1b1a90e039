"""Give every Reshape a constant target shape (TensorRT: no shape-tensor arithmetic).

The TorchScript tracer records ``x.reshape(b, -1, c, h, w)`` with ``b = x.shape[0]`` as a
chain ``Shape -> Gather -> Unsqueeze -> Concat -> Reshape``: a shape tensor computed at
run time. TensorRT parses such chains, but they block its optimisations and are a classic
source of parser failures. Here ONNX shape inference with data propagation tells us each
Reshape's output dims (ints where static; the batch dims ``B``, ``K`` by name or unknown;
a single unknown dim whose value follows from the element count is filled in, see
:func:`resolve_by_volume`), and the target is rewritten as a constant:

    static dims                  -> their value
    exactly one dynamic dim      -> -1 there                    e.g. [-1, 512, 50, 50]
    several dynamic dims         -> 0 ("copy the input's dim") where the input has the same
                                    symbolic dim at the same index; at most one -1; any
                                    other named run (e.g. B, K) -> Shape(graph input, start,
                                    end) of the input that declares it, concatenated with
                                    the constant rest.

The last case only occurs when both the batch B and the shot count K are dynamic
(unflattening B*K back to (B, K) cannot be written without one of them). A Reshape whose
output has exactly the input's dims is dropped. The dangling Shape/Gather chains are
removed afterwards by dead-node elimination.
"""

from __future__ import annotations

from typing import Optional, Union

import numpy as np
import onnx
from onnx import helper

from .onnx_graph import (
    UNKNOWN_DIM,
    Dim,
    Inferred,
    add_initializer,
    constant_values,
    rename_uses,
    tensor_dims,
    unique_name,
)

# A planned target: constant ints, or (graph input, start, end) slices of its shape.
Piece = Union[list[int], tuple[str, int, int]]


def resolve_by_volume(in_dims: Optional[list[Dim]], out_dims: list[Dim]) -> list[Dim]:
    """Fill in the one output dim of a Reshape that follows from the element count.

    ONNX inference gives up on ``reshape(b, -1, ...)`` when b is symbolic and names the
    result afresh (``unk__N``) or leaves it unknown. If exactly one output dim is such a
    new unknown and the other symbolic dims of input and output are the same names, it is
    (product of the input's ints) / (product of the output's ints), e.g.
    [batch, 1, 3, 2048, 3, 3] -> [batch, unk__7, 3, 2048, 9] gives unk__7 = 1.
    """
    if in_dims is None or UNKNOWN_DIM in in_dims:
        return list(out_dims)
    names_in = sorted(d for d in in_dims if isinstance(d, str))
    fresh = [i for i, d in enumerate(out_dims) if isinstance(d, str) and (d == UNKNOWN_DIM or d not in names_in)]
    names_out = sorted(d for i, d in enumerate(out_dims) if isinstance(d, str) and i not in fresh)
    if len(fresh) != 1 or names_in != names_out:
        return list(out_dims)
    volume_in = int(np.prod([d for d in in_dims if isinstance(d, int)]))
    volume_out = int(np.prod([d for d in out_dims if isinstance(d, int)]))
    if volume_out == 0 or volume_in % volume_out:
        return list(out_dims)
    resolved = list(out_dims)
    resolved[fresh[0]] = volume_in // volume_out
    return resolved


def plan_target(in_dims: Optional[list[Dim]], out_dims: list[Dim], input_dims: dict[str, list[Dim]]) -> Optional[list[Piece]]:
    """The pieces of a constant-as-possible Reshape target, or None if it cannot be planned."""
    target: list[Union[int, str]] = resolve_by_volume(in_dims, out_dims)  # ints stay; names / "?" resolved below
    dynamic = [i for i, d in enumerate(target) if not isinstance(d, int)]
    if len(dynamic) <= 1:
        return [[-1 if not isinstance(d, int) else d for d in target]]
    # several dynamic dims: copy the ones the input has at the same index (Reshape's 0)
    for i in dynamic:
        d = target[i]
        if d != UNKNOWN_DIM and in_dims is not None and i < len(in_dims) and in_dims[i] == d:
            target[i] = 0
    remaining = [i for i, d in enumerate(target) if isinstance(d, str)]
    unknown = [i for i in remaining if target[i] == UNKNOWN_DIM or not _declared(target[i], input_dims)]
    if len(remaining) <= 1:
        return [[-1 if isinstance(d, str) else d for d in target]]
    if len(unknown) > 1:
        return None
    for i in unknown:
        target[i] = -1
    pieces: list[Piece] = []
    i = 0
    while i < len(target):
        d = target[i]
        if not isinstance(d, str):
            if pieces and isinstance(pieces[-1], list):
                pieces[-1].append(d)
            else:
                pieces.append([d])
            i += 1
            continue
        found = _find_run(target, i, input_dims)
        if found is None:
            return None
        name, start, end = found
        pieces.append((name, start, end))
        i += end - start
    return pieces


def _declared(dim: str, input_dims: dict[str, list[Dim]]) -> bool:
    return any(dim in dims for dims in input_dims.values())


def _find_run(target: list, i: int, input_dims: dict[str, list[Dim]]) -> Optional[tuple[str, int, int]]:
    """The longest run of named dims starting at target[i] that some graph input declares
    contiguously: (input name, start, end)."""
    best = None
    for name, dims in input_dims.items():
        for start, d in enumerate(dims):
            if d != target[i]:
                continue
            n = 0
            while i + n < len(target) and start + n < len(dims) and isinstance(target[i + n], str) and dims[start + n] == target[i + n]:
                n += 1
            if best is None or n > best[2] - best[1]:
                best = (name, start, start + n)
    return best


def _same_target(current, planned) -> bool:
    return current is not None and isinstance(planned, list) and current.tolist() == planned


def make_reshapes_static(model: onnx.ModelProto, inferred: Optional[Inferred] = None) -> int:
    """Rewrite every computed Reshape target of ``model`` (in place); returns how many.

    inferred: a shape inference of ``model`` (or of it before shape-keeping passes such as
    constant folding); computed here when not given.
    """
    graph = model.graph
    shapes = (inferred or Inferred.of(model)).shapes
    consts = constant_values(graph)
    input_dims = {i.name: tensor_dims(i) or [] for i in graph.input}
    shape_nodes: dict[tuple[str, int, int], str] = {}
    head: list[onnx.NodeProto] = []  # Shape(graph input) nodes, placed first
    body: list[onnx.NodeProto] = []
    rewritten = 0
    outputs = {o.name for o in graph.output}
    for node in graph.node:
        if node.op_type != "Reshape" or any(a.name == "allowzero" and a.i for a in node.attribute):
            body.append(node)
            continue
        in_dims, out_dims = shapes.get(node.input[0]), shapes.get(node.output[0])
        if out_dims is None:
            body.append(node)
            continue
        if in_dims == out_dims and UNKNOWN_DIM not in out_dims and node.output[0] not in outputs:
            rename_uses(graph, node.output[0], node.input[0])  # a no-op reshape (same dims, same names)
            rewritten += 1
            continue
        pieces = plan_target(in_dims, out_dims, input_dims)
        if pieces is None or (len(pieces) == 1 and _same_target(consts.get(node.input[1]), pieces[0])):
            body.append(node)
            continue
        if len(pieces) == 1 and isinstance(pieces[0], list):
            node.input[1] = add_initializer(graph, f"{node.output[0]}_shape", np.array(pieces[0], dtype=np.int64))
        else:
            parts = []
            for piece in pieces:
                if isinstance(piece, list):
                    parts.append(add_initializer(graph, f"{node.output[0]}_shape_part", np.array(piece, dtype=np.int64)))
                    continue
                if piece not in shape_nodes:
                    src, start, end = piece
                    out = unique_name(graph, f"{src}_dims_{start}_{end}")
                    head.append(helper.make_node("Shape", [src], [out], name=out, start=start, end=end))
                    shape_nodes[piece] = out
                parts.append(shape_nodes[piece])
            concat_out = unique_name(graph, f"{node.output[0]}_shape")
            body.append(helper.make_node("Concat", parts, [concat_out], name=concat_out, axis=0))
            node.input[1] = concat_out
        body.append(node)
        rewritten += 1
    del graph.node[:]
    graph.node.extend(head + body)
    return rewritten
