"""``hsnet-deploy demo``: one 1-shot episode end to end, on an episode the tool generates.

Builds an HSNet (random weights unless a checkpoint is given), draws a synthetic episode
of a held-out class, runs it through the runtime's one inference path (``Segmenter`` over
the PyTorch model: support set encoded, query graph, shared pre/post-processing), prints
shapes, timing and parameter counts, and writes an overlay PNG (support with its mask |
query with the prediction | query with the ground truth).
"""

from __future__ import annotations

import argparse

HELP = "run one synthetic few-shot episode end to end and write an overlay PNG"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--backbone", default="resnet50", choices=["vgg16", "resnet50", "resnet101"])
    parser.add_argument("--checkpoint", help="HSNet checkpoint (official best_model.pt or one trained here)")
    parser.add_argument("--backbone-weights", help="torchvision backbone weight file (for learner-only checkpoints)")
    parser.add_argument("--img-size", type=int, default=400, help="network input side (default 400, the paper's)")
    parser.add_argument("--shots", type=int, default=1, help="support images K (default 1)")
    parser.add_argument("--seed", type=int, default=0, help="which synthetic episode (default 0)")
    parser.add_argument("--iters", type=int, default=3, help="timed repetitions after one warm-up (default 3)")
    parser.add_argument("-o", "--output", default="demo_overlay.png", help="overlay PNG (default demo_overlay.png)")


def _panel(episode, pred, overlay):
    """Support(s) with masks | query with prediction | query with ground truth, side by side."""
    import numpy as np
    from PIL import Image

    tiles = [overlay(img, m, colour=(255, 210, 0)) for img, m in zip(episode.support_images, episode.support_masks)]
    tiles.append(overlay(episode.query_image, pred, colour=(255, 40, 40)))
    tiles.append(overlay(episode.query_image, (episode.query_mask == 1).astype(np.uint8), colour=(40, 220, 60)))
    height = max(t.height for t in tiles)
    canvas = Image.new("RGB", (sum(t.width for t in tiles) + 8 * (len(tiles) - 1), height), (255, 255, 255))
    x = 0
    for tile in tiles:
        canvas.paste(tile, (x, 0))
        x += tile.width + 8
    return canvas


def run(args: argparse.Namespace) -> int:
    import statistics
    import time

    import torch

    from ..atomic_file import atomic_path
    from ..errors import UserError
    from ..runtime import RuntimeOptions, Segmenter, overlay, postprocess
    from ..runtime.graph_contract import SUPPORT_FEATURES
    from .checkpoint import load_hsnet
    from .data.synthetic import SyntheticFewShot
    from .image_size import check_image_size

    if args.shots < 1 or args.iters < 1:
        raise UserError("--shots and --iters must be at least 1")
    check_image_size(args.img_size, args.img_size, args.backbone)

    t0 = time.perf_counter()
    model = load_hsnet(args.backbone, args.checkpoint, args.backbone_weights)
    build_s = time.perf_counter() - t0
    episode = SyntheticFewShot(seed=args.seed, split="test", img_size=args.img_size, shot=args.shots).episode(0)

    size = args.img_size
    options = RuntimeOptions(device="cpu", img_size=size)
    times = []
    with Segmenter.from_models({"query": model}, "torch", options) as segmenter:
        for _ in range(args.iters + 1):  # one episode: support encoding + query graph
            t = time.perf_counter()
            support = segmenter.prepare_support(episode.support_images, episode.support_masks)
            query, original_size = segmenter.prepare_query(episode.query_image)  # (1, 3, S, S)
            logits = segmenter.network_logits(query, support)  # (1, K, 2, S, S)
            times.append(time.perf_counter() - t)
    pred = postprocess(logits[0], original_size)  # (h, w) uint8
    pyramid = [support.features[name] for name in SUPPORT_FEATURES]

    gt = episode.query_mask == 1
    inter, union = int((gt & (pred == 1)).sum()), int((gt | (pred == 1)).sum())
    counts = model.learnable_parameter_counts()
    total = sum(p.numel() for p in model.parameters())

    weights = f"checkpoint {args.checkpoint}" if args.checkpoint else "RANDOM weights (no --checkpoint: the mask is not meaningful)"
    print(f"HSNet-{args.backbone}, {weights}; built in {build_s:.2f} s")
    print(f"episode: synthetic test class {episode.class_id} ({episode.query_name}), K={args.shots}, network input {size}x{size}")
    print(f"  query_img      {tuple(query.shape)}")
    print(f"  support_imgs   {tuple(support.images.shape)}")
    print(f"  support_masks  {tuple(support.masks.shape)}")
    for name, level in zip(("C3 support feats", "C2 support feats", "C1 support feats"), pyramid):
        print(f"  {name} {tuple(level.shape)}   (B, K, layers, channels, h, w)")
    print(f"  logits         {tuple(logits.shape)}")
    print(f"  mask           {pred.shape} (query's original size), foreground {pred.mean() * 100:.1f} %, IoU vs truth {inter / max(union, 1):.3f}")
    print(f"time per {args.shots}-shot episode (CPU threads: {torch.get_num_threads()}): first {times[0] * 1000:.0f} ms, "
          f"median of {args.iters} {statistics.median(times[1:]) * 1000:.0f} ms")
    print("learnable parameters (learner): " + ", ".join(f"{k} {v:,}" for k, v in counts.items() if k != "total"))
    print(f"  total learnable {counts['total']:,}; with the frozen backbone {total:,}")

    with atomic_path(args.output) as tmp:
        _panel(episode, pred, overlay).save(tmp, format="PNG")
    print(f"wrote {args.output} (support+mask | query+prediction | query+truth)")
    return 0
