"""Do OpenVINO and onnxruntime give the same masks from the same file? Pixel agreement
over held-out episodes, each file run by both backends through the runtime's Segmenter.

    python tools/research/openvino_agreement.py r400.onnx r400.int8.onnx --episodes 1000 --json out.json

Episodes: the synthetic benchmark's held-out classes (seed 0, in order), rendered at
``--synthetic-size`` (default: the reference record's), K-shot; each episode's support set
is encoded by each backend, then its query segmented (mask at the query's size, after the
K-shot vote). Reported per file: the share of equal mask pixels, the foreground IoU between
the two backends' masks, and the episodes whose masks differ at all. ``compare`` cannot
do this: it runs both of its files on one backend.
"""

from __future__ import annotations

import argparse
import json
import sys


def agreement(path: str, dataset, threads: int, progress: bool = True) -> dict:
    from hsnet_deploy.hsnet.evaluation.compare import MaskAgreement
    from hsnet_deploy.runtime import RuntimeOptions, Segmenter
    from tqdm import tqdm

    options = {name: RuntimeOptions(device="cpu", threads=threads, **extra)
               for name, extra in (("onnxruntime", {}), ("openvino", {"onnx_backend": "openvino"}))}
    masks = MaskAgreement()
    with Segmenter.load(path, options=options["onnxruntime"]) as ort, \
            Segmenter.load(path, options=options["openvino"]) as ov:
        for i in tqdm(range(len(dataset)), desc=path, unit="episode", disable=not progress):
            ep = dataset.episode(i)  # generated on demand: 1000 episodes at 400x400 would hold ~1 GB
            masks.add(*(s.segment(ep.query_image, ep.support_images, ep.support_masks) for s in (ort, ov)))
    return {"file": path, "episodes": len(dataset), "pixel_agreement_pct": 100.0 * masks.agreement,
            "foreground_iou_pct": 100.0 * (masks.iou or 0.0), "episodes_with_any_difference": masks.differing}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", help="ONNX files (split exports: NAME.onnx)")
    parser.add_argument("--episodes", type=int, default=100)
    parser.add_argument("--shots", type=int, default=1)
    parser.add_argument("--synthetic-size", type=int, default=None)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)

    from hsnet_deploy.hsnet.data.synthetic import SyntheticFewShot
    from hsnet_deploy.hsnet.reference_model import read_info

    size = args.synthetic_size or int(read_info().get("synthetic_size", 200))
    data = SyntheticFewShot(seed=0, split="test", img_size=size, shot=args.shots, n_episodes=args.episodes)
    rows = [agreement(path, data, args.threads) for path in args.files]
    for r in rows:
        print(f"{r['file']}: {r['pixel_agreement_pct']:.3f} % of pixels equal, foreground IoU "
              f"{r['foreground_iou_pct']:.2f} %, {r['episodes_with_any_difference']}/{r['episodes']} episodes differ")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"synthetic_size": size, "shots": args.shots, "threads": args.threads, "rows": rows}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
