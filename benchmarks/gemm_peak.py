"""This machine's dense-GEMM peak, measured in the same run as the stages it is compared to.

"How close to the hardware's limit" needs the limit of *this* machine under *this* load,
not a datasheet figure: the most favourable dense products a library has, each timed
``repeats`` times after a warm-up, best time kept, the best probe reported:

    peak = 2 x multiply-adds / best seconds        (FLOP/s; int8: integer OP/s)

onnxruntime    a square n x n x n MatMul, and a 3x3 Conv 256 -> 256 on 32x32 with constant
               weights (onnxruntime's blocked NCHWc kernels: here 143-146 GFLOP/s where its
               MatMul reached 121-136, so the MatMul alone would put convs above "100 %");
               INT8: MatMulInteger and ConvInteger (uint8 x int8 -> int32), the same shapes
OpenVINO       the same float shapes under f32 and bf16 inference (AVX-512 BF16 / AMX where
               the CPU has them), and INT8 as this toolkit's files write it: symmetric Q/DQ
               around the float product, which OpenVINO runs as an integer kernel (VNNI)
PyTorch        FP32, and FP16 on CUDA: torch.mm and the same 3x3 conv2d (BF16 on a CPU only
               on request: without AVX512-BF16 / AMX, PyTorch's BF16 GEMM ran at ~1 GFLOP/s
               here, 8 s per probe)

Each stage's throughput is then reported as a share of the peak of its backend and
precision (``bench_report``). The probes run once, on the bench's thread count, before the
configurations: right after a long run they came out up to 40 % low here (88 vs 149
GFLOP/s), which would have put stages above "100 %".
"""

from __future__ import annotations

import time
from typing import Optional

import numpy as np

DEFAULT_SIZE = 1536
DEFAULT_REPEATS = 5
SETTLE_SECONDS = 0.5


def _best(run, repeats: int) -> float:
    run()  # warm-up: first-touch allocations, kernel selection
    best = float("inf")
    for _ in range(max(1, repeats)):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best


def _probe_model(nodes, inputs: dict, initializers: dict, out_type: int):
    """A small ONNX graph of ``nodes`` (output "y") over ``inputs`` and constant ``initializers``."""
    from onnx import helper, numpy_helper

    graph = helper.make_graph(
        list(nodes), "gemm_peak",
        [helper.make_tensor_value_info(name, helper.np_dtype_to_tensor_dtype(a.dtype), list(a.shape)) for name, a in inputs.items()],
        [helper.make_tensor_value_info("y", out_type, None)],
        initializer=[numpy_helper.from_array(a, name) for name, a in initializers.items()],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _onnxruntime_probe(node, inputs: dict, initializers: dict, out_type: int, threads: Optional[int], repeats: int) -> float:
    """Best seconds of a one-node graph."""
    import onnxruntime as ort

    model = _probe_model([node], inputs, initializers, out_type)
    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")  # idle threads must not slow the next probe
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    return _best(lambda: session.run(None, inputs), repeats)


def onnxruntime_gemm_peak(precision: str = "fp32", threads: Optional[int] = None, size: int = DEFAULT_SIZE, repeats: int = DEFAULT_REPEATS) -> dict:
    """{backend, precision, size, probe, seconds, gflops} of the best of onnxruntime's probes (CPU)."""
    from onnx import TensorProto, helper

    rng = np.random.default_rng(0)
    conv_ch, conv_hw = max(8, size // 6), max(4, size // 48)  # 256 channels on 32x32 at the default size
    if precision == "fp32":
        def act(*shape):
            return rng.standard_normal(shape, dtype=np.float32)

        weight, matmul_op, conv_op = act, "MatMul", "Conv"
    elif precision == "int8":
        def act(*shape):
            return rng.integers(0, 256, shape, dtype=np.uint8)

        def weight(*shape):
            return rng.integers(-128, 128, shape, dtype=np.int8)

        matmul_op, conv_op = "MatMulInteger", "ConvInteger"
    else:
        raise ValueError(f"onnxruntime GEMM peak: unknown precision {precision!r} (fp32, int8)")
    probes = {
        f"{matmul_op} {size}x{size}x{size}": (
            helper.make_node(matmul_op, ["a", "b"], ["y"]), {"a": act(size, size), "b": weight(size, size)}, {}, 2 * size**3,
        ),
        f"{conv_op} 3x3 {conv_ch}->{conv_ch} on {conv_hw}x{conv_hw}": (
            helper.make_node(conv_op, ["x", "w"], ["y"], pads=[1, 1, 1, 1]), {"x": act(1, conv_ch, conv_hw, conv_hw)},
            {"w": weight(conv_ch, conv_ch, 3, 3)}, 2 * conv_ch * conv_ch * 9 * conv_hw * conv_hw,
        ),
    }
    best = None
    for name, (node, inputs, inits, ops) in probes.items():
        seconds = _onnxruntime_probe(node, inputs, inits, TensorProto.FLOAT if precision == "fp32" else TensorProto.INT32, threads, repeats)
        result = {"backend": "onnxruntime", "precision": precision, "size": size, "probe": name, "seconds": seconds, "gflops": ops / seconds / 1e9}
        if best is None or result["gflops"] > best["gflops"]:
            best = result
    return best


def openvino_gemm_peak(precision: str = "fp32", threads: Optional[int] = None, size: int = DEFAULT_SIZE,
                       repeats: int = DEFAULT_REPEATS) -> dict:
    """The onnxruntime probes' shapes on OpenVINO's CPU plugin: fp32 and bf16 (the same float
    graph under INFERENCE_PRECISION_HINT f32 / bf16), int8 (the float graph with symmetric
    Q/DQ on the activation and the weight, as this toolkit's INT8 files have it, which
    OpenVINO runs as an integer product)."""
    from onnx import TensorProto, helper

    from ..runtime.openvino.loader import import_openvino, shared_core

    if precision not in ("fp32", "bf16", "int8"):
        raise ValueError(f"OpenVINO GEMM peak: unknown precision {precision!r} (fp32, bf16, int8)")
    import_openvino()
    rng = np.random.default_rng(0)
    conv_ch, conv_hw = max(8, size // 6), max(4, size // 48)
    scale, zero = np.array(0.05, np.float32), np.array(0, np.int8)

    def product(op: str, weight: np.ndarray, **attrs):
        if precision != "int8":
            return [helper.make_node(op, ["x", "w"], ["y"], **attrs)], {"w": weight}
        q = np.clip(np.round(weight / scale), -127, 127).astype(np.int8)
        nodes = [helper.make_node("QuantizeLinear", ["x", "s", "z"], ["xq"]),
                 helper.make_node("DequantizeLinear", ["xq", "s", "z"], ["xd"]),
                 helper.make_node("DequantizeLinear", ["wq", "s", "z"], ["wd"]),
                 helper.make_node(op, ["xd", "wd"], ["y"], **attrs)]
        return nodes, {"wq": q, "s": scale, "z": zero}

    probes = {
        f"MatMul {size}x{size}x{size}": (product("MatMul", rng.standard_normal((size, size), dtype=np.float32)),
                                          rng.standard_normal((size, size), dtype=np.float32), 2 * size**3),
        f"Conv 3x3 {conv_ch}->{conv_ch} on {conv_hw}x{conv_hw}": (
            product("Conv", rng.standard_normal((conv_ch, conv_ch, 3, 3), dtype=np.float32), pads=[1, 1, 1, 1]),
            rng.standard_normal((1, conv_ch, conv_hw, conv_hw), dtype=np.float32), 2 * conv_ch * conv_ch * 9 * conv_hw * conv_hw),
    }
    core = shared_core()
    properties = {"INFERENCE_PRECISION_HINT": "bf16" if precision == "bf16" else "f32"}
    if threads:
        properties["INFERENCE_NUM_THREADS"] = threads
    best = None
    for name, ((nodes, inits), x, ops) in probes.items():
        model = _probe_model(nodes, {"x": x}, inits, TensorProto.FLOAT)
        compiled = core.compile_model(core.read_model(model.SerializeToString()), "CPU", properties)
        request = compiled.create_infer_request()
        seconds = _best(lambda: request.infer({"x": x}), repeats)
        result = {"backend": "openvino", "precision": precision, "size": size, "probe": name, "seconds": seconds,
                  "gflops": ops / seconds / 1e9}
        if best is None or result["gflops"] > best["gflops"]:
            best = result
    return best


def torch_gemm_peak(precision: str = "fp32", device: str = "cpu", size: int = DEFAULT_SIZE, repeats: int = DEFAULT_REPEATS) -> dict:
    """{backend, precision, size, probe, seconds, gflops}: the better of a square torch.mm and a
    3x3 conv2d of the onnxruntime probe's shape (threads: torch's setting)."""
    import torch
    from torch.nn import functional as F

    dtype = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)
    if dtype is None:
        raise ValueError(f"PyTorch GEMM peak: unknown precision {precision!r} (fp32, bf16, fp16)")
    g = torch.Generator().manual_seed(0)

    def tensor(*shape):
        return torch.randn(*shape, generator=g).to(device=device, dtype=dtype)

    conv_ch, conv_hw = max(8, size // 6), max(4, size // 48)
    a, b = tensor(size, size), tensor(size, size)
    x, w = tensor(1, conv_ch, conv_hw, conv_hw), tensor(conv_ch, conv_ch, 3, 3)
    probes = {
        f"mm {size}x{size}x{size}": (lambda: torch.mm(a, b), 2 * size**3),
        f"conv2d 3x3 {conv_ch}->{conv_ch} on {conv_hw}x{conv_hw}": (lambda: F.conv2d(x, w, padding=1), 2 * conv_ch * conv_ch * 9 * conv_hw * conv_hw),
    }
    best = None
    with torch.no_grad():
        for name, (op, flops) in probes.items():
            def run(op=op):
                op()
                if a.is_cuda:
                    torch.cuda.synchronize()

            seconds = _best(run, repeats)
            result = {"backend": "torch", "precision": precision, "size": size, "probe": name, "seconds": seconds, "gflops": flops / seconds / 1e9}
            if best is None or result["gflops"] > best["gflops"]:
                best = result
    return best


def measure_peaks(torch_device: str = "cpu", threads: Optional[int] = None, with_onnxruntime: bool = True, size: int = DEFAULT_SIZE,
                  with_openvino: bool = False) -> dict:
    """{"backend precision": result} for what this run's backends can use."""
    peaks = {}
    probes = [("torch", "fp32")] + ([("torch", "fp16")] if torch_device.startswith("cuda") else [])
    if with_onnxruntime:
        probes += [("onnxruntime", "fp32"), ("onnxruntime", "int8")]
    if with_openvino:
        probes += [("openvino", "fp32"), ("openvino", "bf16"), ("openvino", "int8")]
    for backend, precision in probes:
        time.sleep(SETTLE_SECONDS)  # let the previous library's worker threads stop spinning
        try:
            if backend == "torch":
                result = torch_gemm_peak(precision, torch_device, size)
            elif backend == "openvino":
                result = openvino_gemm_peak(precision, threads, size)
            else:
                result = onnxruntime_gemm_peak(precision, threads, size)
        except (RuntimeError, ValueError, ImportError) as err:  # a dtype this build has no kernel for
            result = {"backend": backend, "precision": precision, "error": str(err).split("\n")[0]}
        peaks[f"{backend} {precision}"] = result
    return peaks
