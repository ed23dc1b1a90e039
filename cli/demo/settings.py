"""What ``hsnet-deploy demo`` is asked to do, checked before any work starts.

Every bad input is one UserError line, raised here, before a model is loaded or a file
written (the command exits 2 and leaves nothing behind). Defaults left as ``None`` are
filled in by :func:`resolve_settings`:

    img_size   :data:`DEMO_IMG_SIZE` (the reference is trained for every side from 160 to
               480; 200 keeps the demo to about a minute on a CPU; ``--img-size 400`` shows
               the paper's size)
    checkpoint "reference" unless ``random_weights``
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from ...errors import UserError

DEMO_IMG_SIZE = 200  # the demo's default side, whatever the model
DEFAULT_QUERIES = 24
DEFAULT_GRID_ROWS = 4
MIN_QUERIES = 2  # one warm-up query + at least one timed query
MAX_SHOTS = 10
# One thread each for torch and onnxruntime: on a 2-core machine that anything else uses, two
# OpenMP threads spin against each other (measured here: the demo's torch pass 2-9 s a query
# with 2 threads against ~1 s with 1, the export 59 s against 38 s); on an idle machine
# --threads 2 is somewhat faster.
DEFAULT_THREADS = 1


@dataclass(frozen=True)
class DemoSettings:
    """The demo's options (the CLI's, one to one); ``None`` = the default described above."""

    checkpoint: Optional[str] = None  # "reference" | a checkpoint file | None (= reference)
    random_weights: bool = False
    img_size: Optional[int] = None
    shots: int = 1
    queries: int = DEFAULT_QUERIES
    export_dir: Optional[Path] = None  # None: a temporary folder, removed afterwards
    seed: int = 0  # synthetic episodes, and the random weights with random_weights
    threads: Optional[int] = DEFAULT_THREADS  # CPU threads for torch and onnxruntime; None: theirs
    grid: Path = Path("demo_grid.png")
    json: Optional[Path] = None
    grid_rows: int = DEFAULT_GRID_ROWS
    onnx_backend: dict = dataclasses.field(default_factory=dict)  # RuntimeOptions keywords: onnx_backend, openvino_*


def _check_positive(value, what: str, minimum: int = 1) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise UserError(f"{what} must be an integer of at least {minimum}, got {value!r}")


def resolve_settings(settings: DemoSettings) -> DemoSettings:
    """``settings`` checked, with the model-dependent defaults filled in (UserError if bad)."""
    from ...hsnet.reference_model import NAME, is_reference
    from ...runtime.image_size import check_image_size

    if settings.random_weights and settings.checkpoint is not None:
        raise UserError("--checkpoint and --random-weights exclude each other")
    checkpoint = None if settings.random_weights else (settings.checkpoint or NAME)
    if checkpoint is not None and not is_reference(checkpoint) and not Path(checkpoint).is_file():
        raise UserError(f"checkpoint file not found: {checkpoint} (or use --checkpoint reference)")
    settings = dataclasses.replace(settings, checkpoint=checkpoint)

    _check_positive(settings.queries, "--queries", MIN_QUERIES)
    _check_positive(settings.shots, "--shots")
    if settings.shots > MAX_SHOTS:
        raise UserError(f"--shots must be at most {MAX_SHOTS} for the demo, got {settings.shots}")
    if settings.threads is not None:
        _check_positive(settings.threads, "--threads")
    _check_positive(settings.grid_rows, "grid rows")
    if not isinstance(settings.seed, int) or settings.seed < 0:
        raise UserError(f"--seed must be a non-negative integer, got {settings.seed!r}")

    size = settings.img_size if settings.img_size is not None else DEMO_IMG_SIZE
    _check_positive(size, "--img-size", 32)
    if checkpoint is None or is_reference(checkpoint):  # both resnet50; a file's backbone is known once read
        check_image_size(size, size, "resnet50")

    from ...output_paths import check_output_file, check_output_folder

    check_output_file(settings.grid, "-o/--output", {".png"})
    if settings.json is not None:
        check_output_file(settings.json, "--json", {".json"})
    if settings.export_dir is not None:
        check_output_folder(settings.export_dir, "--export-dir")
    from ...runtime.backends import RuntimeOptions

    if RuntimeOptions(device="cpu", **settings.onnx_backend).onnx_backend == "openvino":  # its rules checked there
        from ...runtime.openvino.loader import import_openvino

        import_openvino()
    else:
        from ...runtime.onnxruntime.loader import require_onnxruntime

        require_onnxruntime("the demo (it runs the exported graphs)")
    return dataclasses.replace(settings, img_size=size)
