"""Every fault: inject -> `test` fails at the expected step -> `doctor` reports exactly the expected
finding -> clear -> both pass again. Real sandbox, real sockets on loopback."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
import yaml

from privlink.doctor.registry import run_checks
from privlink.probe import run_probe
from privlink.spec import parse_spec
from privlink.spec.demo import demo_spec_text
from privlink.targets.local.faults import FAULTS
from privlink.targets.local.target import LocalTarget

# fault -> (the probe step that fails, what it says, the one error/warning finding doctor reports):
# the fault table in README.md, which `test_the_readme_fault_table_is_this_one` holds to it
TIMED_OUT = ("connect", "timed out")
NXDOMAIN = ("resolve", "NXDOMAIN")
RESET = ("http", "connection reset")
EXPECTED = {
    "pending-acceptance": (*TIMED_OUT, "connection-pending-acceptance"),
    "connection-rejected": (*TIMED_OUT, "connection-rejected"),
    "principal-not-allowed": (*NXDOMAIN, "principal-not-allowed"),
    "endpoint-sg-closed": (*TIMED_OUT, "endpoint-sg-blocks-clients"),
    "targets-down": (*RESET, "targets-unhealthy"),
    "az-targets-down": (*RESET, "az-without-healthy-targets"),
    "az-mismatch": (*RESET, "az-not-served"),
    "vpc-dns-off": (*NXDOMAIN, "vpc-dns-attributes"),
    "private-dns-unverified": (*NXDOMAIN, "private-dns-unverified"),
    "dns-record-missing": (*NXDOMAIN, "private-name-unresolved"),
    "vpn-cidr-overlap": (*TIMED_OUT, "vpn-cidr-overlap"),
    "vpn-unauthorized": (*TIMED_OUT, "vpn-not-authorized"),
    "port-mismatch": (*RESET, "listener-target-port-mismatch"),
    "region-not-supported": (*NXDOMAIN, "cross-region-not-supported"),
}
README = Path(__file__).resolve().parents[3] / "README.md"
HEALTH_WINDOW_S = 10.0  # interval 10 s x threshold 3, times the time scale below, with margin
TIME_SCALE = 0.05  # the data plane's health checks, 20 times faster


def test_every_fault_has_an_expectation():
    assert set(EXPECTED) == set(FAULTS)
    assert all(FAULTS[name].finding == finding for name, (_, _, finding) in EXPECTED.items())


def test_the_readme_fault_table_is_this_one():
    rows = re.findall(
        r"^\| `([a-z-]+)` \| .+ \| (\w+): ([^|]+?) \| `([a-z-]+)`(?: \(\d\))? \|$", README.read_text(), re.M
    )
    assert {fault: (step, says, finding) for fault, step, says, finding in rows} == EXPECTED
    assert [fault for fault, *_ in rows] == list(FAULTS)  # in `inject --list` order


def spec_for(fault: str):
    data = yaml.safe_load(demo_spec_text(cross_region=fault == "region-not-supported"))
    if fault == "private-dns-unverified":
        data["producer"]["endpoint_service"]["private_dns_name"] = "hello.example.com"
        data["consumers"][0]["private_dns_enabled"] = True
        data["consumers"][0]["private_dns"] = None
    return parse_spec(yaml.safe_dump(data))


def failed_step(target: LocalTarget, says: str = "") -> str | None:
    """The probe step that fails, when its detail says `says` (the step and its detail otherwise)."""
    consumer = target.spec.consumers[0].name
    dns_server, name, port = target.probe_plan(consumer)
    report = run_probe(name, port, dns_server, timeout=2.0, connect_timeout=0.5)
    failed = next((s for s in report.steps if not s.ok), None)
    if failed is None:
        return None
    return failed.name if says in failed.detail else f"{failed.name}: {failed.detail}"


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
    step, says, finding = EXPECTED[fault]
    target = LocalTarget(spec_for(fault), tmp_path / ".privlink", time_scale=TIME_SCALE)
    try:
        target.up()
        assert failed_step(target) is None
        assert problems(target) == set()
        target.inject_fault(fault)
        assert eventually(lambda: failed_step(target, says) == step), failed_step(target, says)
        assert eventually(lambda: problems(target) == {finding}), problems(target)
        target.clear_faults()
        assert eventually(lambda: failed_step(target) is None), failed_step(target)
        assert eventually(lambda: problems(target) == set()), problems(target)
    finally:
        target.down()
