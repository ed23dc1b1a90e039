"""Frames per second of ``run`` on a video, for several models side by side in one run.

    python -m hsnet_deploy.benchmarks.video_fps ref.onnx ref.int8.onnx [--frames 48]
        [--size 400] [--fps 25] [--rounds 2] [--threads N] [--json out.json]

The video is generated: the demo's held-out synthetic class, one support set and
``--frames`` query images of the same class, written as a ``size`` x ``size`` MPEG-4
file at ``--fps``. Each model goes through exactly the path ``hsnet-deploy run MODEL
--query video.mp4 -o out.mkv`` takes (reader thread, ``Segmenter.stream``, overlaid
video written), in two modes:

- every frame (``run``): frames/s, latency p50/p90, and the foreground IoU of the masks
  against the generated ground truth (the frames went through a lossy codec);
- ``--realtime``: the file played at ``--fps``; how many frames were segmented and dropped.

Rounds rotate the model order, so a drift of the machine's speed does not favour one
model; frames/s is the median over rounds and the ratio is to the first model.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from pathlib import Path

import numpy as np


def write_video(path: Path, frames: list[np.ndarray], fps: float) -> None:
    from hsnet_deploy.runtime.video_writer import VideoFileWriter

    writer = VideoFileWriter(path, fps)
    for i, frame in enumerate(frames):
        writer.write(frame, i)
    writer.commit()


def one_pass(segmenter, video: Path, truth: list[np.ndarray], out: Path, realtime: bool) -> dict:
    from hsnet_deploy.runtime.output_plan import OutputPlan
    from hsnet_deploy.runtime.stream_run import segment_stream
    from hsnet_deploy.runtime.video_source import VideoSource, parse_stream_spec

    source = VideoSource(parse_stream_spec(str(video)))
    plan = OutputPlan.checked(source, out, None, [video])
    ious: list[float] = []
    with plan.writer() as writer:

        def write(query, mask):
            want = truth[query.index] == 1  # (255 would be "ignore"; synthetic masks have none)
            ious.append(float((mask.astype(bool) & want).sum() / max(1, (mask.astype(bool) | want).sum())))
            writer.write(query, mask)

        report = segment_stream(segmenter, source, write, realtime=realtime, progress=False)
    stats = report.stats
    seconds = stats.last_done - stats.start if stats.last_done else float("nan")
    p50, p90 = np.percentile(np.asarray(stats.latencies_ms), [50, 90])
    return {
        "segmented": stats.frames, "source_frames": report.source_frames, "dropped": report.dropped,
        "frames_per_s": stats.frames / seconds, "latency_p50_ms": float(p50), "latency_p90_ms": float(p90),
        "foreground_iou": float(np.mean(ious)), "stopped": report.stopped,
    }


def main(argv=None) -> int:
    from hsnet_deploy.hsnet.data.held_out_stream import draw_stream
    from hsnet_deploy.runtime import Segmenter
    from hsnet_deploy.runtime.backends import RuntimeOptions

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+")
    parser.add_argument("--frames", type=int, default=48)
    parser.add_argument("--size", type=int, default=400)
    parser.add_argument("--fps", type=float, default=25.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)

    stream = draw_stream(seed=0, img_size=args.size, shots=1, queries=args.frames)
    truth = [e.query_mask for e in stream.queries]
    results: dict[str, dict[str, list[dict]]] = {m: {"all": [], "realtime": []} for m in args.models}
    names: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as folder:
        video = Path(folder) / "query.mp4"
        write_video(video, [e.query_image for e in stream.queries], args.fps)
        print(f"video: {args.frames} frames, {args.size}x{args.size}, {args.fps:g} frames/s ({video.stat().st_size / 1e6:.1f} MB)")
        for r in range(args.rounds):
            order = args.models[r % len(args.models):] + args.models[: r % len(args.models)]
            for model in order:
                options = RuntimeOptions(device="cpu", threads=args.threads)
                with Segmenter.load(model, options=options) as seg:
                    seg.set_support(stream.support_images, stream.support_masks)
                    names[model] = f"{Path(model).name} ({seg.precision})"
                    for mode in ("all", "realtime"):
                        out = Path(folder) / f"out_{mode}.mkv"
                        results[model][mode].append(one_pass(seg, video, truth, out, mode == "realtime"))
                print(f"round {r + 1}: {names[model]} done")

    first = statistics.median(p["frames_per_s"] for p in results[args.models[0]]["all"])
    print(f"\n{'model':<34} {'frames/s':>8} {'ratio':>6} {'p50 ms':>7} {'p90 ms':>7} {'fg IoU':>6}   realtime at {args.fps:g} frames/s")
    for model in args.models:
        every, live = results[model]["all"], results[model]["realtime"]
        fps = statistics.median(p["frames_per_s"] for p in every)
        p50 = statistics.median(p["latency_p50_ms"] for p in every)
        p90 = statistics.median(p["latency_p90_ms"] for p in every)
        dropped = [f"{p['segmented']} kept/{p['dropped']} dropped" for p in live]
        live_p50 = statistics.median(p["latency_p50_ms"] for p in live)
        print(
            f"{names[model]:<34} {fps:8.2f} {fps / first:6.2f} {p50:7.0f} {p90:7.0f} {every[0]['foreground_iou']:6.3f}   "
            f"{', '.join(dropped)} (latency p50 {live_p50:.0f} ms)"
        )
    if args.json is not None:
        args.json.write_text(json.dumps({"settings": vars(args) | {"json": str(args.json)}, "results": results}, indent=1, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
