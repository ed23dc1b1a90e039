"""Export an HSNet to TensorRT-ready ONNX: the episode graph, or the split pair.

    build_onnx(model, ExportOptions(...))          -> onnx.ModelProto (nothing written)
    export_onnx(model, "hsnet.onnx", img_size=400, shots=1)               one graph
    export_split(model, "hsnet.onnx", shots=None, shots_range=(1, 10))    + .support / .query
    export_split(model, "hsnet.onnx", precision=PrecisionOptions("int8", calibration=...))

One graph is built by the passes of :mod:`pipeline` (trace -> clean -> metadata ->
check); the precision stage (:mod:`precision`) then converts the set, as ``hsnet-deploy
convert`` does for files exported earlier; a graph that fails a check is never written. ``export_onnx`` / ``export_split``
take the options as keywords (those of :class:`ExportOptions`) or as ``options=``, not
both. Files are written atomically (:mod:`hsnet_deploy.atomic_file`); the split export
writes all three files or none.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Optional, Sequence

from ..atomic_file import atomic_path
from ..errors import UserError
from ..output_paths import check_folder_takes_files, parent_folder
from ..runtime.graph_contract import EPISODE, GRAPH_KINDS
from ..runtime.graph_contract import split_paths as contract_split_paths
from . import graph_files
from .export_options import DEFAULT_OPSET, MAX_OPSET, MIN_OPSET, ExportOptions  # noqa: F401 - re-exported
from .pipeline import STAGES, ExportCheckFailed, GraphState, passes_for, run_passes  # noqa: F401 - re-exported

if TYPE_CHECKING:
    from .precision.convert import PrecisionOptions


def split_paths(path) -> dict[str, Path]:
    """NAME.onnx -> {episode: NAME.onnx, support_encoder: NAME.support.onnx, query: NAME.query.onnx}."""
    path = Path(path)
    if path.suffix != ".onnx":
        raise UserError(f"output file must end in .onnx: {path}")
    return contract_split_paths(path)


def build_onnx(model, options: ExportOptions, progress=None):
    """Run the export passes for one graph of ``model`` (an HSNet); returns the ``onnx.ModelProto``.

    progress: an optional tqdm bar advanced once per stage (:data:`STAGES`).
    Raises UserError for options the model cannot honour, ExportCheckFailed if the
    result fails a check.
    """
    options = options.for_model(model)
    options.check_backbone(model.backbone_name)
    state = run_passes(GraphState(model, options), passes_for(options), progress)
    return state.model


def _options(options: Optional[ExportOptions], kwargs: dict) -> ExportOptions:
    """One ExportOptions from ``options=`` or from keywords (never both)."""
    if options is None:
        names = {f.name for f in dataclasses.fields(ExportOptions)}
        unknown = sorted(set(kwargs) - names)
        if unknown:
            raise TypeError(f"unknown export option(s): {', '.join(unknown)}")
        return ExportOptions(**kwargs)
    if not isinstance(options, ExportOptions):
        raise TypeError(f"options must be an ExportOptions (other options go by keyword), got {options!r}")
    if kwargs:
        raise TypeError(f"pass either options= or keyword options, not both (got {', '.join(sorted(kwargs))})")
    return options


def _progress_bar(total: int, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, desc="export", unit="step", disable=not enabled, leave=True)


def _precision(precision) -> "Optional[PrecisionOptions]":
    """``precision``: None / "fp32" (no stage), "fp16", "int8" or a PrecisionOptions."""
    from .precision.convert import PrecisionOptions

    if precision is None or isinstance(precision, PrecisionOptions):
        return precision
    if isinstance(precision, str):
        return PrecisionOptions(precision)
    raise TypeError(f"precision must be 'fp32', 'fp16', 'int8' or a PrecisionOptions, got {precision!r}")


def build_graphs(model, options: ExportOptions, kinds: Sequence[str], precision=None, bar=None) -> dict:
    """kind -> checked ModelProto of ``model``: every FP32 pass per graph, then the precision
    stage over the set (:func:`precision.convert.convert_graphs`: an INT8 query graph is
    calibrated on its support encoder's features, so the stage sees all graphs at once)."""
    protos = {kind: build_onnx(model, options.for_graph(kind), bar) for kind in kinds}
    stage = _precision(precision)
    if stage is not None and stage.converts:
        from .precision.convert import convert_graphs

        if bar is not None:
            bar.set_postfix_str(f"precision: {stage.precision}")
        protos = convert_graphs(protos, stage)
    return protos


def export_onnx(model, path, options: Optional[ExportOptions] = None, precision=None, **kwargs) -> Path:
    """Export one graph of ``model`` (an HSNet) to ``path``; returns the path.

    Options (keywords, or ``options=ExportOptions(...)``): img_size (H = W, validated for
    the backbone; default the size the model was trained at, else 400), shots (K, or None
    for a dynamic K; ``shots_range`` (min, max) is then recorded for TensorRT profiles),
    dynamic_batch (B dynamic, else 1), opset, graph ("episode" | "support_encoder" |
    "query"), checkpoint_sha256 (default: what the model records, see
    ``hsnet.provenance``; "random" for untrained weights), progress. ``precision``:
    "fp16", "int8" or a :class:`~.precision.convert.PrecisionOptions` (INT8 needs its
    ``calibration``) runs the precision stage. Nothing is written unless the graph passes
    every check; an existing file at ``path`` is replaced only on success.
    """
    options = _options(options, kwargs).for_model(model)
    path = Path(path)
    _require_folder(path)
    with _progress_bar(len(STAGES) + 1, options.progress) as bar:
        proto = build_graphs(model, options, (options.graph,), precision, bar)[options.graph]
        bar.set_postfix_str(f"{options.graph}: write")
        with atomic_path(path) as tmp:
            graph_files.save_graph(proto, tmp)
        bar.update()
    return path


def export_split(
    model, path, options: Optional[ExportOptions] = None, kinds: Sequence[str] = GRAPH_KINDS, precision=None, **kwargs
) -> dict[str, Path]:
    """Export the episode graph to NAME.onnx plus NAME.support.onnx and NAME.query.onnx.

    Same options as :func:`export_onnx` except ``graph``; ``kinds`` limits which of the
    three are built (e.g. only the split pair). They are all built and checked first
    (and converted, with ``precision``), then written together: a failure anywhere leaves
    none of them (existing files untouched). Returns kind -> path of what was written.
    """
    if "graph" in kwargs:
        raise TypeError("export_split builds every graph kind: it takes no graph= option")
    unknown = [k for k in kinds if k not in GRAPH_KINDS]
    if unknown or not kinds:
        raise UserError(f"unknown or no graph kinds {list(kinds)}; choose from {', '.join(GRAPH_KINDS)}")
    options = _options(options, kwargs).for_model(model)  # the digest once, for all three graphs
    _require_folder(split_paths(path)[EPISODE])
    wanted = [kind for kind in GRAPH_KINDS if kind in kinds]
    with _progress_bar(len(wanted) * (len(STAGES) + 1), options.progress) as bar:
        protos = build_graphs(model, options, wanted, precision, bar)
        bar.set_postfix_str("write")
        paths = graph_files.write_graphs(protos, path)
        bar.update(len(paths))
    return paths


def _require_folder(path: Path) -> None:
    """Before the trace: the folder of ``path`` exists and takes files (the toolkit's output rule)."""
    check_folder_takes_files(parent_folder(path), "output")
