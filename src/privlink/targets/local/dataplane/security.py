"""Sans-IO admission of host connections into an endpoint (state, security group, VPN authorization),
and which open flows lose their path when the config changes."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from privlink.targets.local.dataplane.config_model import DataPlaneConfig, Endpoint, SgRule

TCP_PROTOCOLS = {"tcp", "6", "-1", "all"}


def sg_allows(rules: Iterable[SgRule], source_ip: str, port: int) -> bool:
    """True when one inbound rule admits TCP from `source_ip` to `port`."""
    src = ipaddress.IPv4Address(source_ip)
    for rule in rules:
        proto = rule.protocol.lower()
        if proto not in TCP_PROTOCOLS:
            continue
        if src not in ipaddress.IPv4Network(rule.cidr):
            continue
        if proto in ("-1", "all") or rule.from_port <= port <= rule.to_port:
            return True
    return False


def vpn_authorizes(cidrs: Iterable[str], destination_ip: str) -> bool:
    """Client VPN authorization: the destination must be inside an authorized network."""
    dst = ipaddress.IPv4Address(destination_ip)
    return any(dst in ipaddress.IPv4Network(c) for c in cidrs)


def refusal(endpoint: Endpoint, eni_private_ip: str) -> str | None:
    """Why a host connection to this endpoint ENI gets no service, or None when it is admitted."""
    if endpoint.state != "available":
        return f"endpoint {endpoint.endpoint_id} is {endpoint.state}, not available"
    src = endpoint.source
    if src.kind == "vpn" and not vpn_authorizes(endpoint.vpn_authorized_cidrs, eni_private_ip):
        return f"no Client VPN authorization rule covers {eni_private_ip}"
    if not sg_allows(endpoint.security_group_rules, src.ip, endpoint.port):
        return f"security group admits no TCP from {src.ip} ({src.kind}) to port {endpoint.port}"
    return None


def severed(old: DataPlaneConfig, new: DataPlaneConfig) -> set[tuple[str, int]]:
    """The ENI listener addresses of `old` whose open flows `new` cuts: the endpoint left `available`,
    or the ENI is gone (its address may now be another ENI's).

    AWS removes the path of a rejected or deleted endpoint. Security groups are stateful, so a rule
    removed (or a VPN authorization rule: assumed alike) stops new connections only; those changes
    cut nothing.
    """
    kept = {
        (eni.bind_ip, ep.port): eni.eni_id
        for ep in new.endpoints
        if ep.state == "available"
        for eni in ep.enis
    }
    return {
        (eni.bind_ip, ep.port)
        for ep in old.endpoints
        for eni in ep.enis
        if kept.get((eni.bind_ip, ep.port)) != eni.eni_id
    }
