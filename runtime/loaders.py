"""Loaders: what a runner runs, from a file *or* from an object in memory (as in Polygraphy).

A loader is cheap to build and does its work when called; it carries the backend's
options, so every command hands the same options to every backend:

    OnnxSessionLoader(model, device, threads, providers, tensorrt_cache)
        model: a path, serialized bytes, or an ``onnx.ModelProto`` (a converter's or a
        calibrator's result, never written to disk)          -> onnxruntime.InferenceSession
        tensorrt_cache: a folder -> onnxruntime's TensorRT EP first, its engines cached there
    EngineLoader(engine, metadata, check_compatibility)
        engine: a path (metadata from its ``X.engine.json`` sidecar) or serialized bytes
        from a builder (metadata given)                       -> (trt.Runtime, trt.ICudaEngine)
    TorchModelLoader(checkpoint, device, backbone, threads)
        checkpoint: a path, or an ``HSNet`` in memory        -> (model in eval mode, device)

Runners (``*_runner.py``) take a loader; heavy imports (onnxruntime, tensorrt, torch)
happen only when a loader is called.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Optional, Sequence, Union

from ..errors import UserError
from .graph_contract import metadata_of
from .model_source import model_source
from .tensorrt.sidecar import check_engine_compatibility, read_engine_sidecar

if TYPE_CHECKING:  # pragma: no cover - types only
    import tensorrt as trt

DEVICES = ("auto", "cpu", "cuda")
ModelSource = Union[str, os.PathLike, bytes, Any]  # a path, bytes, or an object with SerializeToString()


def check_device(device: str) -> str:
    if device not in DEVICES:
        raise UserError(f"unknown device '{device}' (expected one of {', '.join(DEVICES)})")
    return device


def check_threads(threads: Optional[int]) -> Optional[int]:
    if threads is not None and (not isinstance(threads, int) or threads < 1):
        raise UserError(f"threads must be a positive integer, got {threads!r}")
    return threads


def describe_source(model: ModelSource, what: str) -> str:
    """How errors name a model: its path, or what kind of object it is."""
    if isinstance(model, (str, os.PathLike)):
        return str(model)
    if isinstance(model, (bytes, bytearray, memoryview)):
        return f"<{what} bytes in memory>"
    return f"<{type(model).__name__} in memory>"


def _serialized(model: ModelSource) -> Union[str, bytes]:
    """A path string, or the model's bytes (``ModelProto.SerializeToString()``)."""
    if isinstance(model, (str, os.PathLike)):
        return str(model)
    if isinstance(model, (bytes, bytearray, memoryview)):
        return bytes(model)
    serialize = getattr(model, "SerializeToString", None)
    if serialize is None:
        raise UserError(f"cannot load a {type(model).__name__} as an ONNX model (give a path, bytes or an onnx.ModelProto)")
    return serialize()


# ---- ONNX Runtime ------------------------------------------------------------------------
def import_onnxruntime():
    """onnxruntime, or a UserError saying how to install it."""
    try:
        import onnxruntime
    except ImportError:
        raise UserError(
            "running .onnx models needs onnxruntime: pip install onnxruntime "
            "(or onnxruntime-gpu for CUDA)"
        ) from None
    return onnxruntime


def choose_providers(device: str, available: Sequence[str], requested: Optional[Sequence[str]] = None) -> list[str]:
    """Execution providers for ``device`` (or exactly ``requested``) given this onnxruntime build."""
    check_device(device)
    if requested:
        missing = [p for p in requested if p not in available]
        if missing:
            raise UserError(f"this onnxruntime has no {', '.join(missing)} (available: {', '.join(available)})")
        return list(requested)
    has_cuda = "CUDAExecutionProvider" in available
    if device == "cuda" and not has_cuda:
        raise UserError(
            "device 'cuda' requested but this onnxruntime has no CUDAExecutionProvider "
            "(install onnxruntime-gpu, or use --device cpu)"
        )
    if device in ("cuda", "auto") and has_cuda:
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    return ["CPUExecutionProvider"]


TENSORRT_EP_MISSING = (
    "this onnxruntime has no TensorrtExecutionProvider: pip install onnxruntime-gpu "
    "(and TensorRT 10.x/11.x; ONNX Runtime 1.27+ for TensorRT 11)"
)


def onnx_header(model: ModelSource, source: str) -> "tuple[dict[str, str], dict[str, list]]":
    """(``metadata_props``, input name -> declared dims: ints, or the names of dynamic dims),
    read without a session (external data files are not read); UserError without ``onnx``."""
    proto = model if hasattr(model, "metadata_props") and hasattr(model, "graph") else None  # a ModelProto
    if proto is None:
        try:
            import onnx
        except ImportError:
            raise UserError(f"reading the metadata of {source} (TensorRT builds, the TensorRT EP) needs onnx: pip install onnx") from None
        try:
            if isinstance(model, (str, os.PathLike)):
                proto = onnx.load(str(model), load_external_data=False)
            else:
                proto = onnx.load_from_string(_serialized(model))
        except UserError:
            raise
        except Exception as err:  # protobuf's DecodeError and friends
            reason = str(err).strip().split("\n")[0]
            raise UserError(f"cannot read ONNX model {source}: {reason}") from None
    return metadata_of(proto), declared_dims(proto.graph.input)


def declared_dims(values) -> dict[str, list]:
    """ONNX ValueInfos -> name -> declared dims: ints, or the names of dynamic dims."""
    return {
        value.name: [d.dim_value if d.HasField("dim_value") else d.dim_param for d in value.type.tensor_type.shape.dim]
        for value in values
    }


def check_tensorrt_cache(folder: Optional[Union[str, os.PathLike]], device: str, providers: Optional[Sequence[str]]) -> Optional[str]:
    """The TensorRT EP's cache folder as given (None: no TensorRT EP), or a UserError."""
    if folder is None:
        return None
    if device == "cpu":
        raise UserError("onnxruntime's TensorRT execution provider runs on a CUDA GPU: a TensorRT cache cannot go with device 'cpu'")
    if providers:
        raise UserError("give either execution providers or a TensorRT cache folder (it sets the providers), not both")
    if Path(folder).exists() and not Path(folder).is_dir():
        raise UserError(f"TensorRT cache {folder} is a file, not a folder")
    return str(folder)


# onnxruntime graph rewrites this toolkit turns off on the CPU, each with its measurement.
# MatmulTransposeFusion folds the Transpose of the query features into the correlation
# MatMul (FusedMatMul, transA=1); on the CPU that product runs at half speed: ResNet50 C1
# at 400x400, 2 threads, 4 x (2500 x 512 x 2500): 4 x ~110 ms fused, 4 x ~60 ms with the
# transpose done once beforehand (its copy: ~2 ms).
CPU_DISABLED_OPTIMIZERS = ("MatmulTransposeFusion",)


class OnnxSessionLoader:
    """Builds an ``onnxruntime.InferenceSession`` on each call.

    ``tensorrt_cache``: a folder (created when missing). The session then runs through
    onnxruntime's TensorRT EP, then CUDA, then CPU, with the options of
    :func:`~hsnet_deploy.runtime.onnxruntime_tensorrt.tensorrt_provider_options` (shapes
    from the model's metadata); a session on which ONNX Runtime quietly dropped the
    TensorRT EP is refused, never run on another EP.
    """

    def __init__(
        self,
        model: ModelSource,
        device: str = "auto",
        threads: Optional[int] = None,
        providers: Optional[Sequence[str]] = None,
        tensorrt_cache: Optional[Union[str, os.PathLike]] = None,
    ) -> None:
        self.model = model
        self.device = check_device(device)
        self.threads = check_threads(threads)
        self.providers = tuple(providers) if providers else None
        self.tensorrt_cache = check_tensorrt_cache(tensorrt_cache, self.device, self.providers)
        self.source = describe_source(model, "ONNX")
        self._tensorrt_options: Optional[dict[str, str]] = None

    def __call__(self):
        return self.session()

    def session(self, profile_prefix: Optional[str] = None, optimized_model_path: Optional[str] = None):
        """A new session; ``profile_prefix``: onnxruntime's profiler on, its JSON named so;
        ``optimized_model_path``: the graph as onnxruntime optimised it, saved there."""
        if isinstance(self.model, (str, os.PathLike)) and not Path(self.model).is_file():
            raise UserError(f"model not found: {self.model}")
        ort = import_onnxruntime()
        if self.tensorrt_cache is not None:
            providers: list = self._tensorrt_providers(ort.get_available_providers())
        else:
            providers = choose_providers(self.device, ort.get_available_providers(), self.providers)
        options = ort.SessionOptions()
        options.log_severity_level = 3  # errors only: no provider-fallback chatter on stderr
        if self.threads:
            options.intra_op_num_threads = self.threads
        if profile_prefix:
            options.enable_profiling = True
            options.profile_file_prefix = str(profile_prefix)
        if optimized_model_path:
            options.optimized_model_filepath = str(optimized_model_path)
        disabled = list(CPU_DISABLED_OPTIMIZERS) if providers[0] == "CPUExecutionProvider" else None
        try:
            session = ort.InferenceSession(_serialized(self.model), sess_options=options, providers=providers, disabled_optimizers=disabled)
        except UserError:
            raise
        except Exception as err:  # onnxruntime raises its own exception types for bad files
            reason = str(err).strip().split("\n")[0]
            raise UserError(f"cannot load ONNX model {self.source}: {reason}") from None
        if self.tensorrt_cache is not None:
            running = list(session.get_providers())
            if not running or running[0] != "TensorrtExecutionProvider":
                raise UserError(
                    f"{self.source}: onnxruntime's TensorRT execution provider could not load (its TensorRT "
                    f"libraries are missing: pip install tensorrt, or put them on LD_LIBRARY_PATH); "
                    f"not running on {running[0] if running else 'another provider'} instead"
                )
        return session

    def _tensorrt_providers(self, available: Sequence[str]) -> list:
        """TensorRT EP (options from the model's metadata), CUDA, CPU; the cache folder made."""
        from .graph_contract import GraphInfo
        from .onnxruntime_tensorrt import (
            TENSORRT_EP,
            tensorrt_provider_options,
            tensorrt_providers,
        )
        from .tensorrt.profiles import profile_shapes

        if TENSORRT_EP not in available:
            raise UserError(TENSORRT_EP_MISSING)
        folder = Path(self.tensorrt_cache)  # type: ignore[arg-type]  # set when called
        if self._tensorrt_options is None:
            metadata, input_dims = onnx_header(self.model, self.source)
            info = GraphInfo.from_metadata(metadata, self.source)
            shapes = profile_shapes(info, input_dims=input_dims)  # the file's own dims, as the builder's
            self._tensorrt_options = tensorrt_provider_options(info, os.path.abspath(folder), shapes)
        if folder.exists() and not folder.is_dir():
            raise UserError(f"TensorRT cache {folder} is a file, not a folder")
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise UserError(f"cannot create the TensorRT cache folder {folder}: {err.strerror or err}") from None
        return tensorrt_providers(self._tensorrt_options)


# ---- TensorRT ------------------------------------------------------------------------------
TENSORRT_INSTALL = (
    "TensorRT is not installed: pip install tensorrt (10.x or 11.x; on Jetson it comes with "
    "JetPack, see docs/jetson.md)"
)


def import_tensorrt():
    """tensorrt, or a UserError saying how to install it.

    ``tensorrt-stubs`` (the type stubs the tests check against) installs a ``tensorrt``
    folder holding only ``.pyi`` files, which Python imports as an empty namespace
    package: that counts as not installed.
    """
    try:
        import tensorrt
    except ImportError:
        raise UserError(TENSORRT_INSTALL) from None
    if not hasattr(tensorrt, "Runtime"):
        raise UserError(TENSORRT_INSTALL + " (only its type stubs are installed here)")
    return tensorrt


def tensorrt_major(version: str) -> int:
    """'10.13.0.35' -> 10; UserError for a version this toolkit cannot use (< 10)."""
    try:
        major = int(str(version).split(".")[0])
    except ValueError:
        raise UserError(f"cannot read the TensorRT version {version!r}") from None
    if major < 10:
        raise UserError(
            f"TensorRT {version} is too old: hsnet-deploy needs TensorRT 10.x or 11.x "
            "(the name-based I/O API; JetPack 6 ships 10.x)"
        )
    return major


class EngineLoader:
    """Deserializes a TensorRT engine from a file (+ its sidecar) or from bytes (+ metadata)."""

    def __init__(
        self,
        engine: Union[str, os.PathLike, bytes],
        metadata: Optional[Mapping[str, str]] = None,
        check_compatibility: bool = True,
    ) -> None:
        if not isinstance(engine, (str, os.PathLike, bytes, bytearray, memoryview)):
            raise UserError(f"cannot load a {type(engine).__name__} as a TensorRT engine (give a path or bytes)")
        if not isinstance(engine, (str, os.PathLike)) and metadata is None:
            raise UserError("an engine given as bytes needs its metadata (the graph's hsnet_deploy.* keys)")
        self.engine = engine
        self._metadata = dict(metadata) if metadata is not None else None
        self.check_compatibility = check_compatibility
        self.source = describe_source(engine, "engine")

    def record(self) -> dict[str, str]:
        """The engine's metadata: the sidecar of a file, or what was given with bytes."""
        if self._metadata is None:
            path = Path(self.engine)  # type: ignore[arg-type]  # bytes always come with metadata
            if not path.is_file():
                raise UserError(f"engine not found: {path}")
            self._metadata = read_engine_sidecar(path)
        return dict(self._metadata)

    def __call__(self, compute_capability: tuple[int, int]) -> "tuple[trt.Runtime, trt.ICudaEngine]":
        import_tensorrt()  # UserError when TensorRT is missing
        import tensorrt as trt

        record = self.record()
        if self.check_compatibility:
            check_engine_compatibility(record, trt.__version__, compute_capability, self.source)
        data = Path(self.engine).read_bytes() if isinstance(self.engine, (str, os.PathLike)) else bytes(self.engine)
        runtime = trt.Runtime(trt.Logger(trt.Logger.WARNING))
        engine = runtime.deserialize_cuda_engine(data)
        if engine is None:
            raise UserError(f"TensorRT could not deserialize {self.source} (corrupt file, or built elsewhere)")
        return runtime, engine


# ---- PyTorch -------------------------------------------------------------------------------
def import_torch():
    try:
        import torch
    except ImportError:
        raise UserError("running .pt checkpoints needs PyTorch: pip install torch") from None
    return torch


def choose_torch_device(request: str = "auto"):
    """``torch.device`` for "auto" (CUDA when PyTorch sees one), "cpu" or "cuda"."""
    torch = import_torch()
    check_device(request)
    if request == "cuda" and not torch.cuda.is_available():
        raise UserError("device 'cuda' requested but PyTorch sees no CUDA device (use --device cpu)")
    use_cuda = request in ("cuda", "auto") and torch.cuda.is_available()
    return torch.device("cuda" if use_cuda else "cpu")


class TorchModelLoader:
    """Loads (once, on first call) an HSNet from a checkpoint, or wraps a given model.

    ``checkpoint`` is a path (or 'reference') for the registered model source
    (:mod:`.model_source`) or an ``HSNet`` instance already built (tests, evaluation). ``threads`` sets PyTorch's intra-op
    threads when the model is loaded.
    """

    def __init__(self, checkpoint: Any, device: str = "auto", backbone: Optional[str] = None, threads: Optional[int] = None):
        self.checkpoint = checkpoint
        self.device_request = check_device(device)
        self.backbone = backbone
        self.threads = check_threads(threads)
        self.model = None
        self.device = None
        self.sha256 = "random"
        self.source = describe_source(checkpoint, "checkpoint")

    def __call__(self):
        """(model on its device in eval mode, torch device)."""
        if self.model is not None:
            return self.model, self.device
        torch = import_torch()
        device = choose_torch_device(self.device_request)
        if self.threads:
            torch.set_num_threads(self.threads)
        source = model_source()  # the model, by name: the runtime never imports it
        model = source.load_model(self.checkpoint, self.backbone) if isinstance(self.checkpoint, (str, os.PathLike)) else self.checkpoint
        self.sha256 = source.weights_digest(model)  # the file it was loaded from, while unchanged
        self.model = model.to(device).eval()
        self.device = device
        return self.model, self.device
