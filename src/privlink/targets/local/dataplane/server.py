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
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from privlink.targets.local.dataplane import dns, ppv2, procfs
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


def reset(transport: asyncio.BaseTransport) -> None:
    """Close with RST (what a client sees when nothing behind the address takes the connection)."""
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER_RESET)
    transport.abort()


# --- forwarding ---------------------------------------------------------------------------------
# Per connection the hot path does: one router call (a dict lookup and a round-robin step over
# addresses kept since the last health change), one connect started inside the accept callback (no
# Task), and the byte moving; the bytes that arrived meanwhile go out inside the upstream's
# connection_made. No peer address unless PPv2 needs it, no logging, no TCP_NODELAY call (uvloop
# and asyncio set it on every TCP transport). Flows break their reference cycles when they end, so
# refcounting frees them without waiting for the cyclic GC.

# (host, port, source address for the connect, PPv2 header or None)
Route = tuple[str, int, tuple[str, int], "bytes | None"]
Router = Callable[[asyncio.BaseTransport], "Route | None"]


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
        "early_size",
        "header",
        "connecting",
    )

    def __init__(self, plane: DataPlane, router: Router, idle: float):
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
        self.early: list[bytes] | None = None  # bytes that arrive before the upstream is connected
        self.early_size = 0
        self.header: bytes | None = None  # PPv2 header for the upstream
        self.connecting: Coroutine[Any, Any, Any] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        route = self.router(transport)
        if route is None:
            self.closed = True
            reset(transport)
            return
        transport.set_write_buffer_limits(WRITE_HIGH, WRITE_LOW)  # type: ignore[attr-defined]
        self.plane.flows.add(self)
        host, port, local, self.header = route
        self.connecting = self.plane.loop.create_connection(self._upstream, host, port, local_addr=local)
        self._step()

    def _step(self, _done: object = None) -> None:
        """Step the connect coroutine until it finishes; `Upstream.connection_made` attaches the flow.

        Stepped here rather than in a Task, so the connect starts inside this accept callback (a
        Task's first step waits for the next loop iteration) and no Task is made per connection.
        """
        connecting = self.connecting
        assert connecting is not None
        try:
            waiting = connecting.send(None)
        except StopIteration:
            self.connecting = None
            return
        except (Exception, asyncio.CancelledError) as exc:
            self.connecting = None
            if isinstance(exc, OSError):
                log.debug("connect failed: %s", exc)
            else:
                log.warning("connect failed: %r", exc)
            if not self.closed and self.transport is not None:
                reset(self.transport)
            return
        if waiting is None:  # a bare yield: go on in the next iteration
            self.plane.loop.call_soon(self._step)
        else:
            waiting.add_done_callback(self._step)

    def attach(self, up: Upstream, transport: asyncio.BaseTransport) -> None:
        """The upstream is connected: what waited goes out now, and from here bytes pass straight on."""
        self.up = up
        if self.closed:
            transport.close()
            return
        if self.header:
            transport.write(self.header)  # type: ignore[attr-defined]
        if self.early:
            transport.write(b"".join(self.early))  # type: ignore[attr-defined]
            self.early = None
        self.peer = transport  # type: ignore[assignment]
        if self.eof and transport.can_write_eof():  # type: ignore[attr-defined]
            transport.write_eof()  # type: ignore[attr-defined]
        if self.early_size >= WRITE_HIGH:
            self.transport.resume_reading()  # type: ignore[union-attr]

    def _upstream(self) -> Upstream:
        return Upstream(self)

    def data_received(self, data: bytes) -> None:
        peer = self.peer
        if peer is None:  # the client spoke before the upstream connected: hold it, bounded
            if self.early is None:
                self.early = [data]
            else:
                self.early.append(data)
            self.early_size += len(data)
            if self.early_size >= WRITE_HIGH:
                self.transport.pause_reading()  # type: ignore[union-attr]
            return
        peer.write(data)
        self.active = True

    def eof_received(self) -> bool:
        up = self.up
        if up is not None and up.eof:
            return False  # both sides done: closing sends the FIN on each, no shutdown() needed
        if self.peer is not None and self.peer.can_write_eof():
            self.peer.write_eof()
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
        peer = self.peer
        if peer is not None:
            if exc is None:
                peer.close()
            else:
                peer.abort()
        self.up = None  # break the flow's cycles: refcounting frees it
        self.early = None


class Upstream(asyncio.Protocol):
    """The connected side of a flow, towards a target."""

    __slots__ = ("down", "peer", "transport", "active", "eof")

    def __init__(self, down: Downstream):
        self.down: Downstream | None = down
        self.peer = down.transport
        self.active = False
        self.eof = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        transport.set_write_buffer_limits(WRITE_HIGH, WRITE_LOW)  # type: ignore[attr-defined]
        self.down.attach(self, transport)  # type: ignore[union-attr]

    def data_received(self, data: bytes) -> None:
        self.peer.write(data)  # type: ignore[union-attr]
        self.active = True

    def eof_received(self) -> bool:
        down = self.down
        if down is not None and down.eof:
            return False  # both sides done: closing sends the FIN on each, no shutdown() needed
        if self.peer is not None and self.peer.can_write_eof():
            self.peer.write_eof()
        self.eof = True
        return True

    def pause_writing(self) -> None:
        self.peer.pause_reading()  # type: ignore[union-attr]

    def resume_writing(self) -> None:
        self.peer.resume_reading()  # type: ignore[union-attr]

    def connection_lost(self, exc: Exception | None) -> None:
        down, self.down = self.down, None
        if down is None or down.closed or down.transport is None:
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


def _no_route(transport: asyncio.BaseTransport) -> Route | None:
    return None


NO_ROUTE: tuple[Router, float] = (_no_route, 350.0)


class DataPlane:
    """Starts, reconciles and stops every listener of one sandbox."""

    def __init__(
        self,
        config_path: Path,
        runtime_path: Path,
        environ: dict[str, str] | None = None,
        claim_fd: int | None = None,
    ):
        self.config_path = Path(config_path)
        self.runtime_path = Path(runtime_path)
        # pid, start time, command line and project: what `control` checks before it signals us
        self.identity = procfs.own_identity(self.runtime_path)
        self.claim_fd = claim_fd  # the loopback block's claim socket, bound by the parent (pass_fds)
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
        # listener -> (router, idle timeout), rebuilt on every apply; listeners outlive reloads
        self.node_routes: dict[tuple, tuple[Router, float]] = {}
        self.eni_routes: dict[str, tuple[Router, float]] = {}
        self.refusals: dict[str, str | None] = {}
        self.bind_errors: dict[str, str] = {}
        self.dns_servers: list[asyncio.BaseTransport | asyncio.Server] = []
        self.dns_address = ""
        self.dns_port = 0  # the shared server's port; every consumer VPC's view listens on it too
        self.claim: asyncio.Server | None = None
        self.generation = 0
        # True once the first config is applied with every listener bound: `control.start` waits for
        # it. Health checkers write the runtime too, from their first result on, which can come while
        # the first apply still awaits its endpoint listeners.
        self.ready = False
        self.stopping = asyncio.Event()
        self.sweeper: asyncio.Task[None] | None = None
        self._reload_lock = asyncio.Lock()

    # lifecycle

    async def start(self) -> None:
        config = load_config(self.config_path)
        self.time_scale = effective_time_scale(config, self.environ)
        claim_ip, claim_port = claim_address(config.loopback_block)
        if self.claim_fd is None:
            self.claim = await self.loop.create_server(asyncio.Protocol, claim_ip, claim_port)
        else:  # held since the parent chose the block: it was never free in between
            sock = socket.socket(fileno=self.claim_fd)
            if sock.getsockname() != (claim_ip, claim_port):
                sock.close()
                raise OSError(f"the claim socket passed is not {claim_ip}:{claim_port}")
            self.claim = await self.loop.create_server(asyncio.Protocol, sock=sock)
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
        for where, error in self.bind_errors.items():
            log.warning("%s: %s", where, error)
        self.generation += 1
        self.ready = True
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
            rt.health_changed()
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
        self.node_routes = {
            key: (self._node_router(self.lbs[lb.id], n), lb.idle_timeout_seconds)
            for key, (lb, n) in wanted_nodes.items()
        }
        for key in [k for k in self.nodes if k not in wanted_nodes]:
            self.nodes.pop(key)[0].close()
        for key, (lb, n) in wanted_nodes.items():
            if key in self.nodes:
                continue
            try:
                server = await self.loop.create_server(
                    lambda key=key: Downstream(self, *self.node_routes.get(key, NO_ROUTE)),
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
        eni_routes: dict[str, tuple[Router, float]] = {}
        for ep in config.endpoints:
            rt = self.lbs.get(ep.load_balancer_id)
            for eni in ep.enis:
                reason = refusal(ep, eni.private_ip)
                self.refusals[eni.eni_id] = reason
                if reason is None:
                    wanted[(eni.bind_ip, ep.port)] = (ep, eni)
                    if rt is not None:
                        eni_routes[eni.eni_id] = (
                            self._eni_router(rt, ep, eni),
                            rt.config.idle_timeout_seconds,
                        )
        self.eni_routes = eni_routes
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
                    lambda eni_id=eni.eni_id: Downstream(self, *self.eni_routes.get(eni_id, NO_ROUTE)),
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

    # routing: built on every apply, called once per accepted connection

    def _node_router(self, rt: LbRuntime, node: NlbNode) -> Router:
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

    def _eni_router(self, rt: LbRuntime, ep: Endpoint, eni: Eni) -> Router:
        """An admitted ENI: its AZ ID's node (or, cross-region, the nodes in turn) picks the target."""
        nodes = [
            (n.az_id, (n.bind_ip, 0)) for n in rt.config.nodes if ep.cross_region or n.az_id == eni.az_id
        ]
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
                rt.health_changed()
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
            self.dns_address, self.dns_port = f"{SHARED_DNS_IP}:{port}", port
            return
        raise OSError("no port free for DNS on both UDP and TCP")

    def zone_for(self, view: str) -> dns.ZoneTable:
        return self.views.get(view, self.zone)  # the shared server's IP is never a view's

    async def _apply_dns_views(self, config: DataPlaneConfig) -> None:
        """One UDP + TCP DNS server per consumer VPC view, on its IP and the shared server's port."""
        port = self.dns_port
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
            **self.identity,
            "ready": self.ready,
            "generation": self.generation,
            "loopback_block": cfg.loopback_block,
            "time_scale": self.time_scale,
            "dns": self.dns_address,
            "dns_views": {
                v.consumer: f"{v.bind_ip}:{self.dns_port}"
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


async def serve(config_path: Path, runtime_path: Path, claim_fd: int | None = None) -> int:
    """Run until SIGTERM/SIGINT; SIGHUP reloads. Returns the exit status."""
    loop = asyncio.get_running_loop()
    plane = DataPlane(config_path, runtime_path, claim_fd=claim_fd)
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
