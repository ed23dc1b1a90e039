"""Turn a trained checkpoint into the shipped reference model, and back.

    python recipes/ship_reference.py ship runs/reference/stage2/best_model.pt OUT.npz \
        --img-size 400 --train-sizes 160,240,320,400 --synthetic-size 400 --seed 0 [--install]
    python recipes/ship_reference.py assemble OUT.npz reference_model.pt

``ship`` stores the learner as float16 (``hsnet.reference_model.write_reference``: the
npz and its JSON record with the backbone's fingerprint and the npz's SHA-256) and, with
``--install``, copies both into ``hsnet/reference_weights/`` where ``--checkpoint
reference`` finds them. ``assemble`` rebuilds the full model from the seed and the stored
learner (exactly what ``--checkpoint reference`` loads) and writes it in the official
checkpoint layout, so ``eval`` scores the shipped weights.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path


def ship(checkpoint: str, out: str, img_size: int, seed: int, install: bool, synthetic_size: int | None = None,
         train_sizes: tuple[int, ...] | None = None) -> None:
    from hsnet_deploy.hsnet import load_hsnet
    from hsnet_deploy.hsnet.checkpoint import file_sha256
    from hsnet_deploy.hsnet.reference_model import WEIGHTS, info_path, write_reference

    model = load_hsnet(checkpoint=checkpoint)
    extra = {"seed": seed, "img_size": img_size, "synthetic_size": synthetic_size or img_size,
             "train_sizes": list(train_sizes or (img_size,)), "trained_from": file_sha256(checkpoint)}
    info = write_reference(model, Path(out), extra=extra)
    print(f"wrote {out} ({Path(out).stat().st_size / 2**20:.2f} MiB) and {info_path(Path(out))}: "
          f"backbone {info['backbone_sha256'][:12]}, weights {info['weights_sha256'][:12]}")
    if WEIGHTS.is_file():
        same = file_sha256(out) == file_sha256(WEIGHTS)
        print(f"the shipped {WEIGHTS.name} is {'bit-for-bit the same' if same else 'DIFFERENT'} (SHA-256)")
    if install:
        WEIGHTS.parent.mkdir(exist_ok=True)
        shutil.copyfile(out, WEIGHTS)
        shutil.copyfile(info_path(Path(out)), info_path(WEIGHTS))
        print(f"installed as {WEIGHTS}")


def assemble(weights: str, out: str) -> None:
    from hsnet_deploy.hsnet.checkpoint import save_official_checkpoint
    from hsnet_deploy.hsnet.reference_model import load_reference

    save_official_checkpoint(load_reference(Path(weights)), out)
    print(f"wrote {out}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("ship")
    p.add_argument("checkpoint")
    p.add_argument("out")
    p.add_argument("--img-size", type=int, required=True,
                   help="the size the commands run it at when none is given (one it was trained at)")
    p.add_argument("--train-sizes", default=None, help="the sides it was trained at, e.g. 160,240,320,400 (default: --img-size)")
    p.add_argument("--seed", type=int, default=0, help="the --seed the run was trained with (default 0)")
    p.add_argument("--synthetic-size", type=int, default=None, help="the training data's --synthetic-size (default: --img-size)")
    p.add_argument("--install", action="store_true", help="also copy into hsnet/reference_weights/")
    p = sub.add_parser("assemble")
    p.add_argument("weights")
    p.add_argument("out")
    args = parser.parse_args(argv)
    from hsnet_deploy.errors import UserError

    try:
        if args.cmd == "ship":
            from hsnet_deploy.cli.int_list import parse_positive_ints

            sizes = parse_positive_ints(args.train_sizes, "--train-sizes", "160,400") if args.train_sizes else None
            ship(args.checkpoint, args.out, args.img_size, args.seed, args.install, args.synthetic_size, sizes)
        else:
            assemble(args.weights, args.out)
    except UserError as err:
        print(f"ship_reference: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
