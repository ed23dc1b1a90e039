"""Which option applies when: one rule for every command, checked before any work.

The rows of every command live in one declarative table, ``cli.option_table``::

    OPTION_TABLE = {"run": (
        Applies(("--cuda-graph", "--memory"), lambda a: backend_of(a.model) == "tensorrt",
                "to .engine models"), ...), ...}

``cli.main`` finds which options the user actually typed (:func:`given_options`: the
command line parsed again with every default replaced by a marker, so abbreviations and
``--opt=value`` count, and a default value typed out counts too) and refuses, in one
line and exit 2, any typed option whose row says it does not apply to this invocation:

    hsnet-deploy export: error: --calib-episodes applies only when a graph is INT8 (--precision int8 ...)

An option nobody typed is never refused, so defaults keep working. Library code never
sees these rows: they describe the command line only.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

from .errors import UserError

_UNSET = object()


@dataclass(frozen=True)
class Applies:
    """``options`` (their flags as typed) apply only when ``when(args)`` holds; ``only``
    completes the sentence "... applies only ..."."""

    options: tuple[str, ...]
    when: Callable[[argparse.Namespace], bool]
    only: str


def given_options(parser: argparse.ArgumentParser, argv: Sequence[str]) -> frozenset[str]:
    """The ``dest`` of every option the user typed in ``argv`` (the command's own arguments)."""
    saved = {action: action.default for action in parser._actions}
    accumulating = (argparse._AppendAction, argparse._AppendConstAction, argparse._CountAction, argparse._ExtendAction)
    unset = {}
    try:
        for action in parser._actions:  # append/count actions build on their default: None is their "unset"
            action.default = unset[action.dest] = None if isinstance(action, accumulating) else _UNSET
        namespace, _ = parser.parse_known_args(list(argv))
    finally:
        for action, default in saved.items():
            action.default = default
    return frozenset(dest for dest, value in vars(namespace).items() if dest in unset and value is not unset[dest])


def _dest_of(parser: argparse.ArgumentParser, flag: str) -> str:
    for action in parser._actions:
        if flag in action.option_strings:
            return action.dest
    raise KeyError(f"no option {flag} in {parser.prog}")  # a wrong table is a bug, not a user error


def check_option_rules(parser: argparse.ArgumentParser, args: argparse.Namespace, given: Iterable[str],
                       rules: Iterable[Applies]) -> None:
    """UserError for the first typed option whose rule says it does not apply."""
    typed = set(given)
    for rule in rules:
        offending = [flag for flag in rule.options if _dest_of(parser, flag) in typed]
        if offending and not rule.when(args):
            raise UserError(f"{offending[0]} applies only {rule.only}")
