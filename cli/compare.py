"""``hsnet-deploy compare A B``: two model files on the same episodes; exit 1 when they differ.

    hsnet-deploy compare hsnet.int8.onnx hsnet.onnx --episodes 100 --atol 0.5 --rtol 0.5 --max-outside 0.02
    hsnet-deploy compare hsnet.engine hsnet.onnx --benchmark folder --datapath my_data --json cmp.json

A and B are anything the runtime loads (``.pt``, ``.onnx`` episode or split graphs, any
precision, ``.engine``); B is the reference. The statistics are those of
:mod:`~hsnet_deploy.hsnet.evaluation.compare`; exit status 0 when the gate passes, 1
when it fails, 2 for bad input. This is what to run after building an engine on the
device that will use it.
"""

from __future__ import annotations

from .backend_options import onnx_backend_options

HELP = "compare two model files (.pt/.onnx/.engine, any precision) on the same episodes; exit 1 if they differ"


def add_arguments(parser) -> None:
    from .eval import add_episode_arguments

    parser.add_argument("model_a", metavar="A", help="model under test")
    parser.add_argument("model_b", metavar="B", help="reference model")
    add_episode_arguments(parser, default_episodes="50")
    parser.add_argument("--atol", type=float, default=1e-3, help="absolute tolerance on the logits (default 1e-3)")
    parser.add_argument("--rtol", type=float, default=1e-3, help="relative tolerance on the logits (default 1e-3)")
    parser.add_argument("--max-outside", type=float, default=0.0, metavar="SHARE",
                        help="share (0 to 1; 0.01 = 1 %%) of logit elements allowed outside both tolerances (default 0)")
    parser.add_argument("--json", metavar="FILE", help="write every statistic as JSON")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args) -> int:
    import json
    import sys

    from tqdm import tqdm

    from ..atomic_file import write_text_atomic
    from ..errors import UserError
    from ..hsnet.evaluation.compare import Comparison, check_tolerances, format_summary
    from ..hsnet.evaluation.evaluate import SegmenterPredictor
    from ..output_paths import check_output_file
    from ..runtime import RuntimeOptions, Segmenter
    from ..runtime.graph_contract import DEFAULT_PRECISION, KEY_PRECISION
    from ..runtime.model_files import input_set, resolve_model_files
    from .eval import open_benchmark, reference_defaults

    check_tolerances(args.atol, args.rtol, args.max_outside)  # before anything is loaded
    files_a, files_b = resolve_model_files(args.model_a), resolve_model_files(args.model_b)  # each one export
    if args.json:
        check_output_file(args.json, "--json", suffixes={".json"}, inputs=input_set(args.model_a) + input_set(args.model_b))
    reference_defaults(args, [args.model_a, args.model_b])
    dataset = open_benchmark(args)
    options = RuntimeOptions(device=args.device, threads=args.threads, img_size=args.img_size, backbone=args.backbone,
                             **onnx_backend_options(args))
    with Segmenter.load(files_a, options=options) as seg_a, Segmenter.load(files_b, options=options) as seg_b:
        if seg_a.img_size != seg_b.img_size:
            raise UserError(f"the models differ in input size: {seg_a.img_size} vs {seg_b.img_size}")
        for seg, name in ((seg_a, args.model_a), (seg_b, args.model_b)):
            if seg.shots is not None and seg.shots != args.nshot:
                raise UserError(f"{name} was exported for {seg.shots}-shot episodes but --nshot is {args.nshot}")
        a, b = SegmenterPredictor(seg_a), SegmenterPredictor(seg_b)
        comparison = Comparison(args.atol, args.rtol, dataset.class_ids, args.max_outside)
        total = min(len(dataset), args.episodes or len(dataset))
        for n in tqdm(range(total), desc="compare", unit="ep", disable=args.quiet):
            episode = dataset.episode(n)
            comparison.add(a.network_logits(episode), b.network_logits(episode), episode)
        meta = {"a": seg_a.metadata, "b": seg_b.metadata}
    summary = comparison.summary()
    print(format_summary(summary, f"{args.model_a} ({meta['a'].get(KEY_PRECISION, DEFAULT_PRECISION)})",
                         f"{args.model_b} ({meta['b'].get(KEY_PRECISION, DEFAULT_PRECISION)})"))
    if args.json:
        report = {**summary, "a": {"path": str(args.model_a), "metadata": meta["a"]},
                  "b": {"path": str(args.model_b), "metadata": meta["b"]},
                  "episodes_from": {"benchmark": args.benchmark, "nshot": args.nshot, "seed": args.seed}}
        write_text_atomic(args.json, json.dumps(report, indent=2) + "\n")
    if not summary["passed"]:
        print("hsnet-deploy compare: the models differ beyond the tolerances", file=sys.stderr)
        return 1
    return 0
