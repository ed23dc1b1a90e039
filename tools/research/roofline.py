"""Roofline latency ESTIMATES for edge and desktop/datacenter GPUs (on paper, not measured).

For each stage with F FLOPs and E elements moved at b bytes per element (FP16: 2,
INT8: 1), on a target with peak compute P (dense tensor-core FLOP/s or OP/s) and peak
memory bandwidth W (bytes/s):

    t_stage = max(F / P, E * b / W)          (compute-bound or memory-bound, whichever is slower)
    t_episode = Σ_stages t_stage

This is a lower bound: 100 % of peak, perfect overlap within a stage, no launch
overhead, and every layer (including the correlation, the 4D-conv layout copies and
GroupNorm) assumed to run at the stated precision. Real engines reach a fraction of
peak (typically 20-60 % on convolutions, less on small layers), so measured latency will
be several times higher. Host pre/post-processing is not included. Use it to rank
targets and see which stages are memory-bound, not as a promise.

Peak figures: dense (no 2:4 sparsity) tensor-core throughput and DRAM bandwidth from
the vendors' datasheets. Jetson datasheets state only sparse INT8 TOPS for the whole
module (GPU + DLA); the GPU's dense figures below are derived from its SM count and
clock (Ampere GA10B: 1024 dense FP16 FMA and 2048 dense INT8 MAC per SM per clock,
which reproduces the datasheet's sparse GPU TOPS when doubled).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

BYTES_PER_ELEMENT = {"fp32": 4, "fp16": 2, "int8": 1}


@dataclass(frozen=True)
class Target:
    name: str
    fp16_tflops: float  # dense tensor-core FP16, 1e12 FLOP/s
    int8_tops: float  # dense tensor-core INT8, 1e12 OP/s
    bandwidth_gbs: float  # DRAM bandwidth, 1e9 bytes/s
    source: str

    def peak_ops(self, precision: str) -> float:
        return {"fp16": self.fp16_tflops, "int8": self.int8_tops}[precision] * 1e12

    def as_dict(self) -> dict:
        return asdict(self)


TARGETS: tuple[Target, ...] = (
    Target(
        "Jetson Orin Nano 8GB (15 W)", 10.2, 20.4, 68.0,
        "NVIDIA Jetson Orin Nano Series Modules Data Sheet: 1024-core Ampere GPU, 32 Tensor Cores, 625 MHz, "
        "40 sparse INT8 TOPS, 128-bit LPDDR5 68 GB/s; https://developer.nvidia.com/embedded/jetson-modules "
        "(dense FP16/INT8 derived: 8 SM x 0.625 GHz x 2048 / 4096 ops)",
    ),
    Target(
        "Jetson Orin Nano 8GB Super (25 W)", 16.7, 33.4, 102.0,
        "NVIDIA Jetson Orin Nano Super Developer Kit datasheet (JetPack 6.1+): GPU 1020 MHz, 67 sparse INT8 TOPS, "
        "102 GB/s; https://developer.nvidia.com/embedded/jetson-modules (dense derived as above)",
    ),
    Target(
        "Jetson Orin NX 16GB", 15.0, 30.1, 102.4,
        "NVIDIA Jetson Orin NX Series Modules Data Sheet (DS-10712-001): 1024-core Ampere GPU, 32 Tensor Cores, "
        "918 MHz, 100 sparse INT8 TOPS (GPU + 2 DLA), 128-bit LPDDR5 102.4 GB/s; "
        "https://developer.nvidia.com/embedded/jetson-modules (GPU dense derived: 8 SM x 0.918 GHz)",
    ),
    Target(
        "Jetson AGX Orin 64GB", 42.6, 85.2, 204.8,
        "NVIDIA Jetson AGX Orin Series Data Sheet / Technical Brief v1.2: 2048-core Ampere GPU, 64 Tensor Cores, "
        "1.3 GHz, 275 sparse INT8 TOPS (GPU 170 + DLA 105), 256-bit LPDDR5 204.8 GB/s; "
        "https://developer.nvidia.com/embedded/jetson-modules (GPU dense derived: 16 SM x 1.3 GHz)",
    ),
    Target(
        "GeForce RTX 4090", 165.2, 660.6, 1008.0,
        "NVIDIA Ada Lovelace GPU Architecture whitepaper, Appendix A (RTX 4090): FP16 tensor 165.2 TFLOPS dense "
        "with FP32 accumulate (330.3 with FP16 accumulate), INT8 tensor 660.6 TOPS dense, GDDR6X 1008 GB/s; "
        "https://images.nvidia.com/aem-dam/Solutions/geforce/ada/nvidia-ada-gpu-architecture.pdf",
    ),
    Target(
        "H100 SXM5 80GB", 989.4, 1978.9, 3350.0,
        "NVIDIA H100 Tensor Core GPU datasheet: FP16 tensor 1979 TFLOPS and INT8 3958 TOPS with sparsity "
        "(half without), HBM3 3.35 TB/s; https://www.nvidia.com/en-us/data-center/h100/",
    ),
    Target(
        "H100 PCIe 80GB", 756.0, 1513.0, 2000.0,
        "NVIDIA H100 Tensor Core GPU datasheet: FP16 tensor 1513 TFLOPS and INT8 3026 TOPS with sparsity "
        "(half without), HBM2e 2.0 TB/s; https://www.nvidia.com/en-us/data-center/h100/",
    ),
    Target(
        "H200 SXM 141GB", 989.4, 1978.9, 4800.0,
        "NVIDIA H200 Tensor Core GPU datasheet: same tensor throughput as H100 SXM, HBM3e 4.8 TB/s; "
        "https://www.nvidia.com/en-us/data-center/h200/",
    ),
)

PRECISIONS = ("fp16", "int8")


def stage_seconds(flops: int, elements: int, target: Target, precision: str) -> tuple[float, str]:
    """(estimated seconds, "compute" or "memory") for one stage on ``target``."""
    compute = flops / target.peak_ops(precision)
    memory = elements * BYTES_PER_ELEMENT[precision] / (target.bandwidth_gbs * 1e9)
    return (compute, "compute") if compute >= memory else (memory, "memory")


def estimate_episode(stage_costs: dict, target: Target, precision: str) -> dict:
    """stage_costs: stage -> Cost. -> {"total_ms", "stages": {stage: {"ms", "bound"}}}."""
    stages = {}
    total = 0.0
    for stage, cost in stage_costs.items():
        seconds, bound = stage_seconds(cost.flops, cost.elements, target, precision)
        stages[stage] = {"ms": seconds * 1e3, "bound": bound}
        total += seconds
    return {"target": target.name, "precision": precision, "total_ms": total * 1e3, "stages": stages}


def roofline_estimates(costs: dict) -> dict:
    """Roofline ESTIMATES for every (path, K) of ``costs`` (``benchmarks.path_costs``), on every
    target and precision."""
    from hsnet_deploy.benchmarks.configurations import (
        COST_EPISODE,
        COST_OFFICIAL,
        COST_QUERY,
    )
    from hsnet_deploy.benchmarks.staged_forward import NETWORK_STAGES

    estimates = []
    for path, k in sorted(costs):
        stages = {st: c for st, c in costs[(path, k)]["stages"].items() if st in NETWORK_STAGES}
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


def roofline_section(roofline: dict) -> str:
    """Targets as rows; batched-episode and cached-query estimates per K as columns, with the
    peak figures they assume."""
    from hsnet_deploy.benchmarks.report_table import _ms, text_table

    paths = ["episode", "query"]
    shots = sorted({e["shots"] for e in roofline["estimates"]})
    index = {(e["target"], e["precision"], e["path"], e["shots"]): e["total_ms"] for e in roofline["estimates"]}
    columns = [(path, k, p) for k in shots for path in paths for p in ("fp16", "int8")]
    headers = ["target (ESTIMATE)"] + [f"{path} K={k} {p.upper()}" for path, k, p in columns]
    rows = [[t["name"]] + [_ms(index.get((t["name"], p, path, k))) for path, k, p in columns] for t in roofline["targets"]]
    peaks = [[t["name"], f"{t['fp16_tflops']:g}", f"{t['int8_tops']:g}", f"{t['bandwidth_gbs']:g}"] for t in roofline["targets"]]
    return (
        roofline["label"] + "\n" + text_table(headers, rows)
        + "\n  ms per episode, network only (no pre/post-processing); episode = batched K-shot episode, query = cached-support query."
        + "\n  Peak figures (dense tensor-core; vendor datasheets, sources in the JSON and benchmarks/roofline.py):\n"
        + text_table(["target", "FP16 TFLOPS", "INT8 TOPS", "GB/s"], peaks)
    )


def main(argv=None) -> int:
    """``python tools/research/roofline.py [--img-size 400] [--shots 1,5]``: estimates from counted FLOPs."""
    import argparse

    from hsnet_deploy.benchmarks.path_costs import count_path_costs

    parser = argparse.ArgumentParser(description="roofline ESTIMATES of an HSNet episode on edge and data-centre GPUs")
    parser.add_argument("--backbone", default="resnet50")
    parser.add_argument("--img-size", type=int, default=400)
    parser.add_argument("--shots", default="1,5")
    args = parser.parse_args(argv)
    shots = tuple(int(k) for k in args.shots.split(","))
    print(roofline_section(roofline_estimates(count_path_costs(args.backbone, args.img_size, shots))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
