"""This machine's dense-GEMM peak, measured in the same run as the stages it is compared to.

"How close to the hardware's limit" needs the limit of *this* machine under *this* load,
not a datasheet figure: a square n x n x n matrix product, the most favourable shape a
library has, timed ``repeats`` times after a warm-up, best time kept:

    peak = 2 n³ / best seconds        (FLOP/s; int8: integer multiply-adds, OP/s)

onnxruntime    FP32: MatMul; INT8: MatMulInteger (uint8 x int8 -> int32, the kernel its
               quantized Conv / MatMul run on)
PyTorch        FP32, and FP16 on CUDA: torch.mm (BF16 on a CPU only on request: without
               AVX512-BF16 / AMX, PyTorch's BF16 GEMM ran at ~1 GFLOP/s here, 8 s per probe)

Each stage's throughput is then reported as a share of the peak of its backend and
precision (``bench_report``). The probe runs on the bench's thread count.
"""

from __future__ import annotations

import time
from typing import Optional

import numpy as np

DEFAULT_SIZE = 1536
DEFAULT_REPEATS = 5


def _best(run, repeats: int) -> float:
    run()  # warm-up: first-touch allocations, kernel selection
    best = float("inf")
    for _ in range(max(1, repeats)):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best


def onnxruntime_gemm_peak(precision: str = "fp32", threads: Optional[int] = None, size: int = DEFAULT_SIZE, repeats: int = DEFAULT_REPEATS) -> dict:
    """{backend, precision, size, seconds, gflops} of one square product in onnxruntime (CPU)."""
    import onnxruntime as ort
    from onnx import TensorProto, helper

    rng = np.random.default_rng(0)
    if precision == "fp32":
        a = rng.standard_normal((size, size), dtype=np.float32)
        b = rng.standard_normal((size, size), dtype=np.float32)
        node, types, out_type = helper.make_node("MatMul", ["a", "b"], ["y"]), (TensorProto.FLOAT, TensorProto.FLOAT), TensorProto.FLOAT
    elif precision == "int8":
        a = rng.integers(0, 256, (size, size), dtype=np.uint8)
        b = rng.integers(-128, 128, (size, size), dtype=np.int8)
        node, types, out_type = helper.make_node("MatMulInteger", ["a", "b"], ["y"]), (TensorProto.UINT8, TensorProto.INT8), TensorProto.INT32
    else:
        raise ValueError(f"onnxruntime GEMM peak: unknown precision {precision!r} (fp32, int8)")
    graph = helper.make_graph(
        [node], "gemm_peak",
        [helper.make_tensor_value_info("a", types[0], [size, size]), helper.make_tensor_value_info("b", types[1], [size, size])],
        [helper.make_tensor_value_info("y", out_type, [size, size])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    feed = {"a": a, "b": b}
    seconds = _best(lambda: session.run(None, feed), repeats)
    return {"backend": "onnxruntime", "precision": precision, "size": size, "seconds": seconds, "gflops": 2 * size**3 / seconds / 1e9}


def torch_gemm_peak(precision: str = "fp32", device: str = "cpu", size: int = DEFAULT_SIZE, repeats: int = DEFAULT_REPEATS) -> dict:
    """{backend, precision, size, seconds, gflops} of one square torch.mm (threads: torch's setting)."""
    import torch

    dtype = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)
    if dtype is None:
        raise ValueError(f"PyTorch GEMM peak: unknown precision {precision!r} (fp32, bf16, fp16)")
    g = torch.Generator().manual_seed(0)
    a = torch.randn(size, size, generator=g).to(device=device, dtype=dtype)
    b = torch.randn(size, size, generator=g).to(device=device, dtype=dtype)

    def run():
        torch.mm(a, b)
        if a.is_cuda:
            torch.cuda.synchronize()

    seconds = _best(run, repeats)
    return {"backend": "torch", "precision": precision, "size": size, "seconds": seconds, "gflops": 2 * size**3 / seconds / 1e9}


def measure_peaks(torch_device: str = "cpu", threads: Optional[int] = None, with_onnxruntime: bool = True, size: int = DEFAULT_SIZE) -> dict:
    """{"backend precision": result} for what this run's backends can use."""
    peaks = {}
    probes = [("torch", "fp32")] + ([("torch", "fp16")] if torch_device.startswith("cuda") else [])
    if with_onnxruntime:
        probes += [("onnxruntime", "fp32"), ("onnxruntime", "int8")]
    for backend, precision in probes:
        try:
            if backend == "torch":
                result = torch_gemm_peak(precision, torch_device, size)
            else:
                result = onnxruntime_gemm_peak(precision, threads, size)
        except (RuntimeError, ValueError, ImportError) as err:  # a dtype this build has no kernel for
            result = {"backend": backend, "precision": precision, "error": str(err).split("\n")[0]}
        peaks[f"{backend} {precision}"] = result
    return peaks
