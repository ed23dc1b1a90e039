"""``hsnet-deploy export``: HSNet weights -> TensorRT-ready ONNX (episode graph, or + split pair).

    hsnet-deploy export --checkpoint best_model.pt -o hsnet.onnx
    hsnet-deploy export --checkpoint reference --img-size 200 --split -o reference.onnx
    hsnet-deploy export --backbone resnet50 --checkpoint best_model.pt --img-size 400 \\
        --dynamic-shots 1:10 --split -o hsnet.onnx     # + hsnet.support.onnx, hsnet.query.onnx
    hsnet-deploy export --backbone vgg16 --random-weights --seed 0 -o random.onnx   # tests only
    hsnet-deploy export --checkpoint reference --img-size 200 --split --precision int8 \
        --calib-benchmark synthetic --calib-episodes 32 -o reference.int8.onnx

Without ``--checkpoint`` the learner would be untrained: that needs ``--random-weights``
(and prints a warning), so nobody ships a random model by accident.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from ..errors import UserError
from ..export.export_options import (
    DEFAULT_IMG_SIZE,
    DEFAULT_OPSET,
    MAX_OPSET,
    MIN_OPSET,
)
from ..runtime.graph_contract import BACKBONE_NAMES, EPISODE

HELP = "export HSNet to TensorRT-ready ONNX (episode graph; --split adds support-encoder and query graphs)"


def add_arguments(parser) -> None:
    parser.add_argument("--backbone", default=None, help=f"{', '.join(BACKBONE_NAMES)} (default: inferred from the checkpoint, else resnet50)")
    parser.add_argument("--checkpoint", default=None, help="HSNet weights: official best_model.pt, a plain / learner-only state_dict, or 'reference' "
                        "(the model shipped in the package: synthetic shapes only, not for real photographs)")
    parser.add_argument("--backbone-weights", default=None, help="torchvision ImageNet weight file for the backbone (e.g. resnet50-0676ba61.pth)")
    parser.add_argument("--random-weights", action="store_true", help="no checkpoint: export a RANDOM learner (for tests and benchmarks only)")
    parser.add_argument("--seed", type=int, default=0, help="seed of --random-weights (default 0)")
    parser.add_argument("--img-size", type=int, default=None,
                        help="input height = width of the graph (default: the size the model was trained at when it "
                        "records one, 'reference': 200; else 400)")
    shots = parser.add_mutually_exclusive_group()
    shots.add_argument("--shots", type=int, default=1, help="fixed number of support images K (default 1)")
    shots.add_argument("--dynamic-shots", metavar="MIN:MAX", default=None, help="make K dynamic; MIN:MAX is recorded for TensorRT profiles (e.g. 1:10)")
    parser.add_argument("--fixed-batch", action="store_true", help="batch size fixed at 1 (default: dynamic batch)")
    parser.add_argument("--opset", type=int, default=DEFAULT_OPSET, help=f"ONNX opset, {MIN_OPSET}..{MAX_OPSET} (default {DEFAULT_OPSET})")
    parser.add_argument("--split", action="store_true", help="also write NAME.support.onnx and NAME.query.onnx (cacheable support features)")
    parser.add_argument("-o", "--output", required=True, help="output file NAME.onnx")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    from .convert import add_precision_arguments

    add_precision_arguments(parser)


def parse_shots_range(text: str) -> tuple[int, int]:
    """'1:10' -> (1, 10); UserError for anything else."""
    from ..runtime.graph_contract import parse_range

    return parse_range(text, "--dynamic-shots")


def output_paths(args) -> list[Path]:
    """Every file this export writes: NAME.onnx, and with --split the two graphs beside it."""
    from ..export.onnx_export import split_paths

    named = split_paths(args.output)  # UserError unless NAME.onnx
    return list(named.values()) if args.split else [named[EPISODE]]


def validate_args(args) -> None:
    """Every check that needs no torch, so a bad option fails at once, before any work."""
    from ..hsnet.reference_model import is_reference, recorded_img_size
    from ..output_paths import check_output_file
    from ..runtime.image_size import check_image_size, check_min_side
    from ..runtime.model_files import check_input_file
    from .convert import precision_options

    if args.backbone is not None and args.backbone not in BACKBONE_NAMES:
        raise UserError(f"unknown backbone {args.backbone!r}; choose one of {', '.join(BACKBONE_NAMES)}")
    if not MIN_OPSET <= args.opset <= MAX_OPSET:
        raise UserError(f"--opset {args.opset} is not supported: use {MIN_OPSET}..{MAX_OPSET}")
    if args.dynamic_shots is None and args.shots < 1:
        raise UserError(f"--shots must be at least 1, got {args.shots}")
    if args.dynamic_shots is not None:
        parse_shots_range(args.dynamic_shots)
    if args.checkpoint is None and not args.random_weights:
        raise UserError(
            "no --checkpoint given: pass the trained weights (--checkpoint best_model.pt), or "
            "--random-weights [--seed N] to export an untrained model for testing"
        )
    if args.checkpoint is not None and args.random_weights:
        raise UserError("--checkpoint and --random-weights exclude each other")
    inputs = [check_input_file(p, what) for p, what in ((args.checkpoint, "checkpoint"), (args.backbone_weights, "--backbone-weights"))
              if p is not None and not is_reference(p)]
    if args.img_size is None:  # the command's default, resolved once: the model's trained size, else 400
        args.img_size = recorded_img_size(args.checkpoint) or DEFAULT_IMG_SIZE
    known = args.backbone or ("resnet50" if args.random_weights or is_reference(args.checkpoint) else None)
    # a checkpoint file's backbone is known once it is read; every backbone needs MIN_SIDE
    if known is not None:
        check_image_size(args.img_size, args.img_size, known)
    else:
        check_min_side(args.img_size)
    for path in output_paths(args):
        check_output_file(path, "-o", suffixes={".onnx"}, inputs=inputs)
    precision_options(args, args.img_size)  # calibration options, before the 20 s export


def load_model(args):
    """The HSNet to export; it records the digest of its checkpoint (``hsnet.provenance``),
    "random" for --random-weights, and the exported metadata takes it from there."""
    from ..hsnet.model_source import load_model as load
    from ..runtime.image_size import check_image_size

    model = load(args.checkpoint, args.backbone, args.backbone_weights,
                 random_seed=args.seed if args.random_weights else None)
    check_image_size(args.img_size, args.img_size, model.backbone_name)
    return model.eval()


def run(args) -> int:
    validate_args(args)
    from ..export.export_options import ExportOptions
    from ..export.onnx_export import export_onnx, export_split
    from .convert import precision_options

    shots_range = parse_shots_range(args.dynamic_shots) if args.dynamic_shots else None
    shots = None if shots_range else args.shots
    if args.random_weights:
        print(
            f"WARNING: exporting RANDOM weights (seed {args.seed}): this model segments nothing; "
            "use it for tests and benchmarks only, never for deployment",
            file=sys.stderr,
        )
    start = time.perf_counter()
    model = load_model(args)
    options = ExportOptions(
        graph=EPISODE, img_size=args.img_size, shots=shots, dynamic_batch=not args.fixed_batch, opset=args.opset,
        shots_range=shots_range, progress=not args.quiet,
    ).for_model(model)
    precision = precision_options(args, args.img_size)  # the precision stage of the same pipeline
    if args.split:
        paths = list(export_split(model, args.output, options=options, precision=precision).values())
    else:
        paths = [export_onnx(model, args.output, options=options, precision=precision)]
    seconds = time.perf_counter() - start
    k = "dynamic " + args.dynamic_shots if shots_range else str(shots)
    print(f"exported {model.backbone_name} HSNet, {args.img_size}x{args.img_size}, shots {k}, "
          f"batch {'1' if args.fixed_batch else 'dynamic'}, opset {args.opset}, in {seconds:.1f} s:")
    for path in paths:
        print(f"  {path}  ({path.stat().st_size / 2**20:.1f} MiB, all checks passed)")
    return 0
