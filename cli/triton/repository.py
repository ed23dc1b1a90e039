"""A Triton Inference Server model repository for a split export (ONNX files or TensorRT
plans): one model for the support encoder, one for the query graph.

    REPO/
      hsnet_support_encoder/config.pbtxt     support_imgs, support_masks -> support_c3..c1
      hsnet_support_encoder/1/model.onnx     (or model.plan)
      hsnet_query/config.pbtxt               query_img, support_c3..c1 -> logits, mask
      hsnet_query/1/model.onnx               (or model.plan)
      client_example.py                      encode a support set once, then stream queries
                                             (its --size default: the export's image size)

``config.pbtxt`` is Triton's ModelConfig in protobuf text format:
- ``platform``: ``onnxruntime_onnx``, or ``tensorrt_plan``;
- ``max_batch_size``: N when the graph's axis 0 is a dynamic batch (the dims then leave
  it out), 0 for a batch-1 export (the dims include it);
- ``dims``: the graph's own, -1 for a dynamic K;
- ``data_type``: TYPE_FP32 / TYPE_UINT8, the graph contract's dtypes;
- ``dynamic_batching``: for the query model only (many clients' frames batched together;
  a support set is encoded once per client);
- ``instance_group``: ``count`` instances of kind KIND_GPU (or KIND_CPU).

Everything is checked before anything is written: the options, the split set (each
half's metadata read and checked to be one export by the runtime's own rule,
:func:`~hsnet_deploy.runtime.model_files.check_split_set`), and that REPO is new with a
writable parent. The repository is built in a temporary folder beside REPO and renamed
into place; any OSError on the way is one UserError line, with nothing left behind.

The tests parse every file with Triton's own ModelConfig (tritonclient's protobuf).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Mapping, Optional, Sequence, Union

from ...errors import UserError
from ...runtime.graph_contract import (
    BATCH_DIM,
    EPISODE,
    GRAPH_INPUTS,
    GRAPH_OUTPUTS,
    QUERY,
    SUPPORT_ENCODER,
    TENSOR_DTYPES,
    GraphInfo,
    split_paths,
)
from ...runtime.model_files import (
    BACKEND_BY_SUFFIX,
    ModelFiles,
    check_split_set,
    graph_info,
    resolve_model_files,
)

MODEL_NAMES = {SUPPORT_ENCODER: "hsnet_support_encoder", QUERY: "hsnet_query"}
PLATFORMS = {"onnxruntime": ("onnxruntime_onnx", "model.onnx"), "tensorrt": ("tensorrt_plan", "model.plan")}
TRITON_TYPES = {"float32": "TYPE_FP32", "uint8": "TYPE_UINT8", "float16": "TYPE_FP16"}
INSTANCE_KINDS = ("KIND_GPU", "KIND_CPU")
CLIENT_EXAMPLE = Path(__file__).with_name("client_example.py")
CLIENT_SIZE_LINE = "IMG_SIZE = None  # the export's image size: hsnet-deploy triton-repo writes it here"


def graph_dims(onnx_path: Path) -> dict[str, list]:
    """Every input and output of an ONNX graph -> its dims (ints, or dim names)."""
    import onnx

    from ...runtime.loaders import declared_dims

    graph = onnx.load(str(onnx_path), load_external_data=False).graph
    return declared_dims(list(graph.input) + list(graph.output))


def _tensor(name: str, dims: Sequence, batched: bool) -> str:
    shown = [(-1 if isinstance(d, str) else int(d)) for d in (dims[1:] if batched else dims)]
    return f'  {{\n    name: "{name}"\n    data_type: {TRITON_TYPES[TENSOR_DTYPES[name]]}\n    dims: [ {", ".join(map(str, shown))} ]\n  }}'


def model_config(
    kind: str,
    backend: str,
    dims: Mapping[str, Sequence],
    max_batch_size: int = 8,
    instances: int = 1,
    instance_kind: str = "KIND_GPU",
    queue_delay_us: int = 100,
) -> str:
    """The config.pbtxt text of the ``kind`` graph (see the module docstring)."""
    batched = all(dims[n] and dims[n][0] == BATCH_DIM for n in GRAPH_INPUTS[kind] + GRAPH_OUTPUTS[kind])
    platform = PLATFORMS[backend][0]
    lines = [f'name: "{MODEL_NAMES[kind]}"', f'platform: "{platform}"', f"max_batch_size: {max_batch_size if batched else 0}"]
    lines.append("input [\n" + ",\n".join(_tensor(n, dims[n], batched) for n in GRAPH_INPUTS[kind]) + "\n]")
    lines.append("output [\n" + ",\n".join(_tensor(n, dims[n], batched) for n in GRAPH_OUTPUTS[kind]) + "\n]")
    if kind == QUERY and batched:
        lines.append(f"dynamic_batching {{\n  max_queue_delay_microseconds: {queue_delay_us}\n}}")
    lines.append(f"instance_group [\n  {{\n    count: {instances}\n    kind: {instance_kind}\n  }}\n]")
    return "\n".join(lines) + "\n"


def _dims_for(path: Path, backend: str) -> dict[str, list]:
    """The graph's I/O dims: from the ONNX file, or for a plan from the ONNX file named in
    its sidecar (beside it), else from the graph contract."""
    if backend == "onnxruntime":
        return graph_dims(path)
    from ...runtime.tensorrt.sidecar import KEY_ONNX_FILE, read_engine_sidecar

    record = read_engine_sidecar(path)
    beside = path.parent / record.get(KEY_ONNX_FILE, "")
    if record.get(KEY_ONNX_FILE) and beside.is_file():
        return graph_dims(beside)
    return GraphInfo.from_metadata(record, str(path)).dims()


def check_options(model: Union[str, os.PathLike], max_batch_size: int, instances: int, instance_kind: str, version: int) -> None:
    """The options of ``triton-repo``, before any file is read."""
    for option, value in (("--max-batch-size", max_batch_size), ("--instances", instances)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise UserError(f"{option} must be at least 1, got {value}")
    if instance_kind not in INSTANCE_KINDS:
        raise UserError(f"instance kind must be one of {', '.join(INSTANCE_KINDS)}, got {instance_kind!r}")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise UserError(f"the model version (its folder's name) must be at least 1, got {version}")
    if instance_kind == "KIND_CPU" and BACKEND_BY_SUFFIX.get(Path(model).suffix.lower()) == "tensorrt":
        raise UserError("--cpu serves .onnx models only (TensorRT plans need a GPU)")


def split_set(model: Union[str, os.PathLike]) -> tuple[ModelFiles, dict[str, GraphInfo]]:
    """The split pair ``model`` names and its checked metadata; UserError naming what is
    wrong (a corrupt or foreign file, an episode graph alone, halves of two exports)."""
    files = resolve_model_files(model)
    if files.backend not in PLATFORMS:
        raise UserError(f"triton-repo takes .onnx files or TensorRT engines, got {model}")
    if not files.is_split:
        info = graph_info(files.paths[EPISODE], files.backend)  # a foreign or corrupt file says so here
        if info.kind == EPISODE:
            raise UserError(
                f"{model} has no split graphs beside it: re-export with `hsnet-deploy export --split` "
                "(Triton serves the support encoder and the query graph)"
            )
        named = split_paths(Path(model))
        raise UserError(
            f"{model} holds a '{info.kind}' graph but is not named as half of a split pair "
            f"({named[SUPPORT_ENCODER].name} + {named[QUERY].name})"
        )
    return files, check_split_set(files)  # the runtime's rule: each half its kind, one export


def check_output(output: Union[str, os.PathLike]) -> Path:
    """REPO must be new, in a folder this process can write in (the toolkit's output rule)."""
    from ...output_paths import check_output_folder

    return check_output_folder(output, "-o", must_not_exist=True)


def client_example_text(img_size: int) -> str:
    """The client example with the export's image size as its ``--size`` default."""
    text = CLIENT_EXAMPLE.read_text(encoding="utf-8")
    if text.count(CLIENT_SIZE_LINE) != 1:
        raise RuntimeError(f"{CLIENT_EXAMPLE} must hold the line {CLIENT_SIZE_LINE!r} once")
    return text.replace(CLIENT_SIZE_LINE, f"IMG_SIZE = {int(img_size)}  # the export's, written by hsnet-deploy triton-repo")


def write_repository(
    model: Union[str, os.PathLike],
    output: Union[str, os.PathLike],
    max_batch_size: int = 8,
    instances: int = 1,
    instance_kind: str = "KIND_GPU",
    version: int = 1,
) -> dict[str, Path]:
    """Write REPO (which must not exist yet) for the split pair ``model`` names; returns
    model name -> config path. Everything is checked first; the repository is built in a
    temporary folder beside REPO and renamed into place, or removed on any failure."""
    check_options(model, max_batch_size, instances, instance_kind, version)
    files, infos = split_set(model)
    target = check_output(output)
    platform_file = PLATFORMS[files.backend][1]
    staging: Optional[Path] = None
    written = {}
    try:
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
        repo = staging / "repo"  # made by mkdir, so with the umask's rights (mkdtemp's are 0700)
        repo.mkdir()
        for kind in (SUPPORT_ENCODER, QUERY):
            source = Path(files.paths[kind])
            folder = repo / MODEL_NAMES[kind]
            (folder / str(version)).mkdir(parents=True)
            shutil.copyfile(source, folder / str(version) / platform_file)
            text = model_config(kind, files.backend, _dims_for(source, files.backend), max_batch_size, instances, instance_kind)
            (folder / "config.pbtxt").write_text(text, encoding="utf-8")
            written[MODEL_NAMES[kind]] = target / MODEL_NAMES[kind] / "config.pbtxt"
        (repo / "client_example.py").write_text(client_example_text(infos[QUERY].img_size), encoding="utf-8")
        os.replace(repo, target)
    except BaseException as err:
        if staging is not None:
            with contextlib.suppress(OSError):
                shutil.rmtree(staging)
        if isinstance(err, OSError):
            where = f" ({err.filename})" if err.filename and (staging is None or not str(err.filename).startswith(str(staging))) else ""
            raise UserError(f"cannot write the model repository {target}: {err.strerror or err}{where}") from None
        raise
    with contextlib.suppress(OSError):
        staging.rmdir()  # empty now
    return written


def load_model_config_class(required: bool = True):
    """Triton's ModelConfig protobuf class from tritonclient (its grpc package's
    ``model_config_pb2``, loaded by file so grpcio is not needed)."""
    import importlib.util

    spec = importlib.util.find_spec("tritonclient")
    path = Path(spec.submodule_search_locations[0]) / "grpc" / "model_config_pb2.py" if spec and spec.submodule_search_locations else None
    if path is None or not path.is_file():
        if not required:
            return None
        raise UserError("validating Triton configs needs tritonclient: pip install tritonclient")
    module_spec = importlib.util.spec_from_file_location("triton_model_config_pb2", path)
    module = importlib.util.module_from_spec(module_spec)  # type: ignore[arg-type]
    module_spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module.ModelConfig


def parse_config(text: str, model_config_class: Optional[type] = None):
    """A config.pbtxt parsed by Triton's own ModelConfig; UserError when it does not parse."""
    from google.protobuf import text_format

    cls = model_config_class or load_model_config_class()
    try:
        return text_format.Parse(text, cls())
    except text_format.ParseError as err:
        raise UserError(f"not a valid Triton model configuration: {err}") from None
