"""`vehicle ... --help` says what every option does when it is left out."""

from __future__ import annotations

import argparse
from collections.abc import Iterator

import pytest

from vehicle.cli import build_parser
from vehicle.cli.help_format import DefaultsHelpFormatter


def commands(parser: argparse.ArgumentParser, path: str = "vehicle") -> Iterator[tuple]:
    """Every parser under ``vehicle``, with its command line (``vehicle model check``)."""
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from commands(sub, f"{path} {name}")


def value_options(parser: argparse.ArgumentParser) -> Iterator[argparse.Action]:
    """Options that take a value: leaving them out must mean something the help states.

    Required ones (alone or one of a required group, as ``hil --port | --emulate``) can't be,
    and hidden ones (``console --drive-fd``, for the drive's child) have no help to state it.
    """
    chosen = {a for g in parser._mutually_exclusive_groups if g.required for a in g._group_actions}
    for action in parser._actions:
        optional = not action.required and action not in chosen
        shown = action.help is not argparse.SUPPRESS
        if action.option_strings and action.nargs != 0 and optional and shown:
            yield action


ALL = list(commands(build_parser()))


@pytest.mark.parametrize(("path", "parser"), ALL, ids=[path for path, _ in ALL])
def test_every_value_option_states_its_default(path: str, parser) -> None:
    formatter = DefaultsHelpFormatter(prog=path)
    missing = [
        action.option_strings[-1]
        for action in value_options(parser)
        if "default" not in (formatter._get_help_string(action) or "")
    ]
    assert not missing, f"{path}: no default in the help of {', '.join(missing)}"


def test_drive_help_shows_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        build_parser().parse_args(["drive", "--help"])
    assert done.value.code == 0
    text = " ".join(capsys.readouterr().out.split())  # argparse wraps lines
    for shown in (
        "(default: 0)",  # --source: the first camera
        "else the bundled models/default",
        "else 50 %",
        "else manual",
        "(default: config pwm.backend, mock)",
        "(default: config console.port, 8443)",
    ):
        assert shown in text


def test_a_plain_default_is_appended_once(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["sim", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "laps to drive (default: 3)" in text
    assert text.count("default") == text.count("(default")  # no "(default 3) (default: 3)"
