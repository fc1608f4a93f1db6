"""The demo app's user data: a python3 HTTP server answering `GET /` with who served it.

It runs on Amazon Linux 2023 without internet access (python3 ships with it): a systemd unit
starts the server, which reads its AZ and instance ID from IMDSv2 (token first) and answers
`{"message": "Hello from provider", "ts": ..., "az": ..., "target": ...}`. When the target group
sends proxy protocol v2, the server reads the header (also sent on health checks) and adds the
client address and the VPC endpoint ID (TLV 0xEA, subtype 0x01) to the answer.
"""

from __future__ import annotations

import base64

SERVER_PATH = "/opt/privlink/demo_server.py"
UNIT_NAME = "privlink-demo.service"
HEREDOC_END = "PRIVLINK_DEMO_EOF"

# Runs on the instance's python3 (3.9 on AL2023): standard library only.
# PRIVLINK_IMDS and PRIVLINK_BIND exist so tests can run it on loopback against a fake IMDS.
SERVER_SOURCE = r'''"""privlink demo app: answers GET / with the AZ and the instance that served it."""
import datetime
import json
import os
import socket
import struct
import sys
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

IMDS = os.environ.get("PRIVLINK_IMDS", "http://169.254.169.254")
PP2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"
PP2_TYPE_AWS = 0xEA
PP2_SUBTYPE_AWS_VPCE_ID = 0x01


def metadata(path):
    """One IMDSv2 read: a session token first, then the path with the token."""
    put = urllib.request.Request(
        IMDS + "/latest/api/token",
        method="PUT",
        headers={"X-aws-ec2-metadata-token-ttl-seconds": "300"},
    )
    token = urllib.request.urlopen(put, timeout=2).read().decode()
    get = urllib.request.Request(
        IMDS + "/latest/meta-data/" + path, headers={"X-aws-ec2-metadata-token": token}
    )
    return urllib.request.urlopen(get, timeout=2).read().decode().strip()


def identity(attempts=30):
    for _ in range(attempts):
        try:
            return metadata("placement/availability-zone"), metadata("instance-id")
        except OSError:
            time.sleep(1)
    return "unknown", socket.gethostname()


def recv_exact(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError("connection closed inside the proxy protocol header")
        data += chunk
    return data


def read_proxy_header(sock):
    """Consume a proxy protocol v2 header if the connection starts with one; None otherwise."""
    head = sock.recv(16, socket.MSG_PEEK | socket.MSG_WAITALL)
    if len(head) < 16 or not head.startswith(PP2_SIGNATURE):
        return None
    (length,) = struct.unpack("!H", head[14:16])
    data = recv_exact(sock, 16 + length)
    info = {}
    body = data[16:]
    if head[12] & 0x0F == 0x01 and head[13] == 0x11 and len(body) >= 12:  # PROXY, TCP over IPv4
        src, dst, sport, dport = struct.unpack("!4s4sHH", body[:12])
        info["source"] = "%s:%d" % (socket.inet_ntoa(src), sport)
        info["destination"] = "%s:%d" % (socket.inet_ntoa(dst), dport)
        tlvs = body[12:]
        while len(tlvs) >= 3:
            kind, size = tlvs[0], struct.unpack("!H", tlvs[1:3])[0]
            value, tlvs = tlvs[3 : 3 + size], tlvs[3 + size :]
            if kind == PP2_TYPE_AWS and value[:1] == bytes([PP2_SUBTYPE_AWS_VPCE_ID]):
                info["vpce"] = value[1:].decode("ascii", "replace")
    return info


class Handler(BaseHTTPRequestHandler):
    server_version = "privlink-demo"
    timeout = 30
    proxy = None

    def setup(self):
        super().setup()
        try:
            self.proxy = read_proxy_header(self.connection)
        except (OSError, ConnectionError):
            self.proxy = None

    def do_GET(self):
        if self.path.split("?")[0] != "/":
            self.send_error(404)
            return
        now = datetime.datetime.now(datetime.timezone.utc)
        answer = {
            "message": "Hello from provider",
            "ts": now.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "az": self.server.az,
            "target": self.server.target,
        }
        if self.proxy:
            answer["proxy"] = self.proxy
        body = (json.dumps(answer) + "\n").encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):
        sys.stderr.write("%s %s\n" % (self.address_string(), format % args))


def main():
    port = int(sys.argv[1])
    server = ThreadingHTTPServer((os.environ.get("PRIVLINK_BIND", ""), port), Handler)
    server.daemon_threads = True
    server.az, server.target = identity()
    print("listening on %d" % server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
'''


def user_data_script(port: int) -> str:
    """The shell script that installs and starts the demo server on `port`."""
    if HEREDOC_END in SERVER_SOURCE:
        raise ValueError("the server source must not contain the heredoc terminator")
    return f"""#!/bin/bash
# privlink demo app: a python3 HTTP server on port {port} (no internet access needed).
set -euo pipefail
mkdir -p /opt/privlink
cat > {SERVER_PATH} <<'{HEREDOC_END}'
{SERVER_SOURCE}{HEREDOC_END}
cat > /etc/systemd/system/{UNIT_NAME} <<'{HEREDOC_END}'
[Unit]
Description=privlink demo app
After=network-online.target
Wants=network-online.target

[Service]
ExecStart=/usr/bin/python3 {SERVER_PATH} {port}
Restart=always
RestartSec=2
DynamicUser=yes
AmbientCapabilities=CAP_NET_BIND_SERVICE

[Install]
WantedBy=multi-user.target
{HEREDOC_END}
systemctl daemon-reload
systemctl enable --now {UNIT_NAME}
"""


def user_data(port: int) -> str:
    """The instance's UserData: the script, base64-encoded here so the template needs no Fn::Base64."""
    return base64.b64encode(user_data_script(port).encode()).decode()
