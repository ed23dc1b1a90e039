"""``hsnet-deploy triton-repo MODEL -o REPO``: a Triton model repository for a split export.

    hsnet-deploy triton-repo hsnet.onnx -o models/            # ONNX Runtime backend
    hsnet-deploy triton-repo hsnet.query.engine -o models/    # TensorRT plans
    tritonserver --model-repository models/

Everything is checked before anything is written (the options, that MODEL is one half of a
split pair of one export, that REPO is new and its folder writable): see
:func:`~hsnet_deploy.cli.triton.repository.write_repository`.
"""

from __future__ import annotations

HELP = "write a Triton Inference Server model repository (support encoder + query model) for split graphs"


def add_arguments(parser) -> None:
    parser.add_argument("model", metavar="MODEL", help="either half of a split export (.onnx or .engine/.plan), or NAME.onnx beside it")
    parser.add_argument("-o", "--output", required=True, metavar="REPO", help="the repository folder (must not exist)")
    parser.add_argument("--max-batch-size", type=int, default=8, help="Triton max_batch_size for dynamic-batch graphs, at least 1 (default 8)")
    parser.add_argument("--instances", type=int, default=1, help="model instances per GPU (or CPU), at least 1 (default 1)")
    parser.add_argument("--cpu", action="store_true", help="instances of kind KIND_CPU (ONNX only)")


def run(args) -> int:
    from .triton.repository import (
        load_model_config_class,
        parse_config,
        write_repository,
    )

    written = write_repository(args.model, args.output, args.max_batch_size, args.instances, "KIND_CPU" if args.cpu else "KIND_GPU")
    model_config = load_model_config_class(required=False)
    for name, config in written.items():
        if model_config is not None:
            parse_config(config.read_text(encoding="utf-8"), model_config)
        print(f"wrote {config.parent}/ ({name})")
    print(f"start the server with: tritonserver --model-repository {args.output}")
    return 0
