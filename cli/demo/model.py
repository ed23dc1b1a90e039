"""The model the demo deploys, and the plain words that say what it is.

    reference        the HSNet shipped in the package (``load_hsnet("reference")``)
    checkpoint FILE  an official ``best_model.pt`` or one trained here
    random weights   only with ``--random-weights``: ``randomize_for_testing(seed)``;
                     every accuracy the demo reports then says RANDOM
"""

from __future__ import annotations

from dataclasses import dataclass

RANDOM_WHAT = ("RANDOM weights (--random-weights): the masks and their mIoU mean nothing; "
               "use it to try the pipeline only")
FILE_WHAT = ("a checkpoint file; the demo scores it on synthetic shapes, which says little about how it "
             "does on real images")


@dataclass
class DemoModel:
    """An eval-mode HSNet on the CPU and what the outputs must say about it."""

    model: object  # HSNet
    weights: str  # "reference" | "checkpoint" | "random"
    checkpoint: str  # "reference", the file's path, or "random (seed N)"
    checkpoint_sha256: str  # recorded in the exported graphs' metadata
    what: str  # one sentence: what the model is (reference_model.WARNING for the reference)

    @property
    def is_random(self) -> bool:
        return self.weights == "random"

    @property
    def backbone(self) -> str:
        return str(self.model.backbone_name)


def load_demo_model(checkpoint: str | None, random_weights: bool, seed: int) -> DemoModel:
    """Load (or draw) the model of resolved settings: ``checkpoint`` None iff random."""
    from ...hsnet.model_source import load_model, weights_digest
    from ...hsnet.reference_model import WARNING, is_reference

    if random_weights:
        model = load_model(None, "resnet50", random_seed=seed)
        return DemoModel(model.eval(), "random", f"random (seed {seed})", weights_digest(model), RANDOM_WHAT)
    model = load_model(checkpoint)
    if is_reference(checkpoint):
        return DemoModel(model.eval(), "reference", checkpoint, weights_digest(model), WARNING)
    return DemoModel(model.eval(), "checkpoint", str(checkpoint), weights_digest(model), FILE_WHAT)
