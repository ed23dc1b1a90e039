"""The deployment path in about a minute: ``run_demo(DemoSettings()) -> DemoResult``.

    model (torch: the shipped reference, a checkpoint, or --random-weights)
      -> export_split: NAME.support.onnx + NAME.query.onnx, fixed K, dynamic batch (into
         --export-dir, or a temporary folder removed afterwards)
      -> Segmenter.load(split graphs, onnxruntime on the CPU: torch-free)
      -> one support set (held-out episode 0, class c), set_support once
      -> N queries of class c, each through segment(), timed one by one
      -> the same stream through the torch model (same runtime path): mask agreement
      -> mIoU / FB-IoU of the stream, a PNG grid of the first queries, the report

Nothing is written until the settings are checked; the grid and the JSON are written
atomically. Progress: a bar for the model and the data, the export's own bar, then one
bar over the stream's three passes.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from pathlib import Path
from typing import Iterator, Optional

from .result import DemoResult
from .settings import DemoSettings, resolve_settings

EXPORT_NAME = "hsnet_demo.onnx"  # + .support.onnx, .query.onnx
PASSES = 3  # timed ONNX queries, ONNX logits, torch logits: the stream bar counts each query thrice


@contextlib.contextmanager
def export_folder(export_dir: Optional[Path]) -> Iterator[Path]:
    """``export_dir`` (created if missing, kept), or a temporary folder removed on exit."""
    if export_dir is not None:
        folder = Path(export_dir)
        folder.mkdir(exist_ok=True)  # its parent exists: checked with the other outputs
        yield folder
        return
    with tempfile.TemporaryDirectory(prefix="hsnet-demo-") as tmp:
        yield Path(tmp)


@contextlib.contextmanager
def torch_threads(threads: Optional[int]) -> Iterator[None]:
    """PyTorch's intra-op threads set to ``threads`` (when given) for the block, then restored."""
    import torch

    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _load_average() -> Optional[float]:
    getloadavg = getattr(os, "getloadavg", None)
    return float(getloadavg()[0]) if getloadavg is not None else None


def run_demo(settings: DemoSettings, progress: bool = True) -> DemoResult:
    """Run the whole demo; UserError (before anything is written) for bad settings."""
    settings = resolve_settings(settings)
    started = time.perf_counter()
    with torch_threads(settings.threads):
        return _run(settings, started, progress)


def _run(settings: DemoSettings, started: float, progress: bool) -> DemoResult:
    from tqdm import tqdm

    from ...export.onnx_export import export_split
    from ...hsnet.data.held_out_stream import draw_stream
    from ...runtime.graph_contract import QUERY, SUPPORT_ENCODER
    from ...runtime.image_size import check_image_size
    from .grid import write_demo_grid
    from .model import load_demo_model
    from .passes import run_onnx_stream, run_torch_stream
    from .scores import agreement, latency_summary, stream_accuracy, torch_masks

    size, shots = settings.img_size, settings.shots
    with tqdm(total=2, desc="prepare", unit="step", disable=not progress) as bar:
        bar.set_postfix_str("model")
        loaded = load_demo_model(settings.checkpoint, settings.random_weights, settings.seed)
        check_image_size(size, size, loaded.backbone)  # a checkpoint file's backbone is known only now
        bar.update()
        bar.set_postfix_str("support set and queries")
        stream = draw_stream(settings.seed, size, shots, settings.queries)
        bar.update()

    with export_folder(settings.export_dir) as folder:
        start = time.perf_counter()
        paths = export_split(loaded.model, folder / EXPORT_NAME, img_size=size, shots=shots, dynamic_batch=True,
                             checkpoint_sha256=loaded.checkpoint_sha256, progress=progress,
                             kinds=(SUPPORT_ENCODER, QUERY))  # the episode graph is not deployed here
        export_seconds = time.perf_counter() - start
        graph_mib = {kind: path.stat().st_size / 2**20 for kind, path in paths.items()}
        with tqdm(total=PASSES * settings.queries, desc="stream", unit="query", disable=not progress) as bar:
            deployed = run_onnx_stream(paths[QUERY], stream, settings.threads, bar, settings.onnx_backend)
            reference_logits = run_torch_stream(loaded.model, stream, size, settings.threads, bar)

    scores = {
        **latency_summary(deployed.query_seconds),
        **stream_accuracy(stream, deployed.masks),
        **agreement(deployed.masks, deployed.logits, torch_masks(stream, reference_logits), reference_logits),
    }
    backend = settings.onnx_backend.get("onnx_backend", "onnxruntime")
    label = ("RANDOM weights" if loaded.is_random else f"{loaded.weights} model") + f", {backend}"
    write_demo_grid(settings.grid, stream, deployed.masks, settings.grid_rows, label)
    result = DemoResult(
        weights=loaded.weights, checkpoint=loaded.checkpoint, checkpoint_sha256=loaded.checkpoint_sha256,
        backbone=loaded.backbone, what=loaded.what, img_size=size, shots=shots, queries=settings.queries,
        seed=settings.seed, threads=settings.threads, class_id=stream.class_id, class_name=stream.class_name,
        export_seconds=export_seconds, export_dir=str(settings.export_dir) if settings.export_dir else None,
        graph_mib=graph_mib, providers=deployed.providers, open_seconds=deployed.open_seconds,
        support_ms=deployed.support_seconds * 1000.0, grid=str(settings.grid), grid_rows=settings.grid_rows,
        json=str(settings.json) if settings.json else None, backend=backend,
        total_seconds=time.perf_counter() - started, load_average=_load_average(), cpus=os.cpu_count(),
        **scores,
    )
    if settings.json is not None:
        from ...atomic_file import write_text_atomic

        write_text_atomic(settings.json, result.to_json())
    return result
