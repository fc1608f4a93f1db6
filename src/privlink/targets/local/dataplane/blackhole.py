"""An address that drops every connection attempt: what a client sees on AWS when the endpoint's
security group, an endpoint connection that is not accepted or a missing Client VPN authorization
rule drops its packets (its connect times out; nothing is refused).

On loopback the kernel completes a TCP handshake by itself before anything accepts, so a listener
that merely never accepts still lets clients connect. A full accept queue is different: Linux then
drops each new SYN (a listen overflow), the client retransmits it until its own timeout, and its
connect times out as on AWS. `Blackhole` binds a listener with a backlog of one, fills its queue with
two connections of its own and never accepts. No client connection ever reaches the data plane, so
no client can make it hold anything: three file descriptors per address, whatever clients do.
Closing it frees the address for a listener that serves; a client still retransmitting its SYN then
connects, as when the rule is added on AWS.
"""

from __future__ import annotations

import asyncio
import socket

BACKLOG = 1
PLUGS = BACKLOG + 1  # Linux queues backlog + 1 established connections, then drops SYNs
PLUG_TIMEOUT = 2.0  # a loopback connect into a queue with room completes at once


class Blackhole:
    """A listener on `(host, port)` whose accept queue is kept full by its own connections."""

    def __init__(self, listener: socket.socket, plugs: list[socket.socket]):
        self.listener = listener
        self.plugs = plugs

    @classmethod
    async def open(cls, host: str, port: int) -> Blackhole:
        """Bind, listen and fill the queue; raises OSError when the address cannot be bound."""
        loop = asyncio.get_running_loop()
        sockets = [socket.socket(socket.AF_INET, socket.SOCK_STREAM)]
        try:
            listener = sockets[0]
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind((host, port))
            listener.listen(BACKLOG)
            address = listener.getsockname()[:2]
            for _ in range(PLUGS):
                plug = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                sockets.append(plug)
                plug.setblocking(False)
                await asyncio.wait_for(loop.sock_connect(plug, address), PLUG_TIMEOUT)
        except BaseException:
            for s in sockets:
                s.close()
            raise
        return cls(listener, sockets[1:])

    @property
    def address(self) -> tuple[str, int]:
        return self.listener.getsockname()[:2]

    def close(self) -> None:
        """Free the address (the listener first: its queued connections go with it)."""
        self.listener.close()
        for plug in self.plugs:
            plug.close()
