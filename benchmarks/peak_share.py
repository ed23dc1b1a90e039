"""Achieved throughput per stage, as a share of the machine's measured GEMM peak.

For a result of the report (its ``stages_ms`` and counted ``flops_per_stage``) and the
run's peaks (:mod:`gemm_peak`):

    achieved GFLOP/s = FLOPs of the stage / its median time
    share of peak    = achieved / peak of the same backend and precision, measured this run

The FLOPs are those the stage executes (``cost_formulas``), so a share near 1 means the
stage runs as fast as the best square matrix product this backend manages here; layout
copies, normalisation and element-wise work count as time without FLOPs, which is the
point: they are what keeps a stage below its peak.
"""

from __future__ import annotations

from typing import Optional

from .staged_forward import NETWORK_STAGES


def peak_key(result: dict) -> str:
    """Which peak a result is measured against: "<backend> <precision>"."""
    precision = str(result.get("precision") or "fp32").lower()
    if precision not in ("fp32", "fp16", "bf16", "int8"):
        precision = "fp32"  # "as exported": the FP32 graphs this toolkit writes today
    return f"{result['backend']} {precision}"


def achieved_per_stage(result: dict, peaks: dict) -> dict:
    """{stage: {gflops, share_of_peak}} for every network stage with a time and FLOPs;
    share_of_peak is None when this run has no peak for the result's backend."""
    peak = peaks.get(peak_key(result), {}).get("gflops")
    out = {}
    for stage in NETWORK_STAGES:
        ms, flops = result["stages_ms"].get(stage), result["flops_per_stage"].get(stage)
        if not ms or not flops:
            continue
        gflops = flops / (ms / 1e3) / 1e9
        out[stage] = {"gflops": gflops, "share_of_peak": gflops / peak if peak else None}
    return out


def operator_shares(operator_ms: Optional[dict]) -> dict:
    """{op: share of the profiled node time}, largest first."""
    if not operator_ms:
        return {}
    total = sum(operator_ms.values())
    return {op: ms / total for op, ms in sorted(operator_ms.items(), key=lambda kv: -kv[1])} if total else {}
