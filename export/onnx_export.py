"""Export an HSNet to TensorRT-ready ONNX: the episode graph, or the split pair.

    build_onnx(model, ExportOptions(...))          -> onnx.ModelProto (nothing written)
    export_onnx(model, "hsnet.onnx", img_size=400, shots=1)               one graph
    export_split(model, "hsnet.onnx", shots=None, shots_range=(1, 10))    + .support / .query

One graph is built by the passes of :mod:`pipeline` (trace -> clean -> metadata ->
check); a graph that fails a check is never written. ``export_onnx`` / ``export_split``
take the options as keywords (those of :class:`ExportOptions`) or as ``options=``, not
both. Files are written atomically (:mod:`hsnet_deploy.atomic_file`); the split export
writes all three files or none.
"""

from __future__ import annotations

import contextlib
import dataclasses
from pathlib import Path
from typing import Optional, Sequence

from ..atomic_file import atomic_path
from ..errors import UserError
from ..runtime.graph_contract import EPISODE, GRAPH_KINDS
from ..runtime.graph_contract import split_paths as contract_split_paths
from .export_options import DEFAULT_OPSET, MAX_OPSET, MIN_OPSET, ExportOptions  # noqa: F401 - re-exported
from .pipeline import STAGES, ExportCheckFailed, GraphState, passes_for, run_passes  # noqa: F401 - re-exported


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


def _write(proto, tmp: Path) -> None:
    import onnx

    onnx.save_model(proto, str(tmp))


def export_onnx(model, path, options: Optional[ExportOptions] = None, **kwargs) -> Path:
    """Export one graph of ``model`` (an HSNet) to ``path``; returns the path.

    Options (keywords, or ``options=ExportOptions(...)``): img_size (H = W, validated for
    the backbone), shots (K, or None for a dynamic K; ``shots_range`` (min, max) is then
    recorded for TensorRT profiles), dynamic_batch (B dynamic, else 1), opset, graph
    ("episode" | "support_encoder" | "query"), checkpoint_sha256 (default: what the model
    records, see ``hsnet.provenance``; "random" for untrained weights), precision ("fp32"), progress. Nothing is written unless the graph passes
    every check; an existing file at ``path`` is replaced only on success.
    """
    options = _options(options, kwargs)
    path = Path(path)
    _require_folder(path)
    with _progress_bar(len(STAGES) + 1, options.progress) as bar:
        proto = build_onnx(model, options, bar)
        bar.set_postfix_str(f"{options.graph}: write")
        with atomic_path(path) as tmp:
            _write(proto, tmp)
        bar.update()
    return path


def export_split(
    model, path, options: Optional[ExportOptions] = None, kinds: Sequence[str] = GRAPH_KINDS, **kwargs
) -> dict[str, Path]:
    """Export the episode graph to NAME.onnx plus NAME.support.onnx and NAME.query.onnx.

    Same options as :func:`export_onnx` except ``graph``; ``kinds`` limits which of the
    three are built (e.g. only the split pair). They are all built and checked first,
    then written together: a failure anywhere leaves none of them (existing files
    untouched). Returns kind -> path of what was written.
    """
    if "graph" in kwargs:
        raise TypeError("export_split builds every graph kind: it takes no graph= option")
    unknown = [k for k in kinds if k not in GRAPH_KINDS]
    if unknown or not kinds:
        raise UserError(f"unknown or no graph kinds {list(kinds)}; choose from {', '.join(GRAPH_KINDS)}")
    options = _options(options, kwargs).for_model(model)  # the digest once, for all three graphs
    paths = {kind: p for kind, p in split_paths(path).items() if kind in kinds}
    _require_folder(split_paths(path)[EPISODE])
    with _progress_bar(len(paths) * (len(STAGES) + 1), options.progress) as bar:
        protos = {kind: build_onnx(model, options.for_graph(kind), bar) for kind in paths}
        bar.set_postfix_str("write")
        with contextlib.ExitStack() as stack:
            temps = {kind: stack.enter_context(atomic_path(p)) for kind, p in paths.items()}
            for kind in paths:
                _write(protos[kind], temps[kind])
                bar.update()
    return paths


def _require_folder(path: Path) -> None:
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise UserError(f"output folder does not exist: {folder}")
