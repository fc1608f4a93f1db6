"""The end-to-end probe behind `privlink test`: resolve the private name, connect, HTTP GET /.

Each step is recorded with its timing and outcome in a `ProbeReport`. The resolver, connector and
clock are injected so that tests can drive every outcome; the defaults use dnslib (against a given
DNS server such as the sandbox's `127.0.0.1:PORT`) or the system resolver, and plain sockets.

`privlink.targets.aws.ssm_probe` runs the same steps on an SSM-managed instance inside the consumer
VPC (`privlink test --via ssm`) and returns its `ProbeReport`.
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import socket
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any

Resolver = Callable[[str, float], list[str]]
"""resolver(name, timeout) -> IPv4 addresses; raises on failure."""
Connector = Callable[[str, int, float], socket.socket]
"""connector(address, port, timeout) -> a connected socket; raises on failure."""
Clock = Callable[[], float]

MAX_BODY = 64 * 1024
# A path that works connects in milliseconds, across a VPN in well under a second; a client whose
# packets are dropped would retransmit its SYN for minutes. So the connect gives up early.
CONNECT_TIMEOUT = 3.0
# What a connect that times out stands for, on AWS and in the sandbox alike (which drops them too).
DROPPED = (
    "on AWS: packets dropped, by the endpoint's security group, a connection the service has not "
    "accepted, or a Client VPN authorization rule or route that is missing"
)


class ProbeFailed(Exception):
    """A step failed; the message is the user-facing reason."""


@dataclass
class ProbeStep:
    name: str  # resolve | connect | http
    ok: bool
    ms: float
    detail: str = ""  # what happened (addresses, peer, status line) or why it failed


@dataclass
class ProbeReport:
    name: str
    port: int
    via: str = "local"  # local | ssm
    dns_server: str | None = None
    steps: list[ProbeStep] = field(default_factory=list)
    address: str | None = None
    status: int | None = None
    body: str = ""
    json: Any = None

    @property
    def failed_step(self) -> str | None:
        return next((s.name for s in self.steps if not s.ok), None)

    @property
    def ok(self) -> bool:
        return any(s.name == "http" for s in self.steps) and all(s.ok for s in self.steps)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["ok"] = self.ok
        data["failed_step"] = self.failed_step
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ProbeReport:
        steps = [
            ProbeStep(**{k: s[k] for k in ("name", "ok", "ms", "detail") if k in s}) for s in data["steps"]
        ]
        return cls(
            name=data["name"],
            port=int(data["port"]),
            via=data.get("via", "local"),
            dns_server=data.get("dns_server"),
            steps=steps,
            address=data.get("address"),
            status=data.get("status"),
            body=data.get("body", ""),
            json=data.get("json"),
        )


# --- default effects ----------------------------------------------------------------------------


def parse_server(server: str) -> tuple[str, int]:
    """'127.0.0.1:5353' -> ('127.0.0.1', 5353); a bare address means port 53."""
    host, sep, port = server.rpartition(":")
    if not sep:
        return server, 53
    return host, int(port)


def dns_resolver(server: str) -> Resolver:
    """A resolver asking one DNS server directly (A records, following the answer's CNAMEs)."""
    from dnslib import QTYPE, RCODE, DNSRecord

    host, port = parse_server(server)

    def resolve(name: str, timeout: float) -> list[str]:
        query = DNSRecord.question(name, "A")
        reply = DNSRecord.parse(query.send(host, port, timeout=timeout))
        if reply.header.tc:
            reply = DNSRecord.parse(query.send(host, port, tcp=True, timeout=timeout))
        rcode = reply.header.rcode
        if rcode != RCODE.NOERROR:
            raise ProbeFailed(f"{server} answered {RCODE.get(rcode)} for {name}")
        addresses = [str(rr.rdata) for rr in reply.rr if rr.rtype == QTYPE.A]
        if not addresses:
            raise ProbeFailed(f"{server} has no A record for {name}")
        return addresses

    return resolve


def system_resolver(name: str, timeout: float) -> list[str]:
    """The system resolver (it has no timeout of its own; `timeout` is advisory)."""
    try:
        infos = socket.getaddrinfo(name, None, socket.AF_INET, socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise ProbeFailed(f"the system resolver cannot resolve {name}: {exc.strerror}") from exc
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def tcp_connector(address: str, port: int, timeout: float) -> socket.socket:
    return socket.create_connection((address, port), timeout=timeout)


# --- the probe ----------------------------------------------------------------------------------


def is_ip(name: str) -> bool:
    try:
        ipaddress.IPv4Address(name)
    except ValueError:
        return False
    return True


def run_probe(
    name: str,
    port: int,
    dns_server: str | None = None,
    *,
    path: str = "/",
    timeout: float = 5.0,
    connect_timeout: float = CONNECT_TIMEOUT,
    resolver: Resolver | None = None,
    connector: Connector = tcp_connector,
    clock: Clock = time.monotonic,
) -> ProbeReport:
    """Resolve `name` (via `dns_server` or the system), connect to `port` at every address at once
    (each within `connect_timeout`), GET `path`; never raises."""
    report = ProbeReport(name=name, port=port, dns_server=dns_server)
    if resolver is None:
        resolver = dns_resolver(dns_server) if dns_server else system_resolver

    def step(step_name: str, action: Callable[[], str]) -> bool:
        start = clock()
        try:
            detail, ok = action(), True
        except Exception as exc:  # the probe reports failures, it does not raise them
            detail, ok = describe_error(exc), False
        report.steps.append(ProbeStep(step_name, ok, round((clock() - start) * 1000, 1), detail))
        return ok

    addresses: list[str] = []

    def resolve() -> str:
        if is_ip(name):
            addresses.append(name)
            return f"{name} is an address"
        addresses.extend(resolver(name, timeout))
        return f"{name} -> {', '.join(addresses)}" + (f" (via {dns_server})" if dns_server else "")

    socks: list[tuple[str, socket.socket]] = []

    # Every resolved address (one per endpoint ENI, i.e. per AZ) must serve: a client may get any.
    def connect() -> str:
        errors, dropped = [], False
        with ThreadPoolExecutor(max_workers=max(1, len(addresses))) as pool:
            pending = [(a, pool.submit(connector, a, port, connect_timeout)) for a in addresses]
        for address, future in pending:
            try:
                socks.append((address, future.result()))
            except Exception as exc:
                errors.append(f"{address}:{port}: {describe_error(exc)}")
                dropped = dropped or isinstance(exc, socket.timeout | TimeoutError)
        if errors:
            raise ProbeFailed("; ".join(errors) + (f" ({DROPPED})" if dropped else ""))
        report.address = socks[0][0]
        return "connected to " + ", ".join(f"{a}:{port}" for a, _ in socks)

    def get(address: str, sock: socket.socket) -> str:
        connection = http.client.HTTPConnection(name, port, timeout=timeout)
        connection.sock = sock
        try:
            connection.request("GET", path, headers={"Host": f"{name}:{port}", "Connection": "close"})
            response = connection.getresponse()
            raw = response.read(MAX_BODY)
        finally:
            connection.close()
        if report.status is None or not 200 <= response.status < 300:
            report.status = response.status
            report.body = raw.decode("utf-8", errors="replace")
            try:
                report.json = json.loads(report.body)
            except ValueError:
                report.json = None
        line = f"HTTP {response.status} {response.reason}, {len(raw)} bytes"
        if not 200 <= response.status < 300:
            raise ProbeFailed(f"{address}: {line}")
        return line

    def fetch() -> str:
        lines, errors = [], []
        for address, sock in socks:
            try:
                lines.append(get(address, sock))
            except Exception as exc:
                errors.append(f"{address}: {describe_error(exc)}")
        if errors:
            raise ProbeFailed("; ".join(errors))
        return lines[0] + (f" (from each of {len(lines)} addresses)" if len(lines) > 1 else "")

    try:
        if step("resolve", resolve) and step("connect", connect):
            step("http", fetch)
    finally:
        for _, s in socks:
            s.close()
    return report


def describe_error(exc: BaseException) -> str:
    if isinstance(exc, ProbeFailed):
        return str(exc)
    if isinstance(exc, socket.timeout | TimeoutError):
        return "timed out"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, ConnectionResetError):
        return "connection reset"
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if not isinstance(exc, OSError) else text
