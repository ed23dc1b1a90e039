"""Export as an ordered list of named graph passes over one shared :class:`GraphState`.

    stage  pass               what it does                                          effect
    trace  trace              HSNet -> ModelProto, contract I/O dims (:mod:`trace`)    new graph
    clean  fold constants     Identity / no-op Cast / Constant / static Shape /       keeps shapes
                              all-constant nodes -> initializers (never Q/DQ)
    clean  static reshapes    computed Reshape targets -> constants                   keeps shapes
    clean  resize as matmul   bilinear align_corners Resize -> R_h · X · R_wᵀ          keeps shapes
    clean  merge slices       Slice -> Slice on other axes -> one Slice               keeps shapes
    clean  fold constants     again, then drop whatever no output needs               keeps shapes
    clean  metadata           graph name, producer, the contract's metadata record    reads
    check  store shapes       strict inference of the final graph -> value_info       reads
    check  check              every :func:`check_onnx` check; ExportCheckFailed       reads

A pass is a function ``(state) -> int`` (how many changes it made) with an *effect* that
tells the runner what a change does to the cached shape inference:

    READS         the graph's nodes are untouched: the cache stays exact
    KEEPS_SHAPES  nodes change, but every tensor that survives keeps its dims and element
                  type (a folded tensor is the same value as an initializer; a rewritten
                  Reshape / Resize has the same output): the cache stays *sound* for every
                  tensor it names, and is no longer exact (new tensors are not in it)
    RETYPES       dims or element types may change (e.g. a later FP16 or INT8 pass): the
                  cache is dropped

:meth:`GraphState.inferred` computes shape inference on first use and again only when
the cache was dropped, or a pass asks for an exact (or strict) result after a change. So
the FP32 pipeline infers shapes twice per graph: once (lenient, with data propagation)
for the cleaning passes, once (strict) in the check stage, whose result is both stored
in the file and checked. A precision stage is one more entry in :func:`fp32_passes`'s
list (or a list of its own), with its own checks, declaring RETYPES.

Why the cleaning passes are hand-written (measured on the traced ResNet50 graphs at 128,
episode / support / query with dynamic B and K, fixed K, static batch, and at 400):
onnxslim 0.1.98 does the folding's job (after the static reshapes it passes every check,
onnxruntime outputs are bit-identical, and common-subexpression elimination of the mask
resizes repeated per layer leaves 7-13 % fewer nodes, MatMul 37 -> 17), but takes ~14 s
per episode graph where both folding passes take ~0.9 s, and runs ONNX shape inference
~3400 times (node by node) besides four rounds of its own. onnxsim 0.8.1 merges the
explicit GroupNorm's staged ReduceMeans (91 -> 30; outputs off by up to 1e-5), and it and
onnx-graphsurgeon 0.6.1 leave the Shape -> Gather chains of a dynamic batch (three checks
fail); graphsurgeon after the static reshapes passes, but keeps 14 no-op Casts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from .export_options import ExportOptions
from .onnx_graph import Inferred

READS, KEEPS_SHAPES, RETYPES = "reads", "keeps shapes", "retypes"
STAGES = ("trace", "clean", "check")  # progress steps per graph, in order


class ExportCheckFailed(RuntimeError):
    """A freshly exported graph failed a check: a bug in the exporter, nothing is written."""


@dataclass
class GraphState:
    """What the passes share: the model being exported, the options, the graph so far."""

    network: Any  # the HSNet being exported (never modified)
    options: ExportOptions
    model: Any = None  # onnx.ModelProto once traced
    stats: dict[str, int] = field(default_factory=dict)  # pass name -> changes made (summed)
    report: Any = None  # the check stage's onnx_check.Report
    inferences: int = 0  # shape-inference runs so far
    _inferred: Optional[Inferred] = None
    _exact: bool = False  # the cache describes the current graph, every tensor of it

    @property
    def backbone(self) -> str:
        return self.network.backbone_name

    def inferred(self, exact: bool = False, strict: bool = False) -> Inferred:
        """The cached shape inference; re-run only if dropped, or not exact / strict enough."""
        cached = self._inferred
        if cached is None or (exact and not self._exact) or (strict and not cached.strict):
            cached = Inferred.of(self.model, strict=strict)
            self._inferred, self._exact = cached, True
            self.inferences += 1
        return cached

    def changed(self, effect: str) -> None:
        """Record that a pass with ``effect`` changed the graph."""
        if effect == RETYPES:
            self._inferred = None
        elif effect == KEEPS_SHAPES:
            self._exact = False


@dataclass(frozen=True)
class GraphPass:
    name: str
    stage: str  # one of STAGES
    run: Callable[[GraphState], int]
    effect: str  # READS | KEEPS_SHAPES | RETYPES


def run_passes(state: GraphState, passes: list[GraphPass], progress=None) -> GraphState:
    """Run ``passes`` in order on ``state``; ``progress`` (a tqdm bar) advances once per stage."""
    stage = None
    for graph_pass in passes:
        if graph_pass.stage != stage:
            if stage is not None and progress is not None:
                progress.update()
            stage = graph_pass.stage
        if progress is not None:
            progress.set_postfix_str(f"{state.options.graph}: {graph_pass.stage}")
        changes = graph_pass.run(state)
        state.stats[graph_pass.name] = state.stats.get(graph_pass.name, 0) + changes
        if changes:
            state.changed(graph_pass.effect)
    if stage is not None and progress is not None:
        progress.update()
    return state


# ---- the passes ------------------------------------------------------------------------
def trace(state: GraphState) -> int:
    from .trace import trace_graph

    state.model = trace_graph(state.network, state.options)
    state.changed(RETYPES)  # a new graph: nothing cached describes it
    return 1


def fold_constants(state: GraphState) -> int:
    from .constant_folding import fold_constants as fold

    return fold(state.model, state.inferred())


def static_reshapes(state: GraphState) -> int:
    from .onnx_graph import remove_dead_nodes
    from .static_reshape import make_reshapes_static

    changes = make_reshapes_static(state.model, state.inferred())
    remove_dead_nodes(state.model.graph)  # the Shape -> Gather -> Concat chains that built the targets
    return changes


def resizes_as_matmul(state: GraphState) -> int:
    from .onnx_graph import remove_dead_nodes
    from .resize_as_matmul import resizes_as_matmul as rewrite

    changes = rewrite(state.model, state.inferred())
    remove_dead_nodes(state.model.graph)  # the computed ``sizes`` of the rewritten Resizes
    return changes


def merge_slices(state: GraphState) -> int:
    from .merge_slices import merge_slices as merge

    return merge(state.model)


def metadata(state: GraphState) -> int:
    import torch

    from .. import __version__

    proto = state.model
    proto.graph.name = f"hsnet_{state.backbone}_{state.options.graph}"
    proto.producer_name, proto.producer_version = "hsnet_deploy", __version__
    meta = state.options.metadata(state.backbone, exporter=f"torch {torch.__version__} torchscript tracer")
    del proto.metadata_props[:]
    for key, value in meta.items():
        proto.metadata_props.add(key=key, value=value)
    return 0  # labels only: no node changes


def store_shapes(state: GraphState) -> int:
    """Write the final graph's strict inference into its value_info (self-describing files)."""
    graph = state.model.graph
    del graph.value_info[:]  # infer from the nodes alone, not from the tracer's annotations
    state.changed(RETYPES)  # what the cache was inferred from is gone
    graph.value_info.extend(state.inferred(exact=True, strict=True).model.graph.value_info)
    return 0  # types recorded, nodes untouched: the cache stays exact for the check


def check(state: GraphState) -> int:
    from .onnx_check import check_onnx

    kind = state.options.graph
    state.report = check_onnx(state.model, source=f"{kind} graph", inferred=state.inferred(exact=True, strict=True))
    if not state.report.ok:
        raise ExportCheckFailed(f"the exported {kind} graph fails its checks:\n{state.report.format()}")
    return 0


def fp32_passes() -> list[GraphPass]:
    """The FP32 export, in order (see the module docstring)."""
    return [
        GraphPass("trace", "trace", trace, RETYPES),
        GraphPass("fold constants", "clean", fold_constants, KEEPS_SHAPES),
        GraphPass("static reshapes", "clean", static_reshapes, KEEPS_SHAPES),
        GraphPass("resize as matmul", "clean", resizes_as_matmul, KEEPS_SHAPES),
        GraphPass("merge slices", "clean", merge_slices, KEEPS_SHAPES),
        GraphPass("fold constants", "clean", fold_constants, KEEPS_SHAPES),
        GraphPass("metadata", "clean", metadata, READS),
        GraphPass("store shapes", "check", store_shapes, READS),
        GraphPass("check", "check", check, READS),
    ]


def passes_for(options: ExportOptions) -> list[GraphPass]:
    """The pass list of an export (ExportOptions refuses precisions without one)."""
    return fp32_passes()
