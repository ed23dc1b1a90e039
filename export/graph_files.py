"""A set of graph files (NAME.onnx, NAME.support.onnx, NAME.query.onnx) read and written as one.

    models = read_graphs("hsnet.onnx")        # kind -> ModelProto, checked as one export
    write_graphs(models, "hsnet.int8.onnx")   # all or none
    check_output(source, output)              # an output set that touches no file of the input set

The export writes its graphs with :func:`write_graphs`; ``convert`` reads an earlier
export with :func:`read_graphs`, runs the precision stage and writes with it too.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import UserError
from ..runtime.graph_contract import KEY_GRAPH, metadata_of


def read_graphs(path) -> dict:
    """The FP32 export ``path`` stands for (NAME.onnx and whichever of NAME.support.onnx /
    NAME.query.onnx exist, checked as one set by the runtime's rule): kind -> model."""
    import onnx

    from ..runtime.model_files import resolve_model_files

    files = resolve_model_files(path)  # one export, or one UserError line
    if files.backend != "onnxruntime":
        raise UserError(f"convert takes an hsnet-deploy .onnx export, got {path}")
    models = {}
    for kind, candidate in files.graph_files().items():
        try:
            model = onnx.load(str(candidate))
        except Exception as err:  # noqa: BLE001 - a corrupt file is one line
            raise UserError(f"{candidate} is not a readable ONNX file ({type(err).__name__})") from None
        recorded = metadata_of(model).get(KEY_GRAPH)
        if recorded is None:
            raise UserError(f"{candidate} is not an hsnet-deploy model (no '{KEY_GRAPH}' metadata)")
        if recorded != kind:
            raise UserError(f"{candidate} holds a '{recorded}' graph where a '{kind}' graph belongs")
        models[kind] = model
    return models


def save_graph(proto, path: Path) -> None:
    """One ModelProto to ``path`` (a temporary file of an atomic write)."""
    import onnx

    onnx.save_model(proto, str(path))


def write_graphs(models: dict, path) -> dict:
    """kind -> model written to NAME.onnx / NAME.support.onnx / NAME.query.onnx, all or none."""
    from ..atomic_file import atomic_paths
    from ..runtime.graph_contract import split_paths

    paths = {kind: p for kind, p in split_paths(Path(path)).items() if kind in models}
    with atomic_paths(paths) as temps:
        for kind, tmp in temps.items():
            save_graph(models[kind], tmp)
    return paths


def check_output(source, output) -> None:
    """UserError unless ``output`` (NAME.onnx, and the split names beside it) can be written
    without touching any file of the source's input set, whichever name ``output`` gives."""
    from ..output_paths import check_output_file
    from ..runtime.graph_contract import split_paths
    from ..runtime.model_files import input_set

    inputs = input_set(source)
    for target in split_paths(Path(output)).values():
        check_output_file(target, "-o", suffixes={".onnx"}, inputs=inputs)
