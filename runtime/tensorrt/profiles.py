"""TensorRT optimisation profiles for an hsnet-deploy graph, from its metadata alone.

A TensorRT engine built from a graph with dynamic axes needs, for every input, the
smallest, the typical and the largest shape it will see (one optimisation profile).
The graph contract says which axes are dynamic: B (``hsnet_deploy.batch = dynamic``) and
K (``hsnet_deploy.shots = dynamic``, recorded range ``hsnet_deploy.shots_range``);
every other dim is fixed by backbone and image size. So

    profile[input] = (dims with B -> b.min, K -> k.min,
                      dims with B -> b.opt, K -> k.opt,
                      dims with B -> b.max, K -> k.max)

with ``b`` from ``--batch min:opt:max`` (default 1:1:1 for a dynamic B) and ``k`` from
``--shots min:opt:max`` (default: the recorded range, optimised for its smallest K).
A fixed axis accepts only its own value. The builder, the trtexec command line and the
ONNX Runtime TensorRT provider all take their shapes from here, so they cannot differ.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Optional, Sequence

from ...errors import UserError
from ..graph_contract import BATCH_DIM, GRAPH_INPUTS, SHOTS_DIM, Dim, GraphInfo

Shape = tuple[int, ...]
DEFAULT_SHOTS_MAX = 10  # a dynamic-K graph without a recorded range: K in 1..10


@dataclass(frozen=True)
class ShapeRange:
    """min <= opt <= max of one dynamic axis."""

    min: int
    opt: int
    max: int

    @classmethod
    def parse(cls, text: str, option: str) -> "ShapeRange":
        """'1:2:4' -> (1, 2, 4); a single 'N' -> (N, N, N); UserError naming ``option``."""
        parts = str(text).split(":")
        try:
            values = [int(p) for p in parts]
        except ValueError:
            values = []
        if len(values) == 1:
            values *= 3
        if len(values) != 3:
            raise UserError(f"{option} wants MIN:OPT:MAX (or one number), e.g. 1:1:4, got {text!r}")
        return cls(*values).checked(option)

    def checked(self, option: str) -> "ShapeRange":
        if not 1 <= self.min <= self.opt <= self.max:
            raise UserError(f"{option} {self}: need 1 <= MIN <= OPT <= MAX")
        return self

    def __str__(self) -> str:
        return f"{self.min}:{self.opt}:{self.max}"


def batch_range(info: GraphInfo, requested: Optional[ShapeRange]) -> ShapeRange:
    if info.batch is not None:  # exported with B = 1
        if requested is not None and requested != ShapeRange(1, 1, 1):
            raise UserError(f"--batch {requested}: {info.source} was exported with a fixed batch of 1")
        return ShapeRange(1, 1, 1)
    return requested or ShapeRange(1, 1, 1)


def shots_range(info: GraphInfo, requested: Optional[ShapeRange]) -> ShapeRange:
    if info.shots is not None:  # exported for one K
        fixed = ShapeRange(info.shots, info.shots, info.shots)
        if requested is not None and requested != fixed:
            raise UserError(f"--shots {requested}: {info.source} was exported for K = {info.shots} only")
        return fixed
    lo, hi = info.shots_range or (1, DEFAULT_SHOTS_MAX)
    if requested is None:
        return ShapeRange(lo, lo, hi)
    if info.shots_range is not None and not (lo <= requested.min and requested.max <= hi):
        raise UserError(f"--shots {requested}: {info.source} was exported for K in {lo}..{hi}")
    return requested


def profile_shapes(
    info: GraphInfo,
    batch: Optional[ShapeRange] = None,
    shots: Optional[ShapeRange] = None,
    input_dims: Optional[Mapping[str, Sequence[Dim]]] = None,
) -> dict[str, tuple[Shape, Shape, Shape]]:
    """Input name -> (min, opt, max) shape, in the graph contract's input order.

    ``input_dims``: the graph's own declared input dims (ints, and the names ``batch`` /
    ``shots`` for its dynamic axes), as read from the ONNX file; default: the contract's.
    """
    b, k = batch_range(info, batch), shots_range(info, shots)
    dims = dict(input_dims) if input_dims is not None else info.dims()
    for name in GRAPH_INPUTS[info.kind]:
        unknown = [d for d in dims.get(name, ()) if isinstance(d, str) and d not in (BATCH_DIM, SHOTS_DIM)]
        if name not in dims or unknown:
            raise UserError(f"{info.source}: input '{name}' has no contract dims (dynamic dims {unknown} are neither '{BATCH_DIM}' nor '{SHOTS_DIM}')")

    def at(name: str, pick: str) -> Shape:
        values = {BATCH_DIM: getattr(b, pick), SHOTS_DIM: getattr(k, pick)}
        return tuple(int(values[d]) if isinstance(d, str) else int(d) for d in dims[name])

    return {name: (at(name, "min"), at(name, "opt"), at(name, "max")) for name in GRAPH_INPUTS[info.kind]}


def format_shape(shape: Shape) -> str:
    """(1, 3, 400, 400) -> '1x3x400x400' (trtexec's and ONNX Runtime's spelling)."""
    return "x".join(str(int(d)) for d in shape)


def parse_shape(text: str) -> Shape:
    """'1x3x400x400' -> (1, 3, 400, 400)."""
    return tuple(int(d) for d in text.split("x"))


def format_profile(shapes: dict[str, tuple[Shape, Shape, Shape]], which: int) -> str:
    """'query_img:1x3x400x400,support_imgs:1x1x3x400x400,...' for min (0), opt (1) or max (2)."""
    return ",".join(f"{name}:{format_shape(triple[which])}" for name, triple in shapes.items())


def parse_profile(text: str) -> dict[str, Shape]:
    """The inverse of :func:`format_profile`."""
    shapes = {}
    for item in text.split(","):
        name, _, dims = item.rpartition(":")
        shapes[name] = parse_shape(dims)
    return shapes
