"""``hsnet-deploy demo``: the deployment path in about a minute (a thin layer over
:func:`hsnet_deploy.cli.demo.pipeline.run_demo`).

The shipped reference model -> ONNX export of the split graphs -> a stream of held-out
synthetic queries against one cached support set through the torch-free runtime ->
latency p50/p90, the stream's mIoU, torch-vs-ONNX mask agreement and a PNG grid.
"""

from __future__ import annotations

import argparse
import textwrap
from pathlib import Path

from ...hsnet.reference_model import WARNING
from ..backend_options import add_onnx_backend_arguments, onnx_backend_options
from .settings import (
    DEFAULT_GRID_ROWS,
    DEFAULT_QUERIES,
    DEFAULT_THREADS,
    DEMO_IMG_SIZE,
)

HELP = "the deployment path in about a minute: shipped model -> ONNX -> torch-free runtime on synthetic queries"

_WHAT = textwrap.fill(
    f"What the default model is: {WARNING}. It ships in the package; its learner was trained on the synthetic "
    "dataset's training classes, and the demo runs it on held-out ones. Real images need an official HSNet "
    "checkpoint (best_model.pt): --checkpoint FILE.",
    width=100,
)

DESCRIPTION = f"""\
{HELP}.

  1. load the model (torch): --checkpoint reference (default), a checkpoint FILE, or --random-weights
  2. export the split ONNX graphs (NAME.support.onnx, NAME.query.onnx; fixed K, dynamic batch)
     into --export-dir, or into a temporary folder removed afterwards
  3. open them in onnxruntime on the CPU (the runtime is torch-free), encode one support set once
     (held-out synthetic episode 0) and run --queries queries of its class one at a time through segment()
  4. run the same stream through the torch model for the torch-vs-ONNX mask agreement
  5. report latency p50/p90 (first query = warm-up, shown alone), queries/s, the stream's mIoU / FB-IoU,
     the agreement, and write a PNG grid of the first {DEFAULT_GRID_ROWS} queries (and --json)

{_WHAT}
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = DESCRIPTION
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    weights = parser.add_mutually_exclusive_group()
    weights.add_argument("--checkpoint", metavar="reference|FILE",
                         help="the model to deploy (default: reference, the model shipped in the package)")
    weights.add_argument("--random-weights", action="store_true",
                         help="untrained random weights (seed --seed) instead: the masks and mIoU mean nothing, "
                              "and the output says RANDOM")
    parser.add_argument("--img-size", type=int, metavar="N",
                        help=f"network input side (default {DEMO_IMG_SIZE}, about a minute on a CPU; the reference "
                             "model segments at every side from 160 to 480: --img-size 400 is the paper's size)")
    parser.add_argument("--shots", type=int, default=1, metavar="K", help="support images K (default 1)")
    parser.add_argument("--queries", type=int, default=DEFAULT_QUERIES, metavar="N",
                        help=f"queries in the stream, the first one a warm-up (default {DEFAULT_QUERIES}, at least 2)")
    parser.add_argument("--export-dir", type=Path, metavar="DIR",
                        help="keep the exported graphs in DIR (created if missing, in an existing folder; "
                             "default: a temporary folder, removed afterwards)")
    parser.add_argument("--seed", type=int, default=0, metavar="S",
                        help="which synthetic episodes (and the random weights' seed) (default 0)")
    parser.add_argument("--threads", type=int, default=DEFAULT_THREADS, metavar="N",
                        help=f"CPU threads for torch and onnxruntime (default {DEFAULT_THREADS}: two threads on a busy "
                             "2-core machine are much slower; on an idle one 2 is somewhat faster)")
    parser.add_argument("-o", "--output", type=Path, default=Path("demo_grid.png"), metavar="PNG",
                        help="the episode grid (default demo_grid.png)")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the results as JSON")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    add_onnx_backend_arguments(parser)
    parser.add_argument("--write-images", type=Path, metavar="DIR",
                        help="instead of the demo: write the held-out synthetic classes' images and masks as "
                             f"DIR/<class>/NNN.jpg + NNN.png ({IMAGES_PER_CLASS} a class), to try `run` and "
                             "`eval --benchmark folder --datapath DIR` on files")


IMAGES_PER_CLASS = 10
def write_images(args: argparse.Namespace) -> int:
    """``--write-images DIR``: the held-out synthetic classes in the folder layout, at the
    reference model's synthetic size unless --img-size says otherwise."""
    from ...hsnet.data.synthetic import SyntheticFewShot
    from ...hsnet.reference_model import read_info
    from ...output_paths import check_output_folder

    root = check_output_folder(args.write_images, "--write-images")
    size = args.img_size or int(read_info().get("synthetic_size", DEMO_IMG_SIZE))
    SyntheticFewShot(seed=args.seed, split="test", img_size=size).write(root, IMAGES_PER_CLASS, progress=not args.quiet)
    first = sorted(p for p in root.iterdir() if p.is_dir())[0]
    print(f"wrote {IMAGES_PER_CLASS} images + masks ({size}x{size}) per held-out class to {root}/<class>/; try:\n"
          f"  hsnet-deploy run reference --query {first}/001.jpg --support {first}/000.jpg --mask {first}/000.png -o pred.png")
    return 0


def settings_from_args(args: argparse.Namespace):
    from .settings import DemoSettings

    return DemoSettings(
        checkpoint=args.checkpoint, random_weights=args.random_weights, img_size=args.img_size,
        shots=args.shots, queries=args.queries, export_dir=args.export_dir, seed=args.seed,
        threads=args.threads, grid=args.output, json=args.json, onnx_backend=onnx_backend_options(args),
    )


def run(args: argparse.Namespace) -> int:
    if args.write_images is not None:
        return write_images(args)
    from .pipeline import run_demo
    from .result import report_lines
    from .settings import resolve_settings

    settings = resolve_settings(settings_from_args(args))  # every input checked before any work
    result = run_demo(settings, progress=not args.quiet)
    print("\n".join(report_lines(result)))
    return 0
