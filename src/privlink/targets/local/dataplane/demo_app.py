"""The demo app the sandbox runs as each demo target: HTTP/1.1 keep-alive answering `GET /` with who
answered (message, AZ, target) and, behind proxy protocol v2, who asked (endpoint, client address).
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from privlink.targets.local.dataplane import ppv2
from privlink.targets.local.dataplane.config_model import Target

if TYPE_CHECKING:
    from privlink.targets.local.dataplane.supervisor import DataPlane


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
