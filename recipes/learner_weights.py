"""Ship a model trained on a seeded random backbone as its learner weights only (~10 MB).

The reference model's backbone is not trained: it is rebuilt bit for bit from the seed
(``hsnet_deploy.hsnet.training.seeded_model``). So the learner (2.57 M parameters) is all
that must be stored; the full official checkpoint (~110 MB) is assembled again locally.

    python recipes/learner_weights.py extract runs/reference/best_model.pt reference_learner.pt
    python recipes/learner_weights.py assemble reference_learner.pt best_model.pt

``extract`` writes a learner-only state_dict (keys ``encoder_layer4.0.conv1.weight``, ...;
the layout ``load_hsnet`` accepts with ``backbone_weights``) and ``NAME.json`` beside it
with the backbone name, the seed and the SHA-256 fingerprint of the backbone. ``assemble``
rebuilds that backbone from the seed, refuses if its fingerprint differs (e.g. another
PyTorch draws different numbers), and writes the official checkpoint.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def extract(checkpoint: str, out: str, seed: int) -> None:
    import torch

    from hsnet_deploy.atomic_file import atomic_path, write_text_atomic
    from hsnet_deploy.hsnet import load_hsnet
    from hsnet_deploy.hsnet.training.seeded_model import backbone_fingerprint

    model = load_hsnet(checkpoint=checkpoint)
    with atomic_path(out) as tmp:
        torch.save({k: v.clone() for k, v in model.hpn_learner.state_dict().items()}, tmp)
    meta = {"backbone": model.backbone_name, "seed": seed, "backbone_sha256": backbone_fingerprint(model),
            "source": str(checkpoint)}
    write_text_atomic(Path(out).with_suffix(".json"), json.dumps(meta, indent=2) + "\n")


def assemble(learner: str, out: str) -> None:
    import torch

    from hsnet_deploy.errors import UserError
    from hsnet_deploy.hsnet.checkpoint import save_official_checkpoint
    from hsnet_deploy.hsnet.training.seeded_model import build_model
    from hsnet_deploy.hsnet.training.seeded_model import backbone_fingerprint

    meta = json.loads(Path(learner).with_suffix(".json").read_text())
    model = build_model(meta["backbone"], meta["seed"])
    if backbone_fingerprint(model) != meta["backbone_sha256"]:
        raise UserError("the backbone rebuilt from the seed differs from the trained one "
                        "(different PyTorch random streams?): use the full checkpoint instead")
    model.hpn_learner.load_state_dict(torch.load(learner, map_location="cpu", weights_only=True))
    save_official_checkpoint(model, out)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("extract")
    p.add_argument("checkpoint")
    p.add_argument("out")
    p.add_argument("--seed", type=int, default=0, help="the --seed the run was trained with (default 0)")
    p = sub.add_parser("assemble")
    p.add_argument("learner")
    p.add_argument("out")
    args = parser.parse_args(argv)
    from hsnet_deploy.errors import UserError

    try:
        extract(args.checkpoint, args.out, args.seed) if args.cmd == "extract" else assemble(args.learner, args.out)
    except UserError as err:
        print(f"learner_weights: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
