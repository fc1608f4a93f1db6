"""Proxy flows: an accepted connection glued to its upstream connection, byte for byte.

Forwarding is two `asyncio.Protocol`s glued to each other's transports; once a flow is connected no
Python runs per chunk beyond `transport.write`, and backpressure is the transports' own
pause_writing/resume_writing turned into pause_reading/resume_reading of the other side. Where a
connection goes is its listener's `Router`, built per config; the supervisor makes the listeners and
gives each accepted connection its router.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import struct
from collections.abc import Callable, Coroutine, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from privlink.targets.local.dataplane.load_balancer import LbRuntime
    from privlink.targets.local.dataplane.supervisor import DataPlane

log = logging.getLogger("privlink.dataplane")

WRITE_HIGH = 1 << 20  # per-transport write buffer before the other side stops reading
WRITE_LOW = 256 << 10
LINGER_RESET = struct.pack("ii", 1, 0)
# A connection with nowhere to go (no target for it, or its target refused it) is reset once the client
# has sent something or ended, else after this many seconds: reset at once, inside the accept callback,
# it raced the client's own connect, which then failed there or at its first request by chance.
RESET_GRACE = 1.0


def reset(transport: asyncio.BaseTransport) -> None:
    """Close with RST (what a client sees when nothing behind the address takes the connection)."""
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER_RESET)
    transport.abort()


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
            self.doom()
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
                self.doom()
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

    def doom(self) -> None:
        """Nowhere to send this connection: reset it once the client speaks or ends (`RESET_GRACE`)."""
        self.closed = True
        transport = self.transport
        assert transport is not None
        if self.early or self.eof:
            reset(transport)
        else:
            self.plane.loop.call_later(RESET_GRACE, reset, transport)

    def data_received(self, data: bytes) -> None:
        peer = self.peer
        if peer is None:  # the client spoke before the upstream connected: hold it, bounded
            if self.closed:  # doomed: the client's connect is done, so it sees the reset at its request
                reset(self.transport)  # type: ignore[arg-type]
                return
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
        if self.closed and self.peer is None:  # doomed
            reset(self.transport)  # type: ignore[arg-type]
            return False
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


# The route of a listener whose endpoint or node has left the config: the connection is reset.
def _no_route(transport: asyncio.BaseTransport) -> Route | None:
    return None


NO_ROUTE: tuple[Router, float] = (_no_route, 350.0)


async def sweep_idle(flows: set[Downstream], lbs: Mapping[str, LbRuntime]) -> None:
    """Reset the flows idle longer than their load balancer's idle timeout, as an NLB does.

    Runs until cancelled; `flows` and `lbs` are the supervisor's, read on every round.
    """
    while True:
        periods = [lb.config.idle_timeout_seconds for lb in lbs.values()] or [350.0]
        period = max(0.02, min(periods) / 8)
        await asyncio.sleep(period)
        for flow in list(flows):
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
