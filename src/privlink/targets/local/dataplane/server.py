"""The data-plane process: asyncio protocols that move bytes and call the sans-IO pieces.

One `DataPlane` supervises every listener: endpoint ENIs, NLB nodes, demo targets, DNS, and the
health checkers. Forwarding is two `asyncio.Protocol`s glued to each other's transports; once a flow
is connected no Python runs per chunk beyond `transport.write`, and backpressure is the transports'
own pause_writing/resume_writing turned into pause_reading/resume_reading of the other side.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import socket
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from privlink.targets.local.dataplane import dns, ppv2
from privlink.targets.local.dataplane.choice import Candidate, TargetChooser
from privlink.targets.local.dataplane.config import (
    DataPlaneConfig,
    Endpoint,
    Eni,
    LoadBalancer,
    NlbNode,
    Target,
    claim_address,
    effective_time_scale,
    load_config,
    split_hostport,
    write_json_atomic,
)
from privlink.targets.local.dataplane.health import UNUSED, HealthState
from privlink.targets.local.dataplane.security import refusal

log = logging.getLogger("privlink.dataplane")

WRITE_HIGH = 1 << 20  # per-transport write buffer before the other side stops reading
WRITE_LOW = 256 << 10
# asyncio's default of 100 drops SYNs in a burst of new connections (the client retries after 1 s);
# an NLB takes the burst. The kernel caps this at net.core.somaxconn.
LISTEN_BACKLOG = 4096
LINGER_RESET = struct.pack("ii", 1, 0)
SHARED_DNS_IP = "127.0.0.1"  # the DNS server `status` shows, answering every name (for `dig` by hand)


def _nodelay(transport: asyncio.BaseTransport) -> None:
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def reset(transport: asyncio.BaseTransport) -> None:
    """Close with RST (what a client sees when nothing behind the address takes the connection)."""
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER_RESET)
    transport.abort()


# --- forwarding ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    """Where one accepted connection goes."""

    host: str
    port: int
    local_ip: str | None  # the NLB node's loopback address as the source towards the target
    header: bytes | None  # PPv2 header to send first


class Downstream(asyncio.Protocol):
    """The accepted side of a flow (at an ENI or an NLB node)."""

    __slots__ = (
        "plane",
        "router",
        "idle",
        "transport",
        "peer",
        "up",
        "active",
        "closed",
        "idle_sweeps",
        "eof",
        "early",
    )

    def __init__(self, plane: DataPlane, router: Callable[[tuple[str, int]], Route | None], idle: float):
        self.plane = plane
        self.router = router
        self.idle = idle
        self.transport: asyncio.Transport | None = None
        self.peer: asyncio.Transport | None = None
        self.up: Upstream | None = None
        self.active = False
        self.closed = False
        self.idle_sweeps = 0
        self.eof = False
        self.early: list[bytes] = []  # bytes that arrive before the upstream is connected

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        pass  # uvloop transports are not asyncio.Transport subclasses
        self.transport = transport
        transport.pause_reading()
        _nodelay(transport)
        transport.set_write_buffer_limits(WRITE_HIGH, WRITE_LOW)
        route = self.router(transport.get_extra_info("peername"))
        if route is None:
            self.closed = True
            reset(transport)
            return
        self.plane.flows.add(self)
        self.plane.loop.create_task(self._connect(route))

    async def _connect(self, route: Route) -> None:
        loop = self.plane.loop
        try:
            local = (route.local_ip, 0) if route.local_ip else None
            transport, up = await loop.create_connection(
                lambda: Upstream(self), route.host, route.port, local_addr=local
            )
        except OSError as exc:
            log.debug("connect %s:%s failed: %s", route.host, route.port, exc)
            if not self.closed and self.transport is not None:
                reset(self.transport)
            return
        if self.closed:
            transport.close()
            return
        if route.header:
            transport.write(route.header)
        if self.early:
            transport.write(b"".join(self.early))
            self.early.clear()
        self.peer = transport
        if self.eof and transport.can_write_eof():
            transport.write_eof()
        self.transport.resume_reading()  # type: ignore[union-attr]

    def data_received(self, data: bytes) -> None:
        peer = self.peer
        if peer is None:  # uvloop may deliver data before pause_reading takes effect
            self.early.append(data)
            return
        peer.write(data)
        self.active = True

    def eof_received(self) -> bool:
        if self.peer is not None and self.peer.can_write_eof():
            self.peer.write_eof()
        if self.up is not None and self.up.eof:
            return False
        self.eof = True
        return True

    def pause_writing(self) -> None:
        if self.peer is not None:
            self.peer.pause_reading()

    def resume_writing(self) -> None:
        if self.peer is not None:
            self.peer.resume_reading()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.plane.flows.discard(self)
        if self.peer is not None:
            if exc is None:
                self.peer.close()
            else:
                self.peer.abort()


class Upstream(asyncio.Protocol):
    """The connected side of a flow, towards a target."""

    __slots__ = ("down", "peer", "transport", "active", "eof")

    def __init__(self, down: Downstream):
        self.down = down
        self.peer = down.transport
        self.active = False
        self.eof = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        pass  # uvloop transports are not asyncio.Transport subclasses
        self.transport = transport
        _nodelay(transport)
        transport.set_write_buffer_limits(WRITE_HIGH, WRITE_LOW)
        self.down.up = self

    def data_received(self, data: bytes) -> None:
        self.peer.write(data)  # type: ignore[union-attr]
        self.active = True

    def eof_received(self) -> bool:
        if self.peer is not None and self.peer.can_write_eof():
            self.peer.write_eof()
        if self.down.eof:
            return False
        self.eof = True
        return True

    def pause_writing(self) -> None:
        self.peer.pause_reading()  # type: ignore[union-attr]

    def resume_writing(self) -> None:
        self.peer.resume_reading()  # type: ignore[union-attr]

    def connection_lost(self, exc: Exception | None) -> None:
        down = self.down
        if down.closed or down.transport is None:
            return
        if exc is None:
            down.transport.close()
        else:
            reset(down.transport)


# --- demo app -----------------------------------------------------------------------------------


class DemoHttp(asyncio.Protocol):
    """The demo app: HTTP/1.1 keep-alive; `GET /` returns who answered (and who asked, with PPv2)."""

    def __init__(self, plane: DataPlane, target: Target, proxy_protocol: bool):
        self.plane = plane
        self.target = target
        self.expect_proxy = proxy_protocol
        self.proxy: ppv2.ProxyHeader | None = None
        self.buf = b""
        self.transport: asyncio.Transport | None = None
        self.static = {"message": "Hello from provider", "az": target.az_name, "target": target.id}

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        pass  # uvloop transports are not asyncio.Transport subclasses
        self.transport = transport
        _nodelay(transport)
        self.plane.conns.add(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self.plane.conns.discard(self.transport)  # type: ignore[arg-type]

    def data_received(self, data: bytes) -> None:
        buf = self.buf + data if self.buf else data
        if self.expect_proxy:
            try:
                parsed = ppv2.parse(buf)
            except ppv2.ProxyProtocolError:
                self._respond(400, {"error": "expected a PROXY protocol v2 header"}, close=True)
                return
            if parsed is None:
                self.buf = buf
                return
            self.proxy, used = parsed
            self.expect_proxy = False
            buf = buf[used:]
        while True:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                if len(buf) > 65536:
                    self._respond(431, {"error": "request header too large"}, close=True)
                    return
                self.buf = buf
                return
            head = buf[:end].decode("latin-1")
            lines = head.split("\r\n")
            parts = lines[0].split(" ")
            length = 0
            close = False
            for line in lines[1:]:
                name, _, value = line.partition(":")
                name = name.strip().lower()
                if name == "content-length":
                    length = int(value.strip()) if value.strip().isdigit() else 0
                elif name == "connection":
                    close = value.strip().lower() == "close"
            if len(buf) < end + 4 + length:
                self.buf = buf
                return
            buf = buf[end + 4 + length :]
            if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
                self._respond(400, {"error": "bad request line"}, close=True)
                return
            close = close or parts[2] == "HTTP/1.0"
            method, path = parts[0], parts[1]
            if method in ("GET", "HEAD") and path.split("?")[0] == "/":
                self._respond(200, self._hello(), close=close)
            else:
                self._respond(404, {"error": f"no route for {method} {path}"}, close=close)
            if close:
                return

    def _hello(self) -> dict[str, Any]:
        body: dict[str, Any] = dict(self.static)
        body["ts"] = datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        if self.proxy is not None and not self.proxy.local:
            body["endpoint_id"] = self.proxy.endpoint_id
            body["client"] = self.proxy.src_ip
            body["client_port"] = self.proxy.src_port
        return body

    def _respond(self, status: int, body: dict[str, Any], close: bool) -> None:
        payload = json.dumps(body).encode()
        reason = {200: "OK", 400: "Bad Request", 404: "Not Found", 431: "Request Header Fields Too Large"}
        head = (
            f"HTTP/1.1 {status} {reason.get(status, 'Error')}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(payload)}\r\nConnection: {'close' if close else 'keep-alive'}\r\n\r\n"
        )
        t = self.transport
        assert t is not None
        t.write(head.encode() + payload)
        if close:
            self.buf = b""
            t.close()


# --- DNS ----------------------------------------------------------------------------------------


class DnsUdp(asyncio.DatagramProtocol):
    """DNS over UDP on one address: `view` is the bind IP whose zone table answers."""

    def __init__(self, plane: DataPlane, view: str = SHARED_DNS_IP):
        self.plane = plane
        self.view = view
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        reply = dns.answer(self.plane.zone_for(self.view), data)
        if reply is not None and self.transport is not None:
            self.transport.sendto(reply, addr)


class DnsTcp(asyncio.Protocol):
    def __init__(self, plane: DataPlane, view: str = SHARED_DNS_IP):
        self.plane = plane
        self.view = view
        self.buf = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        plane = self.plane
        plane.conns.add(transport)  # type: ignore[arg-type]

    def connection_lost(self, exc: Exception | None) -> None:
        self.plane.conns.discard(self.transport)  # type: ignore[arg-type]

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while len(self.buf) >= 2:
            (n,) = struct.unpack_from("!H", self.buf)
            if len(self.buf) < 2 + n:
                return
            msg, self.buf = self.buf[2 : 2 + n], self.buf[2 + n :]
            reply = dns.answer(self.plane.zone_for(self.view), msg)
            if reply is None:
                self.transport.close()  # type: ignore[attr-defined]
                return
            self.transport.write(struct.pack("!H", len(reply)) + reply)  # type: ignore[attr-defined]


# --- the supervisor -----------------------------------------------------------------------------


@dataclass
class LbRuntime:
    config: LoadBalancer
    health: dict[str, HealthState] = field(default_factory=dict)
    addresses: dict[str, tuple[str, int]] = field(default_factory=dict)  # target id -> connect address
    chooser: TargetChooser | None = None
    checkers: dict[str, asyncio.Task[None]] = field(default_factory=dict)
    node_rr: int = 0

    def states(self) -> dict[str, str]:
        return {tid: h.state for tid, h in self.health.items()}


class DataPlane:
    """Starts, reconciles and stops every listener of one sandbox."""

    def __init__(self, config_path: Path, runtime_path: Path, environ: dict[str, str] | None = None):
        self.config_path = Path(config_path)
        self.runtime_path = Path(runtime_path)
        self.environ = dict(os.environ if environ is None else environ)
        self.loop = asyncio.get_running_loop()
        self.config: DataPlaneConfig | None = None
        self.time_scale = 1.0
        self.zone = dns.ZoneTable({})
        self.views: dict[str, dns.ZoneTable] = {}  # bind IP -> a consumer VPC's table
        self.view_servers: dict[str, list[asyncio.BaseTransport | asyncio.Server]] = {}
        self.flows: set[Downstream] = set()
        self.conns: set[asyncio.Transport] = set()
        self.lbs: dict[str, LbRuntime] = {}
        self.demo: dict[tuple, tuple[asyncio.Server, tuple[str, int]]] = {}
        self.nodes: dict[tuple, tuple[asyncio.Server, tuple[str, int]]] = {}
        self.enis: dict[tuple[str, int], tuple[asyncio.Server, str, str]] = {}  # -> server, endpoint, eni
        self.endpoints: dict[str, Endpoint] = {}
        self.refusals: dict[str, str | None] = {}
        self.bind_errors: dict[str, str] = {}
        self.dns_servers: list[asyncio.BaseTransport | asyncio.Server] = []
        self.dns_address = ""
        self.claim: asyncio.Server | None = None
        self.generation = 0
        self.stopping = asyncio.Event()
        self.sweeper: asyncio.Task[None] | None = None
        self._reload_lock = asyncio.Lock()

    # lifecycle

    async def start(self) -> None:
        config = load_config(self.config_path)
        self.time_scale = effective_time_scale(config, self.environ)
        claim_ip, claim_port = claim_address(config.loopback_block)
        self.claim = await self.loop.create_server(asyncio.Protocol, claim_ip, claim_port)
        await self._start_dns()
        await self._apply(config)
        self.sweeper = self.loop.create_task(self._sweep_idle())

    async def reload(self) -> None:
        async with self._reload_lock:
            try:
                config = load_config(self.config_path)
                self.time_scale = effective_time_scale(config, self.environ)
            except Exception as exc:  # keep serving the old config
                log.error("reload failed, keeping the previous config: %s", exc)
                return
            await self._apply(config)

    async def shutdown(self, grace: float | None = None) -> None:
        grace = (self.config.grace_seconds if self.config else 2.0) if grace is None else grace
        servers = [s for s, *_ in (*self.demo.values(), *self.nodes.values(), *self.enis.values())]
        dns_servers = [*self.dns_servers, *(s for v in self.view_servers.values() for s in v)]
        servers += [s for s in dns_servers if isinstance(s, asyncio.Server)]
        if self.claim is not None:
            servers.append(self.claim)
        for s in servers:
            s.close()
        for t in dns_servers:
            if not isinstance(t, asyncio.Server):
                t.close()
        for lb in self.lbs.values():
            for task in lb.checkers.values():
                task.cancel()
        if self.sweeper:
            self.sweeper.cancel()
        for flow in list(self.flows):
            if flow.transport is not None:
                flow.transport.close()
            if flow.peer is not None:
                flow.peer.close()
        for t in list(self.conns):
            t.close()
        deadline = self.loop.time() + grace
        while (self.flows or self.conns) and self.loop.time() < deadline:
            await asyncio.sleep(0.02)
        for flow in list(self.flows):
            if flow.transport is not None:
                flow.transport.abort()
            if flow.peer is not None:
                flow.peer.abort()
        for t in list(self.conns):
            t.abort()
        current = asyncio.current_task()
        tasks = [t for t in asyncio.all_tasks() if t is not current]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        with contextlib.suppress(FileNotFoundError):
            self.runtime_path.unlink()

    # reconciliation

    async def _apply(self, config: DataPlaneConfig) -> None:
        self.config = config
        self.zone = dns.ZoneTable.from_config(config)
        self.views = {v.bind_ip: dns.ZoneTable.from_config(config, v) for v in config.dns.views}
        self.endpoints = {e.endpoint_id: e for e in config.endpoints}
        self.bind_errors = {}
        await self._apply_dns_views(config)
        await self._apply_load_balancers(config)
        await self._apply_endpoints(config)
        self.generation += 1
        self.write_runtime()

    async def _apply_load_balancers(self, config: DataPlaneConfig) -> None:
        wanted_demo: dict[tuple, tuple[LoadBalancer, Target]] = {}
        for lb in config.load_balancers:
            for t in lb.targets:
                if t.kind == "demo" and t.running:
                    wanted_demo[(lb.id, t.id, t.address, t.az_name, lb.proxy_protocol)] = (lb, t)
        for key in [k for k in self.demo if k not in wanted_demo]:
            server, address = self.demo.pop(key)
            server.close()
            self._drop_connections_to(address)
        for key, (lb, t) in wanted_demo.items():
            if key in self.demo:
                continue
            host, port = split_hostport(t.address)
            try:
                server = await self.loop.create_server(
                    lambda t=t, pp=lb.proxy_protocol: DemoHttp(self, t, pp),
                    host,
                    port,
                    backlog=LISTEN_BACKLOG,
                )
            except OSError as exc:
                self.bind_errors[f"target {t.id}"] = f"cannot bind {t.address}: {exc.strerror}"
                continue
            real = server.sockets[0].getsockname()[:2]
            self.demo[key] = (server, (real[0], real[1]))

        for lb_id in [k for k in self.lbs if k not in {lb.id for lb in config.load_balancers}]:
            for task in self.lbs.pop(lb_id).checkers.values():
                task.cancel()
        for lb in config.load_balancers:
            rt = self.lbs.get(lb.id)
            if rt is None:
                rt = self.lbs[lb.id] = LbRuntime(lb)
            old_cfg, rt.config = rt.config, lb
            node_azs = {n.az_id for n in lb.nodes}
            addresses: dict[str, tuple[str, int]] = {}
            for t in lb.targets:
                if t.kind == "address":
                    addresses[t.id] = split_hostport(t.address)
                else:
                    key = (lb.id, t.id, t.address, t.az_name, lb.proxy_protocol)
                    addresses[t.id] = self.demo[key][1] if key in self.demo else split_hostport(t.address)
            health: dict[str, HealthState] = {}
            hc = lb.health_check
            for t in lb.targets:
                old = rt.health.get(t.id)
                keep = (
                    old is not None
                    and rt.addresses.get(t.id) == addresses[t.id]
                    and old_cfg.health_check == hc
                    and (old.state == UNUSED) == (t.az_id not in node_azs)
                )
                if keep:
                    health[t.id] = old  # type: ignore[assignment]
                else:
                    health[t.id] = HealthState(hc.healthy_threshold, hc.unhealthy_threshold)
                    if t.az_id not in node_azs:
                        health[t.id].state = UNUSED
            rt.health, rt.addresses = health, addresses
            rt.chooser = TargetChooser([Candidate(t.id, t.az_id) for t in lb.targets], lb.cross_zone)
            for task in rt.checkers.values():
                task.cancel()
            rt.checkers = {
                t.id: self.loop.create_task(self._check_loop(rt, t.id))
                for t in lb.targets
                if health[t.id].state != UNUSED
            }

        wanted_nodes = {
            (lb.id, n.az_id, n.bind_ip, n.port): (lb, n) for lb in config.load_balancers for n in lb.nodes
        }
        for key in [k for k in self.nodes if k not in wanted_nodes]:
            self.nodes.pop(key)[0].close()
        for key, (lb, n) in wanted_nodes.items():
            if key in self.nodes:
                continue
            try:
                server = await self.loop.create_server(
                    lambda lb_id=lb.id, n=n: Downstream(self, self._node_router(lb_id, n), self._idle(lb_id)),
                    n.bind_ip,
                    n.port,
                    backlog=LISTEN_BACKLOG,
                )
            except OSError as exc:
                where = f"node {lb.id}/{n.az_id}"
                self.bind_errors[where] = f"cannot bind {n.bind_ip}:{n.port}: {exc.strerror}"
                continue
            real = server.sockets[0].getsockname()[:2]
            self.nodes[key] = (server, (real[0], real[1]))

    async def _apply_endpoints(self, config: DataPlaneConfig) -> None:
        wanted: dict[tuple[str, int], tuple[Endpoint, Eni]] = {}
        self.refusals = {}
        for ep in config.endpoints:
            for eni in ep.enis:
                reason = refusal(ep, eni.private_ip)
                self.refusals[eni.eni_id] = reason
                if reason is None:
                    wanted[(eni.bind_ip, ep.port)] = (ep, eni)
        for key in list(self.enis):
            server, ep_id, eni_id = self.enis[key]
            if key not in wanted or (wanted[key][0].endpoint_id, wanted[key][1].eni_id) != (ep_id, eni_id):
                server.close()
                del self.enis[key]
        for key, (ep, eni) in wanted.items():
            if key in self.enis:
                continue
            try:
                server = await self.loop.create_server(
                    lambda ep_id=ep.endpoint_id, eni=eni: Downstream(
                        self, self._eni_router(ep_id, eni), self._idle_for_endpoint(ep_id)
                    ),
                    eni.bind_ip,
                    ep.port,
                    backlog=LISTEN_BACKLOG,
                )
            except OSError as exc:
                self.bind_errors[f"eni {eni.eni_id}"] = f"cannot bind {eni.bind_ip}:{ep.port}: {exc.strerror}"
                continue
            self.enis[key] = (server, ep.endpoint_id, eni.eni_id)

    def _drop_connections_to(self, address: tuple[str, int]) -> None:
        """A stopped instance takes its connections with it, as a dying process does."""
        for transport in list(self.conns):
            if tuple(transport.get_extra_info("sockname") or ())[:2] == address:
                transport.abort()

    def _idle(self, lb_id: str) -> float:
        rt = self.lbs.get(lb_id)
        return rt.config.idle_timeout_seconds if rt else 350.0

    def _idle_for_endpoint(self, ep_id: str) -> float:
        ep = self.endpoints.get(ep_id)
        return self._idle(ep.load_balancer_id) if ep else 350.0

    # routing (called once per accepted connection)

    def _pick(self, rt: LbRuntime, node: NlbNode) -> tuple[str, int] | None:
        assert rt.chooser is not None
        chosen = rt.chooser.choose(node.az_id, rt.states())
        return rt.addresses.get(chosen.id) if chosen else None

    def _node_router(self, lb_id: str, node: NlbNode) -> Callable[[tuple[str, int]], Route | None]:
        def route(peer: tuple[str, int]) -> Route | None:
            rt = self.lbs.get(lb_id)
            if rt is None:
                return None
            addr = self._pick(rt, node)
            if addr is None:
                return None
            header = None
            if rt.config.proxy_protocol:
                dst = node.private_ip or node.bind_ip
                header = ppv2.encode(peer[0], peer[1], dst, rt.config.listener_port)
            return Route(addr[0], addr[1], node.bind_ip, header)

        return route

    def _eni_router(self, ep_id: str, eni: Eni) -> Callable[[tuple[str, int]], Route | None]:
        def route(peer: tuple[str, int]) -> Route | None:
            ep = self.endpoints.get(ep_id)
            rt = self.lbs.get(ep.load_balancer_id) if ep else None
            if ep is None or rt is None or self.refusals.get(eni.eni_id) is not None:
                return None
            # The listener outlives reloads: use this ENI as the current config has it.
            current = next((e for e in ep.enis if e.eni_id == eni.eni_id), None)
            if current is None:
                return None
            nodes = rt.config.nodes
            if ep.cross_region:
                first = rt.node_rr % len(nodes) if nodes else 0
                candidates = nodes[first:] + nodes[:first]
                rt.node_rr += 1
            else:
                candidates = [n for n in nodes if n.az_id == current.az_id]  # same AZ ID, or nothing
            for node in candidates:
                addr = self._pick(rt, node)
                if addr is None:
                    continue
                header = None
                if rt.config.proxy_protocol:
                    header = ppv2.encode(
                        ep.source.ip, peer[1], current.private_ip, ep.port, endpoint_id=ep.endpoint_id
                    )
                return Route(addr[0], addr[1], node.bind_ip, header)
            return None

        return route

    # health checks

    async def _check_loop(self, rt: LbRuntime, target_id: str) -> None:
        while True:
            hc = rt.config.health_check
            addr = rt.addresses[target_id]
            passed = await self._tcp_check(addr, hc.timeout_seconds * self.time_scale)
            state = rt.health.get(target_id)
            if state is None:
                return
            if state.record(passed):
                log.info("target %s of %s is %s", target_id, rt.config.id, state.state)
                self.write_runtime()
            await asyncio.sleep(hc.interval_seconds * self.time_scale)

    async def _tcp_check(self, addr: tuple[str, int], timeout: float) -> bool:
        try:
            transport, _ = await asyncio.wait_for(
                self.loop.create_connection(asyncio.Protocol, addr[0], addr[1]), timeout
            )
        except (OSError, asyncio.TimeoutError):
            return False
        transport.close()
        return True

    # idle timeout

    async def _sweep_idle(self) -> None:
        while True:
            periods = [lb.config.idle_timeout_seconds for lb in self.lbs.values()] or [350.0]
            period = max(0.02, min(periods) / 8)
            await asyncio.sleep(period)
            for flow in list(self.flows):
                if flow.active or (flow.up is not None and flow.up.active):
                    flow.active = False
                    if flow.up is not None:
                        flow.up.active = False
                    flow.idle_sweeps = 0
                    continue
                flow.idle_sweeps += 1
                if flow.idle_sweeps * period >= flow.idle and flow.transport is not None:
                    reset(flow.transport)
                    if flow.peer is not None:
                        reset(flow.peer)

    # DNS

    async def _start_dns(self) -> None:
        for _ in range(10):
            transport, _p = await self.loop.create_datagram_endpoint(
                lambda: DnsUdp(self), local_addr=(SHARED_DNS_IP, 0)
            )
            port = transport.get_extra_info("sockname")[1]
            try:
                tcp = await self.loop.create_server(lambda: DnsTcp(self), SHARED_DNS_IP, port)
            except OSError:
                transport.close()
                continue
            self.dns_servers = [transport, tcp]
            self.dns_address = f"{SHARED_DNS_IP}:{port}"
            return
        raise OSError("no port free for DNS on both UDP and TCP")

    def zone_for(self, view: str) -> dns.ZoneTable:
        return self.views.get(view, self.zone) if view != SHARED_DNS_IP else self.zone

    async def _apply_dns_views(self, config: DataPlaneConfig) -> None:
        """One UDP + TCP DNS server per consumer VPC view, on its IP and the shared server's port."""
        port = int(self.dns_address.rsplit(":", 1)[1])
        for ip in [ip for ip in self.view_servers if ip not in self.views]:
            for server in self.view_servers.pop(ip):
                server.close()
        for ip in self.views:
            if ip in self.view_servers:
                continue
            try:
                udp, _p = await self.loop.create_datagram_endpoint(
                    lambda ip=ip: DnsUdp(self, ip), local_addr=(ip, port)
                )
                try:
                    tcp = await self.loop.create_server(lambda ip=ip: DnsTcp(self, ip), ip, port)
                except OSError:
                    udp.close()
                    raise
            except OSError as exc:
                self.bind_errors[f"dns {ip}"] = str(exc)
                continue
            self.view_servers[ip] = [udp, tcp]

    # runtime file

    def runtime(self) -> dict[str, Any]:
        cfg = self.config
        assert cfg is not None
        endpoints: dict[str, Any] = {}
        for ep in cfg.endpoints:
            enis = []
            for eni in ep.enis:
                key = (eni.bind_ip, ep.port)
                enis.append(
                    {
                        "eni_id": eni.eni_id,
                        "az_name": eni.az_name,
                        "az_id": eni.az_id,
                        "private_ip": eni.private_ip,
                        "address": f"{eni.bind_ip}:{ep.port}",
                        "listening": key in self.enis,
                        "refusal": self.refusals.get(eni.eni_id),
                        "error": self.bind_errors.get(f"eni {eni.eni_id}"),
                    }
                )
            endpoints[ep.endpoint_id] = {
                "consumer": ep.consumer,
                "state": ep.state,
                "port": ep.port,
                "load_balancer_id": ep.load_balancer_id,
                "enis": enis,
            }
        lbs: dict[str, Any] = {}
        for lb_id, rt in self.lbs.items():
            nodes = [
                {"az_name": n.az_name, "az_id": n.az_id, "address": f"{addr[0]}:{addr[1]}"}
                for (lbid, _az, _ip, _port), (_s, addr) in self.nodes.items()
                if lbid == lb_id
                for n in rt.config.nodes
                if (n.az_id, n.bind_ip, n.port) == (_az, _ip, _port)
            ]
            targets = {
                t.id: {
                    "az_name": t.az_name,
                    "kind": t.kind,
                    "address": "{}:{}".format(*rt.addresses[t.id]),
                    "health": rt.health[t.id].state,
                }
                for t in rt.config.targets
            }
            lbs[lb_id] = {"nodes": nodes, "targets": targets}
        return {
            "pid": os.getpid(),
            "ready": True,
            "generation": self.generation,
            "loopback_block": cfg.loopback_block,
            "time_scale": self.time_scale,
            "dns": self.dns_address,
            "dns_views": {
                v.consumer: f"{v.bind_ip}:{self.dns_address.rsplit(':', 1)[1]}"
                for v in cfg.dns.views
                if v.bind_ip in self.view_servers
            },
            "endpoints": endpoints,
            "load_balancers": lbs,
            "errors": dict(self.bind_errors),
        }

    def write_runtime(self) -> None:
        if self.config is None or self.stopping.is_set():
            return
        write_json_atomic(self.runtime_path, self.runtime())


async def serve(config_path: Path, runtime_path: Path) -> int:
    """Run until SIGTERM/SIGINT; SIGHUP reloads. Returns the exit status."""
    loop = asyncio.get_running_loop()
    plane = DataPlane(config_path, runtime_path)
    done = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, done.set)
    loop.add_signal_handler(signal.SIGINT, done.set)
    loop.add_signal_handler(signal.SIGHUP, lambda: loop.create_task(plane.reload()))
    try:
        await plane.start()
    except OSError as exc:
        log.error("cannot start: %s", exc)
        await plane.shutdown(grace=0)
        return 1
    log.info("serving; DNS on %s", plane.dns_address)
    await done.wait()
    plane.stopping.set()
    await plane.shutdown()
    return 0
