"""What each MODEL argument of ``hsnet-deploy bench`` stands for.

    torch | random          this toolkit's PyTorch HSNet with seeded random weights
    NAME.pt / NAME.pth      a PyTorch checkpoint (official best_model.pt or ours)
    NAME.onnx               an exported episode graph; when NAME.support.onnx and
                            NAME.query.onnx lie beside it, the split pair too
    NAME.support.onnx / NAME.query.onnx
                            the split pair only (cached-support configurations)

Anything else is a one-line UserError naming the argument.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from ..errors import UserError
from ..runtime.model_files import SPLIT_TAGS, split_partners

RANDOM_KEYWORDS = ("torch", "random")


@dataclass(frozen=True)
class ModelArgument:
    text: str  # as given
    kind: str  # "torch" | "onnx"
    checkpoint: Optional[Path] = None  # torch: None for random weights
    episode_graph: Optional[Path] = None  # onnx
    split_graphs: Optional[tuple[Path, Path]] = None  # onnx: (support encoder, query)

    @property
    def short_name(self) -> str:
        if self.kind == "torch":
            return self.checkpoint.name if self.checkpoint else "random weights"
        return (self.episode_graph or self.split_graphs[1]).name


def parse_model_argument(text: str) -> ModelArgument:
    if text.lower() in RANDOM_KEYWORDS:
        return ModelArgument(text, "torch")
    path = Path(text)
    suffix = path.suffix.lower()
    if not path.exists():
        raise UserError(
            f"model not found: {text} (give a .pt checkpoint, an .onnx file, or "
            f"'{RANDOM_KEYWORDS[0]}' for a random-weight PyTorch model)"
        )
    if not path.is_file():
        raise UserError(f"model is not a file: {text}")
    if suffix in (".pt", ".pth"):
        return ModelArgument(text, "torch", checkpoint=path)
    if suffix != ".onnx":
        raise UserError(f"cannot benchmark {text}: expected a .pt/.pth checkpoint or an .onnx file, got '{path.suffix or path.name}'")
    support, query = split_partners(path)
    split = (support, query) if support.is_file() and query.is_file() else None
    tagged = any(path.name[: -len(path.suffix)].endswith(tag) for tag in SPLIT_TAGS)
    if tagged:
        if split is None:
            missing = support if not support.is_file() else query
            raise UserError(f"{text} is one half of a split export; its partner {missing} is missing")
        return ModelArgument(text, "onnx", split_graphs=split)
    return ModelArgument(text, "onnx", episode_graph=path, split_graphs=split)
