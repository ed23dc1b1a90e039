"""Where an INT8 graph's time goes: a plain ``quantize_static`` QDQ of an FP32 graph, profiled.

The speed issue needs one INT8 figure before the precision work makes the real INT8
files: the share of a QDQ graph's time that moves data (Transpose) rather than computes.
This probe makes the plainest TensorRT-style INT8 graph onnxruntime's own quantizer
writes, as docs/protocol.md ("INT8 for TensorRT") describes it:

    onnxruntime.quantization.quantize_static(QDQ format, QInt8 activations and weights,
        per-channel weights, ActivationSymmetric=True, Conv + MatMul, MinMax calibration
        on a few synthetic episodes)

and profiles it beside its FP32 source in the same process, interleaved, through the
runtime's own session loader (same threads and graph options as ``run`` and ``bench``).
It is a measurement, not the product's INT8 path: calibration data, sensitivity and
islands are the precision issue's work.

    python -m hsnet_deploy.benchmarks.qdq_probe MODEL.onnx [--threads 2] [--runs 3]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from hsnet_deploy.benchmarks.latency_stats import median_ms_by_key
from hsnet_deploy.benchmarks.onnxruntime_stages import SessionProfile
from hsnet_deploy.benchmarks.synthetic_episode import make_episodes
from hsnet_deploy.runtime.onnxruntime.loader import OnnxSessionLoader
from hsnet_deploy.runtime.preprocess import preprocess_image, preprocess_support


def episode_feeds(session, img_size: int, count: int, seed: int = 0) -> list[dict]:
    """Network inputs of ``count`` synthetic episodes for an episode graph (K from its inputs)."""
    names = {i.name: i for i in session.get_inputs()}
    if "support_imgs" not in names:
        raise SystemExit("qdq_probe needs an episode graph (query_img, support_imgs, support_masks)")
    shots = names["support_imgs"].shape[1] if isinstance(names["support_imgs"].shape[1], int) else 1
    episodes = make_episodes(shots, seed, queries=count)
    feeds = []
    for ep in episodes:
        imgs, masks = preprocess_support(ep.support_images, ep.support_masks, img_size)
        feeds.append({
            "query_img": preprocess_image(ep.query_image, img_size)[None],
            "support_imgs": imgs,  # (1, K, 3, S, S)
            "support_masks": masks,  # (1, K, S, S)
        })
    return feeds


def quantize_plain_qdq(src: Path, dst: Path, feeds: list[dict]) -> None:
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self._it = iter(feeds)

        def get_next(self):
            return next(self._it, None)

    quantize_static(
        str(src), str(dst), Reader(), quant_format=QuantFormat.QDQ, activation_type=QuantType.QInt8,
        weight_type=QuantType.QInt8, per_channel=True, op_types_to_quantize=["Conv", "MatMul"],
        extra_options={"ActivationSymmetric": True, "WeightSymmetric": True},
    )


def profile_graphs(paths: dict, feed: dict, threads: int, runs: int) -> dict:
    """{name: {"stages": {stage: ms}, "ops": {op: ms}}}: medians over ``runs`` interleaved runs
    (one warm-up each first, dropped)."""
    profiles = {name: SessionProfile(OnnxSessionLoader(str(p), device="cpu", threads=threads)) for name, p in paths.items()}
    for _ in range(runs + 1):
        for prof in profiles.values():
            prof.session.run(None, feed)
    out = {}
    for name, prof in profiles.items():
        result = prof.finish()
        out[name] = {"stages": median_ms_by_key(result.per_stage()[1:]), "ops": median_ms_by_key(result.per_op()[1:])}
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model", help="an FP32 episode graph (hsnet-deploy export)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--calibration-episodes", type=int, default=4)
    args = parser.parse_args(argv)
    import onnxruntime as ort

    src = Path(args.model)
    probe = ort.InferenceSession(str(src), providers=["CPUExecutionProvider"])
    img_size = int(probe.get_inputs()[0].shape[-1])
    feeds = episode_feeds(probe, img_size, args.calibration_episodes + 1)
    del probe
    with tempfile.TemporaryDirectory(prefix="hsnet-qdq-") as tmp:
        qdq = Path(tmp) / "qdq.onnx"
        quantize_plain_qdq(src, qdq, feeds[1:])
        result = profile_graphs({"fp32": src, "int8 qdq": qdq}, feeds[0], args.threads, args.runs)
    for name, r in result.items():
        total = sum(r["ops"].values())
        ops = ", ".join(f"{op} {100 * ms / total:.1f}%" for op, ms in sorted(r["ops"].items(), key=lambda kv: -kv[1])[:8])
        stages = ", ".join(f"{st} {ms:.0f}" for st, ms in r["stages"].items())
        print(f"{name}: {total:.0f} ms profiled; Transpose {100 * r['ops'].get('Transpose', 0.0) / total:.1f}%\n  ops: {ops}\n  stages ms: {stages}")
    fp32, int8 = (sum(r["ops"].values()) for r in result.values())
    print(f"int8 / fp32 time: {int8 / fp32:.2f} (same process, interleaved runs)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
