"""Small structural queries and edits on an ONNX graph (``onnx.GraphProto``), in place.

The cleaning passes (static reshapes, resize as MatMul, constant folding) and the checks
share these: who produces / consumes a tensor, which tensors are constants, renaming a
tensor, dropping what no output needs, and the inferred shape of a tensor.

A *constant* is an initializer or the output of a ``Constant`` node. A *dimension* is an
``int`` when static and a ``str`` (its symbolic name, or ``"?"`` when unnamed) otherwise.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Iterable, Optional, Union

import numpy as np
import onnx
from onnx import numpy_helper

Dim = Union[int, str]
UNKNOWN_DIM = "?"
# Explicit quantization: on constant inputs it is how an INT8 graph stores its weights, and
# TensorRT must see it as written, so no pass folds it and no check calls it foldable.
QDQ_OPS = frozenset({"QuantizeLinear", "DequantizeLinear"})


def is_weight_upcast(node: onnx.NodeProto, types: dict[str, int]) -> bool:
    """A Cast of a FLOAT16 tensor to FLOAT: on a constant, FP16 weights stored at half size
    and read by an FP32 island (ModelOpt AutoCast leaves these). Kept as written: folding
    would double the weights' size, and TensorRT folds the cast when it builds the engine."""
    to = next((a.i for a in node.attribute if a.name == "to"), None)
    return (node.op_type == "Cast" and not node.domain and to == onnx.TensorProto.FLOAT
            and types.get(node.input[0]) == onnx.TensorProto.FLOAT16)


def producers(graph: onnx.GraphProto) -> dict[str, onnx.NodeProto]:
    """tensor name -> the node that writes it."""
    return {out: node for node in graph.node for out in node.output if out}


def consumers(graph: onnx.GraphProto) -> dict[str, list[onnx.NodeProto]]:
    """tensor name -> the nodes that read it (a node reading it twice appears once)."""
    users: dict[str, list[onnx.NodeProto]] = defaultdict(list)
    for node in graph.node:
        for name in dict.fromkeys(i for i in node.input if i):
            users[name].append(node)
    return users


def constant_values(graph: onnx.GraphProto) -> dict[str, np.ndarray]:
    """Every constant tensor's value: initializers and ``Constant`` node outputs."""
    values = {init.name: numpy_helper.to_array(init) for init in graph.initializer}
    for node in graph.node:
        if node.op_type == "Constant" and not node.domain:
            values[node.output[0]] = constant_node_value(node)
    return values


def constant_node_value(node: onnx.NodeProto) -> np.ndarray:
    """The value held by a ``Constant`` node (any of its value attributes)."""
    attr = node.attribute[0]
    if attr.name == "value":
        return numpy_helper.to_array(attr.t)
    if attr.name == "value_float":
        return np.array(attr.f, dtype=np.float32)
    if attr.name == "value_floats":
        return np.array(list(attr.floats), dtype=np.float32)
    if attr.name == "value_int":
        return np.array(attr.i, dtype=np.int64)
    if attr.name == "value_ints":
        return np.array(list(attr.ints), dtype=np.int64)
    raise ValueError(f"unsupported Constant attribute {attr.name!r} in node {node.name!r}")


def unique_name(graph: onnx.GraphProto, stem: str) -> str:
    """A tensor/node name not used anywhere in ``graph``."""
    taken = {i.name for i in graph.input} | {o.name for o in graph.output} | {t.name for t in graph.initializer}
    for node in graph.node:
        taken.update(node.input)
        taken.update(node.output)
        taken.add(node.name)
    if stem not in taken:
        return stem
    n = 1
    while f"{stem}_{n}" in taken:
        n += 1
    return f"{stem}_{n}"


def add_initializer(graph: onnx.GraphProto, stem: str, value: np.ndarray) -> str:
    """Add ``value`` as a new initializer; returns its (unique) name."""
    name = unique_name(graph, stem)
    graph.initializer.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
    return name


def rename_uses(graph: onnx.GraphProto, old: str, new: str) -> None:
    """Make every node (and graph output) that reads ``old`` read ``new`` instead."""
    for node in graph.node:
        for i, name in enumerate(node.input):
            if name == old:
                node.input[i] = new
    for out in graph.output:
        if out.name == old:
            out.name = new


def remove_dead_nodes(graph: onnx.GraphProto) -> int:
    """Drop nodes, initializers and value_info no graph output depends on; returns nodes dropped."""
    needed = {o.name for o in graph.output}
    keep: list[onnx.NodeProto] = []
    for node in reversed(graph.node):
        if any(out in needed for out in node.output):
            keep.append(node)
            needed.update(i for i in node.input if i)
    dropped = len(graph.node) - len(keep)
    keep.reverse()
    del graph.node[:]
    graph.node.extend(keep)
    live_inits = [t for t in graph.initializer if t.name in needed]
    del graph.initializer[:]
    graph.initializer.extend(live_inits)
    live_info = [v for v in graph.value_info if v.name in needed]
    del graph.value_info[:]
    graph.value_info.extend(live_info)
    return dropped


def topologically_sorted(graph: onnx.GraphProto) -> bool:
    """True when every node's inputs are written before it (graph inputs/initializers first)."""
    known = {i.name for i in graph.input} | {t.name for t in graph.initializer} | {""}
    for node in graph.node:
        if any(i not in known for i in node.input):
            return False
        known.update(node.output)
    return True


def tensor_dims(value_info: onnx.ValueInfoProto) -> Optional[list[Dim]]:
    """The dims of a tensor's type: ints, symbolic names, or "?"; None if the rank is unknown."""
    tensor_type = value_info.type.tensor_type
    if not tensor_type.HasField("shape"):
        return None
    dims: list[Dim] = []
    for d in tensor_type.shape.dim:
        if d.HasField("dim_value"):
            dims.append(int(d.dim_value))
        elif d.HasField("dim_param") and d.dim_param:
            dims.append(d.dim_param)
        else:
            dims.append(UNKNOWN_DIM)
    return dims


def shape_table(model: onnx.ModelProto) -> dict[str, list[Dim]]:
    """tensor name -> inferred dims, for every tensor of ``model`` whose rank is known.

    Where a tensor has several type entries (inferred value_info and a declared graph
    output), a static dim from either wins.
    """
    graph = model.graph
    table: dict[str, list[Dim]] = {}
    for vi in [*graph.input, *graph.value_info, *graph.output]:
        dims = tensor_dims(vi)
        if dims is None:
            continue
        known = table.get(vi.name)
        if known is not None and len(known) == len(dims):  # a declared output refines inference
            dims = [a if isinstance(a, int) or not isinstance(b, int) else b for a, b in zip(known, dims)]
        table[vi.name] = dims
    for init in graph.initializer:
        table[init.name] = [int(d) for d in init.dims]
    return table


def tensor_elem_types(model: onnx.ModelProto) -> dict[str, int]:
    """tensor name -> ONNX element type (TensorProto.FLOAT, ...), where known."""
    graph = model.graph
    types = {vi.name: vi.type.tensor_type.elem_type for vi in [*graph.input, *graph.value_info, *graph.output]}
    types.update({init.name: init.data_type for init in graph.initializer})
    return types


SMALL_CONSTANT = 64  # elements: initializers up to this size keep their values for inference


def infer_shapes(model: onnx.ModelProto, strict: bool = False) -> onnx.ModelProto:
    """ONNX shape inference with data propagation (shape arithmetic through Shape/Gather/Concat).

    ``strict`` also checks types and raises on any inference error. Returns a *skeleton*
    model: the weights (initializers above :data:`SMALL_CONSTANT` elements) are declared
    as typed graph inputs instead of being copied, since inference needs only their
    shapes; this keeps each call to milliseconds on a 100 MB model. Read shapes from the
    result (:func:`shape_table`), structure from the original.
    """
    skeleton = onnx.ModelProto()
    skeleton.ir_version = model.ir_version
    skeleton.opset_import.extend(model.opset_import)
    graph = skeleton.graph
    graph.name = model.graph.name
    graph.node.extend(model.graph.node)
    graph.input.extend(model.graph.input)
    graph.output.extend(model.graph.output)
    graph.value_info.extend(model.graph.value_info)
    declared = {i.name for i in model.graph.input}
    for init in model.graph.initializer:
        n_elements = int(np.prod(init.dims)) if len(init.dims) else 1
        if n_elements <= SMALL_CONSTANT:
            graph.initializer.append(init)
        elif init.name not in declared:
            graph.input.append(onnx.helper.make_tensor_value_info(init.name, init.data_type, list(init.dims)))
    return onnx.shape_inference.infer_shapes(skeleton, check_type=strict, strict_mode=strict, data_prop=True)


@dataclass(frozen=True)
class Inferred:
    """One shape-inference result: the skeleton :func:`infer_shapes` returned, and its tables."""

    model: onnx.ModelProto  # value_info holds the inferred types; no weights
    shapes: dict[str, list[Dim]]  # :func:`shape_table`
    types: dict[str, int]  # :func:`tensor_elem_types`
    strict: bool

    @classmethod
    def of(cls, model: onnx.ModelProto, strict: bool = False) -> "Inferred":
        skeleton = infer_shapes(model, strict=strict)
        return cls(skeleton, shape_table(skeleton), tensor_elem_types(skeleton), strict)


def constant_names(graph: onnx.GraphProto) -> set[str]:
    """Initializers and ``Constant`` node outputs (names only: no values are read)."""
    names = {t.name for t in graph.initializer}
    names.update(n.output[0] for n in graph.node if n.op_type == "Constant")
    return names


def data_free_tensors(graph: onnx.GraphProto, of_inputs_only: bool = False) -> set[str]:
    """Tensors that carry no pixel data: constants, Shape/Size outputs (of graph inputs
    only, if ``of_inputs_only``) and whatever is computed from those alone."""
    inputs = {i.name for i in graph.input}
    found = constant_names(graph)
    for node in graph.node:
        if node.op_type in ("Shape", "Size"):
            if node.input[0] in inputs or not of_inputs_only:
                found.update(node.output)
        elif node.input and all((not i) or i in found for i in node.input):
            found.update(node.output)
    return found


def computed_only_from(graph: onnx.GraphProto, source: str) -> tuple[set[str], list[onnx.NodeProto]]:
    """(tensors, nodes) computed from ``source`` and data-free tensors alone (``source``
    included; Shape / Size of it carry no data and are left out), in graph order."""
    free = data_free_tensors(graph)
    reached, nodes = {source}, []
    for node in graph.node:
        ins = [i for i in node.input if i]
        if node.op_type not in ("Shape", "Size") and any(i in reached for i in ins) \
                and all(i in reached or i in free for i in ins):
            reached.update(o for o in node.output if o)
            nodes.append(node)
    return reached, nodes


def downstream(graph: onnx.GraphProto, sources: Iterable[str]) -> set[str]:
    """Every tensor computed (directly or not) from ``sources``, the sources included."""
    reached = set(sources)
    for node in graph.node:  # graph is topologically sorted
        if any(i in reached for i in node.input):
            reached.update(o for o in node.output if o)
    return reached


def set_dims(value_info: onnx.ValueInfoProto, dims: list[Dim]) -> None:
    """Declare ``dims`` (ints, or names for dynamic dims) as the tensor's shape."""
    shape = value_info.type.tensor_type.shape
    shape.ClearField("dim")
    for d in dims:
        entry = shape.dim.add()
        if isinstance(d, int):
            entry.dim_value = d
        else:
            entry.dim_param = d
