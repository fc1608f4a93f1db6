"""The data plane's supervisor: `DataPlane` starts, reconciles and stops every listener of one
sandbox (endpoint ENIs, NLB nodes, demo targets, DNS), the health checks and the idle sweep, and
writes the runtime file; `serve` runs it as the process until a signal.

Each listener's job is a module of its own: `flows` (proxy flows), `load_balancer` (an NLB's state
and its routers), `health_checks`, `demo_app`, `dns_server`. Their protocols hold this supervisor
for the sets they register in (`flows`, `conns`) and for the DNS zone tables.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
from pathlib import Path
from typing import Any

from privlink.targets.local.dataplane import dns, procfs
from privlink.targets.local.dataplane.blackhole import Blackhole
from privlink.targets.local.dataplane.config_model import (
    DataPlaneConfig,
    Endpoint,
    Eni,
    LoadBalancer,
    Target,
    claim_address,
    load_config,
    split_hostport,
    write_json_atomic,
)
from privlink.targets.local.dataplane.demo_app import DemoHttp
from privlink.targets.local.dataplane.dns_server import (
    SHARED_DNS_IP,
    DnsListeners,
    bind_shared_dns,
    bind_view_dns,
)
from privlink.targets.local.dataplane.flows import NO_ROUTE, Downstream, Router, reset, sweep_idle
from privlink.targets.local.dataplane.health_checks import HealthCheckers, first_checks
from privlink.targets.local.dataplane.load_balancer import LbRuntime, eni_router, node_router
from privlink.targets.local.dataplane.security import refusal, severed

log = logging.getLogger("privlink.dataplane")

# asyncio's default of 100 drops SYNs in a burst of new connections (the client retries after 1 s);
# an NLB takes the burst. The kernel caps this at net.core.somaxconn.
LISTEN_BACKLOG = 4096


class DataPlane:
    """Starts, reconciles and stops every listener of one sandbox."""

    def __init__(
        self,
        config_path: Path,
        runtime_path: Path,
        time_scale: float | None = None,
        claim_fd: int | None = None,
    ):
        """`time_scale`, when given, replaces the config's (tests speed the health checks up with it);
        `claim_fd` is the loopback block's claim socket, bound by the parent (pass_fds)."""
        self.config_path = Path(config_path)
        self.runtime_path = Path(runtime_path)
        # pid, start time, command line and project: what `control` checks before it signals us
        self.identity = procfs.own_identity(self.runtime_path)
        self.claim_fd = claim_fd
        self.given_time_scale = time_scale
        self.loop = asyncio.get_running_loop()
        self.config: DataPlaneConfig | None = None
        self.time_scale = 1.0
        self.zone = dns.ZoneTable({})
        self.views: dict[str, dns.ZoneTable] = {}  # bind IP -> a consumer VPC's table
        self.view_servers: dict[str, DnsListeners] = {}
        self.flows: set[Downstream] = set()
        self.conns: set[asyncio.Transport] = set()
        self.lbs: dict[str, LbRuntime] = {}
        self.health_checks = HealthCheckers(self.write_runtime)
        self.demo: dict[tuple, tuple[asyncio.Server, tuple[str, int]]] = {}
        self.nodes: dict[tuple, tuple[asyncio.Server, tuple[str, int]]] = {}
        self.enis: dict[tuple[str, int], tuple[asyncio.Server, str, str]] = {}  # -> server, endpoint, eni
        # ENIs whose traffic is dropped (endpoint not available, security group, VPN authorization)
        self.holes: dict[tuple[str, int], tuple[Blackhole, str, str]] = {}  # -> hole, endpoint, eni
        self.endpoints: dict[str, Endpoint] = {}
        # listener -> (router, idle timeout), rebuilt on every apply; listeners outlive reloads
        self.node_routes: dict[tuple, tuple[Router, float]] = {}
        self.eni_routes: dict[str, tuple[Router, float]] = {}
        self.refusals: dict[str, str | None] = {}
        self.bind_errors: dict[str, str] = {}
        self.dns_servers: DnsListeners = []
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
        self.sweeper = self.loop.create_task(sweep_idle(self.flows, self.lbs))

    async def reload(self) -> None:
        async with self._reload_lock:
            try:
                config = load_config(self.config_path)
            except Exception as exc:  # keep serving the old config
                log.error("reload failed, keeping the previous config: %s", exc)
                return
            await self._apply(config)

    async def shutdown(self, grace: float | None = None) -> None:
        grace = (self.config.grace_seconds if self.config else 2.0) if grace is None else grace
        servers = [s for s, *_ in (*self.demo.values(), *self.nodes.values(), *self.enis.values())]
        for hole, *_ in self.holes.values():
            hole.close()
        dns_servers = [*self.dns_servers, *(s for v in self.view_servers.values() for s in v)]
        servers += [s for s in dns_servers if isinstance(s, asyncio.Server)]
        if self.claim is not None:
            servers.append(self.claim)
        for s in servers:
            s.close()
        for t in dns_servers:
            if not isinstance(t, asyncio.Server):
                t.close()
        self.health_checks.stop_all()
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
        if self.config is not None:
            self._cut_flows(self.config, config)
        self.config = config
        self.time_scale = config.time_scale if self.given_time_scale is None else self.given_time_scale
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
        await self._apply_demo_targets(config)
        for lb_id in [k for k in self.lbs if k not in {lb.id for lb in config.load_balancers}]:
            del self.lbs[lb_id]
            self.health_checks.stop(lb_id)
        for lb in config.load_balancers:
            rt = self.lbs.get(lb.id)
            if rt is None:
                rt = self.lbs[lb.id] = LbRuntime(lb)
            rt.reconfigure(lb, self._connect_addresses(lb))
            checked = await first_checks(rt, self.time_scale)
            self.health_checks.restart(rt, self.time_scale, checked)
        await self._apply_nodes(config)

    async def _apply_demo_targets(self, config: DataPlaneConfig) -> None:
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

    async def _apply_nodes(self, config: DataPlaneConfig) -> None:
        wanted_nodes = {
            (lb.id, n.az_id, n.bind_ip, n.port): (lb, n) for lb in config.load_balancers for n in lb.nodes
        }
        self.node_routes = {
            key: (node_router(self.lbs[lb.id], n), lb.idle_timeout_seconds)
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
        """A listener per admitted ENI; a `Blackhole` (connects time out) per ENI that AWS would drop
        packets to. Changing from one to the other keeps the flows already open: security groups are
        stateful (`_cut_flows` ends those whose endpoint leaves `available`)."""
        wanted: dict[tuple[str, int], tuple[Endpoint, Eni]] = {}
        dropped: dict[tuple[str, int], tuple[Endpoint, Eni]] = {}
        self.refusals = {}
        eni_routes: dict[str, tuple[Router, float]] = {}
        for ep in config.endpoints:
            rt = self.lbs.get(ep.load_balancer_id)
            for eni in ep.enis:
                reason = refusal(ep, eni.private_ip)
                self.refusals[eni.eni_id] = reason
                if reason is not None:
                    dropped[(eni.bind_ip, ep.port)] = (ep, eni)
                    continue
                wanted[(eni.bind_ip, ep.port)] = (ep, eni)
                if rt is not None:
                    eni_routes[eni.eni_id] = (
                        eni_router(rt, ep, eni),
                        rt.config.idle_timeout_seconds,
                    )
        self.eni_routes = eni_routes
        for key in list(self.enis):
            server, ep_id, eni_id = self.enis[key]
            if key not in wanted or (wanted[key][0].endpoint_id, wanted[key][1].eni_id) != (ep_id, eni_id):
                server.close()
                del self.enis[key]
        for key in list(self.holes):
            hole, ep_id, eni_id = self.holes[key]
            if key not in dropped or (dropped[key][0].endpoint_id, dropped[key][1].eni_id) != (ep_id, eni_id):
                hole.close()
                del self.holes[key]
        for key, (ep, eni) in dropped.items():
            if key in self.holes:
                continue
            try:
                self.holes[key] = (await Blackhole.open(*key), ep.endpoint_id, eni.eni_id)
            except (OSError, asyncio.TimeoutError) as exc:
                error = getattr(exc, "strerror", None) or "its queue did not fill"
                self.bind_errors[f"eni {eni.eni_id}"] = f"cannot bind {eni.bind_ip}:{ep.port}: {error}"
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

    def _cut_flows(self, old: DataPlaneConfig, new: DataPlaneConfig) -> None:
        """Reset the flows through the ENIs `severed` finds: AWS removes the path of an endpoint that is
        rejected or deleted (a security group does not: tracked connections go on)."""
        cut = severed(old, new)
        if not cut:
            return
        for flow in list(self.flows):
            transport = flow.transport
            if transport is not None and tuple(transport.get_extra_info("sockname") or ())[:2] in cut:
                reset(transport)
                if flow.peer is not None:
                    reset(flow.peer)

    def _connect_addresses(self, lb: LoadBalancer) -> dict[str, tuple[str, int]]:
        """Target id -> where to connect: a running demo target where its listener is bound."""
        addresses: dict[str, tuple[str, int]] = {}
        for t in lb.targets:
            if t.kind == "address":
                addresses[t.id] = split_hostport(t.address)
            else:
                key = (lb.id, t.id, t.address, t.az_name, lb.proxy_protocol)
                addresses[t.id] = self.demo[key][1] if key in self.demo else split_hostport(t.address)
        return addresses

    def _drop_connections_to(self, address: tuple[str, int]) -> None:
        """A stopped instance takes its connections with it, as a dying process does."""
        for transport in list(self.conns):
            if tuple(transport.get_extra_info("sockname") or ())[:2] == address:
                transport.abort()

    # DNS

    async def _start_dns(self) -> None:
        self.dns_servers, port = await bind_shared_dns(self)
        self.dns_address, self.dns_port = f"{SHARED_DNS_IP}:{port}", port

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
                self.view_servers[ip] = await bind_view_dns(self, ip, port)
            except OSError as exc:
                self.bind_errors[f"dns {ip}"] = str(exc)

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
                        "drops": key in self.holes,  # connects time out, as AWS drops the packets
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
            "dns_answers_as": cfg.dns.answers_as,  # the consumer VPC whose resolver the shared server is
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
