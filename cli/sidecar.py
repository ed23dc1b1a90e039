"""``hsnet-deploy sidecar ENGINE --onnx ONNX``: make an engine built elsewhere (JetPack's
trtexec, see ``build --print-trtexec``) loadable, by writing its ``ENGINE.json``.

The engine is deserialized with the running TensorRT (so a foreign or corrupt plan fails
here, not later), its I/O must be the ONNX graph's kind with the graph contract's fixed
dims, and its optimisation profile is read back from the engine
(``get_tensor_profile_shape``). The sidecar then records the graph's metadata, the ONNX
file's sha256, that profile, and the running TensorRT version and GPU.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import UserError

if TYPE_CHECKING:  # pragma: no cover - types only
    import tensorrt as trt

HELP = "write the sidecar that lets the runtime load an engine built with trtexec"


def add_arguments(parser) -> None:
    from ..runtime.tensorrt.cuda_memory import BACKENDS

    parser.add_argument("engine", metavar="ENGINE", help="a TensorRT engine (.engine / .plan)")
    parser.add_argument("--onnx", required=True, metavar="ONNX", help="the hsnet-deploy ONNX graph it was built from")
    parser.add_argument("--memory", choices=BACKENDS, default="auto", help="CUDA library that reports the GPU (default: the first available)")


def engine_profile(engine: "trt.ICudaEngine", info, input_dims: dict, source: str) -> dict:
    """Input -> (min, opt, max) of profile 0, after checking the I/O against the contract."""
    import tensorrt as trt

    from ..runtime.graph_contract import check_io_names
    from ..runtime.tensorrt.runner import dims_tuple

    names = [engine.get_tensor_name(i) for i in range(engine.num_io_tensors)]
    inputs = tuple(n for n in names if engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT)
    outputs = tuple(n for n in names if n not in inputs)
    check_io_names(info.kind, inputs, outputs, source)
    want = input_dims
    shapes = {}
    for name in inputs:
        dims = dims_tuple(engine.get_tensor_shape(name))
        fixed = [(d, w) for d, w in zip(dims, want[name]) if isinstance(w, int)]
        if len(dims) != len(want[name]) or any(d not in (-1, w) for d, w in fixed):
            raise UserError(f"{source}: input '{name}' is {dims} but the ONNX graph's is {want[name]}; not built from this file")
        lo, opt, hi = (dims_tuple(d) for d in engine.get_tensor_profile_shape(name, 0))
        shapes[name] = (lo, opt, hi)
    return shapes


def write_sidecar_for(engine_path: Path, onnx_path: Path, memory: str = "auto") -> Path:
    from ..atomic_file import write_text_atomic
    from ..file_digest import sha256_of_file
    from ..runtime.graph_contract import GraphInfo
    from ..runtime.model_files import ENGINE_SUFFIXES, check_input_file
    from ..runtime.tensorrt.build_options import BuildOptions
    from ..runtime.tensorrt.engine_build import gpu_of, read_onnx_header
    from ..runtime.tensorrt.loader import EngineLoader, import_tensorrt
    from ..runtime.tensorrt.sidecar import (
        KEY_ONNX_FILE,
        KEY_ONNX_SHA256,
        sidecar_path,
        sidecar_record,
        sidecar_text,
    )

    if engine_path.suffix.lower() not in ENGINE_SUFFIXES:
        raise UserError(f"{engine_path} is not a TensorRT engine file name (an .engine or .plan file)")
    check_input_file(engine_path, "engine")
    check_input_file(onnx_path, "ONNX file")
    header = read_onnx_header(onnx_path)
    meta = header.metadata
    info = GraphInfo.from_metadata(meta, str(onnx_path))
    try:
        import_tensorrt()  # before the GPU: TensorRT is what this machine lacks, whatever else
    except UserError as err:
        raise UserError(f"{err}; sidecar reads the engine with the TensorRT that will run it: run it on the machine with the GPU") from None
    gpu_name, capability = gpu_of(memory)
    _, engine = EngineLoader(engine_path, meta, check_compatibility=False)(capability)
    import tensorrt as trt

    shapes = engine_profile(engine, info, header.input_dims, str(engine_path))
    extra = {KEY_ONNX_SHA256: sha256_of_file(onnx_path), KEY_ONNX_FILE: onnx_path.name}
    extra.update(BuildOptions(detailed_profiling=False).record(shapes, tool="external (trtexec)"))
    record = sidecar_record(meta, trt.__version__, gpu_name, capability, extra)
    path = sidecar_path(engine_path)
    write_text_atomic(path, sidecar_text(record))
    return path


def run(args) -> int:
    path = write_sidecar_for(Path(args.engine), Path(args.onnx), args.memory)
    print(f"wrote {path}")
    return 0
