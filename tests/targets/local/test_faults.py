"""The runbook's fault table, walked for every fault on a real sandbox (real sockets on loopback):
inject -> `test` (every consumer, every name) fails at the expected step -> `doctor` reports exactly
the expected finding and exits 1 -> clear -> both pass, doctor exits 0. Nothing waits: each command
runs right after the one before, at the data plane's own time scale (1), as a user types them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from privlink.cli.check_commands import run_tests
from privlink.doctor import diagnose
from privlink.spec import parse_spec
from privlink.spec.demo import demo_spec_text
from privlink.targets.local.faults import FAULTS
from privlink.targets.local.target import LocalTarget

# fault -> (the probe step that fails, what it says, the one error/warning finding doctor reports):
# the fault table in README.md, which `test_the_readme_fault_table_is_this_walk` holds to it
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


def test_every_fault_has_an_expectation():
    assert set(EXPECTED) == set(FAULTS)
    assert all(FAULTS[name].finding == finding for name, (_, _, finding) in EXPECTED.items())


def test_the_readme_fault_table_is_this_walk():
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
    return parse_spec(yaml.safe_dump(data))


def failed_steps(target: LocalTarget) -> dict[tuple[str, str], str | None]:
    """What `privlink test` runs: (consumer, name) -> the step that failed and what it said, None
    when it passed."""
    run = run_tests(target, [c.name for c in target.spec.consumers], "local")
    failed = {}
    for consumer, report in run.probes:
        step = next((s for s in report.steps if not s.ok), None)
        failed[(consumer, report.name)] = None if step is None else f"{step.name}: {step.detail}"
    return failed


def problems(target: LocalTarget) -> tuple[int, set[str]]:
    """`privlink doctor`: its exit code and the ids of its errors and warnings."""
    diagnosis = diagnose(target.observe())
    return diagnosis.exit_code, {f.id for f in diagnosis.findings if f.severity in ("error", "warning")}


@pytest.mark.timeout(60)
@pytest.mark.parametrize("fault", sorted(EXPECTED))
def test_fault_breaks_the_path_and_doctor_names_it_at_once(fault, tmp_path):
    step, says, finding = EXPECTED[fault]
    target = LocalTarget(spec_for(fault), tmp_path / ".privlink")
    try:
        target.up()
        passing = failed_steps(target)
        assert set(passing.values()) == {None}, passing
        assert problems(target) == (0, set())
        target.inject_fault(fault)
        failed = [detail for detail in failed_steps(target).values() if detail is not None]
        assert failed and all(d.startswith(f"{step}: ") and says in d for d in failed), failed
        assert problems(target) == (1, {finding})
        target.clear_faults()
        assert failed_steps(target) == passing
        assert problems(target) == (0, set())
    finally:
        target.down()


def test_private_dns_unverified_fails_the_name_only_the_service_gives(tmp_path):
    """The consumer's private zone still answers: `test` must resolve the service's name too."""
    target = LocalTarget(spec_for("private-dns-unverified"), tmp_path / ".privlink")
    try:
        target.up()
        target.inject_fault("private-dns-unverified")
        steps = failed_steps(target)
        assert steps[("dev", "hello.internal.company")] is None
        assert steps[("dev", "hello.example.com")].startswith("resolve: ")
    finally:
        target.down()


def spec_with_two_consumers():
    """near: the producer's region, no VPN, no private zone; far: another region, with both."""
    data = yaml.safe_load(demo_spec_text())
    far = dict(data["consumers"][0], name="far", region="eu-west-2")
    far["vpc"] = {"cidr": "10.30.0.0/16", "azs": 2}
    near = dict(data["consumers"][0], name="near", private_dns=None)
    near.pop("vpn")
    data["consumers"] = [near, far]
    return parse_spec(yaml.safe_dump(data))


@pytest.mark.timeout(60)
def test_a_fault_breaks_the_first_consumer_it_applies_to(tmp_path):
    """The faults about a VPN, a private zone or a cross-region link pick the consumer that has one,
    not the first consumer (which refused them before)."""
    target = LocalTarget(spec_with_two_consumers(), tmp_path / ".privlink")
    try:
        target.up()
        for fault, finding in (
            ("vpn-unauthorized", "vpn-not-authorized"),
            ("region-not-supported", "cross-region-not-supported"),
        ):
            target.inject_fault(fault)
            steps = failed_steps(target)
            assert {consumer for (consumer, _), step in steps.items() if step} == {"far"}, steps
            assert problems(target) == (1, {finding})
            target.clear_faults()
    finally:
        target.down()


@pytest.mark.parametrize(
    ("fault", "line"),
    [
        (
            "region-not-supported",
            "no consumer is in another region than the producer; hint: add a consumer whose region "
            "differs from producer.region, then `privlink up`",
        ),
        (
            "vpn-unauthorized",
            "no consumer has a Client VPN; hint: add vpn: {client_cidr: 172.16.0.0/22} to a consumer, "
            "then `privlink up`",
        ),
        (
            "private-dns-unverified",
            "the service has no private DNS name; hint: set producer.endpoint_service.private_dns_name in "
            "the spec, then `privlink up`",
        ),
    ],
)
def test_a_fault_no_consumer_fits_says_what_the_spec_needs_without_overwriting_it(fault, line, tmp_path):
    """Before, region-not-supported told the user to run `privlink init --cross-region`, which
    writes over the spec."""
    from privlink_testing import run_privlink

    data = yaml.safe_load(demo_spec_text())
    data["consumers"][0].pop("vpn")
    (tmp_path / "privlink.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    try:
        assert run_privlink("up", cwd=tmp_path).returncode == 0
        result = run_privlink("sandbox", "inject", fault, cwd=tmp_path)
        assert (result.returncode, result.stderr.strip()) == (2, f"privlink: error: FAULT: {line}")
    finally:
        assert run_privlink("down", "--yes", cwd=tmp_path).returncode == 0
