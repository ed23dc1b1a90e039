"""The benchmark report as plain-text tables for the terminal.

Sections: measured latency per configuration with ratios to the baseline; per-stage
times; FLOPs per stage; parameters (Table 5 and the roofline ESTIMATES live in tools/research);
ESTIMATES for named targets (labelled as estimates, never mixed into measured columns).
"""

from __future__ import annotations

from typing import Optional, Sequence

from .staged_forward import NETWORK_STAGES, STAGES


def text_table(headers: Sequence[str], rows: Sequence[Sequence[str]], align: Optional[str] = None) -> str:
    """Columns padded to their widest cell; ``align`` per column: 'l' or 'r' (default: first l, rest r)."""
    align = align or "l" + "r" * (len(headers) - 1)
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) if rows else len(str(h)) for i, h in enumerate(headers)]

    def line(cells):
        out = []
        for cell, width, a in zip(cells, widths, align):
            out.append(str(cell).ljust(width) if a == "l" else str(cell).rjust(width))
        return "  ".join(out).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(headers), rule] + [line(r) for r in rows])


def _ms(value: Optional[float]) -> str:
    if value is None:
        return "-"
    return f"{value:.1f}" if value >= 10 else f"{value:.2f}"


def _num(value: Optional[float], fmt: str = "{:.2f}") -> str:
    return "-" if value is None else fmt.format(value)


def _memory_value(mem: dict) -> Optional[float]:
    for key in ("cuda_increase_mb", "rss_increase_mb"):
        if mem.get(key) is not None:
            return mem[key]
    return None


def _memory(result: dict) -> str:
    """'warm / first' episode memory increase in MB."""
    mem = result.get("memory") or {}
    warm, first = _memory_value(mem), _memory_value(mem.get("first_run") or {})
    if warm is None and first is None:
        return _num(mem.get("peak_rss_mb"), "{:.0f} (peak)")
    gpu = " GPU" if mem.get("cuda_increase_mb") is not None else ""
    return f"{_num(warm, '{:.0f}')} / {_num(first, '{:.0f}')}{gpu}"


def int8_calibrations(report: dict) -> dict[str, str]:
    """Configuration label -> where its INT8 graphs got their activation ranges
    (:func:`~hsnet_deploy.runtime.segmenter.calibration_provenance`), read from the metadata
    of the ONNX files the run was given (``settings.models``); a configuration whose files
    can no longer be read is left out."""
    from ..errors import UserError
    from ..runtime.graph_contract import EPISODE, QUERY, SUPPORT_ENCODER
    from ..runtime.model_files import graph_info
    from ..runtime.segmenter import calibration_provenance
    from .configurations import CACHED_MODE
    from .model_arguments import parse_model_argument

    arguments = {}
    for text in report.get("settings", {}).get("models", []):
        try:
            argument = parse_model_argument(text)
        except (UserError, OSError):
            continue
        if argument.kind == "onnx":
            arguments[argument.short_name] = argument
    found = {}
    for r in report["results"]:
        argument = arguments.get(r.get("model"))
        if argument is None or r["backend"] != "onnxruntime" or "int8" not in str(r.get("precision")):
            continue
        if r["mode"] == CACHED_MODE:
            files = dict(zip((SUPPORT_ENCODER, QUERY), argument.split_graphs or ()))
        else:
            files = {EPISODE: argument.episode_graph} if argument.episode_graph else {}
        try:
            text = calibration_provenance({kind: graph_info(path, "onnxruntime").metadata for kind, path in files.items()})
        except (UserError, OSError):
            continue
        if text:
            found[r["label"]] = text
    return found


def latency_section(report: dict) -> str:
    headers = ["K", "configuration", "median ms", "p90", "p99", "mean ± std", "FPS", "x baseline", "speedup",
               "support enc. ms (once)", "mem MB warm / 1st", "GFLOPs", "mask = base"]
    rows = []
    for r in report["results"]:
        lat = r["latency_ms"]
        agree = r["agreement_with_baseline"]
        rows.append([
            str(r["shots"]),
            r["label"],
            _ms(lat["median_ms"]),
            _ms(lat["p90_ms"]),
            _ms(lat["p99_ms"]),
            f"{_ms(lat['mean_ms'])} ± {_ms(lat['std_ms'])}",
            _num(r["fps"]),
            _num(r["latency_ratio_to_baseline"]),
            _num(r["speedup_vs_baseline"], "{:.2f}x"),
            _ms(r["support_encoding_ms"]),
            _memory(r),
            _num(r["gflops_total"], "{:.1f}"),
            "-" if agree is None else f"{100 * agree['mask_pixels_equal']:.2f}%",
        ])
    align = "ll" + "r" * (len(headers) - 2)
    calibrations = "".join(f"\n  {label}: INT8 calibration (from its graphs' metadata): {text}"
                           for label, text in int8_calibrations(report).items())
    return (
        "MEASURED: end-to-end episode latency (uint8 images in, mask at the query's size out)\n"
        + text_table(headers, rows, align)
        + calibrations
        + "\n  x baseline = median / baseline median (same K, same run); speedup = its inverse."
        + "\n  cached-support rows: per query, the support set encoded once beforehand (its one-off cost in 'support enc.')."
        + "\n  mem MB = peak RSS increase during a warm episode / the first episode (GPU: peak allocated increase); onnxruntime's"
        + "\n  arena keeps memory between episodes, hiding it in warm ones: read its first-run figure. GFLOPs per episode (per query when cached)."
    )


def stage_section(report: dict) -> str:
    present = [st for st in STAGES if any(st in r["stages_ms"] for r in report["results"])]
    headers = ["K", "configuration"] + present
    rows = [[str(r["shots"]), r["label"]] + [_ms(r["stages_ms"].get(st)) for st in present] for r in report["results"]]
    return "MEASURED: per-stage median ms (staged runs: PyTorch stage by stage, onnxruntime profiled and split by stage)\n" + text_table(headers, rows, "ll" + "r" * len(present))


def achieved_section(report: dict) -> str:
    """GFLOP/s per stage and its share of this run's measured GEMM peak."""
    peaks = report.get("gemm_peaks") or {}
    peak_line = ", ".join(f"{k} {v['gflops']:.0f} ({v.get('probe', '?')})" for k, v in peaks.items() if v.get("gflops")) or "none measured"
    rows, present = [], [st for st in NETWORK_STAGES if any(st in (r.get("achieved_per_stage") or {}) for r in report["results"])]
    for r in report["results"]:
        achieved = r.get("achieved_per_stage") or {}
        if not achieved:
            continue
        cells = []
        for st in present:
            a = achieved.get(st)
            cells.append("-" if a is None else f"{a['gflops']:.0f}" + ("" if a["share_of_peak"] is None else f" ({100 * a['share_of_peak']:.0f}%)"))
        rows.append([str(r["shots"]), r["label"]] + cells)
    title = f"MEASURED: achieved GFLOP/s per stage (share of this run's dense-GEMM peak, GFLOP/s: {peak_line})"
    return title + "\n" + text_table(["K", "configuration"] + present, rows, "ll" + "r" * len(present))


def operator_section(report: dict, top: int = 6) -> str:
    """onnxruntime's profiled time per operator type (the Transpose share among them)."""
    lines = []
    for r in report["results"]:
        shares = r.get("operator_shares") or {}
        if not shares:
            continue
        head = ", ".join(f"{op} {100 * v:.1f}%" for op, v in list(shares.items())[:top])
        transpose = 100 * shares.get("Transpose", 0.0)
        lines.append(f"  K={r['shots']} {r['label']}: Transpose {transpose:.1f}%; {head}")
    return ("MEASURED: onnxruntime profile, share of node time per operator\n" + "\n".join(lines)) if lines else ""


def flops_section(report: dict) -> str:
    seen = {}
    for r in report["results"]:
        key = (r["mode"], r["key"] == "baseline", r["shots"])
        seen.setdefault(key, r)
    stages = [st for st in STAGES if any(st in r["flops_per_stage"] for r in seen.values())]
    headers = ["K", "path"] + stages + ["total"]
    rows = []
    for (mode, is_base, k), r in sorted(seen.items(), key=lambda kv: (kv[0][2], not kv[0][1], kv[0][0])):
        path = "official K x 1-shot" if is_base else ("cached query" if mode == "cached-support" else "batched episode")
        rows.append([str(k), path] + [_num(r["flops_per_stage"].get(st, 0) / 1e9, "{:.2f}") for st in stages] + [_num(r["gflops_total"], "{:.2f}")])
    return "COUNTED: GFLOPs per stage (2 x multiply-accumulates)\n" + text_table(headers, rows, "ll" + "r" * (len(stages) + 1))


def parameter_section(report: dict) -> str:
    seen = {}
    for r in report["results"]:
        seen.setdefault((r["backend"], r["model"]), r["parameters"])
    rows = [[f"{backend} {model}", _num(p.get("learnable"), "{:,}"), _num(p.get("total"), "{:,}"), _num(p.get("used_in_forward"), "{:,}")]
            for (backend, model), p in seen.items()]
    return "Parameters\n" + text_table(["model", "learnable", "total", "used by forward"], rows)


def format_report(report: dict) -> str:
    env, st = report["environment"], report["settings"]
    where = env["gpu"] or f"{env['cpu']}, {env['torch_threads']} torch threads, onnxruntime threads: {env.get('onnxruntime_threads')}"
    header = (
        f"hsnet-deploy bench: {st['backbone']} {st['img_size']}x{st['img_size']}, K={','.join(map(str, st['shots']))}, "
        f"device {st['device']} ({where}); {st['iters']} timed episodes per configuration after {st['warmup']} warm-up, "
        f"configurations interleaved; torch {env['torch']}, onnxruntime {env['onnxruntime']}"
    )
    parts = [header, latency_section(report), stage_section(report), achieved_section(report), operator_section(report),
             flops_section(report), parameter_section(report)]
    parts = [p for p in parts if p]
    extra = [f"  skipped: {s['config']} K={s['shots']}: {s['reason']}" for s in report.get("skipped", [])]
    extra += [f"  note: {n}" for n in report.get("notes", [])]
    if extra:
        parts.append("\n".join(extra))
    return "\n\n".join(parts)
