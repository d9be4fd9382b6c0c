"""The console password and the session secret, kept on the car's disk.

Only a salted hash of the password is stored (werkzeug's scrypt), written atomically with
mode 0600. The session secret is random per car, never a constant in the code.
"""

from __future__ import annotations

import logging
import os
import secrets
import sys
from collections.abc import Mapping
from pathlib import Path

from werkzeug.security import generate_password_hash

from vehicle.atomic import atomic_write_bytes

log = logging.getLogger(__name__)  # never the password: the console serves this log

PASSWORD_ENV = "VEHICLE_CONSOLE_PASSWORD"
MIN_PASSWORD_LEN = 8
MAX_PASSWORD_LEN = 256
SECRET_BYTES = 32
_HASH_METHODS = ("scrypt:", "pbkdf2:")


class CredentialError(ValueError):
    """A password or a stored credential file that cannot be used."""


def check_password(password: str) -> str:
    """A usable new password: long enough, not absurdly long, printable."""
    if not isinstance(password, str):
        raise CredentialError("the password must be text")
    if not MIN_PASSWORD_LEN <= len(password) <= MAX_PASSWORD_LEN:
        raise CredentialError(
            f"the password must be {MIN_PASSWORD_LEN} to {MAX_PASSWORD_LEN} characters long, "
            f"got {len(password)}"
        )
    if not password.isprintable():
        raise CredentialError("the password must not contain control characters")
    return password


def hash_password(password: str) -> str:
    return generate_password_hash(check_password(password), method="scrypt")


def store_password(path: Path, password: str) -> None:
    """Hash ``password`` and replace the stored hash (0600, atomic)."""
    atomic_write_bytes(Path(path), (hash_password(password) + "\n").encode(), mode=0o600)


def read_password_hash(path: Path) -> str:
    """The stored hash; ``CredentialError`` if the file is not one of ours."""
    try:
        value = Path(path).read_text().strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise CredentialError(f"cannot read the console password file {path}: {exc}") from exc
    if not value.startswith(_HASH_METHODS):
        raise CredentialError(
            f"{path} does not hold a password hash; set one with `vehicle password set`"
        )
    return value


def resolve_password_hash(path: Path, environ: Mapping[str, str] = os.environ) -> str:
    """The hash the console checks logins against, in order of precedence.

    ``VEHICLE_CONSOLE_PASSWORD`` (for this run only, not stored), then the stored hash, then a
    new random password: stored, and printed once to stderr (the terminal, or the journal
    under systemd) so the operator can log in. Never logged: the log is served by the console.
    """
    from_env = environ.get(PASSWORD_ENV)
    if from_env:
        return hash_password(from_env)
    path = Path(path)
    if path.exists():
        return read_password_hash(path)
    password = secrets.token_urlsafe(9)  # 12 characters, easy to type on a phone
    store_password(path, password)
    shown = f"console password (shown once, change it with `vehicle password set`): {password}"
    print(f"vehicle: {shown}", file=sys.stderr, flush=True)
    return read_password_hash(path)


def load_or_create_secret(path: Path) -> bytes:
    """The session-signing key: random on first use, then kept (0600) so logins survive restarts."""
    path = Path(path)
    if path.exists():
        secret = path.read_bytes()
        if len(secret) < SECRET_BYTES:
            raise CredentialError(
                f"{path} holds a session secret shorter than {SECRET_BYTES} bytes; delete it to "
                "have a new one made"
            )
        if path.stat().st_mode & 0o077:
            os.chmod(path, 0o600)
        return secret
    secret = secrets.token_bytes(SECRET_BYTES)
    atomic_write_bytes(path, secret, mode=0o600)
    return secret


class PasswordHash:
    """The hash logins are checked against, as it is now. With ``path`` it is re-read
    whenever that file changes (`vehicle password set` while the console runs); the
    console's own password route puts the new one in place with ``replace``. Sessions are
    tied to the hash, so a new password ends every login at once."""

    def __init__(self, current: str, path: Path | None = None) -> None:
        self._hash = current
        self._path = None if path is None else Path(path)
        self._stamp = self._stat()

    def _stat(self) -> tuple[int, int, int] | None:
        if self._path is None:
            return None
        try:
            st = self._path.stat()
        except OSError:
            return None
        return st.st_ino, st.st_mtime_ns, st.st_size

    def __call__(self) -> str:
        stamp = self._stat()
        if stamp is not None and stamp != self._stamp:
            try:
                self._hash = read_password_hash(self._path)  # type: ignore[arg-type]
            except CredentialError as exc:
                log.error("keeping the previous console password: %s", exc)
            self._stamp = stamp
        return self._hash

    def replace(self, new_hash: str) -> None:
        self._hash = new_hash
        self._stamp = self._stat()


def password_source(path: Path, environ: Mapping[str, str] = os.environ) -> PasswordHash:
    """What the console checks logins against: the run's fixed password from the
    environment, or the stored one (made on first start), followed as it changes."""
    current = resolve_password_hash(path, environ)
    return PasswordHash(current, None if environ.get(PASSWORD_ENV) else path)
