"""The sandbox's DNS servers: UDP and TCP listeners that answer with the sans-IO codec in `dns`.

The shared server on 127.0.0.1 answers every name (for `dig` by hand); each consumer VPC's view
listens on its own loopback IP and the shared server's port. A listener asks the supervisor for the
zone table of the IP it serves, so a reload changes the answers without rebinding.
"""

from __future__ import annotations

import asyncio
import struct
from typing import TYPE_CHECKING

from privlink.targets.local.dataplane import dns

if TYPE_CHECKING:
    from privlink.targets.local.dataplane.supervisor import DataPlane

SHARED_DNS_IP = "127.0.0.1"  # the DNS server `status` shows, answering every name (for `dig` by hand)

DnsListeners = list[asyncio.BaseTransport | asyncio.Server]  # the UDP transport and the TCP server


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
    """DNS over TCP (each message after its two-byte length) on one address, for `view`."""

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


async def bind_shared_dns(plane: DataPlane) -> tuple[DnsListeners, int]:
    """The shared server: UDP on a free port of 127.0.0.1, then TCP on the same port (retried when
    that TCP port is taken). Returns the listeners and the port."""
    for _ in range(10):
        transport, _p = await plane.loop.create_datagram_endpoint(
            lambda: DnsUdp(plane), local_addr=(SHARED_DNS_IP, 0)
        )
        port = transport.get_extra_info("sockname")[1]
        try:
            tcp = await plane.loop.create_server(lambda: DnsTcp(plane), SHARED_DNS_IP, port)
        except OSError:
            transport.close()
            continue
        return [transport, tcp], port
    raise OSError("no port free for DNS on both UDP and TCP")


async def bind_view_dns(plane: DataPlane, ip: str, port: int) -> DnsListeners:
    """A consumer VPC's view: UDP and TCP on `ip:port`. OSError when either cannot bind (then
    neither stays bound)."""
    udp, _p = await plane.loop.create_datagram_endpoint(lambda: DnsUdp(plane, ip), local_addr=(ip, port))
    try:
        tcp = await plane.loop.create_server(lambda: DnsTcp(plane, ip), ip, port)
    except OSError:
        udp.close()
        raise
    return [udp, tcp]
