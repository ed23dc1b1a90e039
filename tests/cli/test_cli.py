"""The hsnet-deploy command itself: version, help, one-line usage errors (the demo: test_demo.py)."""

from __future__ import annotations

import subprocess
import sys

import pytest
from hsnet_deploy import __version__
from hsnet_deploy.cli import COMMANDS, main


def test_version_and_help(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0 and __version__ in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert all(name in out for name in COMMANDS)


def test_unknown_option_is_one_line_exit_2(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["demo", "--no-such-option"])
    err = capsys.readouterr().err
    assert exc.value.code == 2
    assert err.count("\n") == 1 and "unrecognized arguments: --no-such-option" in err


def test_console_script_entry_point_runs():
    out = subprocess.run([sys.executable, "-m", "hsnet_deploy", "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip() == f"hsnet-deploy {__version__}"


def test_the_option_table_names_only_options_its_commands_have():
    """One declarative table for every command (cli.option_table): each row's flags exist."""
    from hsnet_deploy.cli import build_parser
    from hsnet_deploy.cli.option_table import OPTION_TABLE

    parser = build_parser()
    commands = next(a for a in parser._actions if a.dest == "command").choices
    for name, rows in OPTION_TABLE.items():
        flags = {flag for action in commands[name]._actions for flag in action.option_strings}
        for row in rows:
            assert set(row.options) <= flags, (name, set(row.options) - flags)
