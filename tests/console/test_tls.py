"""The self-signed certificate: made once, private key 0600, names the car's addresses."""

from __future__ import annotations

import ipaddress
import stat
from pathlib import Path

from cryptography import x509

from webconsole.server import use_tls
from webconsole.tls import ensure_certificate


def test_certificate_is_made_once_and_kept(tmp_path: Path) -> None:
    first = ensure_certificate(tmp_path / "tls", "192.168.1.20")
    assert stat.S_IMODE(first.key.stat().st_mode) == 0o600
    cert = x509.load_pem_x509_certificate(first.cert.read_bytes())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "localhost" in names.get_values_for_type(x509.DNSName)
    ips = names.get_values_for_type(x509.IPAddress)
    assert ipaddress.ip_address("127.0.0.1") in ips
    assert ipaddress.ip_address("192.168.1.20") in ips
    before = first.cert.read_bytes(), first.key.read_bytes()
    second = ensure_certificate(tmp_path / "tls", "192.168.1.20")
    assert (second.cert.read_bytes(), second.key.read_bytes()) == before


def test_plain_http_only_on_loopback_or_when_asked() -> None:
    assert use_tls("0.0.0.0", None) is True
    assert use_tls("192.168.1.20", None) is True
    for loopback in ("127.0.0.1", "localhost", "::1"):
        assert use_tls(loopback, None) is False
    assert use_tls("0.0.0.0", False) is False  # --no-tls
    assert use_tls("127.0.0.1", True) is True
