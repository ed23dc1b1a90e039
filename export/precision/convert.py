"""FP32 graphs -> FP16 / INT8 graphs, with their metadata and checks: one entry point.

    options = PrecisionOptions("int8", calibration=CalibrationSource("synthetic", episodes=32))
    converted = convert_graphs({"episode": m, "support_encoder": s, "query": q}, options)
    convert_file("hsnet.onnx", "hsnet.int8.onnx", options)     # + the split siblings

Each graph gets its own precision (``precision``, or ``support_precision`` for the support
encoder, since the support features between the two are float32 either way), is
converted by :mod:`fp16` or :mod:`int8`, labelled (``hsnet_deploy.precision``,
``.islands``, ``.calibration_*``) and checked (every :func:`export.onnx_check.check_onnx`
check, the precision check included); a graph that fails is never written. The files are
written together through temporary files, so a failure anywhere leaves none of them.

INT8 groups listed in ``float_groups`` (by hand, or chosen by :mod:`sensitivity`'s
``--int8-auto``) stay float32 and are recorded among the islands.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Callable, Mapping, Optional, Protocol, Sequence

from ...errors import UserError
from ...runtime.graph_contract import (
    DYNAMIC,
    EPISODE,
    KEY_CALIBRATION_EPISODES,
    KEY_CALIBRATION_METHOD,
    KEY_CALIBRATION_SOURCE,
    KEY_ISLANDS,
    KEY_PRECISION,
    KEY_SHOTS,
    PRECISIONS,
    QUERY,
    SUPPORT_ENCODER,
    metadata_of,
)
from .int8 import METHODS


class FeedSource(Protocol):
    """Where an INT8 graph's calibration feeds come from (``calibration.CalibrationSource``:
    episodes of a dataset's training split). Export only asks; it never opens datasets."""

    def feeds(self, kind: str, models: Mapping[str, object], shots: int, progress: bool = False) -> list:
        """Graph feeds for the ``kind`` graph of the FP32 ``models`` (kind -> ModelProto)."""

    def describe(self) -> str: ...


@dataclass(frozen=True)
class PrecisionOptions:
    precision: str = "fp32"  # of the episode and query graphs
    support_precision: Optional[str] = None  # of the support encoder (default: ``precision``)
    calibration: Optional["FeedSource"] = None  # where INT8 activation ranges come from
    method: str = "max"  # max | entropy | percentile
    float_groups: tuple[str, ...] = ()  # INT8 node groups kept in float32
    progress: bool = False
    # more float32 groups chosen from the FP32 graphs (``--int8-auto``: calibration.sensitivity)
    choose_float_groups: Optional[Callable[[dict, "PrecisionOptions"], Sequence[str]]] = field(default=None, compare=False)

    def __post_init__(self) -> None:
        for value in (self.precision, self.support_precision or self.precision):
            if value not in PRECISIONS:
                raise UserError(f"unknown precision {value!r}; choose one of {', '.join(PRECISIONS)}")
        if self.method not in METHODS:
            raise UserError(f"unknown calibration method {self.method!r}; choose one of {', '.join(METHODS)}")
        object.__setattr__(self, "float_groups", tuple(self.float_groups))

    def precision_of(self, kind: str) -> str:
        return (self.support_precision or self.precision) if kind == SUPPORT_ENCODER else self.precision

    @property
    def converts(self) -> bool:
        return any(self.precision_of(k) != "fp32" for k in (EPISODE, SUPPORT_ENCODER))



def _set_meta(model, updates: dict[str, Optional[str]]) -> None:
    meta = metadata_of(model)
    for key, value in updates.items():
        if value is None:
            meta.pop(key, None)
        else:
            meta[key] = value
    del model.metadata_props[:]
    for key, value in meta.items():
        model.metadata_props.add(key=key, value=value)


def calibration_shots(model) -> int:
    """K of the calibration episodes: the graph's fixed K, or 1 for a dynamic K."""
    shots = metadata_of(model).get(KEY_SHOTS, DYNAMIC)
    return 1 if shots == DYNAMIC else int(shots)


def int8_nodes(model, float_groups=()) -> list[str]:
    """The nodes INT8 quantizes in ``model``: its node groups, less ``float_groups``."""
    from ..onnx_graph import Inferred
    from .node_groups import quantizable_groups

    groups = quantizable_groups(model, Inferred.of(model).shapes)
    return [node for node, group in groups.items() if group not in set(float_groups)]


def convert_graph(model, kind: str, options: PrecisionOptions, fp32_models: Optional[Mapping[str, object]] = None):
    """One FP32 graph -> a new graph in ``options.precision_of(kind)`` (labelled, unchecked);
    the graph itself when that precision is fp32.

    fp32_models: every FP32 graph of the set (kind -> model), for INT8 calibration: a query
    graph is calibrated on the features its FP32 support encoder computes.
    """
    from .node_groups import ISLANDS, island_nodes

    meta = metadata_of(model)
    if meta.get(KEY_PRECISION, "fp32") != "fp32":
        raise UserError(f"the {kind} graph is already {meta[KEY_PRECISION]}: convert from its FP32 export")
    precision = options.precision_of(kind)
    if precision == "fp32":
        return model
    present = sorted(set(island_nodes(model).values()), key=ISLANDS.index)
    if precision == "fp16":
        from .fp16 import to_fp16

        converted = to_fp16(model)
        updates = {KEY_ISLANDS: ",".join(present)}
    else:
        from .int8 import quantize_int8

        if options.calibration is None:
            raise UserError("INT8 needs calibration episodes: give PrecisionOptions(calibration=...), "
                            "e.g. hsnet_deploy.calibration.CalibrationSource('synthetic')")
        feeds = options.calibration.feeds(kind, dict(fp32_models or {kind: model}), calibration_shots(model),
                                          progress=options.progress)
        converted = quantize_int8(model, feeds, options.method, nodes=int8_nodes(model, options.float_groups))
        kept = [g for g in options.float_groups if g not in present]
        updates = {
            KEY_ISLANDS: ",".join(present + kept),
            KEY_CALIBRATION_SOURCE: options.calibration.describe(),
            KEY_CALIBRATION_EPISODES: str(len(feeds)),
            KEY_CALIBRATION_METHOD: options.method,
        }
    updates[KEY_PRECISION] = precision
    converted.graph.name = model.graph.name
    converted.producer_name, converted.producer_version = model.producer_name, model.producer_version
    _set_meta(converted, {**metadata_of(model), **updates})
    return converted  # checked by check_converted (its first check is onnx.checker's full check)


def check_converted(model, kind: str) -> None:
    """Every check of :func:`check_onnx` (precision included); one UserError line naming
    the failed checks if any fails (nothing is written then)."""
    from ..onnx_check import check_onnx

    report = check_onnx(model, source=f"{kind} graph")
    if not report.ok:
        failed = "; ".join(f"{c.name}: {c.detail}" for c in report.failed)
        raise UserError(f"the converted {kind} graph fails its checks ({failed}); nothing was written")


def check_groups(models: dict, groups) -> None:
    """UserError for a float group no graph has (a typo in ``--int8-keep``)."""
    from ..onnx_graph import Inferred
    from .node_groups import group_order, quantizable_groups

    known = set()
    for model in models.values():
        known.update(quantizable_groups(model, Inferred.of(model).shapes).values())
    unknown = [g for g in groups if g not in known]
    if unknown:
        raise UserError(f"unknown node group(s) {', '.join(map(repr, unknown))}; the graph has: "
                        + ", ".join(group_order(known)))


def convert_graphs(models: dict, options: PrecisionOptions) -> dict:
    """kind -> FP32 ModelProto  ->  kind -> converted ModelProto (all checked): the precision
    stage of the export and of ``convert``.

    A query graph converted to INT8 needs the FP32 support encoder among ``models``."""
    if not options.converts:
        return dict(models)
    check_groups(models, options.float_groups)
    if options.choose_float_groups is not None:
        chosen = tuple(options.choose_float_groups(models, options))
        options = with_float_groups(options, tuple(dict.fromkeys(options.float_groups + chosen)))
    if options.precision_of(QUERY) == "int8" and QUERY in models and SUPPORT_ENCODER not in models:
        raise UserError("an INT8 query graph is calibrated on its support encoder's features: "
                        "convert it together with NAME.support.onnx")
    out = {}
    for kind, model in models.items():
        converted = convert_graph(model, kind, options, models)
        if converted is not model:
            check_converted(converted, kind)
        out[kind] = converted
    return out


def convert_file(source, output, options: PrecisionOptions) -> dict:
    """Convert an FP32 export (NAME.onnx and its split siblings) to ``output`` (+ siblings)."""
    from ..graph_files import check_output, read_graphs, write_graphs

    check_output(source, output)
    models = read_graphs(source)
    return write_graphs(convert_graphs(models, options), output)


def with_float_groups(options: PrecisionOptions, groups) -> PrecisionOptions:
    return dataclasses.replace(options, float_groups=tuple(groups), choose_float_groups=None)
