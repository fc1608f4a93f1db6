"""A fast HTTP/1.1 keep-alive target for the benchmark: `GET /` (small JSON) and `GET /bulk` (16 MiB)."""

from __future__ import annotations

import asyncio
import socket
import sys

SMALL = b'{"message": "Hello from provider"}'
SMALL_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d" % len(SMALL)
SMALL_RESPONSE = SMALL_HEAD + b"\r\n\r\n" + SMALL
# Asked to close: say so (RFC 9112 9.6), or the client may send its next request on this connection.
SMALL_CLOSE_RESPONSE = SMALL_HEAD + b"\r\nConnection: close\r\n\r\n" + SMALL
BULK = b"x" * (16 * 1024 * 1024)
BULK_HEAD = b"HTTP/1.1 200 OK\r\nContent-Length: " + str(len(BULK)).encode() + b"\r\n\r\n"


class Http(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport
        self.buf = b""
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data):
        buf = self.buf + data
        while True:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                self.buf = buf
                return
            head, buf = buf[:end], buf[end + 4 :]
            close = b"connection: close" in head.lower()
            if head.startswith(b"GET /bulk"):
                self.transport.write(BULK_HEAD)
                self.transport.write(BULK)
            else:
                self.transport.write(SMALL_CLOSE_RESPONSE if close else SMALL_RESPONSE)
            if close:
                self.transport.close()
                return


async def main(port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Http, "127.0.0.1", port, backlog=1024)
    print(server.sockets[0].getsockname()[1], flush=True)
    await server.serve_forever()


if __name__ == "__main__":
    try:
        import uvloop

        uvloop.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 0))
    except ImportError:
        asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 0))
