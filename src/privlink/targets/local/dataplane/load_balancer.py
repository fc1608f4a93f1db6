"""One NLB's live state in the data plane, and the routers that send each connection to a target.

Sans-IO: `LbRuntime` holds each target's health state (the state machine in `health`) and connect
address, the target choice (`choice`) and, per node, the eligible addresses, kept until a health
state changes. The routers are built once per config for each listener (an NLB node, an admitted
endpoint ENI); the route they return is the only call per accepted connection.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from privlink.targets.local.dataplane import ppv2
from privlink.targets.local.dataplane.choice import Candidate, TargetChooser
from privlink.targets.local.dataplane.config_model import Endpoint, Eni, LoadBalancer, NlbNode
from privlink.targets.local.dataplane.health import UNUSED, HealthState

if TYPE_CHECKING:
    import asyncio

    from privlink.targets.local.dataplane.flows import Route, Router


@dataclass
class LbRuntime:
    config: LoadBalancer
    health: dict[str, HealthState] = field(default_factory=dict)
    addresses: dict[str, tuple[str, int]] = field(default_factory=dict)  # target id -> connect address
    chooser: TargetChooser | None = None
    node_rr: int = 0
    pools: dict[str, list[tuple[str, int]]] = field(default_factory=dict)  # node AZ ID -> eligible addresses

    def states(self) -> dict[str, str]:
        return {tid: h.state for tid, h in self.health.items()}

    def pick(self, node_az_id: str) -> tuple[str, int] | None:
        """The connect address of the target this node sends its next connection to."""
        pool = self.pools.get(node_az_id)
        if pool is None:
            assert self.chooser is not None
            eligible = self.chooser.eligible(node_az_id, self.states())
            pool = self.pools[node_az_id] = [self.addresses[c.id] for c in eligible]
        return self.chooser.pick(node_az_id, pool)  # type: ignore[union-attr]

    def health_changed(self) -> None:
        self.pools.clear()

    def reconfigure(self, lb: LoadBalancer, addresses: dict[str, tuple[str, int]]) -> None:
        """Take this load balancer's config and its targets' connect addresses (from every apply).

        A target keeps its health state while its address, the health check and whether it is in
        use stay the same; any other target starts anew. A target is unused, never checked nor
        routed to, when no node serves its AZ or its instance is stopped (AWS: `unused`, reasons
        `Target.NotInUse` and `Target.InvalidState`).
        """
        old_cfg, self.config = self.config, lb
        node_azs = {n.az_id for n in lb.nodes}
        health: dict[str, HealthState] = {}
        hc = lb.health_check
        for t in lb.targets:
            old = self.health.get(t.id)
            unused = t.stopped or t.az_id not in node_azs
            keep = (
                old is not None
                and self.addresses.get(t.id) == addresses[t.id]
                and old_cfg.health_check == hc
                and (old.state == UNUSED) == unused
            )
            if keep:
                health[t.id] = old  # type: ignore[assignment]
            else:
                health[t.id] = HealthState(hc.healthy_threshold, hc.unhealthy_threshold)
                if unused:
                    health[t.id].state = UNUSED
        self.health, self.addresses = health, addresses
        self.chooser = TargetChooser([Candidate(t.id, t.az_id) for t in lb.targets], lb.cross_zone)
        self.health_changed()


def node_router(rt: LbRuntime, node: NlbNode) -> Router:
    """A connection straight to an NLB node: PPv2 (when on) names the real client."""
    az_id, source = node.az_id, (node.bind_ip, 0)
    dst, port = node.private_ip or node.bind_ip, rt.config.listener_port
    proxy_protocol = rt.config.proxy_protocol

    def route(transport: asyncio.BaseTransport) -> Route | None:
        addr = rt.pick(az_id)
        if addr is None:
            return None
        header = None
        if proxy_protocol:
            peer = transport.get_extra_info("peername")
            header = ppv2.encode(peer[0], peer[1], dst, port)
        return addr[0], addr[1], source, header

    return route


def eni_router(rt: LbRuntime, ep: Endpoint, eni: Eni) -> Router:
    """An admitted ENI: its AZ ID's node (or, cross-region, the nodes in turn) picks the target."""
    nodes = [(n.az_id, (n.bind_ip, 0)) for n in rt.config.nodes if ep.cross_region or n.az_id == eni.az_id]
    encode = None
    if rt.config.proxy_protocol:
        encode = ppv2.encoder(ep.source.ip, eni.private_ip, ep.port, endpoint_id=ep.endpoint_id)
    cross_region = ep.cross_region

    def route(transport: asyncio.BaseTransport) -> Route | None:
        order = nodes
        if cross_region and nodes:
            first = rt.node_rr % len(nodes)
            rt.node_rr += 1
            order = nodes[first:] + nodes[:first]
        for az_id, source in order:
            addr = rt.pick(az_id)
            if addr is not None:
                header = encode(transport.get_extra_info("peername")[1]) if encode else None
                return addr[0], addr[1], source, header
        return None

    return route
