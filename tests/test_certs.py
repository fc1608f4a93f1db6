from __future__ import annotations

import datetime as dt
import stat

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from privlink.certs import ensure_certificates, fingerprint, issued_by


def load(pem: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate(pem.encode())


def test_certificates_are_made_with_private_keys_0600_and_chain_verifies(tmp_path):
    bundle = ensure_certificates(tmp_path / "dev", "hello", "dev")
    for name in ("ca.key", "server.key", "client.key"):
        mode = stat.S_IMODE((tmp_path / "dev" / name).stat().st_mode)
        assert mode == 0o600, name
    ca, server, client = load(bundle.ca_cert), load(bundle.server_cert), load(bundle.client_cert)
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert issued_by(server, ca) and issued_by(client, ca)
    assert (
        ExtendedKeyUsageOID.SERVER_AUTH
        in server.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    )
    assert (
        ExtendedKeyUsageOID.CLIENT_AUTH
        in client.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    )
    san = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["server.dev.hello.privlink"]
    assert "PRIVATE KEY" not in bundle.ca_cert + bundle.server_cert + bundle.client_cert
    assert "PRIVATE KEY" in bundle.client_key()
    # the client cert is verified by the CA with cryptography's own chain verifier
    from cryptography.x509.verification import PolicyBuilder, Store

    verifier = PolicyBuilder().store(Store([ca])).build_client_verifier()
    verifier.verify(client, [])


def test_present_valid_certificates_are_reused(tmp_path):
    first = ensure_certificates(tmp_path, "hello", "dev")
    second = ensure_certificates(tmp_path, "hello", "dev")
    assert fingerprint(first.ca_cert) == fingerprint(second.ca_cert)
    assert first.client_cert == second.client_cert and first.server_cert == second.server_cert


def test_expiring_or_broken_certificates_are_replaced(tmp_path):
    first = ensure_certificates(tmp_path, "hello", "dev")
    (tmp_path / "client.key").write_text("garbage")
    second = ensure_certificates(tmp_path, "hello", "dev")
    assert second.ca_cert == first.ca_cert and second.client_cert != first.client_cert
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=820)
    third = ensure_certificates(tmp_path, "hello", "dev", now=lambda: later)
    assert third.ca_cert != first.ca_cert
    assert issued_by(load(third.server_cert), load(third.ca_cert))
    assert stat.S_IMODE((tmp_path / "client.key").stat().st_mode) == 0o600
