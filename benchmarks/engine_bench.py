"""``hsnet-deploy bench ENGINE ...``: TensorRT engines measured the way trtexec does.

    for each engine (an episode engine, or a split pair: support encoder + query):
        synthetic feed at K (query features from the support engine itself)
        -> tensorrt_timing.time_engine      H2D, GPU compute, D2H, host latency, enqueue,
                                            wall: mean / p50 / p90 / p99 from CUDA events
        -> tensorrt_timing.profile_layers   per-layer median ms (IProfiler), separate runs
        -> tensorrt_timing.layer_precisions per-layer precision (engine inspector)
        -> stage of each layer              from the ONNX file named in the sidecar, when
                                            it lies beside the engine
    report: JSON (``--json``) and a chart of the slowest layers by precision (``--plot``)

A split pair's per-query latency is the query engine's; its support engine runs once per
support set and is reported beside it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np

from ..errors import UserError
from ..runtime.graph_contract import QUERY, SUPPORT_ENCODER
from ..runtime.model_files import ENGINE_SUFFIXES
from ..runtime.tensorrt.sidecar import KEY_ONNX_FILE, KEY_TENSORRT_VERSION


def is_engine(text: str) -> bool:
    return Path(text).suffix.lower() in ENGINE_SUFFIXES


def _synthetic(spec, shape, rng) -> np.ndarray:
    if spec.dtype == np.uint8:
        return rng.integers(0, 2, shape, dtype=np.uint8)
    return rng.standard_normal(shape).astype(spec.dtype)


def _feed(runner, shots: int, rng) -> dict[str, np.ndarray]:
    """Synthetic inputs at B = 1 and K = ``shots`` (masks binary)."""
    feed = {}
    for name, spec in runner.inputs.items():
        shape = tuple((1 if i == 0 else shots) if d is None else d for i, d in enumerate(spec.shape))
        array = _synthetic(spec, shape, rng)
        feed[name] = (array > 0).astype(np.float32) if name == "support_masks" else array
    return feed


def _stage_namer(engine_path: Path, metadata: dict):
    """Layer name -> stage, from the ONNX file beside the engine; "" for every layer when
    the file is absent or the stage rules' imports (torch, onnx) are not installed."""
    name = metadata.get(KEY_ONNX_FILE)
    if not name or not (engine_path.parent / name).is_file():
        return lambda layer: ""
    try:
        import onnx

        from .onnxruntime_stages import node_stages, stage_of_layer
    except ImportError:  # a torch-free device: no stage column
        return lambda layer: ""
    stages = node_stages(onnx.load(str(engine_path.parent / name), load_external_data=False))
    return lambda layer: stage_of_layer(layer, stages)


def bench_runner(runner, feed, iters: int, warmup: int, layer_iters: int) -> dict:
    from ..runtime.tensorrt.timing import layer_precisions, profile_layers, time_engine

    result: dict = {"graph": runner.info.kind, "engine": runner.path, "precision": runner.info.precision,
                    "timing": time_engine(runner, feed, iters, warmup)}
    cuda_graph, runner.cuda_graph = runner.cuda_graph, False  # the profiler needs plain enqueues
    try:
        times = profile_layers(runner, feed, layer_iters) if layer_iters > 0 else {}
    finally:
        runner.cuda_graph = cuda_graph
    info = layer_precisions(runner.engine_information())
    stage_of = _stage_namer(Path(runner.path), runner.metadata)
    names = list(info) + [n for n in times if n not in info]
    result["layers"] = [
        {"name": n, "ms": times.get(n), "precision": info.get(n, {}).get("precision", "unknown"),
         "type": info.get(n, {}).get("type", ""), "stage": stage_of(n)}
        for n in names
    ]
    counts: dict[str, int] = {}
    for layer in result["layers"]:
        counts[layer["precision"]] = counts.get(layer["precision"], 0) + 1
    result["layer_precisions"] = counts
    return result


def run_engine_bench(paths: list[str], shots: tuple[int, ...], iters: int, warmup: int, layer_iters: int = 5,
                     memory: str = "auto", cuda_graph: bool = False, seed: int = 0, progress: bool = True) -> dict:
    """The report for every engine and K."""
    import sys

    from tqdm import tqdm

    from ..runtime.backends import RuntimeOptions
    from ..runtime.segmenter import Segmenter

    options = RuntimeOptions(memory=memory, cuda_graph=cuda_graph)
    results = []
    with tqdm(total=len(paths) * len(shots), desc="bench engines", unit="case", file=sys.stderr,
              disable=not progress, leave=False) as bar:
        for path in paths:
            with Segmenter.load(path, options=options) as seg:
                gpu = next(iter(seg.runners.values())).gpu
                for k in shots:
                    if seg.shots is not None and k != seg.shots:
                        raise UserError(f"{path} was built for K = {seg.shots}; bench it with --shots {seg.shots}")
                    rng = np.random.default_rng(seed)
                    graphs = []
                    if seg.is_split:
                        support = seg.runners[SUPPORT_ENCODER]
                        support_feed = _feed(support, k, rng)
                        graphs.append(bench_runner(support, support_feed, iters, warmup, layer_iters))
                        features = support.infer(support_feed)
                        query = seg.runners[QUERY]
                        query_feed = {**_feed(query, k, rng), **{n: features[n] for n in query.inputs if n in features}}
                        graphs.append(bench_runner(query, query_feed, iters, warmup, layer_iters))
                    else:
                        runner = next(iter(seg.runners.values()))
                        graphs.append(bench_runner(runner, _feed(runner, k, rng), iters, warmup, layer_iters))
                    results.append({"model": str(path), "shots": k, "gpu": gpu[0] if gpu else None,
                                    "tensorrt_version": next(iter(seg.runners.values())).metadata.get(KEY_TENSORRT_VERSION),
                                    "cuda_graph": cuda_graph, "graphs": graphs})
                    bar.update(1)
    return {"kind": "tensorrt-engines", "settings": {"iters": iters, "warmup": warmup, "layer_iters": layer_iters,
                                                    "memory": memory, "cuda_graph": cuda_graph}, "results": results}


def format_engine_report(report: dict) -> str:
    lines = ["TensorRT engines (trtexec-style, ms; CUDA events per phase, host wall clock for enqueue and wall)"]
    header = f"{'model':<28} {'K':>2} {'graph':<16} {'prec':<5} " + " ".join(f"{p:>16}" for p in ("H2D", "GPU compute", "D2H", "host latency", "enqueue"))
    lines.append(header)
    for r in report["results"]:
        for g in r["graphs"]:
            t = g["timing"]
            cells = [f"{t[k]['p50']:7.3f}/{t[k]['p99']:7.3f}" for k in ("h2d_ms", "gpu_compute_ms", "d2h_ms", "host_latency_ms", "enqueue_ms")]
            lines.append(f"{Path(r['model']).name[:28]:<28} {r['shots']:>2} {g['graph']:<16} {g['precision']:<5} " + " ".join(f"{c:>16}" for c in cells))
    lines.append("(each cell: p50/p99)")
    for r in report["results"]:
        for g in r["graphs"]:
            shares = ", ".join(f"{n} {p}" for p, n in sorted(g["layer_precisions"].items()))
            lines.append(f"layers of {Path(g['engine']).name} (K={r['shots']}): {shares}")
    return "\n".join(lines)


def write_layer_chart(report: dict, path: str | Path, top: Optional[int] = 30) -> None:
    from ..atomic_file import atomic_path
    from .layer_chart import draw_layer_chart

    image = draw_layer_chart(report, top)
    with atomic_path(path) as tmp:
        image.save(tmp, format="PNG")
