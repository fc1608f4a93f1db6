"""`DataPlaneConfig` and its parts: the data types of what the data-plane process serves
(`.privlink/dataplane.json`), with reading and writing that file.

The local target builds it from the simulated world (`world_to_dataplane`); the process reads it at
start and on SIGHUP.
Also here: the loopback block allocator and the stable address helpers the local target uses.
"""

from __future__ import annotations

import ipaddress
import json
import os
import socket
import zlib
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from privlink.errors import StateError
from privlink.statefile import write_private_text

LOOPBACK = ipaddress.IPv4Network("127.0.0.0/8")
# The running data plane holds a listening socket on 127.X.0.1:CLAIM_PORT, so another sandbox's
# allocator sees the block as taken even when the two use different service ports.
CLAIM_PORT = 39127

ENDPOINT_STATES = (
    "pendingAcceptance",
    "pending",
    "available",
    "deleting",
    "deleted",
    "rejected",
    "failed",
    "expired",
    "partial",
)


def _loopback_ip(value: str, what: str) -> str:
    try:
        ip = ipaddress.IPv4Address(value)
    except ValueError as exc:
        raise ValueError(f"{what} {value!r} is not an IPv4 address") from exc
    if ip not in LOOPBACK:
        raise ValueError(f"{what} {value} is outside 127.0.0.0/8 (the data plane binds loopback only)")
    return str(ip)


def _ipv4(value: str, what: str) -> str:
    try:
        return str(ipaddress.IPv4Address(value))
    except ValueError as exc:
        raise ValueError(f"{what} {value!r} is not an IPv4 address") from exc


def split_hostport(value: str) -> tuple[str, int]:
    """`"127.0.0.1:9000"` -> `("127.0.0.1", 9000)`."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"{value!r} is not HOST:PORT")
    return host, int(port)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HealthCheck(_Model):
    """TCP health check timings (AWS defaults), multiplied by the sandbox's time scale."""

    interval_seconds: float = Field(30.0, gt=0)
    timeout_seconds: float = Field(10.0, gt=0)
    healthy_threshold: int = Field(5, ge=1, le=10)
    unhealthy_threshold: int = Field(2, ge=1, le=10)


class NlbNode(_Model):
    """One load balancer node: the NLB's presence in one AZ of the producer VPC."""

    az_name: str
    az_id: str
    private_ip: str = ""
    bind_ip: str
    port: int = Field(0, ge=0, le=65535)

    @field_validator("bind_ip")
    @classmethod
    def _bind(cls, v: str) -> str:
        return _loopback_ip(v, "NLB node bind_ip")


class Target(_Model):
    """A registered target: a demo app instance we run, or the user's own loopback service."""

    id: str
    az_name: str
    az_id: str
    private_ip: str
    kind: Literal["demo", "address"]
    address: str  # demo: where we serve it (port 0 = any); address: the user's 127.0.0.1:PORT
    running: bool = True  # demo only: false when nothing listens (a stopped instance, another port)
    stopped: bool = False  # demo only: the instance is stopped; the NLB leaves it unused at once

    @field_validator("private_ip")
    @classmethod
    def _priv(cls, v: str) -> str:
        return _ipv4(v, "target private_ip")

    @field_validator("address")
    @classmethod
    def _addr(cls, v: str) -> str:
        host, port = split_hostport(v)
        _loopback_ip(host, "target address")
        return f"{host}:{port}"

    @model_validator(mode="after")
    def _port(self) -> Target:
        if self.kind == "address" and split_hostport(self.address)[1] == 0:
            raise ValueError(f"target {self.id}: an address target needs a port")
        return self


class LoadBalancer(_Model):
    """A network load balancer with one TCP listener and one target group."""

    id: str
    arn: str = ""
    listener_port: int = Field(ge=1, le=65535)
    target_port: int = Field(ge=1, le=65535)
    cross_zone: bool = False
    proxy_protocol: bool = False
    idle_timeout_seconds: float = Field(350.0, gt=0)
    health_check: HealthCheck = HealthCheck()
    nodes: list[NlbNode] = []
    targets: list[Target] = []

    @model_validator(mode="after")
    def _unique(self) -> LoadBalancer:
        _no_duplicates((t.id for t in self.targets), f"load balancer {self.id}: target id")
        _no_duplicates((n.az_id for n in self.nodes), f"load balancer {self.id}: node az_id")
        return self


class SgRule(_Model):
    """One inbound rule of the endpoint's security group."""

    protocol: str = "tcp"  # tcp | 6 | -1 (all)
    from_port: int = Field(0, ge=-1, le=65535)
    to_port: int = Field(65535, ge=-1, le=65535)
    cidr: str

    @field_validator("cidr")
    @classmethod
    def _cidr(cls, v: str) -> str:
        try:
            return str(ipaddress.IPv4Network(v, strict=False))
        except ValueError as exc:
            raise ValueError(f"security group rule cidr {v!r} is not an IPv4 CIDR") from exc


class HostSource(_Model):
    """Where host connections into the endpoint are modelled to come from."""

    kind: Literal["vpn", "vpc"]
    ip: str

    @field_validator("ip")
    @classmethod
    def _ip(cls, v: str) -> str:
        return _ipv4(v, "source ip")


class Eni(_Model):
    """One endpoint network interface: modelled in a consumer subnet, served on a loopback IP."""

    eni_id: str
    subnet_id: str
    az_name: str
    az_id: str
    private_ip: str
    bind_ip: str

    @field_validator("private_ip")
    @classmethod
    def _priv(cls, v: str) -> str:
        return _ipv4(v, "ENI private_ip")

    @field_validator("bind_ip")
    @classmethod
    def _bind(cls, v: str) -> str:
        return _loopback_ip(v, "ENI bind_ip")


class Endpoint(_Model):
    """An interface endpoint of one consumer, reaching one load balancer's service."""

    endpoint_id: str
    consumer: str
    service_id: str
    state: str
    port: int = Field(ge=1, le=65535)
    load_balancer_id: str
    cross_region: bool = False
    enis: list[Eni] = []
    security_group_rules: list[SgRule] = []
    source: HostSource
    vpn_authorized_cidrs: list[str] = []

    @field_validator("state")
    @classmethod
    def _state(cls, v: str) -> str:
        if v not in ENDPOINT_STATES:
            raise ValueError(f"endpoint state {v!r} is not one of {', '.join(ENDPOINT_STATES)}")
        return v

    @field_validator("vpn_authorized_cidrs")
    @classmethod
    def _cidrs(cls, v: list[str]) -> list[str]:
        try:
            return [str(ipaddress.IPv4Network(c, strict=False)) for c in v]
        except ValueError as exc:
            raise ValueError(f"VPN authorization cidr is not an IPv4 CIDR: {exc}") from exc


class DnsRecord(_Model):
    """An A record (e.g. the private hosted zone's name) with explicit values."""

    name: str
    values: list[str]

    @field_validator("values")
    @classmethod
    def _vals(cls, v: list[str]) -> list[str]:
        return [_ipv4(x, "DNS record value") for x in v]


class DnsAlias(_Model):
    """A name answering with an endpoint's ENI loopback IPs (all of them, or one AZ's for zonal names)."""

    name: str
    endpoint_id: str
    az_name: str | None = None


class DnsView(_Model):
    """What one consumer VPC's resolver (AWS: VPC base + 2) answers, served on its own loopback IP.

    Private hosted zones and private DNS names answer only in the VPCs they belong to, so two
    consumers may hold the same private name for their own endpoints.
    """

    consumer: str
    vpc_id: str
    bind_ip: str
    zones: list[str] = []
    records: list[DnsRecord] = []
    aliases: list[DnsAlias] = []

    @field_validator("bind_ip")
    @classmethod
    def _bind(cls, v: str) -> str:
        return _loopback_ip(v, "DNS view bind_ip")


class DnsConfig(_Model):
    """The sandbox DNS: one view per consumer VPC (what `privlink test` asks), and the shared server
    on 127.0.0.1 answering as one of them, `answers_as` (the first consumer's; "": public names only)."""

    answers_as: str = ""
    zones: list[str] = []
    records: list[DnsRecord] = []
    aliases: list[DnsAlias] = []
    views: list[DnsView] = []
    ttl: int = Field(60, ge=0)


class DataPlaneConfig(_Model):
    """Everything the data-plane process serves."""

    version: Literal[1] = 1
    loopback_block: str
    time_scale: float = Field(1.0, gt=0)  # health-check timings x this (the local target's speed-up)
    grace_seconds: float = Field(2.0, ge=0)
    dns: DnsConfig = DnsConfig()
    load_balancers: list[LoadBalancer] = []
    endpoints: list[Endpoint] = []

    @field_validator("loopback_block")
    @classmethod
    def _block(cls, v: str) -> str:
        try:
            net = ipaddress.IPv4Network(v)
        except ValueError as exc:
            raise ValueError(f"loopback_block {v!r} is not a CIDR") from exc
        if net.prefixlen != 16 or not net.subnet_of(LOOPBACK):
            raise ValueError(f"loopback_block {v} must be a 127.X.0.0/16")
        return str(net)

    @model_validator(mode="after")
    def _refs(self) -> DataPlaneConfig:
        block = ipaddress.IPv4Network(self.loopback_block)
        _no_duplicates((lb.id for lb in self.load_balancers), "load balancer id")
        _no_duplicates((e.endpoint_id for e in self.endpoints), "endpoint id")
        lbs = {lb.id for lb in self.load_balancers}
        binds: set[tuple[str, int]] = set()
        for ep in self.endpoints:
            if ep.load_balancer_id not in lbs:
                raise ValueError(f"endpoint {ep.endpoint_id}: unknown load_balancer_id {ep.load_balancer_id}")
            for eni in ep.enis:
                if ipaddress.IPv4Address(eni.bind_ip) not in block:
                    raise ValueError(
                        f"endpoint {ep.endpoint_id}: ENI {eni.eni_id} bind_ip {eni.bind_ip} "
                        f"is outside {self.loopback_block}"
                    )
                key = (eni.bind_ip, ep.port)
                if key in binds:
                    raise ValueError(f"endpoint {ep.endpoint_id}: {eni.bind_ip}:{ep.port} is used twice")
                binds.add(key)
        eps = {e.endpoint_id for e in self.endpoints}
        for alias in [*self.dns.aliases, *(a for v in self.dns.views for a in v.aliases)]:
            if alias.endpoint_id not in eps:
                raise ValueError(f"DNS alias {alias.name}: unknown endpoint_id {alias.endpoint_id}")
        _no_duplicates((v.bind_ip for v in self.dns.views), "DNS view bind_ip")
        for view in self.dns.views:
            if ipaddress.IPv4Address(view.bind_ip) not in block:
                raise ValueError(f"DNS view {view.consumer}: bind_ip {view.bind_ip} is outside {block}")
        return self

    def load_balancer(self, lb_id: str) -> LoadBalancer:
        return next(lb for lb in self.load_balancers if lb.id == lb_id)


def _no_duplicates(values: Iterable[str], what: str) -> None:
    seen: set[str] = set()
    for v in values:
        if v in seen:
            raise ValueError(f"{what} {v!r} appears twice")
        seen.add(v)


def parse_config(text: str, where: str = "dataplane.json") -> DataPlaneConfig:
    """Parse the JSON text; problems become a one-line `StateError`."""
    try:
        return DataPlaneConfig.model_validate_json(text)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"]) or "(top)"
        hint = "rebuild it with `privlink up --target local`"
        raise StateError(where, f"{loc}: {err['msg']}", hint) from None


def load_config(path: str | os.PathLike[str]) -> DataPlaneConfig:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise StateError(str(p), f"cannot read: {exc.strerror}", "run `privlink up --target local`") from None
    return parse_config(text, str(p))


def write_json_atomic(path: str | os.PathLike[str], data: object) -> None:
    """Write JSON to a temporary file beside `path`, then rename it over `path` (created 0600)."""
    write_private_text(Path(path), json.dumps(data, indent=2, sort_keys=True) + "\n")


def save_config(path: str | os.PathLike[str], config: DataPlaneConfig) -> None:
    write_json_atomic(path, config.model_dump(mode="json"))


# --- loopback addresses -------------------------------------------------------------------------
# Layout of a sandbox block 127.X.0.0/16 (stable, so reloads keep listeners):
#   127.X.0.1          claim socket (CLAIM_PORT) while the data plane runs
#   127.X.1.N          NLB nodes      (N = 1 + node index, across all load balancers)
#   127.X.2.N          demo targets   (N = 1 + target index)
#   127.X.(10+i//250).(1+i%250)  endpoint ENIs (i = ENI index across all endpoints)


def _block_octet(block: str) -> int:
    net = ipaddress.IPv4Network(block)
    if net.prefixlen != 16 or not net.subnet_of(LOOPBACK):
        raise ValueError(f"{block} is not a 127.X.0.0/16 block")
    return int(net.network_address.packed[1])


def nlb_node_address(block: str, index: int) -> str:
    if not 0 <= index < 254:
        raise ValueError("at most 254 NLB nodes per sandbox")
    return f"127.{_block_octet(block)}.1.{index + 1}"


def target_address(block: str, index: int) -> str:
    if not 0 <= index < 254:
        raise ValueError("at most 254 demo targets per sandbox")
    return f"127.{_block_octet(block)}.2.{index + 1}"


def resolver_address(block: str, index: int) -> str:
    """The loopback IP serving consumer VPC number `index`'s DNS view."""
    if not 0 <= index < 254:
        raise ValueError("at most 254 consumer VPC resolvers per sandbox")
    return f"127.{_block_octet(block)}.3.{index + 1}"


def eni_address(block: str, index: int) -> str:
    if not 0 <= index < 250 * 240:
        raise ValueError("too many ENIs for one sandbox block")
    return f"127.{_block_octet(block)}.{10 + index // 250}.{1 + index % 250}"


def eni_index(block: str, ip: str) -> int | None:
    """The inverse of `eni_address`: the index `ip` is laid out at, or None."""
    return _index(eni_address, block, ip, lambda third, fourth: (third - 10) * 250 + fourth - 1)


def resolver_index(block: str, ip: str) -> int | None:
    """The inverse of `resolver_address`: the index `ip` is laid out at, or None."""
    return _index(resolver_address, block, ip, lambda third, fourth: fourth - 1 if third == 3 else -1)


def _index(
    address: Callable[[str, int], str], block: str, ip: str, guess: Callable[[int, int], int]
) -> int | None:
    try:
        octets = ipaddress.IPv4Address(ip).packed
        index = guess(octets[2], octets[3])
        return index if index >= 0 and address(block, index) == ip else None
    except ValueError:
        return None


def claim_address(block: str) -> tuple[str, int]:
    return f"127.{_block_octet(block)}.0.1", CLAIM_PORT


def _can_bind(ip: str, port: int) -> bool:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((ip, port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def claim_socket(block: str) -> socket.socket | None:
    """A listening socket on the block's claim address, or None when someone holds it already.

    Every claimer listens right after binding; Linux refuses a second listener on one address even
    when both set SO_REUSEADDR (which lets a claim follow its predecessor's TIME_WAIT), so exactly one
    holder wins.
    """
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(claim_address(block))
        s.listen(1)
    except OSError:
        s.close()
        return None
    return s


class BlockClaim:
    """A loopback block held by its claim socket: close it (or hand it to the data plane) to let go."""

    def __init__(self, block: str, sock: socket.socket) -> None:
        self.block = block
        self.socket = sock

    def close(self) -> None:
        self.socket.close()

    def __enter__(self) -> BlockClaim:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _candidates(seed: str) -> list[str]:
    start = zlib.crc32(seed.encode()) % 200
    # 127.20 .. 127.219: away from 127.0.0.x and 127.255
    return [f"127.{20 + (start + step) % 200}.0.0/16" for step in range(200)]


def claim_loopback_block(
    seed: str = "", ports: Iterable[int] = (), prefer: str | None = None, exclude: Iterable[str] = ()
) -> BlockClaim:
    """Claim a free `127.X.0.0/16`: its claim socket binds and `ports` bind on its first ENI address.

    `prefer` (the block a project recorded) is tried first; then `seed` (e.g. the project directory)
    makes the order of the others stable for one project. The claim holds until it is closed; the local
    target hands its socket to the data plane, which holds it for as long as it runs.
    """
    wanted = list(ports)
    skip = {str(ipaddress.IPv4Network(b)) for b in exclude}
    candidates = ([str(ipaddress.IPv4Network(prefer))] if prefer else []) + _candidates(seed)
    for block in dict.fromkeys(candidates):
        if block in skip:
            continue
        sock = claim_socket(block)
        if sock is None:
            continue
        eni_ip = eni_address(block, 0)
        if all(_can_bind(eni_ip, p) for p in wanted):
            return BlockClaim(block, sock)
        sock.close()
    raise StateError("loopback", "no free 127.X.0.0/16 block", "stop other sandboxes with `privlink down`")


def allocate_loopback_block(seed: str = "", ports: Iterable[int] = (), exclude: Iterable[str] = ()) -> str:
    """A block free right now, not held: for a data plane that binds its claim itself (tests run it
    in-process). The local target uses `claim_loopback_block`, which holds the block."""
    with claim_loopback_block(seed, ports, exclude=exclude) as claim:
        return claim.block
