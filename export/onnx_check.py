"""Is an ONNX file a clean, TensorRT-ready hsnet-deploy graph? One report, one line per check.

    onnx checker           onnx.checker.check_model(full_check=True)
    shape inference        strict ONNX shape inference (types checked, errors raised)
    opset                  only the ai.onnx domain, within TensorRT's range, equal to the
                           recorded ``hsnet_deploy.opset``
    tensorrt ops           every op in TensorRT's ONNX-parser support matrix (:mod:`tensorrt_ops`)
    no gather              no Gather / GatherND / GatherElements (index tensors) anywhere
    rank <= 8              every tensor has a known rank of at most 8
    static shapes          no data-dependent shapes: no NonZero/Unique/Compress/Loop/If/Scan;
                           every shape-like input (Reshape target, Slice bounds, Resize
                           sizes, axes, ...) is a constant or computed only from the dims of
                           graph inputs; Shape ops read graph inputs only
    reshape targets        constant, with at most one -1 (or built from the input dims B, K)
    constants folded       no node whose inputs are all constants; no Shape of a static tensor
                           (explicit quantization, and FP16 weights cast up, are not leftovers:
                           see :func:`_check_folded`)
    metadata               the contract's provenance keys, with valid values
    graph i/o              contract names, element types (``TENSOR_DTYPES``, whatever the
                           precision inside), ranks and H = W = img_size
    mask resize            (episode, support encoder) the support masks are resized by MatMuls
                           with constant weights and never by a Resize (docs/protocol.md: the parity trap)
    precision              the recorded fp32 / fp16 / int8 holds in every node group; the
                           islands compute in FP32; Q/DQ are int8, zero-point 0, Conv weight
                           scales per channel on axis 0 (:mod:`calibration.precision_check`);
                           ``Report.groups`` says each node group's precision

:func:`check_onnx` takes a path or an ``onnx.ModelProto``; ``Report.ok`` is the verdict and
``Report.format()`` the text ``hsnet-deploy check`` prints, with the op histogram. A file is
read once: the checker gets the loaded model (its path only past protobuf's 2 GB limit).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Callable, Optional, Union

import onnx

from ..errors import UserError
from ..runtime.graph_contract import (
    GRAPH_INPUTS,
    GRAPH_KINDS,
    GRAPH_OUTPUTS,
    KEY_BACKBONE,
    KEY_CHECKPOINT,
    KEY_GRAPH,
    KEY_IMG_SIZE,
    KEY_OPSET,
    SUPPORT_ENCODER,
    SUPPORT_FEATURES,
    TENSOR_DTYPES,
    TENSOR_RANKS,
    metadata_of,
    metadata_problems,
)
from .check_report import CheckResult, Report  # noqa: F401 - Report is part of this module's API
from .onnx_graph import (
    QDQ_OPS,
    Inferred,
    computed_only_from,
    constant_names,
    data_free_tensors,
    is_weight_upcast,
)
from .tensorrt_ops import TENSORRT_OPSETS, TENSORRT_SOURCE, TENSORRT_SUPPORTED_OPS

MAX_RANK = 8
GATHER_OPS = frozenset({"Gather", "GatherND", "GatherElements"})
DATA_DEPENDENT_OPS = frozenset({"NonZero", "Unique", "Compress", "Loop", "If", "Scan", "NonMaxSuppression"})
RESIZE_OPS = frozenset({"Resize", "Upsample"})
_REDUCE_OPS = ("ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceMax", "ReduceMean", "ReduceMin", "ReduceProd", "ReduceSum", "ReduceSumSquare")
# op -> indices of inputs that carry shapes, sizes, axes or bounds rather than data
SHAPE_INPUTS: dict[str, tuple[int, ...]] = {
    "Reshape": (1,), "Expand": (1,), "Tile": (1,), "ConstantOfShape": (0,), "Resize": (1, 2, 3),
    "Upsample": (1,), "Slice": (1, 2, 3, 4), "Pad": (1, 2, 3), "Unsqueeze": (1,), "Squeeze": (1,),
    "Split": (1,), "TopK": (1,), "Range": (0, 1, 2), "OneHot": (1,), "CumSum": (1,),
    **{op: (1,) for op in _REDUCE_OPS},
}
_, SUPPORT_MASKS = GRAPH_INPUTS[SUPPORT_ENCODER]  # (support_imgs, support_masks)
PROTOBUF_LIMIT = 2**31 - 1  # bytes: a bigger model can only be checked from its file


def load_model(path) -> onnx.ModelProto:
    from ..runtime.model_files import check_input_file

    path = check_input_file(path, "ONNX file")  # "not found" or "is a folder, not a file"
    try:
        return onnx.load(str(path))
    except Exception as err:  # noqa: BLE001 - protobuf raises several types for a foreign file
        raise UserError(f"cannot read {path} as an ONNX model ({type(err).__name__}: {str(err)[:120]})") from None


def check_onnx(
    model_or_path: Union[str, Path, onnx.ModelProto],
    source: Optional[str] = None,
    *,
    path: Union[str, Path, None] = None,
    inferred: Optional[Inferred] = None,
) -> Report:
    """Run every check on a file (or an in-memory model); never raises for a bad graph.

    path: the file an in-memory model was loaded from (reported, and read by the checker
    only if the model is over 2 GB). inferred: a *strict* shape inference of exactly this
    model (the export pipeline's), used instead of inferring again.
    """
    if isinstance(model_or_path, onnx.ModelProto):
        model = model_or_path
        path = Path(path) if path is not None else None
    else:
        path = Path(model_or_path)
        model = load_model(path)  # the only read of the file
    report = Report(
        source=source or (str(path) if path else model.graph.name or "model"),
        op_histogram=dict(Counter(n.op_type if not n.domain else f"{n.domain}::{n.op_type}" for n in model.graph.node)),
        opset=next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), None),
        metadata=metadata_of(model),
        size_bytes=path.stat().st_size if path else model.ByteSize(),
    )

    def run(name: str, fn: Callable[[], str]) -> None:
        try:
            report.checks.append(CheckResult(name, True, fn()))
        except _Fail as fail:
            report.checks.append(CheckResult(name, False, str(fail)))
        except Exception as err:  # noqa: BLE001 - a crash in a check is that check failing
            report.checks.append(CheckResult(name, False, f"{type(err).__name__}: {str(err).splitlines()[0][:200] if str(err) else ''}"))

    def checker() -> str:
        too_big = path is not None and model.ByteSize() > PROTOBUF_LIMIT
        onnx.checker.check_model(str(path) if too_big else model, full_check=True)
        return "onnx.checker full_check"

    def strict_inference() -> str:
        nonlocal inferred
        if inferred is None or not inferred.strict:
            inferred = Inferred.of(model, strict=True)
        return "strict, with data propagation"

    run("onnx checker", checker)
    run("shape inference", strict_inference)
    if inferred is None:  # strict inference failed: carry on with a lenient one
        try:
            inferred = Inferred.of(model)
        except Exception:  # noqa: BLE001
            pass
    graph = model.graph  # structure from the model, shapes and types from inference
    shapes, types = (inferred.shapes, inferred.types) if inferred else _declared_tables(model)
    run("opset", lambda: _check_opset(model, report))
    run("tensorrt ops", lambda: _check_ops(graph))
    run("no gather", lambda: _check_no_gather(graph))
    run("rank <= 8", lambda: _check_ranks(graph, shapes))
    run("static shapes", lambda: _check_static_shapes(graph))
    run("reshape targets", lambda: _check_reshape_targets(graph))
    run("constants folded", lambda: _check_folded(graph, shapes, types))
    run("metadata", lambda: _check_metadata(report.metadata))
    run("graph i/o", lambda: _check_io(graph, shapes, types, report.metadata))
    run("mask resize", lambda: _check_mask_resize(graph))
    run("precision", lambda: _check_precision(model, shapes, types, report))
    return report


def _declared_tables(model: onnx.ModelProto):
    """Shapes and types as the file declares them (when no inference succeeds)."""
    from .onnx_graph import shape_table, tensor_elem_types

    return shape_table(model), tensor_elem_types(model)


class _Fail(Exception):
    pass


def _names(items, limit: int = 4) -> str:
    items = list(items)
    more = f" (+{len(items) - limit} more)" if len(items) > limit else ""
    return ", ".join(str(i) for i in items[:limit]) + more


def _check_opset(model: onnx.ModelProto, report: Report) -> str:
    domains = {o.domain or "ai.onnx": o.version for o in model.opset_import}
    others = sorted(d for d in domains if d != "ai.onnx")
    if others:
        raise _Fail(f"imports non-standard op domains: {', '.join(others)}")
    if report.opset is None:
        raise _Fail("no ai.onnx opset import")
    lo, hi = TENSORRT_OPSETS
    if not lo <= report.opset <= hi:
        raise _Fail(f"opset {report.opset} outside TensorRT's {lo}..{hi}")
    recorded = report.metadata.get(KEY_OPSET)
    if recorded != str(report.opset):
        raise _Fail(f"opset {report.opset} but metadata {KEY_OPSET} says {recorded!r}")
    return f"ai.onnx {report.opset} (recorded)"


def _check_ops(graph: onnx.GraphProto) -> str:
    bad = sorted({n.op_type if not n.domain else f"{n.domain}::{n.op_type}" for n in graph.node
                  if n.domain not in ("", "ai.onnx") or n.op_type not in TENSORRT_SUPPORTED_OPS})
    if bad:
        raise _Fail(f"not in TensorRT's parser support matrix: {_names(bad)} ({TENSORRT_SOURCE})")
    return f"{len({n.op_type for n in graph.node})} op types, all supported ({TENSORRT_SOURCE})"


def _check_no_gather(graph: onnx.GraphProto) -> str:
    found = Counter(n.op_type for n in graph.node if n.op_type in GATHER_OPS)
    if found:
        raise _Fail(f"index-tensor ops present: {_names(f'{k} x{v}' for k, v in found.items())}")
    return "no Gather / GatherND / GatherElements"


def _check_ranks(graph: onnx.GraphProto, shapes) -> str:
    produced = [o for n in graph.node for o in n.output if o] + [i.name for i in graph.input]
    unknown = [t for t in produced if t not in shapes]
    if unknown:
        raise _Fail(f"{len(unknown)} tensors of unknown rank, e.g. {_names(unknown, 3)}")
    too_big = [f"{t} (rank {len(shapes[t])})" for t in produced if len(shapes[t]) > MAX_RANK]
    if too_big:
        raise _Fail(f"rank above {MAX_RANK}: {_names(too_big)}")
    return f"max rank {max((len(shapes[t]) for t in produced), default=0)}"


def _check_static_shapes(graph: onnx.GraphProto) -> str:
    inputs = {i.name for i in graph.input}
    bad_ops = sorted({n.op_type for n in graph.node if n.op_type in DATA_DEPENDENT_OPS})
    if bad_ops:
        raise _Fail(f"data-dependent ops: {', '.join(bad_ops)}")
    shape_reads = []
    for node in graph.node:
        if node.op_type in ("Shape", "Size"):
            if node.input[0] not in inputs:
                raise _Fail(f"{node.op_type} of an intermediate tensor ({node.input[0]}): a shape computed at run time")
            shape_reads.append(node.input[0])
    from_dims = data_free_tensors(graph, of_inputs_only=True)  # constants and graph-input dims only
    for node in graph.node:
        for idx in SHAPE_INPUTS.get(node.op_type, ()):
            if idx < len(node.input) and node.input[idx] and node.input[idx] not in from_dims:
                raise _Fail(f"{node.op_type} {node.name or node.output[0]}: input {idx} ({node.input[idx]}) depends on data")
    if shape_reads:
        return f"{len(shape_reads)} Shape op(s), all of graph-input dims ({_names(sorted(set(shape_reads)))})"
    return "all shapes constant (no Shape ops)"


def _check_reshape_targets(graph: onnx.GraphProto) -> str:
    consts = {t.name: t for t in graph.initializer}
    from_input_dims = data_free_tensors(graph, of_inputs_only=True)
    constant, computed = 0, 0
    for node in graph.node:
        if node.op_type != "Reshape":
            continue
        target = consts.get(node.input[1])
        if target is None:
            if node.input[1] not in from_input_dims:
                raise _Fail(f"Reshape {node.name or node.output[0]}: target computed at run time from intermediate shapes")
            computed += 1
            continue
        values = onnx.numpy_helper.to_array(target)
        if int((values == -1).sum()) > 1:
            raise _Fail(f"Reshape {node.name or node.output[0]}: target {values.tolist()} has several -1")
        constant += 1
    detail = f"{constant} constant"
    if computed:
        detail += f", {computed} built from input dims (dynamic batch and shots)"
    return detail


def _check_folded(graph: onnx.GraphProto, shapes, types) -> str:
    """No node computes a constant, except explicit quantization (Q/DQ of constant weights:
    TensorRT needs it as written) and FP16 weights cast up to FP32 (:func:`is_weight_upcast`)."""
    consts = constant_names(graph)
    foldable, kept = [], 0
    for node in graph.node:
        if node.op_type == "Constant":
            continue
        if node.input and all((not i) or i in consts for i in node.input):
            if (node.op_type in QDQ_OPS and not node.domain) or is_weight_upcast(node, types):
                kept += 1
                continue
            foldable.append(f"{node.op_type} {node.name or node.output[0]}")
        elif node.op_type == "Shape" and all(isinstance(d, int) for d in shapes.get(node.input[0], ["?"])):
            foldable.append(f"Shape of static {node.input[0]}")
    if foldable:
        raise _Fail(f"{len(foldable)} foldable node(s): {_names(foldable, 3)}")
    n_const = sum(n.op_type == "Constant" for n in graph.node)
    detail = f"{len(graph.initializer)} initializers" + (f", {n_const} Constant nodes" if n_const else "")
    return detail + (f", {kept} Q/DQ or FP16-weight casts kept" if kept else "")


def _check_metadata(meta: dict[str, str]) -> str:
    problems = metadata_problems(meta)
    if problems:
        raise _Fail("; ".join(problems))
    return f"{meta[KEY_GRAPH]}, {meta[KEY_BACKBONE]}, checkpoint {meta[KEY_CHECKPOINT][:12]}"


def _check_io(graph: onnx.GraphProto, shapes, types, meta: dict[str, str]) -> str:
    kind = meta.get(KEY_GRAPH)
    if kind not in GRAPH_KINDS:
        raise _Fail("unknown graph kind: cannot check the I/O contract")
    inputs, outputs = [i.name for i in graph.input], [o.name for o in graph.output]
    if sorted(inputs) != sorted(GRAPH_INPUTS[kind]) or sorted(outputs) != sorted(GRAPH_OUTPUTS[kind]):
        raise _Fail(f"{kind} graph needs inputs {list(GRAPH_INPUTS[kind])} -> {list(GRAPH_OUTPUTS[kind])}, has {inputs} -> {outputs}")
    size = int(meta.get(KEY_IMG_SIZE, "0") or 0)
    problems = []
    for name in inputs + outputs:  # the contract's I/O types, whatever the graph computes in
        want = TENSOR_DTYPES[name]
        got = _dtype_name(types.get(name))
        if got != want:
            problems.append(f"{name} is {got}, not {want}")
        dims = shapes.get(name)
        if dims is None or len(dims) != TENSOR_RANKS[name]:
            problems.append(f"{name} has rank {None if dims is None else len(dims)}, not {TENSOR_RANKS[name]}")
        elif name not in SUPPORT_FEATURES and dims[-2:] != [size, size]:
            problems.append(f"{name} is {dims[-2]}x{dims[-1]}, not {size}x{size}")
    if problems:
        raise _Fail("; ".join(problems))
    return f"{kind}: {', '.join(inputs)} -> {', '.join(outputs)}"


def _dtype_name(elem_type: Optional[int]) -> str:
    """ONNX element type -> numpy dtype name (the contract's spelling), e.g. 1 -> 'float32'."""
    try:
        return onnx.helper.tensor_dtype_to_np_dtype(elem_type).name
    except Exception:  # noqa: BLE001 - unknown or undefined (0) type
        return str(elem_type)


def _check_mask_resize(graph: onnx.GraphProto) -> str:
    if SUPPORT_MASKS not in {i.name for i in graph.input}:
        return f"n/a (no {SUPPORT_MASKS} input)"
    consts = constant_names(graph)
    mask_only, _ = computed_only_from(graph, SUPPORT_MASKS)  # from the masks (and no other data) alone
    resized_by_resize = [n.name or n.output[0] for n in graph.node if n.op_type in RESIZE_OPS and n.input[0] in mask_only]
    if resized_by_resize:
        raise _Fail(f"a Resize acts on the support masks: {_names(resized_by_resize)} (use constant MatMuls)")
    matmuls = [n for n in graph.node if n.op_type == "MatMul" and any(i in mask_only for i in n.input)]
    weighted = [n for n in matmuls if any(i in consts for i in n.input)]
    if not weighted or len(weighted) != len(matmuls):
        raise _Fail(f"expected the masks resized by MatMuls with constant weights, found {len(weighted)} of {len(matmuls)}")
    used = {i for n in weighted for i in n.input}
    dims = {t.name: tuple(t.dims) for t in graph.initializer}
    dims.update({n.output[0]: tuple(n.attribute[0].t.dims) for n in graph.node if n.op_type == "Constant" and n.attribute[0].name == "value"})
    sizes = sorted({dims[i] for i in used if i in dims})
    return f"{len(weighted)} MatMuls with constant weights {_names('x'.join(map(str, s)) for s in sizes)}; no Resize"


def _check_precision(model: onnx.ModelProto, shapes, types, report: Report) -> str:
    from ..runtime.graph_contract import KEY_PRECISION
    from .precision.check import format_groups, precision_problems

    problems, groups = precision_problems(model, shapes, types)
    report.groups = format_groups(groups)
    if problems:
        raise _Fail(f"{len(problems)} problem(s): " + "; ".join(problems[:3]) + (" ..." if len(problems) > 3 else ""))
    return report.metadata.get(KEY_PRECISION, "fp32")
