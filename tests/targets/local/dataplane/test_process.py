"""The data-plane process on real loopback sockets, started and stopped through the control API."""

from __future__ import annotations

import http.client
import json
import socket

import dns.message
import dns.query
import dns.rcode
import pytest

from conftest import PORT
from privlink.errors import DeployFailed
from privlink.targets.local.dataplane import control
from privlink.targets.local.dataplane.config_model import save_config


def get(ip: str, port: int = PORT) -> dict:
    conn = http.client.HTTPConnection(ip, port, timeout=5)
    try:
        conn.request("GET", "/")
        resp = conn.getresponse()
        assert resp.status == 200
        return json.loads(resp.read())
    finally:
        conn.close()


@pytest.fixture
def plane(tmp_path):
    started = []

    def run(config):
        cfg_path, rt_path = tmp_path / "dataplane.json", tmp_path / "runtime.json"
        save_config(cfg_path, config)
        control.start(cfg_path, rt_path, tmp_path / "dataplane.log", timeout=15)
        started.append(rt_path)
        return cfg_path, rt_path

    yield run
    for rt in started:
        control.stop(rt)


def test_end_to_end_dns_reload_stop(plane, config_factory):
    cfg = config_factory(proxy_protocol=True)
    cfg_path, rt_path = plane(cfg)
    rt = control.read_runtime(rt_path)
    assert not rt["errors"], rt["errors"]
    eni_a = cfg.endpoints[0].enis[0].bind_ip
    body = get(eni_a)
    assert body["message"] == "Hello from provider"
    assert body["endpoint_id"] == "vpce-0aaaaaaaaaaaaaaa1"
    assert body["client"] == "10.1.0.10"
    host, port = rt["dns"].split(":")
    q = dns.message.make_query("API.internal.example.", "A")
    r = dns.query.udp(q, host, port=int(port), timeout=3)
    assert sorted(str(x) for x in r.answer[0]) == sorted(e.bind_ip for e in cfg.endpoints[0].enis)
    r = dns.query.udp(dns.message.make_query("nope.example.", "A"), host, port=int(port), timeout=3)
    assert r.rcode() == dns.rcode.NXDOMAIN
    # SG that omits the modelled source: reload, the ENI refuses
    save_config(cfg_path, config_factory(proxy_protocol=True, sg_cidr="192.168.0.0/16"))
    control.reload(rt_path)
    with pytest.raises(OSError):
        get(eni_a)
    pid = rt["pid"]
    assert control.stop(rt_path) == [pid]
    assert not control.is_running(rt_path)
    with pytest.raises(OSError):
        socket.create_connection((host, int(port)), timeout=1).close()
    assert pid


def test_the_data_plane_holds_the_block_claim_it_was_handed_until_it_exits(tmp_path, block, config_factory):
    """The block is claimed before the process starts and never free until it has exited."""
    from privlink.targets.local.dataplane.config_model import claim_loopback_block, claim_socket

    cfg_path, rt_path = tmp_path / "dataplane.json", tmp_path / "runtime.json"
    with claim_loopback_block(prefer=block) as claim:
        assert claim.block == block
        save_config(cfg_path, config_factory())
        pid = control.start(cfg_path, rt_path, tmp_path / "dataplane.log", timeout=15, claim=claim.socket)
    try:
        assert claim.socket.fileno() == -1  # the parent's copy is closed ...
        assert claim_socket(block) is None  # ... and the block still taken: the data plane holds it
        assert control.read_runtime(rt_path)["loopback_block"] == block
    finally:
        assert control.stop(rt_path) == [pid]
    again = claim_socket(block)
    assert again is not None
    again.close()


def test_a_claim_for_another_block_is_refused(tmp_path, block, config_factory):
    from privlink.targets.local.dataplane.config_model import claim_loopback_block

    cfg_path, rt_path = tmp_path / "dataplane.json", tmp_path / "runtime.json"
    save_config(cfg_path, config_factory())
    with (
        claim_loopback_block(seed="elsewhere", exclude=[block]) as other,
        pytest.raises(DeployFailed) as info,
    ):
        control.start(cfg_path, rt_path, tmp_path / "dataplane.log", timeout=15, claim=other.socket)
    assert "the claim socket passed is not" in info.value.what
