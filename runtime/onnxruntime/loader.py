"""Loads onnxruntime sessions: the CPU / CUDA / TensorRT execution providers and their options.

    OnnxSessionLoader(model, device, threads, providers, tensorrt_cache)()  -> InferenceSession
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional, Sequence, Union

from ...errors import UserError
from ..loaders import (
    ModelSource,
    check_device,
    check_threads,
    describe_source,
    onnx_header,
    serialized_model,
)


INSTALL = "pip install 'hsnet-deploy[cpu]' (NVIDIA GPUs: [gpu]; Jetson: NVIDIA's onnxruntime-gpu wheel, see docs/jetson.md)"


def _missing(purpose: str) -> UserError:
    return UserError(f"{purpose} needs onnxruntime, which is not installed: {INSTALL}")


def require_onnxruntime(purpose: str) -> None:
    """UserError naming the extra to install when onnxruntime is absent (checked without importing it)."""
    import importlib.util

    if importlib.util.find_spec("onnxruntime") is None:
        raise _missing(purpose)


def import_onnxruntime():
    """onnxruntime, or a UserError saying how to install it."""
    try:
        import onnxruntime
    except ImportError:
        raise _missing("running .onnx models") from None
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
    :func:`~hsnet_deploy.runtime.onnxruntime.tensorrt_ep.tensorrt_provider_options` (shapes
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
            session = ort.InferenceSession(serialized_model(self.model), sess_options=options, providers=providers, disabled_optimizers=disabled)
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
        from ..graph_contract import GraphInfo
        from ..tensorrt.profiles import profile_shapes
        from .tensorrt_ep import (
            TENSORRT_EP,
            tensorrt_provider_options,
            tensorrt_providers,
        )

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
