"""Forwarding semantics of the data plane, in-process on loopback: ENI -> NLB node -> target.

Each test runs a `DataPlane` and small target servers in one event loop (plain asyncio and uvloop,
as the process uses uvloop when it is installed) and looks at what clients and targets see.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import socket
import struct
from collections.abc import Awaitable, Callable

import pytest

from conftest import PORT, build_config
from privlink.targets.local.dataplane import flows
from privlink.targets.local.dataplane.config_model import DataPlaneConfig, save_config
from privlink.targets.local.dataplane.flows import WRITE_HIGH
from privlink.targets.local.dataplane.supervisor import DataPlane

LOOPS = ["asyncio", "uvloop"]
IO_TIMEOUT = 5.0


def run(loop_kind: str, main: Callable[[], Awaitable[None]]) -> None:
    """Run `main` in a fresh loop; every await in it is bounded, and pytest-timeout bounds the rest."""
    if loop_kind == "uvloop":
        uvloop = pytest.importorskip("uvloop")
        uvloop.run(main())
    else:
        asyncio.run(main())


def config_with(block: str, targets: list[tuple[str, int]], **lb) -> DataPlaneConfig:
    """The conftest topology with address targets (AZ 1, AZ 2, AZ 1, ...) and load balancer settings."""
    data = build_config(block).model_dump(mode="json")
    data["load_balancers"][0]["targets"] = [
        {
            "id": f"t{i}",
            "az_name": ("us-east-1a", "us-east-1b")[i % 2],
            "az_id": ("use1-az1", "use1-az2")[i % 2],
            "private_ip": f"10.0.{1 + i % 2}.{20 + i}",
            "kind": "address",
            "address": f"{host}:{port}",
        }
        for i, (host, port) in enumerate(targets)
    ]
    data["load_balancers"][0].update(lb)
    return DataPlaneConfig.model_validate(data)


class Plane:
    """A running DataPlane plus its config file, for reloads."""

    def __init__(self, tmp_path, config: DataPlaneConfig):
        self.cfg_path = tmp_path / "dataplane.json"
        self.rt_path = tmp_path / "runtime.json"
        self.config = config
        save_config(self.cfg_path, config)
        self.plane: DataPlane | None = None

    async def __aenter__(self) -> Plane:
        self.plane = DataPlane(self.cfg_path, self.rt_path)
        await self.plane.start()
        return self

    async def __aexit__(self, *exc) -> None:
        assert self.plane is not None
        await self.plane.shutdown(grace=0)

    async def reload(self, config: DataPlaneConfig) -> None:
        self.config = config
        save_config(self.cfg_path, config)
        assert self.plane is not None
        await self.plane.reload()

    async def all_healthy(self) -> None:
        """Wait for the first health checks, so target choice no longer fails open."""
        assert self.plane is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + IO_TIMEOUT
        while set(self.plane.lbs["lb1"].states().values()) != {"healthy"}:
            assert loop.time() < deadline, self.plane.lbs["lb1"].states()
            await asyncio.sleep(0.01)

    def eni(self, index: int) -> tuple[str, int]:
        return self.config.endpoints[0].enis[index].bind_ip, PORT

    def node_ip(self, az_id: str) -> str:
        return next(n.bind_ip for n in self.config.load_balancers[0].nodes if n.az_id == az_id)


class Recorder:
    """A target that records (peer IP, bytes until EOF) per connection that sends anything."""

    def __init__(self, reply: bytes = b"ok"):
        self.reply = reply
        self.seen: list[tuple[str, bytes]] = []
        self.server: asyncio.AbstractServer | None = None

    async def __aenter__(self) -> Recorder:
        self.server = await asyncio.start_server(self.handle, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc) -> None:
        assert self.server is not None
        self.server.close()

    @property
    def address(self) -> tuple[str, int]:
        assert self.server is not None
        return self.server.sockets[0].getsockname()[:2]

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            data = await reader.read()  # until the client's half-close
        except OSError:
            data = b""
        if data:  # health checks connect and close without data
            self.seen.append((writer.get_extra_info("peername")[0], data))
            writer.write(self.reply)
        writer.close()


async def exchange(address: tuple[str, int], payload: bytes) -> bytes:
    """Send, half-close, read to EOF."""
    reader, writer = await asyncio.open_connection(*address)
    try:
        writer.write(payload)
        writer.write_eof()
        return await asyncio.wait_for(reader.read(), IO_TIMEOUT)
    finally:
        writer.close()


async def reset_seen(reader: asyncio.StreamReader) -> bool:
    """True when the connection ends with a reset, False on a clean EOF."""
    try:
        await asyncio.wait_for(reader.read(), IO_TIMEOUT)
    except ConnectionResetError:
        return True
    return False


@pytest.mark.parametrize("loop_kind", LOOPS)
def test_flow_reaches_the_enis_az_target_from_that_nodes_address(tmp_path, block, loop_kind):
    async def main():
        async with Recorder(b"from-a") as a, Recorder(b"from-b") as b:
            p = Plane(tmp_path, config_with(block, [a.address, b.address], cross_zone=False))
            async with p:
                await p.all_healthy()
                assert await exchange(p.eni(0), b"hello") == b"from-a"
                assert await exchange(p.eni(1), b"hello") == b"from-b"
            assert a.seen == [(p.node_ip("use1-az1"), b"hello")]
            assert b.seen == [(p.node_ip("use1-az2"), b"hello")]

    run(loop_kind, main)


@pytest.mark.parametrize("loop_kind", LOOPS)
def test_cross_zone_round_robin_uses_every_target_in_turn(tmp_path, block, loop_kind):
    async def main():
        async with Recorder(b"a") as a, Recorder(b"b") as b:
            p = Plane(tmp_path, config_with(block, [a.address, b.address], cross_zone=True))
            async with p:
                await p.all_healthy()
                answers = [await exchange(p.eni(0), b"x") for _ in range(6)]
            assert sorted(answers) == [b"a"] * 3 + [b"b"] * 3
            assert all(x != y for x, y in zip(answers, answers[1:]))  # alternating

    run(loop_kind, main)


@pytest.mark.parametrize("loop_kind", LOOPS)
def test_half_close_travels_both_ways(tmp_path, block, loop_kind):
    """The target speaks first and half-closes; the client still sends afterwards."""
    got: list[bytes] = []

    async def banner_then_read(reader, writer):
        writer.write(b"banner")
        writer.write_eof()
        data = await reader.read()
        if data:  # health checks connect and close without data
            got.append(data)
        writer.close()

    async def main():
        server = await asyncio.start_server(banner_then_read, "127.0.0.1", 0)
        target = server.sockets[0].getsockname()[:2]
        try:
            async with Plane(tmp_path, config_with(block, [target])) as p:
                reader, writer = await asyncio.open_connection(*p.eni(0))
                assert await asyncio.wait_for(reader.read(), IO_TIMEOUT) == b"banner"  # EOF after it
                writer.write(b"late words")
                writer.write_eof()
                await asyncio.sleep(0)
                deadline = asyncio.get_running_loop().time() + IO_TIMEOUT
                while not got and asyncio.get_running_loop().time() < deadline:
                    await asyncio.sleep(0.01)
                writer.close()
                assert got == [b"late words"]
        finally:
            server.close()

    run(loop_kind, main)


@pytest.mark.parametrize("loop_kind", LOOPS)
def test_unreachable_target_resets_the_client(tmp_path, block, loop_kind):
    async def main():
        async with Recorder() as a:
            dead = a.address
        async with Plane(tmp_path, config_with(block, [dead])) as p:
            reader, writer = await asyncio.open_connection(*p.eni(0))
            writer.write(b"anyone?")
            assert await reset_seen(reader)
            writer.close()

    run(loop_kind, main)


@pytest.mark.parametrize("loop_kind", LOOPS)
def test_a_connection_with_no_target_connects_and_is_reset_at_its_request(tmp_path, block, loop_kind):
    """No target behind the ENI: every connect completes and the reset comes at the client's
    request, never while it connects (reset inside the accept callback, it raced the connect, so
    `privlink test` failed at connect or at http by chance)."""

    def request(address: tuple[str, int]) -> str:
        """As the probe does it, from another thread: where the connection fails."""
        try:
            sock = socket.create_connection(address, timeout=IO_TIMEOUT)
        except OSError as exc:
            return f"connect: {exc!r}"
        with sock:
            try:
                sock.sendall(b"GET / HTTP/1.1\r\n\r\n")
                return "answered" if sock.recv(100) else "closed"
            except ConnectionResetError:
                return "reset"

    async def main():
        async with Plane(tmp_path, config_with(block, [])) as p:
            seen = [await asyncio.to_thread(request, p.eni(0)) for _ in range(50)]
            assert seen == ["reset"] * 50

    run(loop_kind, main)


@pytest.mark.parametrize("loop_kind", LOOPS)
def test_a_silent_client_with_no_target_is_reset_after_the_grace(tmp_path, block, loop_kind, monkeypatch):
    monkeypatch.setattr(flows, "RESET_GRACE", 0.05)

    async def main():
        async with Plane(tmp_path, config_with(block, [])) as p:
            reader, writer = await asyncio.open_connection(*p.eni(0))
            assert await reset_seen(reader)  # without sending anything
            writer.close()

    run(loop_kind, main)


@pytest.mark.parametrize("loop_kind", LOOPS)
def test_target_reset_reaches_the_client_as_a_reset(tmp_path, block, loop_kind):
    async def abort(reader, writer):
        await reader.read(1)
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()

    async def main():
        server = await asyncio.start_server(abort, "127.0.0.1", 0)
        try:
            async with Plane(tmp_path, config_with(block, [server.sockets[0].getsockname()[:2]])) as p:
                reader, writer = await asyncio.open_connection(*p.eni(0))
                writer.write(b"x")
                assert await reset_seen(reader)
                writer.close()
        finally:
            server.close()

    run(loop_kind, main)


async def echo(reader, writer):
    """A target that sends back what it reads, until the client's EOF (or a reset)."""
    with contextlib.suppress(ConnectionResetError):
        while data := await reader.read(65536):
            writer.write(data)
    writer.close()


@pytest.mark.parametrize("loop_kind", LOOPS)
def test_idle_flow_is_reset_and_a_busy_one_is_not(tmp_path, block, loop_kind):
    async def main():
        server = await asyncio.start_server(echo, "127.0.0.1", 0)
        target = server.sockets[0].getsockname()[:2]
        try:
            async with Plane(tmp_path, config_with(block, [target], idle_timeout_seconds=0.4)) as p:
                idle_r, idle_w = await asyncio.open_connection(*p.eni(0))
                busy_r, busy_w = await asyncio.open_connection(*p.eni(0))
                for _ in range(12):  # 1.2 s: three idle timeouts
                    busy_w.write(b"ping")
                    assert await asyncio.wait_for(busy_r.readexactly(4), IO_TIMEOUT) == b"ping"
                    await asyncio.sleep(0.1)
                assert await reset_seen(idle_r)
                busy_w.write(b"still")
                assert await asyncio.wait_for(busy_r.readexactly(5), IO_TIMEOUT) == b"still"
                idle_w.close()
                busy_w.close()
        finally:
            server.close()

    run(loop_kind, main)


@pytest.mark.parametrize("loop_kind", LOOPS)
def test_bulk_both_ways_arrives_intact_and_a_slow_reader_bounds_the_buffers(tmp_path, block, loop_kind):
    size = 8 << 20
    up, down = os.urandom(size), os.urandom(4 * size)

    async def digest_then_send(reader, writer):
        h, n = hashlib.sha256(), 0
        while n < size:
            chunk = await reader.read(1 << 20)
            if not chunk:
                break
            h.update(chunk)
            n += len(chunk)
        writer.write(h.digest())
        writer.write(down)
        await writer.drain()
        writer.close()

    async def main():
        server = await asyncio.start_server(digest_then_send, "127.0.0.1", 0)
        try:
            async with Plane(tmp_path, config_with(block, [server.sockets[0].getsockname()[:2]])) as p:
                reader, writer = await asyncio.open_connection(*p.eni(0))
                writer.write(up)
                await writer.drain()
                assert (
                    await asyncio.wait_for(reader.readexactly(32), IO_TIMEOUT) == hashlib.sha256(up).digest()
                )
                for _ in range(20):  # the client reads nothing for a while: the data plane must not hoard
                    await asyncio.sleep(0.02)
                    for flow in p.plane.flows:
                        for transport in (flow.transport, flow.peer):
                            assert transport.get_write_buffer_size() <= WRITE_HIGH + (1 << 20)
                assert await asyncio.wait_for(reader.readexactly(len(down)), IO_TIMEOUT) == down
                writer.close()
        finally:
            server.close()

    run(loop_kind, main)


@pytest.mark.parametrize("loop_kind", LOOPS)
@pytest.mark.parametrize("change", ["security group", "vpn authorization"])
def test_reload_keeps_open_flows_and_new_rules_apply_to_new_ones(tmp_path, block, loop_kind, change):
    """Security groups are stateful: a rule removed stops new connections (their connects time out),
    the open flow goes on. A VPN authorization rule removed is taken alike."""

    async def main():
        server = await asyncio.start_server(echo, "127.0.0.1", 0)
        target = server.sockets[0].getsockname()[:2]
        try:
            async with Plane(tmp_path, config_with(block, [target])) as p:
                reader, writer = await asyncio.open_connection(*p.eni(0))
                writer.write(b"1")
                assert await asyncio.wait_for(reader.readexactly(1), IO_TIMEOUT) == b"1"
                closed = config_with(block, [target]).model_dump(mode="json")
                if change == "security group":
                    closed["endpoints"][0]["security_group_rules"][0]["cidr"] = "192.168.0.0/16"
                else:
                    closed["endpoints"][0]["source"] = {"kind": "vpn", "ip": "10.1.0.10"}
                    closed["endpoints"][0]["vpn_authorized_cidrs"] = ["192.168.0.0/16"]
                await p.reload(DataPlaneConfig.model_validate(closed))
                assert await connect_times_out(p.eni(0))
                writer.write(b"2")  # security groups are stateful: the open flow goes on
                assert await asyncio.wait_for(reader.readexactly(1), IO_TIMEOUT) == b"2"
                writer.close()
        finally:
            server.close()

    run(loop_kind, main)


async def connect_times_out(address: tuple[str, int], timeout: float = 0.3) -> bool:
    """True when a connect to `address` gets no answer (packets dropped), False when it connects."""
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(*address), timeout)
    except asyncio.TimeoutError:
        return True
    writer.close()
    return False


async def keep_alive(address: tuple[str, int]) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A flow to the echo target that has carried one round trip."""
    reader, writer = await asyncio.open_connection(*address)
    writer.write(b"1")
    assert await asyncio.wait_for(reader.readexactly(1), IO_TIMEOUT) == b"1"
    return reader, writer


@pytest.mark.parametrize("loop_kind", LOOPS)
@pytest.mark.parametrize("state", ["rejected", "pendingAcceptance", "deleted"])
def test_an_endpoint_leaving_available_cuts_its_open_flows(tmp_path, block, loop_kind, state):
    """AWS removes the path of a rejected or deleted endpoint: open flows end with a reset, new
    connects time out (rejected, pending: packets dropped) or are refused (deleted: no ENI)."""

    async def main():
        server = await asyncio.start_server(echo, "127.0.0.1", 0)
        target = server.sockets[0].getsockname()[:2]
        try:
            async with Plane(tmp_path, config_with(block, [target])) as p:
                flows = [await keep_alive(p.eni(i % 2)) for i in range(8)]
                eni = p.eni(0)
                changed = config_with(block, [target]).model_dump(mode="json")
                if state == "deleted":
                    changed["endpoints"], changed["dns"]["aliases"] = [], []
                else:
                    changed["endpoints"][0]["state"] = state
                await p.reload(DataPlaneConfig.model_validate(changed))
                for reader, writer in flows:
                    assert await reset_seen(reader)
                    writer.close()
                if state == "deleted":
                    with pytest.raises(ConnectionRefusedError):
                        await asyncio.open_connection(*eni)
                else:
                    assert await connect_times_out(eni)
                    enis = p.plane.runtime()["endpoints"]["vpce-0aaaaaaaaaaaaaaa1"]["enis"]
                    assert [(e["listening"], e["drops"]) for e in enis] == [(False, True)] * 2
        finally:
            server.close()

    run(loop_kind, main)


@pytest.mark.parametrize("loop_kind", LOOPS)
def test_a_dropping_eni_holds_nothing_and_a_client_still_trying_gets_through_once_admitted(
    tmp_path, block, loop_kind
):
    """Connects to a dropping ENI reach no socket of the data plane (no file descriptor per client,
    whatever a client does); once the endpoint is admitted again, a client whose SYN is still being
    retransmitted connects, as after the rule is added on AWS."""

    def open_fds() -> int:
        return len(os.listdir("/proc/self/fd"))

    async def main():
        server = await asyncio.start_server(echo, "127.0.0.1", 0)
        target = server.sockets[0].getsockname()[:2]
        closed = config_with(block, [target]).model_dump(mode="json")
        closed["endpoints"][0]["security_group_rules"] = []
        try:
            async with Plane(tmp_path, DataPlaneConfig.model_validate(closed)) as p:
                before = open_fds()
                clients = [socket.socket() for _ in range(64)]
                for c in clients:
                    c.setblocking(False)
                    c.connect_ex(p.eni(0))
                await asyncio.sleep(0.1)  # let the data plane's loop run: it must accept nothing
                assert open_fds() - before == len(clients)
                for c in clients:
                    assert c.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0  # still trying
                    with pytest.raises(OSError):
                        c.getpeername()  # not connected
                    c.close()
                trying = asyncio.ensure_future(asyncio.wait_for(asyncio.open_connection(*p.eni(0)), 5))
                await asyncio.sleep(0.2)
                assert not trying.done()
                await p.reload(config_with(block, [target]))
                reader, writer = await trying  # its SYN retransmitted about 1 s after the first
                writer.write(b"x")
                assert await asyncio.wait_for(reader.readexactly(1), IO_TIMEOUT) == b"x"
                writer.close()
        finally:
            server.close()

    run(loop_kind, main)


@pytest.mark.parametrize("loop_kind", LOOPS)
def test_proxy_protocol_headers_from_the_eni_and_from_a_node(tmp_path, block, loop_kind):
    async def main():
        async with Recorder() as t:
            config = config_with(block, [t.address], proxy_protocol=True)
            async with Plane(tmp_path, config) as p:
                await exchange(p.eni(1), b"via-eni")
                node = p.plane.runtime()["load_balancers"]["lb1"]["nodes"][0]
                host, port = node["address"].split(":")
                reader, writer = await asyncio.open_connection(host, int(port))
                client_ip, client_port = writer.get_extra_info("sockname")[:2]
                writer.write(b"via-node")
                writer.write_eof()
                await asyncio.wait_for(reader.read(), IO_TIMEOUT)
                writer.close()
        eni, node_ip = (
            config.endpoints[0].enis[1],
            next(n for n in config.load_balancers[0].nodes if n.az_name == node["az_name"]),
        )
        (_, first), (_, second) = t.seen
        sig = b"\r\n\r\n\x00\r\nQUIT\n\x21\x11"
        assert first.startswith(sig) and first.endswith(b"via-eni")
        assert first[16:20] == socket.inet_aton("10.1.0.10")  # the modelled source
        assert first[20:24] == socket.inet_aton(eni.private_ip)
        assert struct.unpack("!H", first[26:28])[0] == PORT
        endpoint_id = b"vpce-0aaaaaaaaaaaaaaa1"
        assert first[28:31] == b"\xea" + struct.pack("!H", 1 + len(endpoint_id))
        assert first[31 : 32 + len(endpoint_id)] == b"\x01" + endpoint_id
        assert second.startswith(sig) and second.endswith(b"via-node")
        assert second[16:20] == socket.inet_aton(client_ip)  # the real client
        assert second[20:24] == socket.inet_aton(node_ip.private_ip)
        assert struct.unpack("!HH", second[24:28]) == (client_port, PORT)

    run(loop_kind, main)


@pytest.mark.parametrize("loop_kind", LOOPS)
def test_a_target_that_fails_its_health_checks_gets_no_new_flows(tmp_path, block, loop_kind):
    fast = {
        "interval_seconds": 0.05,
        "timeout_seconds": 0.5,
        "healthy_threshold": 2,
        "unhealthy_threshold": 2,
    }

    async def main():
        async with Recorder(b"a") as a, Recorder(b"b") as b:
            p = Plane(
                tmp_path, config_with(block, [a.address, b.address], cross_zone=True, health_check=fast)
            )
            async with p:
                await p.all_healthy()
                assert {await exchange(p.eni(0), b"x") for _ in range(2)} == {b"a", b"b"}
                b.server.close()
                await b.server.wait_closed()
                loop = asyncio.get_running_loop()
                deadline = loop.time() + IO_TIMEOUT
                while p.plane.lbs["lb1"].health["t1"].state != "unhealthy":
                    assert loop.time() < deadline
                    await asyncio.sleep(0.02)
                assert [await exchange(p.eni(0), b"x") for _ in range(3)] == [b"a"] * 3

    run(loop_kind, main)
