"""``hsnet-deploy eval``: mIoU / FB-IoU of any model file on few-shot benchmark episodes.

    hsnet-deploy eval MODEL --benchmark pascal --datapath D --splits S --fold 0 --nshot 1
    hsnet-deploy eval MODEL --benchmark synthetic --nshot 5 --episodes 500 --json out.json

MODEL is anything the runtime loads (``.pt``, ``.onnx`` with or without split graphs,
``.engine``), so the same episodes score every backend and precision. The protocol (seed
0, episodes in order, network-size scoring unless ``--use-original-imgsize``) is
described in :mod:`hsnet_deploy.hsnet.evaluation.evaluate`.
"""

from __future__ import annotations

import argparse
from typing import Sequence

from .backend_options import add_onnx_backend_arguments, onnx_backend_options

HELP = "score a model (.pt/.onnx/.engine) on few-shot episodes: official mIoU and FB-IoU"

FILE_LAYOUTS = {
    "pascal": "DATAPATH/VOC2012/{JPEGImages,SegmentationClassAug}",
    "coco": "DATAPATH/COCO2014/{train2014,val2014,annotations}",
    "fss": "DATAPATH/FSS-1000/<class>/N.jpg + N.png",
    "folder": "DATAPATH/<class>/<name>.jpg + <name>.png",
}
NEEDS_SPLITS = ("pascal", "coco", "fss")





def add_episode_arguments(parser: argparse.ArgumentParser, default_episodes: str = "all") -> None:
    """The episode options eval and compare share (benchmark, shots, sizes, device)."""
    from ..hsnet.data import BENCHMARKS

    parser.add_argument("--benchmark", choices=BENCHMARKS, default="synthetic",
                        help="episode source (default synthetic: the held-out test classes)")
    parser.add_argument("--datapath", metavar="D", help="dataset root (" + "; ".join(f"{k}: {v}" for k, v in FILE_LAYOUTS.items()) + ")")
    parser.add_argument("--splits", metavar="DIR", help="official split lists folder (pascal/, coco/, fss/) for pascal, coco, fss")
    parser.add_argument("--fold", type=int, default=0, help="test fold 0..3 for pascal and coco (default 0)")
    parser.add_argument("--nshot", type=int, default=1, metavar="K", help="support images per episode (default 1)")
    parser.add_argument("--episodes", type=int, metavar="N", default=None if default_episodes == "all" else int(default_episodes),
                        help=f"use only the first N episodes (default: {default_episodes}"
                        + ("; pascal/coco/synthetic 1000, fss 2400)" if default_episodes == "all" else ")"))
    parser.add_argument("--img-size", type=int, metavar="S",
                        help="network input side for .pt checkpoints (default 400; 'reference': its training size; "
                        "exported graphs fix their own)")
    parser.add_argument("--backbone", choices=("vgg16", "resnet50", "resnet101"),
                        help="backbone of a .pt checkpoint (default: inferred from its keys)")
    parser.add_argument("--synthetic-size", type=int, default=None, metavar="S",
                        help="side of the generated synthetic images (default 128; 'reference': the size it was trained on)")
    parser.add_argument("--seed", type=int, default=0, help="episode sampling seed (default 0, the official protocol)")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto", help="where to run (default auto)")
    add_onnx_backend_arguments(parser)
    parser.add_argument("--threads", type=int, metavar="N",
                        help="CPU threads of PyTorch (.pt) and onnxruntime (.onnx) (default: theirs; 1 is faster on a busy machine)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", metavar="MODEL", help="model file: .pt checkpoint, .onnx (episode or split graphs) or .engine")
    add_episode_arguments(parser)
    parser.add_argument("--use-original-imgsize", action="store_true",
                        help="resize the logits to each query's original size and score there (default: network size)")
    parser.add_argument("--json", metavar="FILE", help="write the numbers, configuration, model metadata and timing as JSON")
    parser.add_argument("--grid", metavar="PNG", help="write a picture of the first episodes (supports, truth, prediction)")
    parser.add_argument("--grid-episodes", type=int, default=4, metavar="N", help="episodes in the --grid picture (default 4)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def open_benchmark(args: argparse.Namespace, split: str = "test"):
    """The episodes named by --benchmark/--datapath/--splits/--fold/--nshot/--seed."""
    from pathlib import Path

    from ..errors import UserError
    from ..hsnet.data import open_dataset

    if args.nshot < 1:
        raise UserError(f"--nshot must be at least 1, got {args.nshot}")
    if args.episodes is not None and args.episodes < 1:
        raise UserError(f"--episodes must be at least 1, got {args.episodes}")
    if args.seed < 0:
        raise UserError(f"--seed must be 0 or more, got {args.seed}")
    if args.benchmark in FILE_LAYOUTS:
        if not args.datapath:
            raise UserError(f"--benchmark {args.benchmark} needs --datapath D ({FILE_LAYOUTS[args.benchmark]})")
        if not Path(args.datapath).is_dir():
            raise UserError(f"--datapath {args.datapath} is not a folder")
    if args.benchmark in NEEDS_SPLITS and not args.splits:
        raise UserError(f"--benchmark {args.benchmark} needs --splits DIR, the official split lists "
                        "(pascal/{trn,val}/foldN.txt, coco/{trn,val}/foldN.pkl, fss/{trn,val,test}.txt)")
    if args.benchmark in ("pascal", "coco") and not 0 <= args.fold <= 3:
        raise UserError(f"--fold {args.fold} does not exist for {args.benchmark}: folds are 0, 1, 2, 3")
    return open_dataset(args.benchmark, args.datapath, args.splits, fold=args.fold, split=split,
                        shot=args.nshot, seed=args.seed, n_episodes=args.episodes,
                        img_size=args.synthetic_size)


def reference_defaults(args: argparse.Namespace, models: Sequence[str]) -> None:
    """The synthetic image size when none is given: the one a recorded model (the
    reference) was trained on, else 128. (Its network size needs nothing here: a model that
    records its training size runs at it unless --img-size says otherwise.)"""
    from ..hsnet.reference_model import is_reference, read_info

    if args.synthetic_size is None:
        recorded = [int(read_info().get("synthetic_size", 128)) for m in models if is_reference(str(m))]
        args.synthetic_size = recorded[0] if recorded else 128


def run(args: argparse.Namespace) -> int:
    import json
    import math
    import sys

    from .. import __version__
    from ..atomic_file import write_text_atomic
    from ..errors import UserError
    from ..hsnet.evaluation.evaluate import SegmenterPredictor, evaluate
    from ..output_paths import check_output_file
    from ..runtime import RuntimeOptions, Segmenter
    from ..runtime.model_files import input_set, resolve_model_files

    if args.grid_episodes < 1:
        raise UserError("--grid-episodes must be at least 1")
    inputs = input_set(args.model)
    for out, flag, suffix in ((args.json, "--json", ".json"), (args.grid, "--grid", ".png")):
        if out:
            check_output_file(out, flag, suffixes={suffix}, inputs=inputs)
    reference_defaults(args, [args.model])
    dataset = open_benchmark(args)  # the episode options, then the model: a split set is one export
    model_files = resolve_model_files(args.model)
    if args.threads is not None and args.threads < 1:
        raise UserError(f"--threads must be at least 1, got {args.threads}")
    # threads reach every backend through the runtime's loaders: onnxruntime's intra-op
    # threads; for a .pt the loader calls torch.set_num_threads before loading the model
    options = RuntimeOptions(device=args.device, threads=args.threads, img_size=args.img_size, backbone=args.backbone,
                             **onnx_backend_options(args))
    with Segmenter.load(model_files, options=options) as seg:
        if seg.shots is not None and seg.shots != args.nshot:
            raise UserError(f"the model was exported for {seg.shots}-shot episodes but --nshot is {args.nshot}; "
                            f"export it with dynamic or {args.nshot} shots")
        predictor = SegmenterPredictor(seg)
        if not args.quiet:
            print(f"{seg!r}: {args.benchmark} {args.nshot}-shot, {min(len(dataset), args.episodes or len(dataset))} "
                  f"episodes, {'original' if args.use_original_imgsize else 'network'}-size scoring", file=sys.stderr)
        result = evaluate(predictor, dataset, args.use_original_imgsize, args.episodes,
                          grid_path=args.grid, grid_count=args.grid_episodes, progress=not args.quiet)
        model_info = {
            "path": str(args.model),
            "backend": seg.backend,
            "graphs": list(seg.runners),
            "img_size": seg.img_size,
            "shots": seg.shots if seg.shots is not None else "dynamic",
            "metadata": seg.metadata,
        }
    timing = result.timing()
    coverage = result.coverage_note()
    print(f"mIoU {result.miou:.2f}  FB-IoU {result.fbiou:.2f}  " + (coverage + "  " if coverage else "")
          + f"({result.episodes} episodes, {timing['episodes_per_s']:.2f} episodes/s, "
          f"model {timing['model_ms_per_episode']:.1f} ms/episode)")
    if args.json:
        report = {
            "miou": result.miou,
            "fbiou": result.fbiou if math.isfinite(result.fbiou) else None,
            "episodes": result.episodes,
            "classes_without_episodes": result.classes_without_episodes,
            "miou_sampled_classes": result.miou_sampled_classes,  # mean over the classes that had an episode
            "class_iou": result.summary["class_iou"],
            "class_episodes": result.summary["class_episodes"],
            "config": {
                "benchmark": args.benchmark,
                "datapath": args.datapath,
                "splits": args.splits,
                "fold": args.fold if args.benchmark in ("pascal", "coco") else None,
                "nshot": args.nshot,
                "seed": args.seed,
                "use_original_imgsize": bool(args.use_original_imgsize),
                "synthetic_size": args.synthetic_size if args.benchmark == "synthetic" else None,
                "device": args.device,
                "threads": args.threads,
                "class_ids": [int(c) for c in dataset.class_ids],
            },
            "model": model_info,
            "timing": timing,
            "grid": {"path": args.grid, "episodes": result.grid_episodes} if args.grid else None,
            "hsnet_deploy_version": __version__,
        }
        write_text_atomic(args.json, json.dumps(report, indent=2) + "\n")
    return 0
