"""The demo app's server, taken from the rendered UserData, run on loopback against a fake IMDSv2."""

from __future__ import annotations

import base64
import json
import os
import re
import socket
import struct
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from spec_variants import variants

from privlink.templates.demo_app import HEREDOC_END, SERVER_PATH
from privlink.templates.render import render_stacks

PP2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"
TOKEN = "fake-token"


class FakeImds(BaseHTTPRequestHandler):
    """IMDSv2 only: a PUT for a token, then GETs that must carry it."""

    answers = {
        "/latest/meta-data/placement/availability-zone": "eu-central-1b",
        "/latest/meta-data/instance-id": "i-0123456789abcdef0",
    }

    def do_PUT(self):
        if self.path != "/latest/api/token" or not self.headers.get("X-aws-ec2-metadata-token-ttl-seconds"):
            self.send_error(400)
            return
        self.reply(TOKEN)

    def do_GET(self):
        if self.headers.get("X-aws-ec2-metadata-token") != TOKEN:
            self.send_error(401)
            return
        if self.path not in self.answers:
            self.send_error(404)
            return
        self.reply(self.answers[self.path])

    def reply(self, text):
        body = text.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def server_source() -> str:
    template = render_stacks(variants()["default"])[0].template
    data = template["Resources"]["DemoLaunchTemplate"]["Properties"]["LaunchTemplateData"]
    script = base64.b64decode(data["UserData"]).decode()
    match = re.search(
        rf"cat > {re.escape(SERVER_PATH)} <<'{HEREDOC_END}'\n(.*?){HEREDOC_END}\n", script, re.S
    )
    assert match, "the user data writes the server with a heredoc"
    return match.group(1)


@pytest.fixture
def demo_server(tmp_path):
    imds = ThreadingHTTPServer(("127.0.0.1", 0), FakeImds)
    threading.Thread(target=imds.serve_forever, daemon=True).start()
    path = tmp_path / "demo_server.py"
    path.write_text(server_source())
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env |= {"PRIVLINK_IMDS": f"http://127.0.0.1:{imds.server_address[1]}", "PRIVLINK_BIND": "127.0.0.1"}
    proc = subprocess.Popen(
        [sys.executable, str(path), "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    try:
        lines: list[str] = []
        reader = threading.Thread(target=lambda: lines.append(proc.stdout.readline()), daemon=True)
        reader.start()
        reader.join(timeout=15)
        assert lines and lines[0].startswith("listening on "), "the demo server did not start"
        yield int(lines[0].split()[-1])
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        proc.stdout.close()
        imds.shutdown()
        imds.server_close()


def http_get(port: int, prefix: bytes = b"") -> tuple[str, dict]:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(prefix + b"GET / HTTP/1.0\r\nHost: demo\r\n\r\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return head.decode().split("\r\n")[0], json.loads(body)


def ppv2_header(vpce: str) -> bytes:
    addresses = (
        socket.inet_aton("10.10.1.25") + socket.inet_aton("10.20.1.7") + struct.pack("!HH", 51000, 8080)
    )
    value = b"\x01" + vpce.encode()
    tlv = bytes([0xEA]) + struct.pack("!H", len(value)) + value
    body = addresses + tlv
    return PP2_SIGNATURE + bytes([0x21, 0x11]) + struct.pack("!H", len(body)) + body


def test_demo_answers_hello_with_az_and_instance(demo_server):
    before = time.time()
    status, answer = http_get(demo_server)
    assert status.endswith("200 OK")
    assert answer["message"] == "Hello from provider"
    assert answer["az"] == "eu-central-1b"
    assert answer["target"] == "i-0123456789abcdef0"
    assert answer["ts"].endswith("Z")
    from datetime import datetime

    stamp = datetime.fromisoformat(answer["ts"].replace("Z", "+00:00")).timestamp()
    assert before - 1 <= stamp <= time.time() + 1
    assert "proxy" not in answer


def test_demo_reads_proxy_protocol_v2_and_survives_health_checks(demo_server):
    header = ppv2_header("vpce-0123456789abcdef0")
    with socket.create_connection(("127.0.0.1", demo_server), timeout=10) as sock:
        sock.sendall(header)  # what an NLB health check with proxy protocol sends before closing
    with socket.create_connection(("127.0.0.1", demo_server), timeout=10):
        pass  # a plain TCP health check
    status, answer = http_get(demo_server, prefix=header)
    assert status.endswith("200 OK")
    assert answer["proxy"] == {
        "source": "10.10.1.25:51000",
        "destination": "10.20.1.7:8080",
        "vpce": "vpce-0123456789abcdef0",
    }
