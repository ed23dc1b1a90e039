"""What each MODEL argument of ``hsnet-deploy bench`` stands for.

    torch | random          this toolkit's PyTorch HSNet with seeded random weights
    reference               the reference model shipped in the package (hsnet.reference_model)
    NAME.pt / NAME.pth      a PyTorch checkpoint (official best_model.pt or ours)
    NAME.onnx               an exported episode graph; when NAME.support.onnx and
                            NAME.query.onnx lie beside it, the split pair too
    NAME.support.onnx / NAME.query.onnx
                            the split pair only (cached-support configurations)

Which files a path stands for is the runtime's rule (``runtime.model_files``, naming from
the graph contract); the bench only adds its keywords and accepts ``.pt``/``.onnx``
alone. Anything else is a one-line UserError naming the argument.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from ..errors import UserError
from ..hsnet.reference_model import is_reference
from ..runtime.graph_contract import EPISODE, QUERY, SUPPORT_ENCODER, split_tag_of
from ..runtime.model_files import REFERENCE, check_input_file, resolve_model_files

RANDOM_KEYWORDS = ("torch", "random")
BENCH_SUFFIXES = (".pt", ".pth", ".onnx")


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
    if is_reference(text):  # the shipped reference model
        return ModelArgument(text, "torch", checkpoint=Path(REFERENCE))
    path = Path(text)
    suffix = path.suffix.lower()
    if not path.exists():
        raise UserError(
            f"model not found: {text} (give a .pt checkpoint, an .onnx file, '{REFERENCE}' for the "
            f"shipped reference model, or '{RANDOM_KEYWORDS[0]}' for a random-weight PyTorch model)"
        )
    check_input_file(path, "model")  # "is a folder, not a file", "is an empty file"
    if suffix not in BENCH_SUFFIXES:  # engines go to benchmarks.engine_bench, alone
        raise UserError(f"cannot benchmark {text}: expected a .pt/.pth checkpoint or an .onnx file, got '{path.suffix or path.name}'")
    files = resolve_model_files(path)  # UserError when one half of a split pair is missing
    if files.backend == "torch":
        return ModelArgument(text, "torch", checkpoint=files.paths[EPISODE])
    split = (files.paths[SUPPORT_ENCODER], files.paths[QUERY]) if files.is_split else None
    if split_tag_of(path) is not None:  # NAME.support.onnx / NAME.query.onnx: the pair only
        return ModelArgument(text, "onnx", split_graphs=split)
    episode = files.episode_beside if files.is_split else files.paths[EPISODE]
    return ModelArgument(text, "onnx", episode_graph=episode, split_graphs=split)
