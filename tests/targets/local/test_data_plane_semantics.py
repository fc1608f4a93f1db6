"""NLB semantics through the local target: health checks and cross-zone, proxy protocol v2 bytes."""

from __future__ import annotations

import socket
import struct
import threading

import pytest
import yaml
from test_local_target import http_get, no_answer, resolve

from privlink.spec import parse_spec
from privlink.spec.demo import demo_spec_text
from privlink.targets.local.target import LocalTarget

INSTANCE = "AWS::EC2::Instance"


def spec_with(**service):
    data = yaml.safe_load(demo_spec_text())
    data["producer"]["service"].update(service)
    return parse_spec(yaml.safe_dump(data))


def stop_instance_in_first_az(target: LocalTarget) -> str:
    world = target.load_world()
    instances = sorted(world.of_type(INSTANCE), key=lambda i: i.attributes["AvailabilityZone"])
    instances[0].data["state"] = "stopped"
    target.save_world(world)
    target.apply_dataplane(world)
    return instances[0].attributes["AvailabilityZone"]


def target_health(target: LocalTarget) -> dict[str, str]:
    runtime = target.runtime()
    return {tid: t["health"] for lb in runtime["load_balancers"].values() for tid, t in lb["targets"].items()}


@pytest.mark.parametrize("cross_zone", [True, False])
def test_a_stopped_target_leaves_rotation_at_once(tmp_path, cross_zone):
    """AWS: a stopped instance is `unused` (Target.InvalidState) as soon as it stops, not after its
    health checks fail; time scale 1, so no health check has had a turn."""
    target = LocalTarget(spec_with(cross_zone=cross_zone), tmp_path / ".privlink")
    try:
        status = target.up()
        addresses = resolve(status["dns"], "hello.internal.company")
        down_az = stop_instance_in_first_az(target)
        assert sorted(target_health(target).values()) == ["healthy", "unused"]
        # the producer AZ whose target died is served by the consumer ENI in the same AZ ID
        runtime = target.runtime()
        lb = next(iter(runtime["load_balancers"].values()))
        dead_az_id = next(n["az_id"] for n in lb["nodes"] if n["az_name"] == down_az)
        eni = next(e for ep in runtime["endpoints"].values() for e in ep["enis"] if e["az_id"] == dead_az_id)
        eni_ip = eni["address"].split(":")[0]
        others = [a for a in addresses if a != eni_ip]
        if cross_zone:
            for _ in range(6):  # every flow lands on the healthy AZ's target
                answer = http_get(eni_ip, 8080)
                assert answer["az"] != down_az
        else:
            assert no_answer(eni_ip, 8080)
        for address in others:
            assert http_get(address, 8080)["az"] != down_az
    finally:
        target.down()


class RawCapture:
    """A loopback TCP server that records the first bytes of each connection and answers HTTP."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.captured: list[bytes] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            # health checks hold connections too: serve each one on its own thread
            threading.Thread(target=self.handle, args=(conn,), daemon=True).start()

    def handle(self, conn):
        with conn:
            conn.settimeout(2)
            data = b""
            try:
                # the PPv2 signature itself starts with CRLF CRLF: read up to the end of the request head
                while not (b"GET " in data and data.endswith(b"\r\n\r\n")) and len(data) < 4096:
                    chunk = conn.recv(4096)
                    if not chunk:
                        break
                    data += chunk
            except OSError:
                pass
            self.captured.append(data)
            if b"GET " in data:
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}")

    def close(self):
        self.stop.set()
        self.thread.join(timeout=2)
        self.sock.close()


def parse_ppv2(data: bytes) -> dict:
    """An independent PROXY protocol v2 parser (per the HAProxy spec), for the test only."""
    signature = b"\r\n\r\n\x00\r\nQUIT\n"
    assert data[:12] == signature
    version_command, family, length = data[12], data[13], struct.unpack("!H", data[14:16])[0]
    assert version_command == 0x21 and family == 0x11  # v2 PROXY, TCP over IPv4
    body = data[16 : 16 + length]
    src, dst = socket.inet_ntoa(body[0:4]), socket.inet_ntoa(body[4:8])
    sport, dport = struct.unpack("!HH", body[8:12])
    tlvs, rest = {}, body[12:]
    while rest:
        kind, size = rest[0], struct.unpack("!H", rest[1:3])[0]
        tlvs[kind] = rest[3 : 3 + size]
        rest = rest[3 + size :]
    return {"src": src, "dst": dst, "sport": sport, "dport": dport, "tlvs": tlvs, "rest": data[16 + length :]}


def test_proxy_protocol_v2_carries_the_endpoint_id(tmp_path):
    capture = RawCapture()
    data = yaml.safe_load(demo_spec_text())
    data["producer"]["service"].update(
        app="none", proxy_protocol=True, targets=[{"address": f"127.0.0.1:{capture.port}"}]
    )
    target = LocalTarget(parse_spec(yaml.safe_dump(data)), tmp_path / ".privlink")
    try:
        status = target.up()
        endpoint_id = status["consumers"][0]["endpoint_id"]
        address = resolve(status["dns"], "hello.internal.company")[0]
        assert http_get(address, 8080) == {}
        request = next(c for c in capture.captured if b"GET " in c)
        header = parse_ppv2(request)
        assert header["tlvs"][0xEA] == b"\x01" + endpoint_id.encode()
        assert header["dport"] == 8080
        assert header["dst"].startswith("10.10.")  # the endpoint ENI's private IP in the consumer VPC
        assert header["src"].startswith("10.10.")  # the VPN client, SNATed to the Client VPN ENI
        assert header["rest"].startswith(b"GET / HTTP/1.1")
    finally:
        target.down()
        capture.close()


def test_doctor_names_the_users_own_target_that_does_not_answer_right_after_up(tmp_path):
    """`targets: [{address: 127.0.0.1:PORT}]` with nothing listening: the first health check decides
    at once, and the evidence shows the address the user wrote, not the IP the sandbox models it as."""
    from privlink.doctor import diagnose

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # free again once closed: nothing listens there
    data = yaml.safe_load(demo_spec_text())
    data["producer"]["service"].update(app="none", targets=[{"address": f"127.0.0.1:{port}"}])
    target = LocalTarget(parse_spec(yaml.safe_dump(data)), tmp_path / ".privlink")
    try:
        target.up()
        diagnosis = diagnose(target.observe())
        [finding] = [f for f in diagnosis.findings if f.severity == "error"]
        assert (finding.id, finding.resource) == ("targets-unhealthy", f"127.0.0.1:{port}")
        assert (
            f"127.0.0.1:{port} in eu-central-1a is unhealthy (Target.FailedHealthChecks: " in finding.evidence
        )
        assert "10.20." not in finding.evidence and "None" not in finding.evidence
        assert finding.fix == (
            f"make 127.0.0.1:{port} accept TCP connections (producer.service.targets), then run "
            "`privlink doctor` again"
        )
        assert diagnosis.exit_code == 1
    finally:
        target.down()
