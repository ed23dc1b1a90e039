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
    from ...hsnet.checkpoint import file_sha256, load_hsnet
    from ...hsnet.reference_model import WARNING, is_reference
    from ...runtime.graph_contract import RANDOM_CHECKPOINT

    if random_weights:
        from ...hsnet.random_weights import randomize_for_testing

        model = randomize_for_testing(load_hsnet("resnet50"), seed)
        return DemoModel(model.eval(), "random", f"random (seed {seed})", RANDOM_CHECKPOINT, RANDOM_WHAT)
    model = load_hsnet(None, checkpoint)
    if is_reference(checkpoint):
        return DemoModel(model.eval(), "reference", checkpoint, file_sha256(checkpoint), WARNING)
    return DemoModel(model.eval(), "checkpoint", str(checkpoint), file_sha256(checkpoint), FILE_WHAT)
