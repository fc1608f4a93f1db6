"""Every fault: inject -> `test` fails at the expected step -> `doctor` reports exactly the expected
finding -> clear -> both pass again. Real sandbox, real sockets on loopback."""

from __future__ import annotations

import time

import pytest
import yaml

from privlink.doctor.registry import run_checks
from privlink.probe import run_probe
from privlink.spec import parse_spec
from privlink.spec.demo import demo_spec_text
from privlink.targets.local.faults import FAULTS
from privlink.targets.local.target import LocalTarget

# fault -> (the probe step that fails, the one error/warning finding doctor reports)
EXPECTED = {
    "pending-acceptance": ("connect", "connection-pending-acceptance"),
    "connection-rejected": ("connect", "connection-rejected"),
    "principal-not-allowed": ("resolve", "principal-not-allowed"),
    "endpoint-sg-closed": ("connect", "endpoint-sg-blocks-clients"),
    "targets-down": ("http", "targets-unhealthy"),
    "az-targets-down": ("http", "az-without-healthy-targets"),
    "az-mismatch": ("http", "az-not-served"),
    "vpc-dns-off": ("resolve", "vpc-dns-attributes"),
    "private-dns-unverified": ("resolve", "private-dns-unverified"),
    "dns-record-missing": ("resolve", "private-name-unresolved"),
    "vpn-cidr-overlap": ("connect", "vpn-cidr-overlap"),
    "vpn-unauthorized": ("connect", "vpn-not-authorized"),
    "port-mismatch": ("http", "listener-target-port-mismatch"),
    "region-not-supported": ("resolve", "cross-region-not-supported"),
}
HEALTH_WINDOW_S = 10.0  # interval 10 s x threshold 3, times the time scale below, with margin
TIME_SCALE = 0.05  # the data plane's health checks, 20 times faster


def test_every_fault_has_an_expectation():
    assert set(EXPECTED) == set(FAULTS)
    assert all(FAULTS[name].finding == finding for name, (_, finding) in EXPECTED.items())


def spec_for(fault: str):
    data = yaml.safe_load(demo_spec_text(cross_region=fault == "region-not-supported"))
    if fault == "private-dns-unverified":
        data["producer"]["endpoint_service"]["private_dns_name"] = "hello.example.com"
        data["consumers"][0]["private_dns_enabled"] = True
        data["consumers"][0]["private_dns"] = None
    return parse_spec(yaml.safe_dump(data))


def failed_step(target: LocalTarget) -> str | None:
    consumer = target.spec.consumers[0].name
    dns_server, name, port = target.probe_plan(consumer)
    report = run_probe(name, port, dns_server, timeout=2.0, connect_timeout=0.5)
    return next((s.name for s in report.steps if not s.ok), None)


def problems(target: LocalTarget) -> set[str]:
    return {f.id for f in run_checks(target.observe()) if f.severity in ("error", "warning")}


def eventually(condition, timeout: float = HEALTH_WINDOW_S):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.1)


@pytest.mark.parametrize("fault", sorted(EXPECTED))
def test_fault_breaks_the_path_and_doctor_names_it(fault, tmp_path):
    step, finding = EXPECTED[fault]
    target = LocalTarget(spec_for(fault), tmp_path / ".privlink", time_scale=TIME_SCALE)
    try:
        target.up()
        assert failed_step(target) is None
        assert problems(target) == set()
        target.inject_fault(fault)
        assert eventually(lambda: failed_step(target) == step), failed_step(target)
        assert eventually(lambda: problems(target) == {finding}), problems(target)
        target.clear_faults()
        assert eventually(lambda: failed_step(target) is None), failed_step(target)
        assert eventually(lambda: problems(target) == set()), problems(target)
    finally:
        target.down()
