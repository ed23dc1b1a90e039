"""``hsnet-deploy train``: episodic 1-shot training of HSNet's learner on a frozen backbone.

    hsnet-deploy train --out runs/ref --img-size 96 --cache-features --iters 3000
    hsnet-deploy train --out runs/ref --iters 6000 --resume        # continue the same run
    hsnet-deploy train --benchmark pascal --datapath D --splits S --fold 0 --out runs/p0 --device cuda

Writes into ``--out``: ``best_model.pt`` (best validation mIoU, official checkpoint
layout), ``last_state.pt`` (for ``--resume``), ``log.csv``, ``train_summary.json`` and,
with ``--save-initial``, ``initial_model.pt`` (the untrained model, a baseline). The
method is described in :mod:`hsnet_deploy.hsnet.training.trainer`, the seeded model in
:mod:`hsnet_deploy.hsnet.training.seeded_model`, the cache in
:mod:`hsnet_deploy.hsnet.training.feature_cache`.
"""

from __future__ import annotations

import argparse

HELP = "train HSNet's learner episodically on a frozen backbone (1-shot, Adam, cross-entropy)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from ..hsnet.data import BENCHMARKS

    parser.add_argument("--out", required=True, metavar="DIR", help="run folder (checkpoints, state, log)")
    parser.add_argument("--benchmark", choices=BENCHMARKS, default="synthetic",
                        help="training data (default synthetic: classes 0-19; 20-29 stay held out)")
    parser.add_argument("--datapath", metavar="D", help="dataset root for pascal/coco/fss/folder")
    parser.add_argument("--val-datapath", metavar="D", help="validation folder for --benchmark folder (default: --datapath)")
    parser.add_argument("--splits", metavar="DIR", help="official split lists folder (pascal/coco/fss)")
    parser.add_argument("--fold", type=int, default=0, help="fold 0..3 for pascal/coco (default 0)")
    parser.add_argument("--synthetic-size", type=int, default=128, metavar="S",
                        help="side of the generated synthetic images (default 128)")
    parser.add_argument("--backbone", choices=("vgg16", "resnet50", "resnet101"), default="resnet50")
    parser.add_argument("--backbone-weights", metavar="FILE",
                        help="torchvision weight file for the frozen backbone (default: random from --seed)")
    parser.add_argument("--img-size", type=int, default=400, metavar="S", help="network input side (default 400)")
    parser.add_argument("--train-sizes", metavar="S,S,..",
                        help="train at these sides, one drawn per step (default: --img-size alone); not with --cache-features")
    parser.add_argument("--val-sizes", metavar="S,S,..",
                        help="validate at these sides, mIoU averaged (default: --img-size)")
    parser.add_argument("--batch-size", type=int, default=8, metavar="B", help="episodes per step (default 8)")
    parser.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate (default 1e-3, the paper's)")
    parser.add_argument("--epochs", type=int, metavar="E", help="epochs to train (default 10, unless --iters)")
    parser.add_argument("--iters", type=int, metavar="N", help="total optimizer steps, counted across --resume (takes precedence over --epochs)")
    parser.add_argument("--epoch-size", type=int, metavar="N",
                        help="training episodes per epoch (default 1000 synthetic, the trn split size otherwise)")
    parser.add_argument("--val-episodes", type=int, metavar="N",
                        help="validation episodes (default 200 synthetic, the whole val split otherwise)")
    parser.add_argument("--cache-features", action="store_true",
                        help="run the frozen backbone once over a fixed pool and train from the cached features")
    parser.add_argument("--cache-episodes", type=int, default=1000, metavar="N",
                        help="training episodes in the cached pool (default 1000; ~2 images each)")
    parser.add_argument("--cache-dtype", choices=("float16", "float32"), default="float16",
                        help="storage of the cached features (default float16)")
    parser.add_argument("--seed", type=int, default=0, help="seeds the model, the data stream and the sampling (default 0)")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto", help="where to train (default auto)")
    parser.add_argument("--threads", type=int, metavar="N",
                        help="PyTorch CPU threads (default: PyTorch's choice; 1 is much faster on a busy machine)")
    parser.add_argument("--init-from", metavar="CKPT",
                        help="start the learner from this checkpoint's learner (same backbone), e.g. one trained at a smaller --img-size")
    parser.add_argument("--resume", action="store_true", help="continue the run saved in --out (last_state.pt)")
    parser.add_argument("--save-initial", action="store_true", help="also save the untrained model as initial_model.pt")
    parser.add_argument("--tensorboard", action="store_true", help="also write TensorBoard scalars (needs tensorboard)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar or epoch lines")


def config_from_args(args: argparse.Namespace):
    from ..errors import UserError
    from ..hsnet.training.episode_sources import DataConfig, check_path
    from ..hsnet.training.trainer import TrainConfig

    if args.benchmark in ("pascal", "coco") and not 0 <= args.fold <= 3:
        raise UserError(f"--fold {args.fold} does not exist for {args.benchmark}: folds are 0, 1, 2, 3")
    if args.val_episodes is not None and args.val_episodes < 1:
        raise UserError("--val-episodes must be at least 1")
    check_path(args.datapath, "--datapath")
    check_path(args.val_datapath, "--val-datapath")
    data = DataConfig(benchmark=args.benchmark, datapath=args.datapath, val_datapath=args.val_datapath,
                      splits=args.splits, fold=args.fold, seed=args.seed,
                      synthetic_size=args.synthetic_size, val_episodes=args.val_episodes)
    return TrainConfig(out_dir=args.out, data=data, backbone=args.backbone,
                       backbone_weights=args.backbone_weights, img_size=args.img_size,
                       train_sizes=_sizes(args.train_sizes, "--train-sizes"), val_sizes=_sizes(args.val_sizes, "--val-sizes"),
                       batch_size=args.batch_size, lr=args.lr, epochs=args.epochs, iters=args.iters,
                       epoch_size=args.epoch_size, cache_features=args.cache_features,
                       cache_episodes=args.cache_episodes, cache_dtype=args.cache_dtype, seed=args.seed,
                       device=args.device, init_from=args.init_from, resume=args.resume, save_initial=args.save_initial,
                       tensorboard=args.tensorboard, progress=not args.quiet)


def _sizes(text, option: str):
    from .int_list import parse_positive_ints

    return None if text is None else parse_positive_ints(text, option, "160,288,400,480")


def set_threads(threads) -> None:
    """``torch.set_num_threads`` for --threads (None: leave PyTorch's default)."""
    from ..errors import UserError

    if threads is None:
        return
    if threads < 1:
        raise UserError(f"--threads must be at least 1, got {threads}")
    import torch

    torch.set_num_threads(threads)


def run(args: argparse.Namespace) -> int:
    from ..hsnet.training.trainer import Trainer

    config = config_from_args(args)
    set_threads(args.threads)
    summary = Trainer(config).fit()
    last = summary["last"] or {}
    print(f"best validation mIoU {summary['best_miou']:.2f} at step {summary['best_step']} "
          f"-> {summary['best_model']} ({summary['steps']} steps, {summary['elapsed_s']:.0f} s; "
          f"last val mIoU {last.get('val_miou', float('nan')):.2f})")
    return 0
