"""Loads TensorRT engines: the installed TensorRT, its version, and a deserialized engine.

    EngineLoader(engine, metadata)(compute_capability)  -> (trt.Runtime, trt.ICudaEngine)
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Mapping, Optional, Union

from ...errors import UserError
from ..loaders import describe_source
from .sidecar import check_engine_compatibility, read_engine_sidecar

if TYPE_CHECKING:  # pragma: no cover - types only
    import tensorrt as trt

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
