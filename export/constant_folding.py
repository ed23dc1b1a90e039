"""Fold every computation that does not depend on a graph input into an initializer.

After tracing (and the rewrites of :mod:`static_reshape` / :mod:`resize_as_matmul`) a
graph may still hold work that is the same on every run: ``Constant`` nodes, ``Identity``
copies, ``Shape`` of a tensor whose shape is static, and any node whose inputs are all
constants (e.g. reshaping a GroupNorm weight to (C, 1, 1, 1, 1)). Each such node is
evaluated once with the ONNX reference evaluator (the spec's own semantics, no
onnxruntime graph optimisations involved) and replaced by an initializer holding its
value. Repeated until nothing changes, then nodes no output needs are dropped.

``Identity`` nodes, and ``Cast`` nodes to the type their input already has, are removed
by wiring their readers to the source (never copying a weight). Graph outputs are never
turned into constants.

``QuantizeLinear`` / ``DequantizeLinear`` are never folded, even on constant inputs: an
INT8 graph stores its weights as ``DequantizeLinear(int8 W, scale, zero_point)``, and
TensorRT needs that explicit Q/DQ to know which weights to run in INT8 (folded, the
weight would be a float initializer again, and the layer would run in float). Nor is a
Cast of an FP16 constant to float (FP16-stored weights of an FP32 island,
:func:`~.onnx_graph.is_weight_upcast`): the check accepts both as written.

Shapes come from one shape inference (:class:`~.onnx_graph.Inferred`, given by the
pipeline or computed here): folding replaces a tensor by an initializer of the same
value, so every shape it holds stays true while the passes run.
"""

from __future__ import annotations

from typing import Optional

import numpy as np
import onnx
from onnx import helper, numpy_helper
from onnx.reference import ReferenceEvaluator

from .onnx_graph import (
    QDQ_OPS,
    Inferred,
    constant_node_value,
    is_weight_upcast,
    remove_dead_nodes,
    rename_uses,
)

# Folding one of these would copy a (possibly large) value without saving any work at run
# time; Q/DQ must stay explicit (see the module docstring).
_NEVER_FOLDED = frozenset({"Identity"}) | QDQ_OPS


def _bypass(graph: onnx.GraphProto, passes_through) -> int:
    """Remove the single-input nodes ``passes_through(node)`` accepts, wiring their readers
    to the node's input (never a graph output's producer); returns how many."""
    outputs = {o.name for o in graph.output}
    kept, removed = [], 0
    for node in graph.node:
        if not node.domain and node.output[0] not in outputs and passes_through(node):
            rename_uses(graph, node.output[0], node.input[0])
            removed += 1
        else:
            kept.append(node)
    del graph.node[:]
    graph.node.extend(kept)
    return removed


def remove_identities(graph: onnx.GraphProto) -> int:
    """Bypass Identity nodes (readers read the source); returns how many were removed."""
    return _bypass(graph, lambda node: node.op_type == "Identity")


def remove_noop_casts(graph: onnx.GraphProto, types: dict[str, int]) -> int:
    """Bypass Casts to the type their input already has (e.g. float masks ``.to(float32)``);
    ``types``: tensor -> ONNX element type, from shape inference."""

    def noop(node: onnx.NodeProto) -> bool:
        to = next((a.i for a in node.attribute if a.name == "to"), None)
        return node.op_type == "Cast" and types.get(node.input[0]) == to

    return _bypass(graph, noop)


def evaluate_node(node: onnx.NodeProto, inputs: dict[str, np.ndarray], opset_imports) -> list[np.ndarray]:
    """Run one node on constant inputs with the ONNX reference evaluator."""
    graph = helper.make_graph(
        [node],
        "fold",
        inputs=[],
        outputs=[onnx.ValueInfoProto(name=o) for o in node.output if o],
        initializer=[numpy_helper.from_array(np.asarray(v), k) for k, v in inputs.items()],
    )
    model = helper.make_model(graph, opset_imports=list(opset_imports))
    return list(ReferenceEvaluator(model).run(None, {}))


def _static_shape_value(node: onnx.NodeProto, dims) -> np.ndarray | None:
    if dims is None or not all(isinstance(d, int) for d in dims):
        return None
    start, end = 0, len(dims)
    for a in node.attribute:
        if a.name == "start":
            start = a.i
        elif a.name == "end":
            end = a.i
    return np.array(dims[slice(start, end)], dtype=np.int64)


def fold_constants(model: onnx.ModelProto, inferred: Optional[Inferred] = None) -> int:
    """Fold ``model`` in place; returns how many nodes were removed or replaced by initializers.

    inferred: a shape inference of ``model`` (or of it before earlier shape-keeping
    passes); computed here when not given.
    """
    graph = model.graph
    if inferred is None:
        inferred = Inferred.of(model)
    shapes = inferred.shapes
    bypassed = remove_identities(graph) + remove_noop_casts(graph, inferred.types)
    outputs = {o.name for o in graph.output}
    total = 0
    while True:  # one sweep folds whole chains (topological order); the next confirms
        consts = {init.name for init in graph.initializer}
        values: dict[str, np.ndarray] = {}
        kept: list[onnx.NodeProto] = []
        folded = 0
        for node in graph.node:
            result = None
            if node.domain or any(o in outputs for o in node.output) or node.op_type in _NEVER_FOLDED:
                pass
            elif is_weight_upcast(node, inferred.types):
                pass
            elif node.op_type == "Constant":
                result = [constant_node_value(node)]
            elif node.op_type == "Shape":
                value = _static_shape_value(node, shapes.get(node.input[0]))
                result = None if value is None else [value]
            elif node.input and all((not i) or i in consts for i in node.input):
                needed = {i: _value(graph, i, values) for i in node.input if i}
                result = evaluate_node(node, needed, model.opset_import)
            if result is None:
                kept.append(node)
                continue
            for name, value in zip([o for o in node.output if o], result):
                value = np.asarray(value)
                graph.initializer.append(numpy_helper.from_array(value, name))
                values[name] = value
                consts.add(name)
            folded += 1
        del graph.node[:]
        graph.node.extend(kept)
        remove_dead_nodes(graph)
        total += folded
        if not folded:
            return total + bypassed


def _value(graph: onnx.GraphProto, name: str, cache: dict[str, np.ndarray]) -> np.ndarray:
    if name not in cache:
        for init in graph.initializer:
            if init.name == name:
                cache[name] = numpy_helper.to_array(init)
                break
    return cache[name]
