"""trtexec-style timing of TensorRT engines, per-layer times and per-layer precision.

Per timed inference, CUDA events on the runner's stream bracket its three phases:

    e0 | upload (H2D) | e1 | execute (GPU compute) | e2 | download (D2H) | e3

    H2D = e1 - e0      GPU compute = e2 - e1      D2H = e3 - e2
    host latency = e3 - e0     (trtexec's "Host Latency": H2D + compute + D2H)
    enqueue = host wall time of the execute call (trtexec's "Enqueue Time")
    wall = host wall time of the whole inference, synchronisation included

each reported as mean, min, p50, p90, p99, max over the timed runs (trtexec's
``--percentile=50,90,99``). Per-layer times come from an ``IProfiler`` attached for a
separate set of runs (it slows enqueue down, so never during the timed runs, and never
with CUDA graphs); per-layer precision from the engine inspector's JSON (the engine must
be built with ProfilingVerbosity.DETAILED, as ``build`` does), which shows whether
FP16 / INT8 kernels were really chosen.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any, Mapping

import numpy as np

if TYPE_CHECKING:  # pragma: no cover - types only
    import tensorrt as trt

    from .runner import TensorRTRunner

PHASES = ("h2d_ms", "gpu_compute_ms", "d2h_ms", "host_latency_ms", "enqueue_ms", "wall_ms")
PERCENTILES = (50, 90, 99)


def summary(values: list[float]) -> dict[str, float]:
    a = np.asarray(values, dtype=np.float64)
    out = {"mean": float(a.mean()), "min": float(a.min()), "max": float(a.max())}
    out.update({f"p{p}": float(np.percentile(a, p)) for p in PERCENTILES})
    return out


def time_engine(runner: "TensorRTRunner", feed: Mapping[str, np.ndarray], iters: int, warmup: int) -> dict[str, Any]:
    """Phase times of ``iters`` inferences (after ``warmup``), trtexec's way."""
    memory = runner.live.memory
    events = [memory.event() for _ in range(4)]
    for _ in range(max(warmup, 1)):  # at least one: shapes bound, buffers and graph ready
        runner.infer(feed, copy_outputs=False)
    samples: dict[str, list[float]] = {phase: [] for phase in PHASES}
    for _ in range(iters):
        start = time.perf_counter()
        memory.record(events[0])
        runner.upload(feed)
        memory.record(events[1])
        enqueue = time.perf_counter()
        runner.execute()
        samples["enqueue_ms"].append((time.perf_counter() - enqueue) * 1e3)
        memory.record(events[2])
        runner.download()
        memory.record(events[3])
        runner.synchronize()
        samples["wall_ms"].append((time.perf_counter() - start) * 1e3)
        h2d, compute, d2h = (memory.elapsed_ms(events[i], events[i + 1]) for i in range(3))
        samples["h2d_ms"].append(h2d)
        samples["gpu_compute_ms"].append(compute)
        samples["d2h_ms"].append(d2h)
        samples["host_latency_ms"].append(h2d + compute + d2h)
    return {phase: summary(values) for phase, values in samples.items()} | {"iters": iters}


def make_layer_profiler() -> "trt.IProfiler":
    """An IProfiler collecting every layer's times (ms) per enqueue."""
    import tensorrt as trt

    class LayerTimes(trt.IProfiler):
        def __init__(self) -> None:
            trt.IProfiler.__init__(self)
            self.times: dict[str, list[float]] = {}

        def report_layer_time(self, layer_name: str, ms: float) -> None:
            self.times.setdefault(layer_name, []).append(float(ms))

    return LayerTimes()


def profile_layers(runner: "TensorRTRunner", feed: Mapping[str, np.ndarray], iters: int) -> dict[str, float]:
    """Median time (ms) of every layer over ``iters`` profiled enqueues, in engine order."""
    profiler = make_layer_profiler()
    runner.set_profiler(profiler)
    try:
        for _ in range(iters):
            runner.infer(feed, copy_outputs=False)
    finally:
        runner.set_profiler(None)
    times: dict[str, list[float]] = getattr(profiler, "times")
    return {name: float(np.median(values)) for name, values in times.items()}


def precision_of_format(text: str) -> str:
    """'Row major linear FP16 format' / 'Channel major Int8 ...' / a bare 'Half' -> fp16 / int8 / ..."""
    words = text.lower().replace("/", " ").split()
    for precision, names in (("int8", ("int8",)), ("fp8", ("fp8",)), ("fp16", ("fp16", "half")),
                             ("bf16", ("bf16",)), ("fp32", ("fp32", "float")), ("int32", ("int32",)), ("int64", ("int64",)),
                             ("bool", ("bool",)), ("uint8", ("uint8",))):
        if any(n in words for n in names):
            return precision
    return "unknown"


def _tensor_precision(tensor: Mapping[str, Any]) -> str:
    """A tensor entry of the inspector's JSON: 10.x 'Format/Datatype', 11.x split fields."""
    for key in ("Format/Datatype", "Format/DataType", "DataType", "Datatype", "Data Type"):
        if isinstance(tensor.get(key), str):
            return precision_of_format(tensor[key])
    return "unknown"


def layer_precisions(information: str) -> dict[str, dict[str, str]]:
    """Layer name -> {"type", "precision" (of its first output), "tactic"} from the
    inspector's JSON; an engine built without DETAILED verbosity lists names only."""
    data = json.loads(information)
    layers = data.get("Layers", []) if isinstance(data, dict) else []
    out: dict[str, dict[str, str]] = {}
    for layer in layers:
        if isinstance(layer, str):  # LAYER_NAMES_ONLY
            out[layer] = {"type": "", "precision": "unknown", "tactic": ""}
            continue
        outputs = layer.get("Outputs") or []
        precision = _tensor_precision(outputs[0]) if outputs and isinstance(outputs[0], dict) else "unknown"
        out[str(layer.get("Name", ""))] = {
            "type": str(layer.get("LayerType", "")),
            "precision": precision,
            "tactic": str(layer.get("TacticName", "")),
        }
    return out
