from __future__ import annotations

from privlink.ovpn import check_config, render_config, with_client_credentials

EXPORTED = """client
dev tun
proto udp
remote cvpn-endpoint-0123456789abcdef0.prod.clientvpn.eu-central-1.amazonaws.com 443
remote-random-hostname
resolv-retry infinite
nobind
persist-key
persist-tun
remote-cert-tls server
cipher AES-256-GCM
verb 3
<ca>
-----BEGIN CERTIFICATE-----
CA
-----END CERTIFICATE-----
</ca>


reneg-sec 0
"""

CERT = "-----BEGIN CERTIFICATE-----\nCLIENT\n-----END CERTIFICATE-----\n"
KEY = "-----BEGIN RSA PRIVATE KEY-----\nKEY\n-----END RSA PRIVATE KEY-----\n"


def test_exported_config_gets_inline_cert_and_key():
    text = with_client_credentials(EXPORTED, CERT, KEY)
    assert check_config(text) == []
    assert text.index("<ca>") < text.index("reneg-sec 0") < text.index("<cert>") < text.index("<key>")
    assert "CLIENT" in text and "KEY" in text
    # applying it twice replaces rather than duplicates
    again = with_client_credentials(text, CERT, KEY)
    assert again.count("<cert>") == 1 and again.count("<key>") == 1


def test_rendered_config_matches_the_aws_export_order():
    text = render_config(
        "*.cvpn-endpoint-0123456789abcdef0.prod.clientvpn.eu-central-1.amazonaws.com",
        443,
        "udp",
        "-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n",
        CERT,
        KEY,
    )
    lines = [line for line in text.splitlines() if line]
    assert lines[:12] == [
        "client",
        "dev tun",
        "proto udp",
        "remote cvpn-endpoint-0123456789abcdef0.prod.clientvpn.eu-central-1.amazonaws.com 443",
        "remote-random-hostname",
        "resolv-retry infinite",
        "nobind",
        "persist-key",
        "persist-tun",
        "remote-cert-tls server",
        "cipher AES-256-GCM",
        "verb 3",
    ]
    assert check_config(text) == []


def test_missing_pieces_are_named():
    assert set(check_config("client\n")) >= {"<cert>", "<key>", "<ca>", "remote", "remote-random-hostname"}
