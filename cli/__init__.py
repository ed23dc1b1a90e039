"""The ``hsnet-deploy`` command: a thin layer over the Python API.

The top layer: each subcommand is a module of this package (the demo and the Triton
repository are apps here too), defining

- ``HELP``: one line for ``hsnet-deploy --help``;
- ``add_arguments(parser)``: its options;
- ``run(args) -> int``: the work, importing heavy dependencies (torch, onnx,
  onnxruntime, tensorrt) only inside, so ``--help`` stays fast and torch-free.

Which typed option applies to which model, backend and mode is one declarative table for
all commands (:mod:`.option_table`), checked before ``run`` starts.

A :class:`~hsnet_deploy.errors.UserError` anywhere becomes one line on stderr and exit
status 2; unknown options are rejected by argparse with status 2 as well.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Sequence

from .. import __version__
from ..errors import UserError
from ..option_rules import check_option_rules, given_options
from .option_table import OPTION_TABLE

# name -> module (relative to hsnet_deploy.cli) that implements it, in the order --help lists them.
COMMANDS: dict[str, str] = {
    "demo": "demo.command",
    "run": "run",
    "export": "export",
    "convert": "convert",
    "build": "build",
    "sidecar": "sidecar",
    "triton-repo": "triton_repo",
    "serve": "serve",
    "check": "check",
    "bench": "bench",
    "eval": "eval",
    "compare": "compare",
    "train": "train",
}


class OneLineErrorParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (``hsnet-deploy run: error: ...``), exit 2."""

    def error(self, message: str):  # noqa: D401
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineErrorParser(
        prog="hsnet-deploy",
        description="Export, compile and run HSNet few-shot segmentation "
        "(PyTorch -> ONNX -> TensorRT FP16/INT8).",
    )
    parser.add_argument("--version", action="version", version=f"hsnet-deploy {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=OneLineErrorParser)
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(f"{__package__}.{module_name}")
        cmd = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(cmd)
        cmd.set_defaults(_run=module.run, _parser=cmd, _rules=OPTION_TABLE.get(name, ()))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    if getattr(args, "_run", None) is None:
        parser.print_help()
        return 2
    try:
        own = argv[argv.index(args.command) + 1:]  # the command's own arguments
        check_option_rules(args._parser, args, given_options(args._parser, own), args._rules)
        return int(args._run(args) or 0)
    except UserError as err:
        print(f"hsnet-deploy {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"hsnet-deploy {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
