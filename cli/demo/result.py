"""What one demo run found (JSON-ready) and the compact report it prints.

Every timing comes with the machine's load average at the end of the run: on a shared
machine a latency says little without it. With random weights the lines that report
accuracy say RANDOM.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from typing import List, Optional


@dataclass
class DemoResult:
    # the model
    weights: str  # "reference" | "checkpoint" | "random"
    checkpoint: str
    checkpoint_sha256: str
    backbone: str
    what: str  # what the model is, in one sentence (the reference model's WARNING)
    # the setting
    img_size: int
    shots: int
    queries: int
    seed: int
    threads: Optional[int]
    class_id: int
    class_name: str
    # the export
    export_seconds: float
    export_dir: Optional[str]  # None: a temporary folder, removed
    graph_mib: dict  # kind -> file size in MiB
    # the runtime
    providers: List[str]
    open_seconds: float
    support_ms: float
    warmup_ms: float
    latency_p50_ms: float
    latency_p90_ms: float
    latency_mean_ms: float
    timed_queries: int
    queries_per_s: float
    # the stream's accuracy and the torch-vs-ONNX agreement
    miou: float
    fbiou: float
    mask_agreement_percent: float
    identical_masks: int
    max_abs_logit_diff: float
    # the run
    grid: str
    grid_rows: int
    total_seconds: float  # from loading the model to the report (interpreter start-up and imports excluded)
    load_average: Optional[float]  # 1-minute, at the end of the run
    cpus: Optional[int]
    json: Optional[str] = None
    backend: str = "onnxruntime"  # the runtime behind the exported graphs: onnxruntime | openvino
    version: str = field(default_factory=lambda: _version())

    @property
    def is_random(self) -> bool:
        return self.weights == "random"

    def to_dict(self) -> dict:
        """Plain JSON types; NaN becomes None."""
        record = dataclasses.asdict(self)
        return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in record.items()}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True, allow_nan=False) + "\n"


def _version() -> str:
    from ... import __version__

    return __version__


def _weights_line(r: DemoResult) -> str:
    if r.is_random:
        return f"HSNet-{r.backbone}, RANDOM weights (seed {r.seed}): not a trained model"
    name = "the reference model (shipped in the package)" if r.weights == "reference" else f"checkpoint {r.checkpoint}"
    return f"HSNet-{r.backbone}, {name}, weights sha256 {r.checkpoint_sha256[:12]}"


def _load_note(r: DemoResult) -> str:
    if r.load_average is None:
        return "load average unknown"
    cpus = f" on {r.cpus} CPUs" if r.cpus else ""
    return f"load average {r.load_average:.2f}{cpus}"


def report_lines(r: DemoResult) -> List[str]:
    """The compact report, one fact a line."""
    where = f"kept in {r.export_dir}" if r.export_dir else "in a temporary folder, removed afterwards"
    sizes = ", ".join(f"{kind} {mib:.0f} MiB" for kind, mib in r.graph_mib.items())
    providers = ", ".join(r.providers) or "?"
    threads = r.threads if r.threads is not None else "default"
    accuracy = "accuracy, RANDOM weights (meaningless)" if r.is_random else "accuracy"
    return [
        f"model: {_weights_line(r)}",
        f"  what it is: {r.what}",
        f"export: split graphs at {r.img_size}x{r.img_size}, {r.shots}-shot, dynamic batch, "
        f"in {r.export_seconds:.1f} s ({where})",
        f"  {sizes}",
        f"runtime: {r.backend} ({providers}), torch-free, threads {threads}; sessions opened in "
        f"{r.open_seconds:.1f} s, support set encoded once in {r.support_ms:.0f} ms",
        f"stream: {r.queries} queries of held-out synthetic class {r.class_name} (seed {r.seed}), "
        f"one cached {r.shots}-shot support set",
        f"latency per query (segment(), at original size): warm-up {r.warmup_ms:.0f} ms; "
        f"p50 {r.latency_p50_ms:.0f} ms, p90 {r.latency_p90_ms:.0f} ms over {r.timed_queries} "
        f"-> {r.queries_per_s:.1f} queries/s",
        f"{accuracy}: mIoU {r.miou:.1f}, FB-IoU {r.fbiou:.1f} ({r.queries} queries, one class, original size)",
        f"torch vs ONNX: {r.mask_agreement_percent:.3f} % of mask pixels equal ({r.identical_masks}/{r.queries} "
        f"masks identical), max |logit difference| {r.max_abs_logit_diff:.2e} at {r.img_size}x{r.img_size}",
        f"grid: {r.grid} (first {min(r.grid_rows, r.queries)} queries: support+mask | query+prediction | truth)",
        *([f"json: {r.json}"] if r.json else []),
        f"total {r.total_seconds:.0f} s from loading the model (start-up excluded), {_load_note(r)} "
        "(timings on a shared machine are indicative)",
    ]
