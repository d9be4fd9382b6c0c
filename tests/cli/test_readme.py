"""The README's command line, as a newcomer runs it from a fresh clone after the quick start.

Every ``vehicle`` line of the "Command line" section is a valid command line; those that need
neither the car's hardware nor the user's own files run, in order, from a copy of the
repository root, with the ``vehicle`` of the running interpreter (what activating the venv
puts on PATH) and a fresh data directory. ``bench`` and ``hil`` only parse here: they take
minutes and have their own tests (tests/bench, tests/hil). The configuration table must list
every key of ``vehicle.config.Settings`` with its real default.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import subprocess
import sys
import tomllib
from dataclasses import MISSING, fields, is_dataclass
from pathlib import Path
from typing import Any

import pytest

from vehicle.cli import build_parser
from vehicle.config import Settings, load_settings

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
NOT_RUN_HERE = ("on the car", "your own")  # trailing comments of lines that only parse
COVERED_ELSEWHERE = ("bench", "hil")


def section(title: str) -> str:
    """The README's ``## title`` section, its ``###`` subsections included."""
    start = README.index(f"\n## {title}\n")
    end = README.find("\n## ", start + 1)
    return README[start : end if end != -1 else None]


def blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", text, flags=re.DOTALL)


COMMAND_LINE = section("Command line")
EXAMPLES = [
    line
    for block in blocks(COMMAND_LINE, "sh")
    for line in block.splitlines()
    if line.startswith("vehicle ")
]


def split(line: str) -> tuple[list[str], str]:
    """The argv after ``vehicle`` and the trailing comment."""
    command, _, comment = line.partition("  #")
    return shlex.split(command)[1:], comment.strip()


def subcommand(argv: list[str]) -> str | None:
    if "--help" in argv:
        return None
    return build_parser().parse_args(argv).command


def runs_here(line: str) -> bool:
    argv, comment = split(line)
    return not any(m in comment for m in NOT_RUN_HERE) and subcommand(argv) not in (
        COVERED_ELSEWHERE
    )


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The repository root as a fresh clone presents it; what the examples write stays here."""
    root = tmp_path_factory.mktemp("clone")
    for entry in ROOT.iterdir():
        if not entry.name.startswith("."):
            (root / entry.name).symlink_to(entry)
    for text, name in zip(blocks(COMMAND_LINE, "toml"), config_files(), strict=True):
        (root / name).write_text(text)
    return root


def config_files() -> list[str]:
    return list(dict.fromkeys(re.findall(r"--config (\S+)", "\n".join(EXAMPLES))))


def test_every_example_is_a_valid_command_line() -> None:
    parser = build_parser()
    assert len(EXAMPLES) >= 10
    for line in EXAMPLES:
        argv, _ = split(line)
        try:
            parser.parse_args(argv)
        except SystemExit as exc:  # --help exits 0 after printing; anything else is wrong
            assert exc.code == 0 and "--help" in argv, line


def leaf_commands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> list[tuple]:
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        return [path]
    return [
        leaf for name, sub in subs[0].choices.items() for leaf in leaf_commands(sub, (*path, name))
    ]


def test_every_command_has_an_example() -> None:
    shown = {tuple(a for a in split(line)[0] if not a.startswith("-")) for line in EXAMPLES}
    for leaf in leaf_commands(build_parser()):
        assert any(s[: len(leaf)] == leaf or s[1 : len(leaf) + 1] == leaf for s in shown), leaf


@pytest.mark.parametrize("line", [e for e in EXAMPLES if runs_here(e)])
def test_example_runs_from_a_fresh_clone(clone: Path, line: str) -> None:
    command = line.partition("  #")[0]
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",  # no venv of the caller's
        "VEHICLE_DATA_DIR": str(clone / "data"),
        "HOME": str(clone),
    }
    result = subprocess.run(
        ["bash", "-c", command],
        cwd=clone,
        env=env,
        input="an example password\n",  # `vehicle password set` reads it; others ignore it
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, f"{command}\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}"
    assert "Traceback" not in result.stderr


def dotted_defaults(obj: Any, prefix: str = "") -> dict[str, Any]:
    """Every settings key as the TOML file spells it, with its default (MISSING: computed)."""
    found: dict[str, Any] = {}
    for f in fields(obj):
        value = getattr(obj, f.name)
        if is_dataclass(value):
            found |= dotted_defaults(value, f"{prefix}{f.name}.")
        else:
            found[f"{prefix}{f.name}"] = MISSING if f.default is MISSING else f.default
    return found


def documented_defaults() -> dict[str, str]:
    table = section("Command line").split("### Configuration file", 1)[1]
    return dict(re.findall(r"^\| `([a-z0-9_.]+)` \| `([^`]+)` \|", table, flags=re.MULTILINE))


def test_every_config_key_is_documented_with_its_default() -> None:
    keys = dotted_defaults(Settings())
    documented = documented_defaults()
    assert sorted(documented) == sorted(keys), "README's configuration table and Settings differ"
    for key, default in keys.items():
        cell = documented[key]
        if default is None or default is MISSING:
            assert cell == "unset", key
        else:
            value = tomllib.loads(f"v = {cell}")["v"]
            assert value == (str(default) if isinstance(default, Path) else default), key


def test_the_example_config_file_loads(tmp_path: Path) -> None:
    [text] = blocks(COMMAND_LINE, "toml")
    path = tmp_path / "car.toml"
    path.write_text(text)
    settings = load_settings(path)
    assert settings.pwm.backend == "mock" and settings.console.port == 8444
