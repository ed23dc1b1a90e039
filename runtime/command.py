"""``hsnet-deploy run``: segment query image(s) from a few annotated support images.

    hsnet-deploy run MODEL --query q.jpg --support s1.jpg --mask m1.png \
        [--support s2.jpg --mask m2.png ...] -o pred.png [--overlay overlay.png]

MODEL is a ``.onnx`` (split graphs used when present beside it), ``.engine`` or ``.pt``.
``--query`` may be a folder: then ``-o`` (and ``--overlay``) name output folders, the
support set is encoded once and every image in the folder gets ``<name>.png``.
Predictions are 0/255 PNGs at the query's original size. Every input is checked before
anything is written, and each file is written atomically.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Optional

HELP = "segment query image(s) with a model (.onnx, .engine or .pt) and annotated support images"

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", metavar="MODEL", help="model file: .onnx (episode or split graphs), .engine or .pt")
    parser.add_argument("--query", required=True, metavar="PATH", help="query image, or a folder of query images")
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
        help="output mask .png (0/255), or a folder when --query is a folder",
    )
    parser.add_argument("--overlay", metavar="PATH", help="also write the query with the mask drawn on it (.png, or a folder)")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto", help="where to run (default: auto)")
    parser.add_argument("--img-size", type=int, default=None, metavar="N", help="network input size for .pt checkpoints (default 400)")


def _list_queries(folder: Path) -> list[Path]:
    from ..errors import UserError

    files = sorted(
        p for p in folder.iterdir()
        if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in IMAGE_SUFFIXES
    )
    if not files:
        raise UserError(f"query folder {folder} holds no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
    stems: dict[str, Path] = {}
    for p in files:
        if p.stem in stems:
            raise UserError(f"query images {stems[p.stem].name} and {p.name} would both be written as {p.stem}.png")
        stems[p.stem] = p
    return files


def _check_png_target(path: Path, what: str, inputs: list[Path]) -> None:
    from ..errors import UserError

    if path.suffix.lower() != ".png":
        raise UserError(f"{what} {path} must be a .png file")
    if path.is_dir():
        raise UserError(f"{what} {path} is a folder; pass a .png file name")
    folder = path.parent
    if not folder.is_dir():
        raise UserError(f"output folder does not exist: {folder}")
    if any(path.resolve() == p.resolve() for p in inputs):
        raise UserError(f"{what} {path} would overwrite an input file")


def _check_output_folder(path: Path, what: str, query_folder: Path) -> None:
    from ..errors import UserError

    if path.exists() and not path.is_dir():
        raise UserError(f"{what} {path} must be a folder when --query is a folder")
    if path.resolve() == query_folder.resolve():
        raise UserError(f"{what} folder {path} is the query folder; write predictions elsewhere")


def _write_png(target: Path, image) -> None:
    from ..atomic_file import atomic_path

    with atomic_path(target) as tmp:
        image.save(tmp, format="PNG")


def run(args: argparse.Namespace) -> int:
    import numpy as np
    from PIL import Image
    from tqdm import tqdm

    from ..errors import UserError
    from .images import load_image, load_mask
    from .model_files import resolve_model_files
    from .overlay import overlay
    from .segmenter import Segmenter, check_support_pair

    # ---- 1. check every input and output location before loading or writing ---------
    resolve_model_files(args.model)
    if len(args.support) != len(args.mask):
        raise UserError(
            f"{len(args.support)} --support but {len(args.mask)} --mask: give one --mask after each --support"
        )
    for image_path, mask_path in zip(args.support, args.mask):
        check_support_pair(load_image(image_path), load_mask(mask_path), image_path, mask_path)
    query_path = Path(args.query)
    if not query_path.exists():
        raise UserError(f"query not found: {query_path}")
    output = Path(args.output)
    overlay_out: Optional[Path] = Path(args.overlay) if args.overlay else None
    inputs = [query_path, Path(args.model), *map(Path, args.support), *map(Path, args.mask)]
    folder_mode = query_path.is_dir()
    if folder_mode:
        queries = _list_queries(query_path)
        _check_output_folder(output, "output", query_path)
        if overlay_out is not None:
            _check_output_folder(overlay_out, "overlay", query_path)
            if overlay_out.resolve() == output.resolve():
                raise UserError("--overlay and -o must be different folders (file names would clash)")
        inputs = [Path(args.model), *map(Path, args.support), *map(Path, args.mask)]
        for folder in [output] + ([overlay_out] if overlay_out is not None else []):
            for q in queries:
                if any((folder / f"{q.stem}.png").resolve() == p.resolve() for p in inputs):
                    raise UserError(f"writing {folder / (q.stem + '.png')} would overwrite an input file")
        for q in queries:  # decode every query now: a corrupt one fails before any write
            load_image(q)
    else:
        queries = [query_path]
        _check_png_target(output, "output", inputs)
        if overlay_out is not None:
            _check_png_target(overlay_out, "overlay", inputs)
            if overlay_out.resolve() == output.resolve():
                raise UserError("--overlay and -o name the same file")

    # ---- 2. load the model and encode the support set once -----------------------------
    with Segmenter.load(args.model, device=args.device, img_size=args.img_size) as segmenter:
        segmenter.set_support(args.support, args.mask)

        # ---- 3. predict and write ------------------------------------------------------
        if folder_mode:
            output.mkdir(parents=True, exist_ok=True)
            if overlay_out is not None:
                overlay_out.mkdir(parents=True, exist_ok=True)
        progress = tqdm(queries, desc="segmenting", unit="image", disable=not folder_mode)
        for q in progress:
            image = load_image(q)
            mask = segmenter.segment(image)  # (h, w) uint8 {0, 1}
            target = output / f"{q.stem}.png" if folder_mode else output
            _write_png(target, Image.fromarray((mask * np.uint8(255)).astype(np.uint8)))
            if overlay_out is not None:
                target = overlay_out / f"{q.stem}.png" if folder_mode else overlay_out
                _write_png(target, overlay(image, mask))
    if not folder_mode:
        print(f"wrote {output}" + (f" and {overlay_out}" if overlay_out else ""))
    else:
        print(f"wrote {len(queries)} mask(s) to {output}" + (f" and overlays to {overlay_out}" if overlay_out else ""))
    return 0
