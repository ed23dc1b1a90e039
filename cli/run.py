"""``hsnet-deploy run``: segment query image(s) from a few annotated support images.

    hsnet-deploy run MODEL --query q.jpg --support s1.jpg --mask m1.png \
        [--support s2.jpg --mask m2.png ...] -o pred.png [--overlay overlay.png]

MODEL is a ``.onnx`` (split graphs used when present beside it), ``.engine`` or ``.pt``;
or, instead of MODEL, ``--server URL`` segments through a running ``hsnet-deploy serve``
(:class:`~hsnet_deploy.serving.client.Client`: the support set is registered once, each
query is one request; the outputs are the same).
``--query`` may be a folder: then ``-o`` (and ``--overlay``) name output folders, the
support set is encoded once and every image in the folder gets ``<name>.png``. It may be
a video file, a camera or a network stream (:mod:`.video_source`): ``-o out.mp4`` writes
the overlaid video, ``-o DIR`` one mask PNG per frame, with a live frames/s and latency
line; ``--realtime`` drops frames rather than fall behind (:mod:`.stream_run`).
Predictions are 0/255 PNGs at the query's original size. ``--ort-tensorrt-cache DIR``
runs an ``.onnx`` model through onnxruntime's TensorRT EP (engines cached in DIR);
``--memory`` and ``--cuda-graph`` are for ``.engine`` models; an option the model's
backend would ignore is an error.

The phases: check the model path, the outputs and the support set (each support file
decoded once, here) -> load the model, encode the support set -> one loop over the query
source (each query decoded once, when reached) -> write. Nothing is written before every
check has passed; in folder mode the predictions go to a hidden staging folder and move
into place only when every query has been segmented, so a corrupt query leaves nothing.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Optional

from ..errors import UserError
from ..runtime.output_plan import OutputPlan
from ..runtime.tensorrt.cuda_memory import BACKENDS as MEMORY_BACKENDS
from .backend_options import add_onnx_backend_arguments, onnx_backend_options

HELP = "segment query image(s) with a model (.onnx, .engine or .pt) and annotated support images"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", metavar="MODEL", nargs="?",
                        help="model file: .onnx (episode or split graphs), .engine or .pt (or --server instead)")
    parser.add_argument("--server", metavar="URL",
                        help="segment through a running 'hsnet-deploy serve' instead of a local MODEL: http://HOST:PORT or "
                        "grpc://HOST:PORT; several, comma-separated, are used in turn (pip install 'hsnet-deploy[triton]')")
    parser.add_argument(
        "--query", required=True, metavar="PATH",
        help="query image, folder of images, video file, camera (/dev/videoN or N), stream URL, or 'gst:PIPELINE'",
    )
    parser.add_argument(
        "--support", action="append", required=True, metavar="IMAGE",
        help="support image (repeat for K shots, each followed by its --mask)",
    )
    parser.add_argument(
        "--mask", action="append", required=True, metavar="PNG",
        help="binary mask of the preceding --support (0/1 or 0/255, same size as its image)",
    )
    parser.add_argument(
        "-o", "--output", required=True, metavar="PATH",
        help="output mask .png (0/255); a folder for a folder or stream of queries; "
        "for a stream, a video file (.mp4, .mkv, .avi) gets the overlaid video",
    )
    parser.add_argument("--overlay", metavar="PATH", help="also write the query with the mask drawn on it (.png, a folder, or a video)")
    parser.add_argument(
        "--realtime", action="store_true",
        help="stream queries: always segment the newest frame, dropping those that arrive meanwhile "
        "(a video file plays at its frame rate)",
    )
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto", help="where to run (default: auto)")
    parser.add_argument("--threads", type=int, default=None, metavar="N", help="CPU threads for onnxruntime / PyTorch (default: theirs)")
    parser.add_argument("--img-size", type=int, default=None, metavar="N",
                        help="network input size for .pt checkpoints (default: the size the model was trained at when "
                        "it records one, 'reference': 200; else 400)")
    parser.add_argument(
        "--ort-tensorrt-cache", default=None, metavar="DIR",
        help="run an .onnx model through onnxruntime's TensorRT execution provider, caching its engines in DIR",
    )
    parser.add_argument(
        "--memory", choices=MEMORY_BACKENDS, default=None,
        help="CUDA library for an .engine model's device and pinned host memory (default: auto)",
    )
    parser.add_argument("--cuda-graph", action="store_true", help="replay an .engine model's inference as a captured CUDA graph")
    add_onnx_backend_arguments(parser)


def runtime_options(args: argparse.Namespace):
    """The command's RuntimeOptions (which option applies to which backend: ``option_table``)."""
    from ..runtime.backends import RuntimeOptions

    return RuntimeOptions(
        device=args.device, threads=args.threads, img_size=args.img_size,
        tensorrt_cache=args.ort_tensorrt_cache, memory=args.memory or "auto", cuda_graph=args.cuda_graph,
        **onnx_backend_options(args),
    )


def load_support_set(images: list[str], masks: list[str]):
    """Decode every support image and mask once; (images, masks, names) for the Segmenter."""
    from ..runtime.images import load_image, load_mask
    from ..runtime.segmenter import check_support_pair

    if len(images) != len(masks):
        raise UserError(f"{len(images)} --support but {len(masks)} --mask: give one --mask after each --support")
    decoded_images, decoded_masks = [], []
    for image_path, mask_path in zip(images, masks):
        image, mask = load_image(image_path), load_mask(mask_path)
        check_support_pair(image, mask, image_path, mask_path)
        decoded_images.append(image)
        decoded_masks.append(mask)
    return decoded_images, decoded_masks, list(zip(images, masks))


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from ..runtime.model_files import resolve_model_files
    from ..runtime.query_source import open_query_source
    from ..runtime.segmenter import Segmenter
    from ..runtime.stream_run import segment_stream

    # ---- 1. check the model path, outputs and support set before loading or writing ----
    if (args.model is None) == (args.server is None):
        raise UserError("give a MODEL file, or --server URL to segment through a running 'hsnet-deploy serve' (not both)")
    if args.server is None:
        files = resolve_model_files(args.model)
        options = runtime_options(args)
    else:
        from ..serving.client import Client, parse_urls

        parse_urls(args.server)  # before anything is read
    images, masks, names = load_support_set(args.support, args.mask)
    source = open_query_source(args.query)
    overlay: Optional[Path] = Path(args.overlay) if args.overlay else None
    inputs = [*([Path(args.model)] if args.model else []), *map(Path, args.support), *map(Path, args.mask)]
    plan = OutputPlan.checked(source, Path(args.output), overlay, inputs)

    if args.realtime and not source.is_stream:
        raise UserError("--realtime is for video, camera and stream queries")

    # ---- 2. load the model and encode the support set once ------------------------------
    report = None
    try:
        with (Client(args.server) if args.server else Segmenter.load(files, options=options)) as segmenter:
            segmenter.set_support(images, masks, names=names)

            # ---- 3. one loop over the queries: segment, write --------------------------------
            with plan.writer() as writer:
                if source.is_stream:
                    print(f"query: {source.describe()}" + (" (realtime)" if args.realtime else ""))
                    report = segment_stream(segmenter, source, writer.write, realtime=args.realtime)
                else:
                    for query in tqdm(source, total=len(source), desc="segmenting", unit="image", disable=not source.is_folder):
                        writer.write(query, segmenter.segment(query.image))  # (h, w) uint8 {0, 1}
    finally:
        if source.is_stream:
            source.close()  # the camera or stream, even if the model failed to load
    if report is not None:
        print(report.summary())
    print(writer.summary())
    print(f"model: {segmenter!r}")  # backend, graphs and the precision recorded in them
    if report is not None and report.stopped is not None:
        print(f"hsnet-deploy run: stopped: {report.stopped}; kept the {report.stats.frames} frame(s) segmented before", file=sys.stderr)
        return report.exit_code
    return 0
