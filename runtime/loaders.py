"""Loaders: what a runner runs, from a file *or* from an object in memory (as in Polygraphy).

A loader is cheap to build and does its work when called; it carries the backend's
options, so every command hands the same options to every backend. Each backend keeps
its loader beside its runner:

    onnxruntime/loader.py  OnnxSessionLoader(model, device, threads, providers, tensorrt_cache)
                           a path, bytes or an onnx.ModelProto  -> onnxruntime.InferenceSession
    tensorrt/loader.py     EngineLoader(engine, metadata, check_compatibility)
                           a path (+ its sidecar) or bytes       -> (trt.Runtime, trt.ICudaEngine)
    pytorch/loader.py      TorchModelLoader(checkpoint, device, backbone, threads)
                           a path, 'reference' or an HSNet       -> (model in eval mode, device)

This module holds what they share: device and thread checks, how a model source is
named and serialized, and the ONNX header reader (metadata and declared input dims,
read without a session: the builder, the split-set rule and Triton use it too). Heavy
imports (onnxruntime, tensorrt, torch) happen only when a loader is called.
"""

from __future__ import annotations

import os
from typing import Any, Optional, Union

from ..errors import UserError
from .graph_contract import metadata_of

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


def serialized_model(model: ModelSource) -> Union[str, bytes]:
    """A path string, or the model's bytes (``ModelProto.SerializeToString()``)."""
    if isinstance(model, (str, os.PathLike)):
        return str(model)
    if isinstance(model, (bytes, bytearray, memoryview)):
        return bytes(model)
    serialize = getattr(model, "SerializeToString", None)
    if serialize is None:
        raise UserError(f"cannot load a {type(model).__name__} as an ONNX model (give a path, bytes or an onnx.ModelProto)")
    return serialize()


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
                proto = onnx.load_from_string(serialized_model(model))
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
