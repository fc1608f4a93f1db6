"""Sans-IO pieces: DNS answers, health state machine, target choice, admission, PPv2."""

from __future__ import annotations

import ipaddress
import struct

import pytest
from dnslib import QTYPE, RCODE, DNSRecord
from hypothesis import given
from hypothesis import strategies as st

from privlink.targets.local.dataplane import dns, ppv2
from privlink.targets.local.dataplane.choice import Candidate, TargetChooser
from privlink.targets.local.dataplane.config_model import DataPlaneConfig, Endpoint, HostSource, SgRule
from privlink.targets.local.dataplane.health import HEALTHY, INITIAL, UNHEALTHY, UNUSED, HealthState
from privlink.targets.local.dataplane.security import refusal, severed, sg_allows, vpn_authorizes

# --- DNS ---

TABLE = dns.ZoneTable(
    {
        "api.internal.example.": ["127.30.10.1"],
        "vpce-0123.vpce-svc-0abc.us-east-1.vpce.amazonaws.com": ["127.30.10.1", "127.30.10.2"],
    },
    ttl=30,
)


def ask(name: str, qtype: str = "A") -> DNSRecord:
    reply = dns.answer(TABLE, DNSRecord.question(name, qtype).pack())
    assert reply is not None
    return DNSRecord.parse(reply)


def test_dns_answers_records_case_insensitive_with_or_without_dot():
    for name in ("api.internal.example", "API.Internal.Example.", "api.internal.example."):
        r = ask(name)
        assert r.header.rcode == RCODE.NOERROR
        assert r.header.aa == 1 and r.header.ra == 0
        assert [str(rr.rdata) for rr in r.rr] == ["127.30.10.1"]
        assert r.rr[0].ttl == 30


def test_dns_endpoint_name_answers_every_eni():
    r = ask("VPCE-0123.vpce-svc-0abc.us-east-1.vpce.amazonaws.com")
    assert sorted(str(rr.rdata) for rr in r.rr) == ["127.30.10.1", "127.30.10.2"]


def test_dns_unknown_names_are_nxdomain_in_and_out_of_zone():
    assert ask("nope.internal.example").header.rcode == RCODE.NXDOMAIN
    assert ask("www.example.com").header.rcode == RCODE.NXDOMAIN
    assert ask("www.example.com").rr == []


def test_dns_other_types_of_known_name_are_nodata():
    r = ask("api.internal.example", "AAAA")
    assert r.header.rcode == RCODE.NOERROR and r.rr == []


def test_dns_garbage():
    assert dns.answer(TABLE, b"\x01\x02") is None
    bad = dns.answer(TABLE, struct.pack("!HHHHHH", 0x4242, 0x0100, 1, 0, 0, 0) + b"\xff\xff")
    assert bad is not None
    assert struct.unpack_from("!H", bad)[0] == 0x4242
    assert struct.unpack_from("!H", bad, 2)[0] & 0x000F == RCODE.FORMERR


def test_zone_table_from_config_resolves_aliases(config_factory):
    cfg = config_factory()
    table = dns.ZoneTable.from_config(cfg)
    ep = cfg.endpoints[0]
    assert table.lookup("api.internal.example.") == [e.bind_ip for e in ep.enis]
    zonal = table.lookup("us-east-1a-" + ep.endpoint_id + ".vpce.test")
    assert zonal == [ep.enis[0].bind_ip]
    assert QTYPE.A == 1


# --- health ---


def test_health_initial_goes_healthy_on_first_pass():
    h = HealthState(healthy_threshold=3, unhealthy_threshold=2)
    assert h.state == INITIAL
    assert h.record(True) is True and h.state == HEALTHY


def test_health_fall_and_rise_thresholds():
    h = HealthState(healthy_threshold=3, unhealthy_threshold=2)
    h.record(True)
    assert h.record(False) is False and h.state == HEALTHY
    assert h.record(True) is False  # a pass resets the failure count
    h.record(False)
    assert h.record(False) is True and h.state == UNHEALTHY
    h.record(True)
    h.record(True)
    assert h.state == UNHEALTHY
    h.record(False)  # resets the passes
    h.record(True)
    h.record(True)
    assert h.state == UNHEALTHY
    assert h.record(True) is True and h.state == HEALTHY


def test_health_initial_fails_on_its_first_failed_check():
    """The sandbox decides a new target at once (AWS: after unhealthy_threshold failures), so
    `doctor` right after a change does not report a dead target as still checking."""
    h = HealthState(healthy_threshold=5, unhealthy_threshold=2)
    assert h.record(False) is True and h.state == UNHEALTHY
    assert h.record(True) is False and h.state == UNHEALTHY  # then healthy_threshold passes


def test_health_unused_never_changes():
    h = HealthState(2, 2, state=UNUSED)
    assert h.record(True) is False and h.state == UNUSED


# --- choice ---

TARGETS = [Candidate("a1", "az1"), Candidate("a2", "az1"), Candidate("b1", "az2")]


def test_choice_cross_zone_on_uses_every_healthy_target():
    c = TargetChooser(TARGETS, cross_zone=True)
    health = {"a1": HEALTHY, "a2": UNHEALTHY, "b1": HEALTHY}
    picks = [c.choose("az1", health).id for _ in range(4)]
    assert picks == ["a1", "b1", "a1", "b1"]


def test_choice_cross_zone_off_stays_in_the_node_az():
    c = TargetChooser(TARGETS, cross_zone=False)
    health = {"a1": HEALTHY, "a2": HEALTHY, "b1": HEALTHY}
    assert {c.choose("az1", health).id for _ in range(4)} == {"a1", "a2"}
    assert c.choose("az2", health).id == "b1"


def test_choice_cross_zone_off_node_without_healthy_targets_fails():
    c = TargetChooser(TARGETS, cross_zone=False)
    health = {"a1": UNHEALTHY, "a2": UNHEALTHY, "b1": HEALTHY}
    assert c.choose("az1", health) is None
    assert c.choose("az3", health) is None


def test_choice_fails_open_when_all_unhealthy():
    health = {"a1": UNHEALTHY, "a2": UNHEALTHY, "b1": UNHEALTHY}
    on = TargetChooser(TARGETS, cross_zone=True)
    assert {on.choose("az1", health).id for _ in range(3)} == {"a1", "a2", "b1"}
    off = TargetChooser(TARGETS, cross_zone=False)
    assert {off.choose("az2", health).id for _ in range(3)} == {"b1"}


def test_choice_skips_unused_targets():
    c = TargetChooser(TARGETS, cross_zone=True)
    health = {"a1": UNUSED, "a2": UNUSED, "b1": UNHEALTHY}
    assert c.choose("az1", health).id == "b1"  # fail open, but never to unused targets


# --- admission ---


def _endpoint(**kw) -> Endpoint:
    base = dict(
        endpoint_id="vpce-0123456789abcdef0",
        consumer="c1",
        service_id="vpce-svc-0123456789abcdef0",
        state="available",
        port=8443,
        load_balancer_id="lb",
        security_group_rules=[SgRule(from_port=8443, to_port=8443, cidr="10.1.0.0/16")],
        source=HostSource(kind="vpc", ip="10.1.0.10"),
    )
    base.update(kw)
    return Endpoint(**base)


def test_sg_allows():
    rules = [SgRule(from_port=443, to_port=443, cidr="10.0.0.0/16"), SgRule(protocol="udp", cidr="0.0.0.0/0")]
    assert sg_allows(rules, "10.0.3.4", 443)
    assert not sg_allows(rules, "10.0.3.4", 444)
    assert not sg_allows(rules, "10.9.3.4", 443)
    assert sg_allows([SgRule(protocol="-1", from_port=-1, to_port=-1, cidr="10.9.0.0/16")], "10.9.3.4", 1)


def test_vpn_authorizes():
    assert vpn_authorizes(["10.1.0.0/16"], "10.1.2.3")
    assert not vpn_authorizes(["10.2.0.0/16"], "10.1.2.3")
    assert not vpn_authorizes([], "10.1.2.3")


def test_refusal_reasons():
    assert refusal(_endpoint(), "10.1.0.50") is None
    assert "pendingAcceptance" in refusal(_endpoint(state="pendingAcceptance"), "10.1.0.50")
    no_sg = _endpoint(security_group_rules=[SgRule(cidr="192.168.0.0/16")])
    assert "security group" in refusal(no_sg, "10.1.0.50")
    vpn = _endpoint(source=HostSource(kind="vpn", ip="10.1.0.77"), vpn_authorized_cidrs=["10.9.0.0/16"])
    assert "authorization" in refusal(vpn, "10.1.0.50")
    ok_vpn = _endpoint(source=HostSource(kind="vpn", ip="10.1.0.77"), vpn_authorized_cidrs=["10.1.0.0/16"])
    assert refusal(ok_vpn, "10.1.0.50") is None


def test_severed_flows_are_those_of_an_endpoint_leaving_available_or_an_eni_gone():
    def config(*endpoints: Endpoint) -> DataPlaneConfig:
        lb = {"id": "lb", "listener_port": 8443, "target_port": 80}
        return DataPlaneConfig(loopback_block="127.30.0.0/16", load_balancers=[lb], endpoints=list(endpoints))

    def enis(*pairs: tuple[str, str]) -> list[dict]:
        return [
            {
                "eni_id": e,
                "subnet_id": "s",
                "az_name": "a",
                "az_id": "z",
                "private_ip": "10.1.0.50",
                "bind_ip": ip,
            }
            for e, ip in pairs
        ]

    one = _endpoint(enis=enis(("eni-1", "127.30.10.1"), ("eni-2", "127.30.10.2")))
    before = config(one)
    assert severed(before, before) == set()
    for state in ("rejected", "pendingAcceptance", "pending", "deleting"):
        assert severed(before, config(_endpoint(state=state, enis=one.enis))) == {
            ("127.30.10.1", 8443),
            ("127.30.10.2", 8443),
        }
    assert severed(before, config()) == {("127.30.10.1", 8443), ("127.30.10.2", 8443)}  # deleted
    # an ENI gone, its address another endpoint's ENI now
    other = _endpoint(endpoint_id="vpce-0ffffffffffffffff", enis=enis(("eni-9", "127.30.10.2")))
    assert severed(before, config(_endpoint(enis=one.enis[:1]), other)) == {("127.30.10.2", 8443)}
    # stateful: a security group or VPN authorization that no longer admits cuts nothing
    closed = _endpoint(enis=one.enis, security_group_rules=[])
    unauthorized = _endpoint(
        enis=one.enis, source=HostSource(kind="vpn", ip="10.1.0.77"), vpn_authorized_cidrs=[]
    )
    assert severed(before, config(closed)) == severed(before, config(unauthorized)) == set()


# --- PPv2 ---


def independent_ppv2_parse(data: bytes) -> dict:
    """A minimal PPv2 reader written from the spec, sharing nothing with privlink's parser."""
    assert data[:12] == bytes([0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A])
    assert data[12] == 0x21 and data[13] == 0x11
    length = int.from_bytes(data[14:16], "big")
    body = data[16 : 16 + length]
    out = {
        "src": str(ipaddress.ip_address(body[0:4])),
        "dst": str(ipaddress.ip_address(body[4:8])),
        "sport": int.from_bytes(body[8:10], "big"),
        "dport": int.from_bytes(body[10:12], "big"),
        "tlvs": [],
        "total": 16 + length,
    }
    i = 12
    while i < len(body):
        t, n = body[i], int.from_bytes(body[i + 1 : i + 3], "big")
        out["tlvs"].append((t, body[i + 3 : i + 3 + n]))
        i += 3 + n
    assert i == len(body)
    return out


def test_ppv2_encode_matches_the_spec():
    h = ppv2.encode("10.1.0.10", 51234, "10.1.0.50", 8443, endpoint_id="vpce-0123456789abcdef0")
    p = independent_ppv2_parse(h)
    assert p == {
        "src": "10.1.0.10",
        "dst": "10.1.0.50",
        "sport": 51234,
        "dport": 8443,
        "tlvs": [(0xEA, b"\x01vpce-0123456789abcdef0")],
        "total": len(h),
    }


def test_ppv2_roundtrip_and_partial():
    h = ppv2.encode("10.1.0.10", 1, "10.1.0.50", 2, endpoint_id="vpce-x")
    assert ppv2.parse(h[:10]) is None
    assert ppv2.parse(h[:20]) is None
    header, used = ppv2.parse(h + b"GET /")
    assert used == len(h)
    assert (header.src_ip, header.src_port, header.dst_ip, header.dst_port) == (
        "10.1.0.10",
        1,
        "10.1.0.50",
        2,
    )
    assert header.endpoint_id == "vpce-x"
    assert ppv2.parse(ppv2.encode("1.2.3.4", 5, "6.7.8.9", 10))[0].endpoint_id is None
    with pytest.raises(ppv2.ProxyProtocolError):
        ppv2.parse(b"GET / HTTP/1.1\r\n\r\n")


@given(st.integers(min_value=0, max_value=65535))
def test_ppv2_encoder_is_encode_with_the_source_port_filled_in(src_port):
    header = ppv2.encoder("10.1.0.10", "10.1.0.50", 8443, endpoint_id="vpce-0123456789abcdef0")
    assert header(src_port) == ppv2.encode(
        "10.1.0.10", src_port, "10.1.0.50", 8443, endpoint_id="vpce-0123456789abcdef0"
    )
    assert ppv2.encoder("1.2.3.4", "6.7.8.9", 10)(src_port) == ppv2.encode("1.2.3.4", src_port, "6.7.8.9", 10)


def test_choice_pick_turns_per_node_over_a_kept_pool():
    c = TargetChooser(TARGETS, cross_zone=True)
    pool = ["x", "y", "z"]
    assert [c.pick("az1", pool) for _ in range(4)] == ["x", "y", "z", "x"]
    assert c.pick("az2", pool) == "x"  # each node keeps its own turn
    assert c.pick("az1", []) is None
