"""Per cached-support query: onnxruntime vs OpenVINO on the same FP32 and INT8 files, beside
the official eager episode, interleaved in one process (medians; ratios are what to quote).

    python tools/research/openvino_speed.py r400.onnx r400.int8.onnx --threads 2 --iters 8 [--block 3]

Each configuration is a runtime Segmenter with its support set encoded once; a round
times one ``segment(query)`` per configuration (pre-processing, query graph, resize and
vote: what ``run`` does per frame), in turn, so a load change touches them all alike. The
official way is the PyTorch model's 1-shot episode forward (what HSNet's own test loop
runs per query). Prints the table and writes JSON with ``--json``.

``--block N`` (default 1) runs each configuration N times in a row per round, after a
0.2 s pause, and times only the last: what a stream that runs one model sees. With N = 1
every configuration runs right after a different one, with caches full of that one's
weights and, after onnxruntime, its thread pool still spinning: measured here, OpenVINO's
INT8 query graph took 107 ms back to back, 130 ms right after an onnxruntime FP32 run
(after a 0.3 s pause) and 147 ms right after it (onnxruntime spinning), 135 ms with
onnxruntime's spinning turned off. Both protocols are reported; neither is the truth.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np


def configurations(fp32: str, int8: str, threads: int):
    from hsnet_deploy.runtime import RuntimeOptions

    ort = dict(device="cpu", threads=threads)
    ov = dict(device="cpu", threads=threads, onnx_backend="openvino")
    return {
        "onnxruntime FP32": (fp32, RuntimeOptions(**ort)),
        "OpenVINO FP32 (f32)": (fp32, RuntimeOptions(**ov)),
        "OpenVINO FP32 (bf16)": (fp32, RuntimeOptions(**ov, openvino_precision="bf16")),
        "onnxruntime INT8": (int8, RuntimeOptions(**ort)),
        "OpenVINO INT8 (f32)": (int8, RuntimeOptions(**ov)),
    }


def settle(block: int) -> None:
    """In block mode, let the previous configuration's threads go idle first."""
    if block > 1:
        time.sleep(0.2)


def main(argv=None) -> int:
    import torch

    from hsnet_deploy.hsnet.data.synthetic import SyntheticFewShot
    from hsnet_deploy.hsnet.model_source import load_model
    from hsnet_deploy.runtime import Segmenter
    from hsnet_deploy.runtime.preprocess import preprocess_image, preprocess_support

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("fp32")
    parser.add_argument("int8")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--iters", type=int, default=8)
    parser.add_argument("--block", type=int, default=1, help="runs per configuration per round; the last is timed")
    parser.add_argument("--json")
    args = parser.parse_args(argv)
    if args.block < 1 or args.iters < 1:
        parser.error("--block and --iters must be at least 1")

    torch.set_num_threads(args.threads)
    episodes = SyntheticFewShot(seed=0, split="test", img_size=200, n_episodes=args.iters + 1)
    first = episodes.episode(0)
    segmenters = {}
    for name, (path, options) in configurations(args.fp32, args.int8, args.threads).items():
        segmenters[name] = Segmenter.load(path, options=options)
        segmenters[name].set_support(list(first.support_images), list(first.support_masks))
    size = next(iter(segmenters.values())).img_size
    model = load_model("reference")  # the official way: the whole 1-shot episode, eager
    q = torch.from_numpy(preprocess_image(first.query_image, size)[None])
    s, m = (torch.from_numpy(a) for a in preprocess_support(list(first.support_images), list(first.support_masks), size))
    times = {name: [] for name in [*segmenters, "official eager episode"]}
    agree = {name: [] for name in segmenters}
    for n in range(args.iters + 1):  # round 0 warms every configuration up, untimed
        query = episodes.episode(n).query_image
        masks = {}
        for name, seg in segmenters.items():
            settle(args.block)
            for _ in range(args.block):
                start = time.perf_counter()
                masks[name] = seg.segment(query)
            if n:
                times[name].append(1e3 * (time.perf_counter() - start))
        settle(args.block)
        with torch.inference_mode():
            for _ in range(args.block):
                start = time.perf_counter()
                model(q, s, m)
        if n:
            times["official eager episode"].append(1e3 * (time.perf_counter() - start))
            for name in segmenters:
                reference = masks["onnxruntime INT8" if "INT8" in name else "onnxruntime FP32"]
                agree[name].append(float(np.mean(masks[name] == reference)))
    official = statistics.median(times["official eager episode"])
    ort_fp32 = statistics.median(times["onnxruntime FP32"])
    rows = {name: {"median_ms": statistics.median(t), "vs_official_eager": official / statistics.median(t),
                   "vs_onnxruntime_fp32": ort_fp32 / statistics.median(t),
                   "mask_agreement": float(np.mean(agree[name])) if name in agree else None}
            for name, t in times.items()}
    protocol = "interleaved" if args.block == 1 else f"interleaved blocks of {args.block}, the last timed"
    print(f"{size}x{size}, {args.threads} threads, {args.iters} timed rounds ({protocol}), cached support")
    print(f"{'configuration':24s} {'ms/query':>9s} {'x official':>11s} {'x ort FP32':>11s} {'masks = ort':>12s}")
    for name, row in rows.items():
        agreement = "" if row["mask_agreement"] is None else f"{100 * row['mask_agreement']:.3f} %"
        print(f"{name:24s} {row['median_ms']:9.1f} {row['vs_official_eager']:10.2f}x {row['vs_onnxruntime_fp32']:10.2f}x {agreement:>12s}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"img_size": size, "threads": args.threads, "iters": args.iters, "block": args.block, "rows": rows}, f, indent=2)
    for seg in segmenters.values():
        seg.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
