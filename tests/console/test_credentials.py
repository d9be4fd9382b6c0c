"""Password and secret storage, and ``vehicle password set``."""

from __future__ import annotations

import argparse
import io
import logging
import re
import stat
from pathlib import Path

import pytest
from werkzeug.security import check_password_hash

from vehicle.cli import password
from vehicle.config import Settings
from webconsole.credentials import (
    PASSWORD_ENV,
    CredentialError,
    load_or_create_secret,
    read_password_hash,
    resolve_password_hash,
    store_password,
)


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_stored_password_is_a_salted_hash_readable_only_by_owner(tmp_path: Path) -> None:
    path = tmp_path / "password"
    store_password(path, "a long password")
    stored = path.read_text()
    assert "a long password" not in stored
    assert stored.startswith("scrypt:")
    assert mode_of(path) == 0o600
    assert check_password_hash(read_password_hash(path), "a long password")
    store_password(tmp_path / "again", "a long password")
    assert (tmp_path / "again").read_text() != stored  # salted


@pytest.mark.parametrize("bad", ["short", "x" * 257, "tab\there ok", "new\nline ok"])
def test_bad_password_is_rejected_and_nothing_changes(tmp_path: Path, bad: str) -> None:
    path = tmp_path / "password"
    store_password(path, "the old password")
    before = path.read_bytes()
    with pytest.raises(CredentialError, match="password"):
        store_password(path, bad)
    assert path.read_bytes() == before


def test_environment_password_wins_and_is_not_stored(tmp_path: Path) -> None:
    path = tmp_path / "password"
    store_password(path, "the stored one")
    hashed = resolve_password_hash(path, {PASSWORD_ENV: "from the environment"})
    assert check_password_hash(hashed, "from the environment")
    assert check_password_hash(read_password_hash(path), "the stored one")


def test_first_start_generates_a_password_and_prints_it_once_to_stderr(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "password"
    with caplog.at_level(logging.DEBUG):
        hashed = resolve_password_hash(path, {})
    err = capsys.readouterr().err
    match = re.search(r"shown once.*: (\S+)$", err, re.M)
    assert match, err
    assert check_password_hash(hashed, match.group(1))
    assert match.group(1) not in caplog.text  # the log is what the console serves
    assert mode_of(path) == 0o600
    assert resolve_password_hash(path, {}) == hashed
    assert "shown once" not in capsys.readouterr().err


def test_a_file_that_is_not_a_hash_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "password"
    path.write_text("hunter22 in plain text\n")
    with pytest.raises(CredentialError, match="does not hold a password hash"):
        resolve_password_hash(path, {})


def test_secret_is_random_private_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "secret"
    secret = load_or_create_secret(path)
    assert len(secret) >= 32
    assert mode_of(path) == 0o600
    assert load_or_create_secret(path) == secret
    assert load_or_create_secret(tmp_path / "other") != secret


def test_a_short_secret_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "secret"
    path.write_bytes(b"dev")
    with pytest.raises(CredentialError, match="shorter than 32 bytes"):
        load_or_create_secret(path)


def run_password_cli(argv: list[str], data_dir: Path) -> int:
    """``vehicle password ...`` through the subcommand's own parser and ``run``."""
    parser = argparse.ArgumentParser(prog="vehicle")
    password.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args, Settings(data_dir=data_dir))


def test_password_set_reads_stdin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("typed on stdin\n"))
    assert run_password_cli(["password", "set"], tmp_path) == 0
    assert check_password_hash(read_password_hash(tmp_path / "password"), "typed on stdin")


def test_password_set_rejects_a_short_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    with pytest.raises(CredentialError, match="8 to 256 characters"):  # main: exit 1
        run_password_cli(["password", "set"], tmp_path)
    assert not (tmp_path / "password").exists()


def test_password_needs_an_action(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exc:  # usage error: exit 2
        run_password_cli(["password"], tmp_path)
    assert exc.value.code == 2
