"""One benchmark run: every configuration side by side, interleaved, against the baseline.

    settings -> models (torch / onnx, a temporary ONNX export when none is given)
             -> configurations x K (cases)
             -> prepare (cached support encoded, CUDA graphs captured)
             -> reference episode (outputs compared with the baseline's)
             -> warm-up (peak memory measured on the last warm-up episode)
             -> timed episodes, cases in a rotating order each repetition, so slow drift
                of a shared machine hits every case alike
             -> staged episodes (per-stage times of the PyTorch cases)
             -> FLOPs / elements per stage (counted on the meta device)
             -> Table 5, roofline ESTIMATES
             -> one report dict (what ``--json`` writes)

Ratios to the baseline (same K, same run) are the headline: absolute times on a shared
machine drift, ratios much less.
"""

from __future__ import annotations

import contextlib
import datetime
import platform
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np

from .. import __version__
from ..errors import UserError
from .configurations import CACHED_MODE, COST_EPISODE, COST_OFFICIAL, COST_QUERY, EPISODE_MODE, Configuration
from .cost_formulas import Cost
from .latency_stats import summarize
from .model_arguments import ModelArgument, parse_model_argument
from .onnxruntime_configuration import OnnxRuntimeConfiguration
from .peak_memory import measure_peak_memory
from .roofline import PRECISIONS, TARGETS, estimate_episode
from .staged_forward import NETWORK_STAGES, POST, PRE, STAGES, SUPPORT_BACKBONE
from .synthetic_episode import ORIGINAL_SIZE, QUERY_POOL, make_episodes
from .torch_configuration import TorchConfiguration

MODES = ("all", EPISODE_MODE, CACHED_MODE)
DEVICES = ("auto", "cpu", "cuda")
SCHEMA = "hsnet_deploy.bench/1"
MEMORY_NOTE = (
    "peak during one warm episode (the last warm-up), and during the case's first episode; "
    "memory an allocator keeps from earlier episodes (onnxruntime's CPU arena) is reused without "
    "raising the RSS, so for onnxruntime the first-run figure is the better measure; on CUDA the "
    "figures are PyTorch's peak allocated tensors, which no cache hides"
)
DEFAULT_IMG_SIZE = 400
TABLE5_SIZE_CPU = 128
TABLE5_SIZE_CUDA = 400


@dataclass
class BenchSettings:
    models: list = field(default_factory=list)  # MODEL arguments; empty: random torch + its ONNX export
    backbone: Optional[str] = None
    img_size: Optional[int] = None
    shots: tuple = (1,)
    mode: str = "all"
    iters: int = 10
    warmup: int = 2
    stage_iters: int = 3
    device: str = "auto"
    table5_size: Optional[int] = None  # None: 128 on CPU, 400 on CUDA; 0: skip Table 5
    table5_iters: int = 3
    seed: int = 0
    threads: Optional[int] = None  # CPU threads for PyTorch and onnxruntime; None: their defaults
    progress: bool = True

    def check(self) -> None:
        if self.mode not in MODES:
            raise UserError(f"unknown mode '{self.mode}' (expected one of {', '.join(MODES)})")
        if self.device not in DEVICES:
            raise UserError(f"unknown device '{self.device}' (expected one of {', '.join(DEVICES)})")
        if self.iters < 1:
            raise UserError(f"--iters must be at least 1, got {self.iters}")
        for name in ("warmup", "stage_iters", "table5_iters"):
            if getattr(self, name) < 0:
                raise UserError(f"--{name.replace('_', '-')} must not be negative, got {getattr(self, name)}")
        if not self.shots or any(int(k) < 1 for k in self.shots):
            raise UserError(f"--shots must be positive integers, got {','.join(map(str, self.shots))}")
        if self.threads is not None and self.threads < 1:
            raise UserError(f"--threads must be at least 1, got {self.threads}")
        if self.img_size is not None and self.img_size < 1:
            raise UserError(f"--img-size must be positive, got {self.img_size}")


@dataclass
class Case:
    config: Configuration
    shots: int
    is_baseline: bool = False
    latencies: list = field(default_factory=list)  # seconds per timed episode
    network: list = field(default_factory=list)  # seconds of the network part per timed episode
    timed_stages: list = field(default_factory=list)  # stage -> seconds, per timed episode
    staged_stages: list = field(default_factory=list)  # stage -> seconds, per staged episode
    reference: object = None  # EpisodeOutput of episode 0
    memory: dict = field(default_factory=dict)  # peak memory of a warm episode
    first_run_memory: dict = field(default_factory=dict)  # ... and of the case's first episode


# ----------------------------------------------------------------------------- resolving


def resolve_device(name: str):
    import torch

    if name == "cuda" and not torch.cuda.is_available():
        raise UserError("--device cuda: PyTorch sees no CUDA GPU on this machine (use --device cpu)")
    use_cuda = name == "cuda" or (name == "auto" and torch.cuda.is_available())
    return torch.device("cuda" if use_cuda else "cpu")


def export_for_benchmark(model, folder: Path, img_size: int, shots: tuple, mode: str, progress: bool = False) -> ModelArgument:
    """Export the graphs ``mode`` needs (episode and/or the split pair) to ``folder``,
    batch 1, K dynamic over ``shots``, with hsnet_deploy.export."""
    from ..export import export_onnx, split_paths

    paths = split_paths(folder / "hsnet.onnx")  # kind -> path
    kinds = []
    if mode in ("all", EPISODE_MODE):
        kinds.append("episode")
    if mode in ("all", CACHED_MODE):
        kinds += ["support_encoder", "query"]
    for kind in kinds:
        export_onnx(model, paths[kind], img_size=img_size, shots=None, dynamic_batch=False,
                    graph=kind, shots_range=(min(shots), max(shots)), progress=progress)
    return ModelArgument(
        str(paths["episode"]),
        "onnx",
        episode_graph=paths["episode"] if "episode" in kinds else None,
        split_graphs=(paths["support_encoder"], paths["query"]) if "query" in kinds else None,
    )


def _onnx_parameter_counts(paths) -> dict:
    """Elements of the graphs' initializers (weights and constants): the 'total' of a graph."""
    try:
        import onnx
    except ImportError:
        return {"learnable": None, "total": None}
    total = 0
    for path in paths:
        model = onnx.load(str(path), load_external_data=False)
        total += sum(int(np.prod(init.dims)) if init.dims else 1 for init in model.graph.initializer)
    return {"learnable": None, "total": total, "note": "initializer elements of the ONNX graph(s)"}


def _open_segmenter(paths: dict, device: str, threads: Optional[int] = None):
    from ..runtime.onnxruntime_runner import OnnxRuntimeRunner
    from ..runtime.segmenter import Segmenter

    runners = {}
    try:
        for kind, path in paths.items():
            runners[kind] = OnnxRuntimeRunner(path, device=device, intra_op_threads=threads).activate()
        return Segmenter(runners)
    except BaseException:
        for runner in runners.values():
            runner.deactivate()
        raise


def _ort_device(torch_device) -> tuple[str, Optional[str]]:
    """(onnxruntime device, reason to skip onnxruntime or None)."""
    try:
        import onnxruntime
    except ImportError:
        return "cpu", "onnxruntime is not installed (pip install onnxruntime)"
    if torch_device.type == "cuda":
        if "CUDAExecutionProvider" not in onnxruntime.get_available_providers():
            return "cuda", "this onnxruntime has no CUDAExecutionProvider (pip install onnxruntime-gpu)"
        return "cuda", None
    return "cpu", None


# ------------------------------------------------------------------------------ the run


class BenchmarkRun:
    def __init__(self, settings: BenchSettings):
        settings.check()
        self.s = settings
        self.notes: list[str] = []
        self.skipped: list[dict] = []
        self.cases: list[Case] = []
        self._segmenters: list = []

    # ---- building -----------------------------------------------------------------------
    def _load_models(self, stack: contextlib.ExitStack) -> None:
        from ..hsnet import HSNet, load_hsnet, randomize_for_testing

        s = self.s
        self.device = resolve_device(s.device)
        if s.threads:
            import torch

            previous = torch.get_num_threads()
            torch.set_num_threads(s.threads)
            stack.callback(torch.set_num_threads, previous)  # leave the process as it was
        arguments = [parse_model_argument(text) for text in s.models]
        ort_device, ort_skip = _ort_device(self.device)
        onnx_args = [a for a in arguments if a.kind == "onnx"]
        if onnx_args and ort_skip:
            raise UserError(f"cannot benchmark {onnx_args[0].text}: {ort_skip}")

        # ONNX graphs fix backbone and size: read them first.
        self.onnx_models: list[tuple[ModelArgument, dict]] = []  # (argument, {"episode": seg, "split": seg})
        for arg in onnx_args:
            self.onnx_models.append((arg, self._open_onnx(arg, ort_device)))
        infos = [seg.info for _, segs in self.onnx_models for seg in segs.values()]
        backbones = {i.backbone for i in infos}
        sizes = {i.img_size for i in infos}
        if len(backbones) > 1 or len(sizes) > 1:
            raise UserError(f"the ONNX models differ in backbone or input size ({sorted(backbones)}, {sorted(sizes)}); benchmark them separately")
        backbone = s.backbone or (next(iter(backbones)) if backbones else None)
        if s.backbone and backbones and s.backbone not in backbones:
            raise UserError(f"--backbone {s.backbone} but the ONNX model is a {next(iter(backbones))} export")
        img_size = s.img_size or (next(iter(sizes)) if sizes else DEFAULT_IMG_SIZE)
        if s.img_size and sizes and s.img_size not in sizes:
            raise UserError(f"--img-size {s.img_size} but the ONNX model was exported for {next(iter(sizes))}x{next(iter(sizes))}")

        from ..hsnet.backbone_features import backbone_spec
        from ..hsnet.image_size import check_image_size

        if s.backbone:
            backbone_spec(s.backbone)  # UserError for an unknown name, before anything is built
        if not any(a.checkpoint for a in arguments):  # the backbone is known: check the size now
            check_image_size(img_size, img_size, backbone or "resnet50")

        # PyTorch models.
        self.torch_models: list[tuple[ModelArgument, object]] = []
        for arg in arguments:
            if arg.kind != "torch":
                continue
            if arg.checkpoint is not None:
                model = load_hsnet(backbone=backbone, checkpoint=str(arg.checkpoint))
            else:
                model = randomize_for_testing(HSNet(backbone or "resnet50"), s.seed)
            backbone = backbone or model.backbone_name
            if model.backbone_name != backbone:
                raise UserError(f"{arg.text} is a {model.backbone_name} HSNet but the other models are {backbone}")
            self.torch_models.append((arg, model.eval().to(self.device)))
        backbone = backbone or "resnet50"
        check_image_size(img_size, img_size, backbone)
        self.backbone, self.img_size = backbone, img_size

        if not arguments:  # default: a random-weight model and its ONNX export
            model = randomize_for_testing(HSNet(backbone), s.seed).eval()
            arg = ModelArgument("torch", "torch")
            if ort_skip:
                self.notes.append(f"onnxruntime configurations skipped: {ort_skip}")
            else:
                folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="hsnet-bench-")))
                try:
                    exported = export_for_benchmark(model, folder, img_size, tuple(s.shots), s.mode, s.progress)
                except ImportError as err:
                    self.notes.append(f"onnxruntime configurations skipped: the ONNX exporter is not available ({err})")
                else:
                    self.onnx_models.append((exported, self._open_onnx(exported, ort_device)))
                    self.notes.append(f"ONNX graphs exported from the random-weight model to a temporary folder ({img_size}x{img_size})")
            self.torch_models.append((arg, model.to(self.device)))

        # The baseline: the first PyTorch model, or random weights (latency does not depend on weights).
        if self.torch_models:
            self.baseline_arg, self.baseline_model = self.torch_models[0]
        else:
            self.baseline_arg = ModelArgument("torch", "torch")
            self.baseline_model = randomize_for_testing(HSNet(backbone), s.seed).eval().to(self.device)
            self.notes.append("baseline runs a random-weight PyTorch model (no .pt given): latency does not depend on the weights, agreement numbers do")

    def _open_onnx(self, arg: ModelArgument, device: str) -> dict:
        segs = {}
        if arg.episode_graph is not None:
            segs["episode"] = _open_segmenter({"episode": arg.episode_graph}, device, self.s.threads)
            self._segmenters.append(segs["episode"])
        if arg.split_graphs is not None:
            support, query = arg.split_graphs
            segs["split"] = _open_segmenter({"support_encoder": support, "query": query}, device, self.s.threads)
            self._segmenters.append(segs["split"])
        return segs

    def _build_cases(self) -> None:
        s, dev, size = self.s, self.device, self.img_size
        want_episode = s.mode in ("all", EPISODE_MODE)
        want_cached = s.mode in ("all", CACHED_MODE)
        multiple_torch = len(self.torch_models) > 1
        multiple_onnx = len(self.onnx_models) > 1
        for k in s.shots:
            base = TorchConfiguration(
                "baseline", "baseline: official eager FP32, K x 1-shot", self.baseline_model, dev, k, size,
                self.baseline_arg.short_name, COST_OFFICIAL,
            )
            self.cases.append(Case(base, k, is_baseline=True))
            for arg, model in self.torch_models:
                tag = f" [{arg.short_name}]" if multiple_torch else ""
                variants = [("fp32", False)]
                if dev.type == "cuda":
                    variants += [("fp16", False), ("fp32", True), ("fp16", True)]
                for precision, graph in variants:
                    suffix = precision + (" cuda-graph" if graph else "")
                    key_suffix = "" if (precision, graph) == ("fp32", False) else "-" + suffix.replace(" ", "-")
                    if want_episode:
                        cfg = TorchConfiguration(
                            "torch-batched" + key_suffix, f"torch batched-K {suffix}{tag}", model, dev, k, size,
                            arg.short_name, COST_EPISODE, precision, graph,
                        )
                        self.cases.append(Case(cfg, k))
                    if want_cached:
                        cfg = TorchConfiguration(
                            "torch-cached" + key_suffix, f"torch cached-support {suffix}{tag}", model, dev, k, size,
                            arg.short_name, COST_QUERY, precision, graph,
                        )
                        self.cases.append(Case(cfg, k))
            for arg, segs in self.onnx_models:
                tag = f" [{arg.short_name}]" if multiple_onnx else ""
                if want_episode and "episode" not in segs:
                    self.skipped.append({"config": f"onnxruntime episode graph [{arg.short_name}]", "shots": k, "reason": "only split graphs given"})
                if want_cached and "split" not in segs:
                    self.skipped.append({"config": f"onnxruntime cached-support [{arg.short_name}]", "shots": k, "reason": "no NAME.support.onnx / NAME.query.onnx beside it (hsnet-deploy export --split)"})
                for kind, seg in segs.items():
                    if (kind == "episode" and not want_episode) or (kind == "split" and not want_cached):
                        continue
                    key = "onnxruntime-episode" if kind == "episode" else "onnxruntime-cached"
                    label = ("onnxruntime episode graph" if kind == "episode" else "onnxruntime cached-support") + tag
                    if seg.shots is not None and seg.shots != k:
                        self.skipped.append({"config": label, "shots": k, "reason": f"graph exported for K={seg.shots}"})
                        continue
                    paths = [r.path for r in seg.runners.values()]
                    cfg = OnnxRuntimeConfiguration(key, label, seg, k, size, arg.short_name, _onnx_parameter_counts(paths))
                    self.cases.append(Case(cfg, k))

    # ---- measuring ----------------------------------------------------------------------
    def _measure(self, progress) -> None:
        s = self.s
        self.episodes = {k: make_episodes(k, s.seed) for k in s.shots}
        cuda = self.device if self.device.type == "cuda" else None
        stageable = [c for c in self.cases if c.config.can_stage]

        for case in self.cases:
            progress.set_postfix_str(f"prepare {case.config.label} K={case.shots}")
            case.config.prepare(self.episodes[case.shots][0])
            with measure_peak_memory(cuda) as mem:
                case.reference = case.config.run(self.episodes[case.shots][0])
            case.first_run_memory = mem.as_dict()
            progress.update(1)

        for w in range(max(s.warmup, 1)):  # at least one pass: it carries the memory measurement
            last = w == max(s.warmup, 1) - 1
            for case in self._rotated(self.cases, w):
                episode = self.episodes[case.shots][w % QUERY_POOL]
                if last:
                    with measure_peak_memory(cuda) as mem:
                        case.config.run(episode)
                    case.memory = mem.as_dict()
                else:
                    case.config.run(episode)
                progress.set_postfix_str(f"warm-up {case.config.label} K={case.shots}")
                progress.update(1)

        for r in range(s.iters):
            for case in self._rotated(self.cases, r):
                episode = self.episodes[case.shots][r % QUERY_POOL]
                start = time.perf_counter()
                out = case.config.run(episode)
                case.latencies.append(time.perf_counter() - start)
                case.network.append(sum(v for k, v in out.seconds.items() if k not in (PRE, POST)))
                case.timed_stages.append(out.seconds)
                progress.set_postfix_str(f"{case.config.label} K={case.shots}")
                progress.update(1)

        for r in range(s.stage_iters):
            for case in self._rotated(stageable, r):
                out = case.config.run(self.episodes[case.shots][r % QUERY_POOL], staged=True)
                case.staged_stages.append(out.seconds)
                progress.set_postfix_str(f"stages {case.config.label} K={case.shots}")
                progress.update(1)

    @staticmethod
    def _rotated(items: list, r: int) -> list:
        if not items:
            return []
        r %= len(items)
        return items[r:] + items[:r]

    # ---- counting -----------------------------------------------------------------------
    def _count_costs(self) -> None:
        """FLOPs / elements per stage for each (path, K), on the meta device."""
        import torch

        from ..hsnet import HSNet
        from .cost_counter import count_costs
        from .staged_forward import staged_episode, staged_official, staged_query

        with torch.device("meta"):
            meta = HSNet(self.backbone).eval()
        size = self.img_size
        self.costs: dict[tuple[str, int], dict] = {}
        for k in self.s.shots:
            with torch.device("meta"):
                q = torch.zeros(1, 3, size, size)
                sup = torch.zeros(1, k, 3, size, size)
                msk = torch.zeros(1, k, size, size)
            with torch.no_grad():
                feats = meta.encode_support(sup, msk)
            runs = {
                COST_OFFICIAL: lambda obs: staged_official(meta, q, sup, msk, obs),
                COST_EPISODE: lambda obs: staged_episode(meta, q, sup, msk, obs),
                COST_QUERY: lambda obs: staged_query(meta, q, feats, obs),
            }
            for path, run in runs.items():
                counter = count_costs(meta, run)
                self.costs[(path, k)] = {"stages": dict(counter.per_stage), "used_parameters": counter.used_parameter_count}

    # ---- reporting ----------------------------------------------------------------------
    def _case_report(self, case: Case, baseline: dict) -> dict:
        cfg = case.config
        stats = summarize(case.latencies)
        network = summarize(case.network)
        if case.staged_stages:
            samples, stage_source = case.staged_stages, f"staged pass ({len(case.staged_stages)} episodes, network stages timed one by one)"
        else:
            samples, stage_source = case.timed_stages, f"timed episodes ({len(case.timed_stages)}; the network is one stage)"
        stage_names = [st for st in STAGES if any(st in sample for sample in samples)]
        stages_ms = {st: float(np.median([sample.get(st, 0.0) for sample in samples]) * 1e3) for st in stage_names}

        cost = self.costs[(cfg.cost_path, case.shots)]
        per_stage = cost["stages"]
        flops = {st: per_stage[st].flops for st in NETWORK_STAGES if st in per_stage}
        elements = {st: per_stage[st].elements for st in NETWORK_STAGES if st in per_stage}
        support_cost = None
        if cfg.mode == CACHED_MODE:
            support_cost = self.costs[(COST_EPISODE, case.shots)]["stages"].get(SUPPORT_BACKBONE, Cost())

        params = dict(cfg.parameters())
        if cfg.backend == "torch":
            params["used_in_forward"] = cost["used_parameters"]

        agreement = None
        if baseline is not None and case.reference is not None:
            ref = baseline["reference"]
            agreement = {
                "mask_pixels_equal": float(np.mean(case.reference.mask == ref.mask)),
                "logits_max_abs_diff": float(np.max(np.abs(case.reference.logits - ref.logits))),
            }
        report = {
            "key": cfg.key,
            "label": cfg.label,
            "is_baseline": case.is_baseline,
            "backend": cfg.backend,
            "mode": cfg.mode,
            "precision": cfg.precision,
            "cuda_graph": bool(getattr(cfg, "cuda_graph", False)),
            "shots": case.shots,
            "model": cfg.source,
            "device": cfg.device_description(),
            "latency_ms": stats.as_dict(),
            "network_latency_ms": network.as_dict(),
            "fps": stats.fps,
            "latency_ratio_to_baseline": None,
            "speedup_vs_baseline": None,
            "stages_ms": stages_ms,
            "stages_source": stage_source,
            "support_encoding_ms": float(np.median(cfg.support_encode_seconds) * 1e3) if cfg.support_encode_seconds else None,
            "memory": {**case.memory, "first_run": case.first_run_memory, "note": MEMORY_NOTE},
            "parameters": params,
            "flops_per_stage": flops,
            "flops_total": sum(flops.values()),
            "gflops_total": sum(flops.values()) / 1e9,
            "elements_moved_per_stage": elements,
            "elements_moved_total": sum(elements.values()),
            "support_encoding_flops": None if support_cost is None else support_cost.flops,
            "agreement_with_baseline": agreement,
            "notes": list(cfg.notes),
        }
        if baseline is not None:
            base_median = baseline["median_ms"]
            report["latency_ratio_to_baseline"] = stats.median_ms / base_median
            report["speedup_vs_baseline"] = base_median / stats.median_ms if stats.median_ms > 0 else None
        return report

    def _roofline(self) -> dict:
        estimates = []
        paths = sorted({(c.config.cost_path, c.shots) for c in self.cases})
        for path, k in paths:
            stages = {st: c for st, c in self.costs[(path, k)]["stages"].items() if st in NETWORK_STAGES}
            for target in TARGETS:
                for precision in PRECISIONS:
                    est = estimate_episode(stages, target, precision)
                    est.update(path=path, shots=k)
                    estimates.append(est)
        return {
            "label": "ROOFLINE ESTIMATES (not measured): max(FLOPs / peak compute, bytes / peak bandwidth) per network stage, summed; a lower bound",
            "paths": {COST_OFFICIAL: "official K x 1-shot", COST_EPISODE: "batched K-shot episode", COST_QUERY: "cached-support query"},
            "targets": [t.as_dict() for t in TARGETS],
            "estimates": estimates,
        }

    def _environment(self) -> dict:
        import torch

        env = {
            "hsnet_deploy": __version__,
            "python": sys.version.split()[0],
            "platform": platform.platform(),
            "cpu": _cpu_name(),
            "torch": torch.__version__,
            "torch_threads": torch.get_num_threads(),
            "onnxruntime_threads": self.s.threads or "default (one per physical core)",
            "device": str(self.device),
            "gpu": torch.cuda.get_device_name(self.device) if self.device.type == "cuda" else None,
            # PyTorch's defaults: FP32 convolutions may run as TF32 on NVIDIA GPUs since Ampere
            "cudnn_allow_tf32": bool(torch.backends.cudnn.allow_tf32),
            "matmul_allow_tf32": bool(torch.backends.cuda.matmul.allow_tf32),
            "timestamp": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        }
        try:
            import onnxruntime

            env["onnxruntime"] = onnxruntime.__version__
        except ImportError:
            env["onnxruntime"] = None
        return env

    def run(self) -> dict:
        from tqdm import tqdm

        s = self.s
        with contextlib.ExitStack() as stack:
            stack.callback(self._close)
            self._load_models(stack)
            self._build_cases()
            table5_size = s.table5_size
            if table5_size is None:
                table5_size = TABLE5_SIZE_CUDA if self.device.type == "cuda" else TABLE5_SIZE_CPU
            n_cases, n_stageable = len(self.cases), sum(c.config.can_stage for c in self.cases)
            total = n_cases * (1 + max(s.warmup, 1) + s.iters) + n_stageable * s.stage_iters
            total += 2 * (1 + s.table5_iters) if table5_size else 0
            progress = stack.enter_context(tqdm(total=total, desc="bench", unit="ep", disable=not s.progress, file=sys.stderr, leave=False))
            self._measure(progress)
            self._count_costs()
            table5 = None
            if table5_size:
                from .table5 import run_table5

                progress.set_postfix_str(f"Table 5 at {table5_size}x{table5_size}")
                table5 = run_table5(table5_size, self.device, s.table5_iters, tick=lambda: progress.update(1))

            baselines = {}
            for case in self.cases:
                if case.is_baseline:
                    baselines[case.shots] = {"median_ms": summarize(case.latencies).median_ms, "reference": case.reference}
            results = [self._case_report(case, baselines.get(case.shots)) for case in self.cases]
            return {
                "schema": SCHEMA,
                "environment": self._environment(),
                "settings": {
                    "models": list(s.models),
                    "backbone": self.backbone,
                    "img_size": self.img_size,
                    "shots": list(s.shots),
                    "mode": s.mode,
                    "iters": s.iters,
                    "warmup": s.warmup,
                    "stage_iters": s.stage_iters,
                    "device": str(self.device),
                    "original_image_size_hw": list(ORIGINAL_SIZE),
                    "queries_cycled": QUERY_POOL,
                    "seed": s.seed,
                    "threads": s.threads,
                    "episode_definition": "uint8 images and masks at the original size -> pre-processing -> network -> logits resized to the query's size -> K-shot vote",
                    "flop_convention": "FLOPs = 2 x multiply-accumulates of convolutions, linear layers and correlation matmuls",
                },
                "results": results,
                "skipped": self.skipped,
                "notes": self.notes,
                "table5": table5,
                "roofline": self._roofline(),
            }

    def _close(self) -> None:
        for case in self.cases:
            case.config.close()
        for seg in self._segmenters:
            seg.close()


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def run_benchmark(settings: BenchSettings) -> dict:
    """Run the benchmark described by ``settings``; returns the full report (see ``--json``)."""
    return BenchmarkRun(settings).run()
