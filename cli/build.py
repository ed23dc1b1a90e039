"""``hsnet-deploy build``: ONNX graphs -> TensorRT engines (+ sidecars), or the trtexec
command lines that do the same.

    hsnet-deploy build hsnet.onnx                         split pair beside it: both engines
    hsnet-deploy build hsnet.onnx -o out/m.engine --shots 1:1:5 --workspace 2048 \\
        --builder-optimization-level 3 --timing-cache hsnet.cache [--dla-core 0]
    hsnet-deploy build hsnet.onnx --print-trtexec         print, build nothing
"""

from __future__ import annotations

from pathlib import Path

HELP = "build TensorRT engines (strongly typed, profiles from the graph metadata) from exported ONNX graphs"


def add_arguments(parser) -> None:
    from ..runtime.tensorrt.cuda_memory import BACKENDS

    parser.add_argument("model", metavar="MODEL.onnx", help="an episode graph, or one half of a split pair (both are built)")
    parser.add_argument("-o", "--output", metavar="OUT.engine", help="engine file (default: MODEL with .engine); split pairs get OUT.support.engine / OUT.query.engine")
    parser.add_argument("--graphs", choices=("auto", "episode", "split"), default="auto",
                        help="auto (default): the split pair when it lies beside MODEL, else the episode graph")
    parser.add_argument("--batch", metavar="MIN:OPT:MAX", help="profile of a dynamic batch axis (default 1:1:1)")
    parser.add_argument("--shots", metavar="MIN:OPT:MAX", help="profile of a dynamic K axis (default: the exported range, optimised for its smallest K)")
    parser.add_argument("--workspace", type=int, metavar="MiB", help="builder workspace limit in MiB (default: TensorRT's, the GPU's memory)")
    parser.add_argument("--builder-optimization-level", type=int, metavar="0-5", help="TensorRT's builder optimisation level (default 3)")
    parser.add_argument("--timing-cache", metavar="FILE", help="timing cache loaded before, used by and saved after the build (reused across builds)")
    parser.add_argument("--dla-core", type=int, metavar="N", help="build for DLA core N with GPU fallback (Jetson Orin, TensorRT 10.x)")
    parser.add_argument("--memory", choices=BACKENDS, default="auto", help="CUDA library that reports the GPU for the sidecar (default: the first available)")
    parser.add_argument("--print-trtexec", action="store_true", help="print the equivalent trtexec command lines (and the sidecar step) instead of building")
    parser.add_argument("--trtexec", default="trtexec", metavar="PATH", help="trtexec in the printed lines (JetPack: /usr/src/tensorrt/bin/trtexec)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def build_options(args):
    from ..runtime.tensorrt.build_options import BuildOptions
    from ..runtime.tensorrt.profiles import ShapeRange

    return BuildOptions(
        batch=ShapeRange.parse(args.batch, "--batch") if args.batch else None,
        shots=ShapeRange.parse(args.shots, "--shots") if args.shots else None,
        workspace_mib=args.workspace,
        optimization_level=args.builder_optimization_level,
        timing_cache=Path(args.timing_cache) if args.timing_cache else None,
        dla_core=args.dla_core,
    )


def print_trtexec(args, options) -> int:
    from ..runtime.graph_contract import GraphInfo
    from ..runtime.tensorrt.engine_build import (
        engine_paths,
        onnx_graphs,
        read_onnx_header,
    )
    from ..runtime.tensorrt.profiles import profile_shapes
    from ..runtime.tensorrt.trtexec_line import (
        format_command,
        sidecar_arguments,
        trtexec_arguments,
    )

    onnx = onnx_graphs(args.model, args.graphs)
    targets = engine_paths(onnx, args.output)
    for kind, path in onnx.items():
        header = read_onnx_header(path)
        info = GraphInfo.from_metadata(header.metadata, str(path))
        shapes = profile_shapes(info, options.batch, options.shots, header.input_dims)
        print(format_command(trtexec_arguments(path, targets[kind], info, shapes, options, args.trtexec)))
        print(format_command(sidecar_arguments(targets[kind], path)))
    return 0


def run(args) -> int:
    options = build_options(args)
    if args.print_trtexec:
        return print_trtexec(args, options)
    from ..runtime.graph_contract import DEFAULT_PRECISION, KEY_PRECISION
    from ..runtime.tensorrt.builder import tqdm_phase_bar
    from ..runtime.tensorrt.engine_build import build_engines
    from ..runtime.tensorrt.sidecar import read_engine_sidecar

    bars = None if args.quiet else tqdm_phase_bar
    written = build_engines(args.model, options, args.output, args.graphs, args.memory, bars)
    for kind, path in written.items():
        record = read_engine_sidecar(path)
        print(f"wrote {path} ({kind}, {record.get(KEY_PRECISION, DEFAULT_PRECISION)}, TensorRT "
              f"{record['hsnet_deploy.tensorrt_version']}, {record['hsnet_deploy.gpu_name']}; "
              f"profile {record['hsnet_deploy.build_min_shapes']} .. {record['hsnet_deploy.build_max_shapes']})")
    if options.timing_cache is not None:
        print(f"timing cache saved to {options.timing_cache}")
    return 0
