"""The `.ovpn` client configuration, as AWS exports it, with the client certificate and key inline.

Works for both targets: `with_client_credentials` completes the text AWS's
ExportClientVpnClientConfiguration returns; `render_config` builds the same text from parts.
"""

from __future__ import annotations


def render_config(
    dns_name: str,
    port: int,
    protocol: str,
    ca_pem: str,
    client_cert_pem: str,
    client_key_pem: str,
) -> str:
    """The `.ovpn` text in the order AWS exports it, plus `<cert>` and `<key>`."""
    lines = [
        "client",
        "dev tun",
        f"proto {protocol}",
        f"remote {dns_name.removeprefix('*.')} {port}",
        "remote-random-hostname",
        "resolv-retry infinite",
        "nobind",
        "persist-key",
        "persist-tun",
        "remote-cert-tls server",
        "cipher AES-256-GCM",
        "verb 3",
        "<ca>",
        ca_pem.strip(),
        "</ca>",
        "",
        "reneg-sec 0",
        "",
    ]
    return with_client_credentials("\n".join(lines), client_cert_pem, client_key_pem)


def strip_blocks(text: str, *tags: str) -> str:
    """`text` without `<tag>...</tag>` blocks and `cert`/`key` file directives."""
    out: list[str] = []
    inside: str | None = None
    for line in text.splitlines():
        stripped = line.strip()
        if inside:
            if stripped == f"</{inside}>":
                inside = None
            continue
        opened = next((t for t in tags if stripped == f"<{t}>"), None)
        if opened:
            inside = opened
            continue
        if stripped.split(" ", 1)[0] in tags:
            continue
        out.append(line)
    return "\n".join(out)


def with_client_credentials(config_text: str, client_cert_pem: str, client_key_pem: str) -> str:
    """The exported config with `<cert>` and `<key>` blocks (replacing any already there)."""
    base = strip_blocks(config_text, "cert", "key").rstrip("\n")
    return (
        f"{base}\n\n<cert>\n{client_cert_pem.strip()}\n</cert>\n\n<key>\n{client_key_pem.strip()}\n</key>\n"
    )


def check_config(text: str) -> list[str]:
    """What a usable mutual-auth config lacks (empty when it has everything)."""
    missing = []
    for directive in ("client", "remote-random-hostname", "remote-cert-tls server"):
        if not any(line.strip() == directive for line in text.splitlines()):
            missing.append(directive)
    if not any(line.strip().startswith("remote ") for line in text.splitlines()):
        missing.append("remote")
    for block in ("ca", "cert", "key"):
        if f"<{block}>" not in text or f"</{block}>" not in text:
            missing.append(f"<{block}>")
    return missing
