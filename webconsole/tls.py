"""A self-signed certificate for the console, made on first start and kept in ``tls_dir``.

The browser warns once (there is no CA for a car on a private Wi-Fi); the traffic, the
password and the session cookie are still encrypted. The key file is mode 0600.
"""

from __future__ import annotations

import datetime
import ipaddress
import socket
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from vehicle.atomic import atomic_write_bytes

CERT_NAME = "console.crt"
KEY_NAME = "console.key"
VALID_DAYS = 3650
_WILDCARD_HOSTS = ("", "0.0.0.0", "::")


@dataclass(frozen=True)
class CertificatePaths:
    cert: Path
    key: Path


def _subject_names(host: str) -> list[x509.GeneralName]:
    """localhost, the loopback addresses, this machine's name, and the bound address."""
    hostname = socket.gethostname()
    dns = {"localhost", hostname, f"{hostname}.local"}
    ips = {"127.0.0.1", "::1"}
    if host not in _WILDCARD_HOSTS:
        try:
            ipaddress.ip_address(host)
            ips.add(host)
        except ValueError:
            dns.add(host)
    names: list[x509.GeneralName] = [x509.DNSName(name) for name in sorted(dns)]
    names += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in sorted(ips)]
    return names


def _still_valid(cert_path: Path) -> bool:
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    return cert.not_valid_after_utc > datetime.datetime.now(datetime.UTC)


def ensure_certificate(tls_dir: Path, host: str = "") -> CertificatePaths:
    """The existing certificate if present and unexpired, else a new one (EC P-256)."""
    tls_dir = Path(tls_dir)
    paths = CertificatePaths(tls_dir / CERT_NAME, tls_dir / KEY_NAME)
    if paths.cert.exists() and paths.key.exists() and _still_valid(paths.cert):
        return paths
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [x509.NameAttribute(NameOID.COMMON_NAME, f"vehicle console {socket.gethostname()}")]
    )
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=VALID_DAYS))
        .add_extension(x509.SubjectAlternativeName(_subject_names(host)), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    atomic_write_bytes(paths.key, key_pem, mode=0o600)
    atomic_write_bytes(paths.cert, cert.public_bytes(serialization.Encoding.PEM), mode=0o644)
    return paths


def server_context(paths: CertificatePaths) -> ssl.SSLContext:
    """TLS 1.2 or later with the console's certificate."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(str(paths.cert), str(paths.key))
    return context
