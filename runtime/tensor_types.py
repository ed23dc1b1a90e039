"""Element types across backends: numpy <-> ONNX Runtime's type strings <-> TensorRT's
``DataType`` member names, one row per type (bfloat16 / fp8 / int4 have no numpy type and
are refused at the I/O: the contract's I/O is float32 and uint8).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import UserError

# numpy dtype, onnxruntime NodeArg.type, tensorrt.DataType member name
_TYPES: tuple[tuple[type, str, str], ...] = (
    (np.float32, "tensor(float)", "FLOAT"),
    (np.float16, "tensor(float16)", "HALF"),
    (np.float64, "tensor(double)", ""),
    (np.uint8, "tensor(uint8)", "UINT8"),
    (np.int8, "tensor(int8)", "INT8"),
    (np.int32, "tensor(int32)", "INT32"),
    (np.int64, "tensor(int64)", "INT64"),
    (np.bool_, "tensor(bool)", "BOOL"),
)


def from_onnxruntime(type_string: str, name: str) -> np.dtype:
    """numpy dtype of an onnxruntime ``NodeArg.type`` ('tensor(float)', ...)."""
    for np_type, ort_name, _ in _TYPES:
        if ort_name == type_string:
            return np.dtype(np_type)
    raise UserError(f"unsupported tensor type {type_string} for '{name}'")


def from_tensorrt(trt: Any, trt_dtype: Any) -> np.dtype:
    """numpy dtype of a ``tensorrt.DataType``; UserError for types numpy lacks."""
    for np_type, _, trt_name in _TYPES:
        member = getattr(trt.DataType, trt_name, None) if trt_name else None
        if member is not None and trt_dtype == member:
            return np.dtype(np_type)
    raise UserError(f"engine I/O type {trt_dtype} has no numpy equivalent; export I/O as float32/uint8")
