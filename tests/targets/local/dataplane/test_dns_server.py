"""The DNS servers of an in-process data plane on loopback: UDP and TCP, the shared server and a
consumer VPC's view, and a reload that drops the view."""

from __future__ import annotations

import asyncio
import struct

import dns.asyncquery
import dns.message
import dns.rcode

from conftest import build_config
from privlink.targets.local.dataplane.config_model import DataPlaneConfig, resolver_address, save_config
from privlink.targets.local.dataplane.supervisor import DataPlane

TIMEOUT = 3.0
ENDPOINT = "vpce-0aaaaaaaaaaaaaaa1"


def with_view(block: str) -> DataPlaneConfig:
    """The conftest topology plus consumer c1's VPC view, which holds the endpoint's name only."""
    data = build_config(block).model_dump(mode="json")
    data["dns"]["views"] = [
        {
            "consumer": "c1",
            "vpc_id": "vpc-1",
            "bind_ip": resolver_address(block, 0),
            "zones": ["internal.example"],
            "aliases": [{"name": "api.internal.example", "endpoint_id": ENDPOINT}],
        }
    ]
    return DataPlaneConfig.model_validate(data)


def query(name: str) -> dns.message.Message:
    return dns.message.make_query(name, "A")


def addresses(reply: dns.message.Message) -> list[str]:
    return sorted(str(rr) for rrset in reply.answer for rr in rrset)


async def read_framed(reader: asyncio.StreamReader) -> dns.message.Message:
    (size,) = struct.unpack("!H", await reader.readexactly(2))
    return dns.message.from_wire(await reader.readexactly(size))


def test_shared_server_and_view_answer_over_udp_and_tcp(tmp_path, block):
    config = with_view(block)
    enis = sorted(e.bind_ip for e in config.endpoints[0].enis)
    cfg_path, rt_path = tmp_path / "dataplane.json", tmp_path / "runtime.json"
    save_config(cfg_path, config)

    async def main() -> None:
        plane = DataPlane(cfg_path, rt_path)
        await plane.start()
        try:
            shared, view = "127.0.0.1", resolver_address(block, 0)
            port = plane.dns_port
            for ask in (dns.asyncquery.udp, dns.asyncquery.tcp):
                reply = await ask(query("API.internal.example."), shared, port=port, timeout=TIMEOUT)
                assert addresses(reply) == enis
                reply = await ask(query("static.internal.example."), shared, port=port, timeout=TIMEOUT)
                assert addresses(reply) == ["127.0.0.9"]
                reply = await ask(query("api.internal.example."), view, port=port, timeout=TIMEOUT)
                assert addresses(reply) == enis
                # the view holds only what its VPC resolves
                reply = await ask(query("static.internal.example."), view, port=port, timeout=TIMEOUT)
                assert reply.rcode() == dns.rcode.NXDOMAIN

            # TCP: two messages in one write, then one split across writes, on one connection
            reader, writer = await asyncio.wait_for(asyncio.open_connection(shared, port), TIMEOUT)
            try:
                first = query("api.internal.example.").to_wire()
                second = query("nope.example.").to_wire()
                writer.write(struct.pack("!H", len(first)) + first + struct.pack("!H", len(second)) + second)
                assert addresses(await asyncio.wait_for(read_framed(reader), TIMEOUT)) == enis
                nope = await asyncio.wait_for(read_framed(reader), TIMEOUT)
                assert nope.rcode() == dns.rcode.NXDOMAIN
                framed = struct.pack("!H", len(first)) + first
                writer.write(framed[:5])
                await writer.drain()
                await asyncio.sleep(0)
                writer.write(framed[5:])
                assert addresses(await asyncio.wait_for(read_framed(reader), TIMEOUT)) == enis
                # a message that is not even a DNS header: the server closes the connection
                writer.write(struct.pack("!H", 3) + b"bad")
                assert await asyncio.wait_for(reader.read(), TIMEOUT) == b""
            finally:
                writer.close()

            # the view leaves the config: its listeners close, the shared server keeps answering
            save_config(cfg_path, build_config(block))
            await plane.reload()
            assert plane.view_servers == {}
            try:
                _, stale = await asyncio.wait_for(asyncio.open_connection(view, port), TIMEOUT)
            except OSError:
                pass
            else:
                stale.close()
                raise AssertionError(f"the dropped view still listens on {view}:{port}")
            reply = await dns.asyncquery.tcp(
                query("api.internal.example."), shared, port=port, timeout=TIMEOUT
            )
            assert addresses(reply) == enis
        finally:
            await plane.shutdown(grace=0)

    asyncio.run(main())
