"""What an address range or an allowed principal covers: CIDR containment and IAM principal matching."""

from __future__ import annotations

import ipaddress


def ipv4_network(cidr: str) -> ipaddress.IPv4Network | None:
    """The network of `cidr` (host bits allowed), or None when it is not an IPv4 CIDR."""
    try:
        return ipaddress.IPv4Network(cidr, strict=False)
    except ValueError:
        return None


def cidr_covers(outer: str, inner: str) -> bool:
    """Every address of `inner` is in `outer` (an address is a /32)."""
    outer_net, inner_net = ipv4_network(outer), ipv4_network(inner)
    return outer_net is not None and inner_net is not None and inner_net.subnet_of(outer_net)


def account_of(principal: str) -> str:
    """The account ID of an IAM ARN (`arn:aws:iam::<account>:...`), or "" for anything else."""
    parts = principal.split(":")
    return parts[4] if len(parts) > 5 else ""


def principal_allowed(principal: str, allowed: list[str]) -> bool:
    """An account root also allows that account's roles and users; `*` allows everyone."""
    if "*" in allowed or principal in allowed:
        return True
    account = account_of(principal)
    return any(a.endswith(":root") and account_of(a) == account for a in allowed)
