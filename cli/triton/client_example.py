"""Client for the Triton model repository that ``hsnet-deploy triton-repo`` writes: encode a
support set once (model ``hsnet_support_encoder``), then stream queries against those
features (model ``hsnet_query``, dynamically batched across clients by the server).

    tritonserver --model-repository REPO &
    python REPO/client_example.py --url localhost:8000 \\
        --support s1.jpg --mask s1.png [--support s2.jpg --mask s2.png] q1.jpg q2.jpg ...

``--size`` defaults to the export's image size, which ``triton-repo`` writes into the copy
it puts in REPO (``IMG_SIZE`` below). Pre- and post-processing are hsnet-deploy's own pure
functions (torch-free runtime), so the masks equal those of ``hsnet-deploy run`` on the
same files. Needs ``tritonclient[http]`` (with gevent), imported only once the arguments
are read, so ``--help`` works without it.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

SUPPORT_MODEL, QUERY_MODEL = "hsnet_support_encoder", "hsnet_query"
IMG_SIZE = None  # the export's image size: hsnet-deploy triton-repo writes it here
FEATURES = ("support_c3", "support_c2", "support_c1")


def _infer(client, triton, model: str, arrays: dict, outputs) -> dict:
    inputs = []
    for name, array in arrays.items():
        item = triton.InferInput(name, list(array.shape), "FP32" if array.dtype == np.float32 else "UINT8")
        item.set_data_from_numpy(array)
        inputs.append(item)
    result = client.infer(model, inputs, outputs=[triton.InferRequestedOutput(n) for n in outputs])
    return {n: result.as_numpy(n) for n in outputs}


def encode_support(client, triton, images, masks, size: int) -> dict:
    """Support images (H, W, 3) uint8 and binary masks (H, W) -> the support features."""
    from hsnet_deploy.runtime import preprocess_support

    support_imgs, support_masks = preprocess_support(images, masks, size)  # (1, K, 3, S, S), (1, K, S, S)
    return _infer(client, triton, SUPPORT_MODEL, {"support_imgs": support_imgs, "support_masks": support_masks}, FEATURES)


def segment(client, triton, image, features: dict, size: int) -> np.ndarray:
    """One query (H, W, 3) uint8 -> its mask (H, W) uint8 in {0, 1}."""
    from hsnet_deploy.runtime import postprocess, preprocess_image

    query = preprocess_image(image, size)[None]  # (1, 3, S, S)
    out = _infer(client, triton, QUERY_MODEL, {"query_img": query, **features}, ("logits",))
    return postprocess(out["logits"][0], image.shape[:2])


def _import_triton(parser: argparse.ArgumentParser):
    """tritonclient.http, or exit 2 with one line saying what to install."""
    try:
        import tritonclient.http as triton
    except (ImportError, RuntimeError) as err:  # tritonclient raises RuntimeError when gevent is missing
        reason = str(err.__cause__ or err).strip().splitlines()[0]
        parser.exit(2, f"{parser.prog}: error: needs tritonclient[http]: pip install 'tritonclient[http]' ({reason})\n")
    return triton


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    parser.add_argument("queries", nargs="+", metavar="QUERY", help="query images")
    parser.add_argument("--url", default="localhost:8000", help="the server's HTTP endpoint (default localhost:8000)")
    parser.add_argument(
        "--size", type=int, default=IMG_SIZE, required=IMG_SIZE is None,
        help="the export's image size" + (f" (default {IMG_SIZE}, the export's)" if IMG_SIZE else ""),
    )
    parser.add_argument("--support", action="append", required=True, help="a support image (repeat for K shots)")
    parser.add_argument("--mask", action="append", required=True, help="its binary mask (one per --support)")
    parser.add_argument("--out", default=".", help="folder for the <query>.mask.png files")
    args = parser.parse_args(argv)
    if args.size < 1:
        parser.error(f"--size must be at least 1, got {args.size}")
    if len(args.support) != len(args.mask):
        parser.error("give one --mask per --support")
    triton = _import_triton(parser)
    from hsnet_deploy.runtime.images import load_image, load_mask
    from PIL import Image

    client = triton.InferenceServerClient(url=args.url)
    features = encode_support(client, triton, [load_image(p) for p in args.support], [load_mask(p) for p in args.mask], args.size)
    for path in args.queries:
        mask = segment(client, triton, load_image(path), features, args.size)
        Image.fromarray(mask * 255).save(Path(args.out) / (Path(path).stem + ".mask.png"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
