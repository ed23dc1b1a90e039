"""Export an HSNet to TensorRT-ready ONNX: the episode graph, or the split pair.

Pipeline for one graph (:func:`build_onnx`):

1. copy the model's learner and swap its GroupNorms for :class:`ExplicitGroupNorm`
   (the backbone is shared, not copied; the caller's model is never modified);
2. trace with PyTorch's TorchScript exporter (``dynamo=False``) at the fixed H = W,
   with B (and K when ``shots=None``) declared dynamic; batch-norms fold into the convs;
3. clean (:func:`graph_cleanup.clean_graph`): constant reshape targets, resizes as
   constant MatMuls, constants folded, shapes inferred;
4. attach the provenance metadata and run every check of :func:`check_onnx`; a graph
   that fails a check is never written.

Why the tracer and not ``dynamo=True``: measured on this model (torch 2.13, onnxscript
0.7.2, ResNet50 at 128, dynamic batch) the dynamo exporter emitted 52 GatherND + 26
Gather nodes (it decomposes every linear/bilinear interpolation into index gathers,
aten._unsafe_index / aten.select, and traced the mask-resize weights as computation
instead of constants), InstanceNormalization for GroupNorm and unfused
BatchNormalization, and could not produce opset 17 (it exports 18 and its
down-conversion failed); it also took 48 s against 8 s. The tracer keeps the model's
constants, gives Slices for the strided support dims, folds batch-norm into the convs,
and what it leaves untidy (shape arithmetic on the batch dim, Resize with computed sizes)
is removed by the cleaning passes and verified by the checks.

Files are written atomically (:mod:`hsnet_deploy.atomic_file`); the split export writes
all three files or none.
"""

from __future__ import annotations

import contextlib
import copy
import io
import warnings
from pathlib import Path
from typing import Optional

from ..atomic_file import atomic_path
from ..errors import UserError
from ..runtime.graph_contract import (
    EPISODE,
    GRAPH_INPUTS,
    GRAPH_KINDS,
    GRAPH_OUTPUTS,
    RANDOM_CHECKPOINT,
    SUPPORT_ENCODER,
    dynamic_axes,
    graph_metadata,
    tensor_dims,
    valid_checkpoint_digest,
)
from ..runtime.graph_contract import split_paths as contract_split_paths

MIN_OPSET, MAX_OPSET = 17, 20  # tested range; torch's tracer stops at 20, TensorRT 10 parses 9..24
DEFAULT_OPSET = 17
EXAMPLE_BATCH, EXAMPLE_SHOTS = 2, 2  # traced sizes of dynamic dims (never 1: a 1 could be taken for a broadcast)
STAGES = ("trace", "clean", "check")  # progress steps per graph


class ExportCheckFailed(RuntimeError):
    """A freshly exported graph failed a check: a bug in the exporter, nothing is written."""


def split_paths(path) -> dict[str, Path]:
    """NAME.onnx -> {episode: NAME.onnx, support_encoder: NAME.support.onnx, query: NAME.query.onnx}."""
    path = Path(path)
    if path.suffix != ".onnx":
        raise UserError(f"output file must end in .onnx: {path}")
    return contract_split_paths(path)


def validate_options(backbone: str, img_size: int, shots: Optional[int], opset: int, graph: str, checkpoint_sha256: str) -> None:
    """UserError for any option the export cannot honour."""
    from ..hsnet.image_size import check_image_size

    if graph not in GRAPH_KINDS:
        raise UserError(f"unknown graph kind {graph!r}; choose one of {', '.join(GRAPH_KINDS)}")
    if not isinstance(opset, int) or not MIN_OPSET <= opset <= MAX_OPSET:
        raise UserError(f"opset {opset} is not supported: use {MIN_OPSET}..{MAX_OPSET} (TensorRT 10 parses 9..24; PyTorch's tracer exports up to 20)")
    if shots is not None and (not isinstance(shots, int) or shots < 1):
        raise UserError(f"shots must be a positive integer or None (dynamic), got {shots!r}")
    check_image_size(img_size, img_size, backbone)
    if not valid_checkpoint_digest(checkpoint_sha256):
        raise UserError(f"checkpoint_sha256 must be 64 lowercase hex digits or {RANDOM_CHECKPOINT!r}, got {checkpoint_sha256!r}")


def exportable_copy(model):
    """A copy of ``model`` for tracing: eval mode, GroupNorms written out, backbone shared."""
    from .explicit_group_norm import with_explicit_group_norms

    clone = copy.deepcopy(model, memo={id(model.backbone): model.backbone})
    with_explicit_group_norms(clone.hpn_learner)
    return clone.eval()


def example_inputs(model, graph: str, img_size: int, shots: Optional[int], dynamic_batch: bool):
    """Deterministic inputs to trace with: ImageNet-like images, random binary masks."""
    import torch

    b = EXAMPLE_BATCH if dynamic_batch else 1
    k = EXAMPLE_SHOTS if shots is None else shots
    g = torch.Generator().manual_seed(0)
    query = torch.randn(b, 3, img_size, img_size, generator=g)
    supports = torch.randn(b, k, 3, img_size, img_size, generator=g)
    masks = (torch.rand(b, k, img_size, img_size, generator=g) > 0.5).float()
    if graph == EPISODE:
        return (query, supports, masks)
    if graph == SUPPORT_ENCODER:
        return (supports, masks)
    with torch.no_grad():
        return (query, *model.encode_support(supports, masks))


def build_onnx(
    model,
    graph: str = EPISODE,
    img_size: int = 400,
    shots: Optional[int] = 1,
    dynamic_batch: bool = True,
    opset: int = DEFAULT_OPSET,
    checkpoint_sha256: str = RANDOM_CHECKPOINT,
    shots_range: Optional[tuple[int, int]] = None,
    progress=None,
):
    """Trace, clean, label and check one graph; returns the ``onnx.ModelProto`` (nothing written).

    progress: an optional tqdm bar advanced once per stage (:data:`STAGES`).
    Raises UserError for bad options, ExportCheckFailed if the result fails a check.
    """
    import onnx
    import torch

    from .graph_cleanup import clean_graph
    from .onnx_check import check_onnx
    from .onnx_graph import set_dims

    validate_options(model.backbone_name, img_size, shots, opset, graph, checkpoint_sha256)

    def step(label: str) -> None:
        if progress is not None:
            progress.set_postfix_str(f"{graph}: {label}")

    step("trace")
    prepared = exportable_copy(model)
    from .graph_modules import GRAPH_MODULES

    wrapper = GRAPH_MODULES[graph](prepared).eval()
    args = example_inputs(prepared, graph, img_size, shots, dynamic_batch)
    buffer = io.BytesIO()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TracerWarnings about python ints: the fixed H, W, by design
        torch.onnx.export(
            wrapper,
            args,
            buffer,
            dynamo=False,
            opset_version=opset,
            input_names=list(GRAPH_INPUTS[graph]),
            output_names=list(GRAPH_OUTPUTS[graph]),
            dynamic_axes=dynamic_axes(graph, shots, dynamic_batch),
            do_constant_folding=True,
            training=torch.onnx.TrainingMode.EVAL,
        )
    proto = onnx.load_from_string(buffer.getvalue())
    del buffer
    declared = tensor_dims(graph, model.backbone_name, img_size, shots, dynamic_batch)
    for value_info in [*proto.graph.input, *proto.graph.output]:
        set_dims(value_info, declared[value_info.name])  # the tracer names static output dims symbolically
    if progress is not None:
        progress.update()

    step("clean")
    clean_graph(proto)
    proto.graph.name = f"hsnet_{model.backbone_name}_{graph}"
    proto.producer_name, proto.producer_version = "hsnet_deploy", _version()
    meta = graph_metadata(
        graph, model.backbone_name, img_size, shots, opset, checkpoint_sha256, shots_range, dynamic_batch,
        exporter=f"torch {torch.__version__} torchscript tracer",
    )
    del proto.metadata_props[:]
    for key, value in meta.items():
        proto.metadata_props.add(key=key, value=value)
    if progress is not None:
        progress.update()

    step("check")
    report = check_onnx(proto, source=f"{graph} graph")
    if not report.ok:
        raise ExportCheckFailed(f"the exported {graph} graph fails its checks:\n{report.format()}")
    if progress is not None:
        progress.update()
    return proto


def _version() -> str:
    from .. import __version__

    return __version__


def _progress_bar(total: int, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, desc="export", unit="step", disable=not enabled, leave=True)


def _write(proto, tmp: Path) -> None:
    import onnx

    onnx.save_model(proto, str(tmp))


def export_onnx(
    model,
    path,
    img_size: int = 400,
    shots: Optional[int] = 1,
    dynamic_batch: bool = True,
    opset: int = DEFAULT_OPSET,
    graph: str = EPISODE,
    checkpoint_sha256: str = RANDOM_CHECKPOINT,
    shots_range: Optional[tuple[int, int]] = None,
    progress: bool = False,
) -> Path:
    """Export one graph of ``model`` (an HSNet) to ``path``; returns the path.

    img_size: H = W of the graph (validated for the backbone); shots: K, or None for a
    dynamic K (``shots_range`` (min, max) is then recorded for TensorRT profiles);
    dynamic_batch: B dynamic (else 1); graph: "episode" | "support_encoder" | "query";
    checkpoint_sha256: digest of the weights' file, "random" for untrained weights.
    Nothing is written unless the graph passes every check; an existing file at ``path``
    is replaced only on success.
    """
    path = Path(path)
    _require_folder(path)
    with _progress_bar(len(STAGES) + 1, progress) as bar:
        proto = build_onnx(model, graph, img_size, shots, dynamic_batch, opset, checkpoint_sha256, shots_range, bar)
        bar.set_postfix_str(f"{graph}: write")
        with atomic_path(path) as tmp:
            _write(proto, tmp)
        bar.update()
    return path


def export_split(
    model,
    path,
    img_size: int = 400,
    shots: Optional[int] = 1,
    dynamic_batch: bool = True,
    opset: int = DEFAULT_OPSET,
    checkpoint_sha256: str = RANDOM_CHECKPOINT,
    shots_range: Optional[tuple[int, int]] = None,
    progress: bool = False,
) -> dict[str, Path]:
    """Export the episode graph to NAME.onnx plus NAME.support.onnx and NAME.query.onnx.

    All three graphs are built and checked first, then written together: a failure
    anywhere leaves none of them (existing files untouched). Returns kind -> path.
    """
    paths = split_paths(path)
    _require_folder(paths[EPISODE])
    with _progress_bar(len(GRAPH_KINDS) * (len(STAGES) + 1), progress) as bar:
        protos = {
            kind: build_onnx(model, kind, img_size, shots, dynamic_batch, opset, checkpoint_sha256, shots_range, bar)
            for kind in GRAPH_KINDS
        }
        bar.set_postfix_str("write")
        with contextlib.ExitStack() as stack:
            temps = {kind: stack.enter_context(atomic_path(paths[kind])) for kind in GRAPH_KINDS}
            for kind in GRAPH_KINDS:
                _write(protos[kind], temps[kind])
                bar.update()
    return paths


def _require_folder(path: Path) -> None:
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise UserError(f"output folder does not exist: {folder}")

