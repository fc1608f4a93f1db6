"""Certificates for Client VPN mutual authentication: a CA, a server and a client certificate.

Files live in one directory per consumer of `.privlink/certs/`; every file there is created 0600
(private keys never chmod-ed after) and keys are never printed. Existing files are reused while they
are valid (parse, match their key, are signed by the CA and are not about to expire).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from privlink.errors import StateError
from privlink.statefile import ensure_private_dir, write_private_bytes

KEY_SIZE = 2048  # ACM import for Client VPN: RSA 2048 is accepted everywhere
VALID_DAYS = 825
RENEW_BEFORE = dt.timedelta(days=30)

CA_CERT, CA_KEY = "ca.crt", "ca.key"
SERVER_CERT, SERVER_KEY = "server.crt", "server.key"
CLIENT_CERT, CLIENT_KEY = "client.crt", "client.key"
FILES = (CA_CERT, CA_KEY, SERVER_CERT, SERVER_KEY, CLIENT_CERT, CLIENT_KEY)


def written_here(name: str) -> bool:
    """True for a file name `ensure_certificates` writes, or its temporary file (a crash's leftover)."""
    return name in FILES or any(re.fullmatch(rf"\.{re.escape(f)}\.\d+\.tmp", name) for f in FILES)


@dataclass(frozen=True)
class CertBundle:
    """PEM texts of the CA, server and client certificates; keys stay in files (paths only)."""

    directory: Path
    ca_cert: str
    server_cert: str
    client_cert: str

    @property
    def server_key_path(self) -> Path:
        return self.directory / SERVER_KEY

    @property
    def client_key_path(self) -> Path:
        return self.directory / CLIENT_KEY

    def server_key(self) -> str:
        return self.server_key_path.read_text(encoding="ascii")

    def client_key(self) -> str:
        return self.client_key_path.read_text(encoding="ascii")


def fingerprint(cert_pem: str) -> str:
    """SHA-256 of the certificate's DER bytes, hex."""
    cert = x509.load_pem_x509_certificate(cert_pem.encode())
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


def write_private(path: Path, data: bytes) -> None:
    """Write a secret file created with mode 0600 (replacing any older file atomically)."""
    tmp = path.with_name(path.name + ".tmp")
    if tmp.exists():
        tmp.unlink()
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.replace(tmp, path)


def _new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=KEY_SIZE)


def _key_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "privlink"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _builder(subject: x509.Name, issuer: x509.Name, public_key, now: dt.datetime) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=VALID_DAYS))
    )


def _make_ca(common_name: str, now: dt.datetime) -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    key = _new_key()
    name = _name(common_name)
    cert = (
        _builder(name, name, key.public_key(), now)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def _make_leaf(
    common_name: str,
    ca_cert: x509.Certificate,
    ca_key: rsa.RSAPrivateKey,
    server: bool,
    now: dt.datetime,
) -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    key = _new_key()
    usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
    builder = (
        _builder(_name(common_name), ca_cert.subject, key.public_key(), now)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=True,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
    )
    # A SAN on both: servers are checked against it, and RFC 5280 verifiers expect one on clients too.
    builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(common_name)]), critical=False)
    return builder.sign(ca_key, hashes.SHA256()), key


def _load(directory: Path, cert_file: str, key_file: str):
    cert_path, key_path = directory / cert_file, directory / key_file
    if not (cert_path.exists() and key_path.exists()):
        return None
    try:
        cert_pem, key_pem = cert_path.read_bytes(), key_path.read_bytes()
    except OSError as exc:  # a directory in its place, no permission: a file that cannot be reused
        raise StateError(
            str(exc.filename or directory),
            f"cannot be read ({exc.strerror or exc})",
            "fix it or delete it (privlink makes a new one)",
        ) from None
    try:
        cert = x509.load_pem_x509_certificate(cert_pem)
        key = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError):  # unparseable or encrypted: made anew
        return None
    if cert.public_key().public_numbers() != key.public_key().public_numbers():
        return None
    return cert, key


def _valid(cert: x509.Certificate, now: dt.datetime) -> bool:
    return cert.not_valid_before_utc <= now and cert.not_valid_after_utc - RENEW_BEFORE > now


def issued_by(cert: x509.Certificate, ca_cert: x509.Certificate) -> bool:
    """True when `ca_cert`'s key signed `cert`."""
    try:
        ca_cert.public_key().verify(
            cert.signature, cert.tbs_certificate_bytes, padding.PKCS1v15(), cert.signature_hash_algorithm
        )
    except Exception:
        return False
    return cert.issuer == ca_cert.subject


def ensure_certificates(
    directory: Path,
    link: str,
    consumer: str,
    now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.timezone.utc),
) -> CertBundle:
    """The consumer's CA, server and client certificates, made or reused, in `directory`."""
    ensure_private_dir(directory)
    at = now()
    ca = _load(directory, CA_CERT, CA_KEY)
    renewed = False
    if ca is None or not _valid(ca[0], at):
        ca = _make_ca(f"privlink {link} {consumer} CA", at)
        write_private_bytes(directory / CA_KEY, _key_pem(ca[1]))
        write_private_bytes(directory / CA_CERT, ca[0].public_bytes(serialization.Encoding.PEM))
        renewed = True
    ca_cert, ca_key = ca
    pems: dict[str, str] = {}
    for role, cert_file, key_file, server in (
        ("server", SERVER_CERT, SERVER_KEY, True),
        ("client", CLIENT_CERT, CLIENT_KEY, False),
    ):
        leaf = None if renewed else _load(directory, cert_file, key_file)
        if leaf is None or not _valid(leaf[0], at) or not issued_by(leaf[0], ca_cert):
            common_name = f"{role}.{consumer}.{link}.privlink"
            leaf = _make_leaf(common_name, ca_cert, ca_key, server, at)
            write_private_bytes(directory / key_file, _key_pem(leaf[1]))
            write_private_bytes(directory / cert_file, leaf[0].public_bytes(serialization.Encoding.PEM))
        pems[role] = leaf[0].public_bytes(serialization.Encoding.PEM).decode()
    return CertBundle(
        directory=directory,
        ca_cert=ca_cert.public_bytes(serialization.Encoding.PEM).decode(),
        server_cert=pems["server"],
        client_cert=pems["client"],
    )
