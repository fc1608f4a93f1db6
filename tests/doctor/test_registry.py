"""The registry: every check of `privlink.doctor.checks` in one stable order, a crashing check as a
finding, and the whole report over the fixtures (each check's outcomes are in `checks/`)."""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import privlink
from privlink.doctor import CHECKS, checks, has_errors, run_checks
from privlink.doctor.check import Check, FindingKind
from privlink.doctor.findings import Finding
from privlink.doctor.registry import discover
from privlink.observe.model import Observation

FIXTURES = Path(__file__).parent / "fixtures"
LB = "arn:aws:elasticloadbalancing:eu-central-1:111111111111:loadbalancer/net/privlink-hello/0123456789abcdef"
LISTENER = "arn:aws:elasticloadbalancing:eu-central-1:111111111111:listener/net/privlink-hello/0123456789abcdef/aaaabbbbccccdddd"
TG = "arn:aws:elasticloadbalancing:eu-central-1:111111111111:targetgroup/privlink-hello/fedcba9876543210"


def load(name: str) -> Observation:
    return Observation.model_validate(json.loads((FIXTURES / f"{name}.json").read_text()))


def test_checks_run_in_a_stable_order():
    # the order of the findings of one severity in the report
    assert [c.name for c in CHECKS] == [
        "observe-errors",
        "not-deployed",
        "endpoint-missing",
        "connection-pending-acceptance",
        "connection-rejected",
        "principal-not-allowed",
        "endpoint-sg-blocks-clients",
        "targets-unhealthy",
        "az-without-healthy-targets",
        "az-not-served",
        "vpc-dns-attributes",
        "private-dns-unverified",
        "private-name-unresolved",
        "vpn-cidr-overlap",
        "vpn-not-authorized",
        "listener-target-port-mismatch",
        "cross-region-not-supported",
        "nlb-idle-timeout",
    ]


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.name)
def test_a_checks_function_is_named_as_the_check_in_a_module_of_the_checks_package(check):
    assert check.run.__name__ == check.name.replace("-", "_")
    assert check.run.__module__.startswith("privlink.doctor.checks.")


def test_every_check_module_has_its_test_module():
    modules = [m.name for m in pkgutil.iter_modules(checks.__path__)]
    tests = Path(__file__).parent / "checks"
    assert sorted(modules) == sorted(p.stem.removeprefix("test_") for p in tests.glob("test_*.py"))
    for check in CHECKS:
        module = check.run.__module__.rpartition(".")[2]
        assert f'"{check.name}"' in (tests / f"test_{module}.py").read_text(), check.name


def test_a_check_missing_from_the_order_stops_the_registry(monkeypatch):
    monkeypatch.setattr(
        checks, "ORDER", tuple(n for n in checks.ORDER if n != "vpc-dns-attributes") + ("gone",)
    )
    with pytest.raises(RuntimeError) as info:
        discover()
    assert str(info.value) == (
        "privlink.doctor.checks.ORDER lacks ['vpc-dns-attributes'] and names undeclared checks ['gone']"
    )


def test_a_crashing_check_becomes_a_finding_and_the_run_continues():
    def boom(obs):
        raise KeyError("subnets")

    findings = run_checks(load("healthy"), [Check("boom", boom, ()), *CHECKS])
    assert findings == [
        Finding(
            "internal-error",
            "error",
            "boom",
            "internal error in boom: KeyError: 'subnets'",
            "report this with `privlink doctor --output json`; the other checks ran",
        ),
        Finding(
            "nlb-idle-timeout",
            "info",
            LISTENER,
            "TCP idle timeout of listener 8080 is 350 s (the NLB default); idle connections through the "
            "endpoint are dropped silently after it",
            "send TCP or application keepalives more often than every 350 s, or set "
            "producer.service.idle_timeout (not with cross-region consumers)",
        ),
    ]


def test_a_finding_of_an_undeclared_severity_is_an_internal_error():
    kind = FindingKind("only-info", ("info",), "title", "explanation", "", ("fix",))

    def warns(obs):
        return [kind.finding("warning", "producer", "evidence", "fix")]

    assert [(f.id, f.evidence) for f in run_checks(Observation(), [Check("warns", warns, (kind,))])] == [
        ("internal-error", "internal error in warns: ValueError: only-info is declared info, not warning")
    ]


def test_healthy_deployment_has_only_the_idle_timeout_info():
    findings = run_checks(load("healthy"))
    assert [(f.severity, f.id, f.resource) for f in findings] == [("info", "nlb-idle-timeout", LISTENER)]
    assert not has_errors(findings)


def test_the_report_of_a_broken_deployment_is_errors_warnings_infos_each_in_check_order():
    """One fixture where most checks find something: the whole report's order, and the consequences
    that defer to a root cause it also holds (endpoint-missing to principal-not-allowed,
    targets-unhealthy to listener-target-port-mismatch)."""
    findings = run_checks(load("broken"))
    assert has_errors(findings)
    assert [(f.severity, f.id, f.resource) for f in findings] == [
        ("error", "connection-pending-acceptance", "vpce-0123456789abcdef0"),
        ("error", "connection-rejected", "vpce-0999999999999999a"),
        ("error", "principal-not-allowed", "vpce-svc-0a1b2c3d4e5f60718"),
        ("error", "endpoint-sg-blocks-clients", "sg-0bbb0000000000001"),  # 10.10.0.0/16
        ("error", "endpoint-sg-blocks-clients", "sg-0bbb0000000000001"),  # the VPN's 10.10.128.0/22
        ("error", "az-without-healthy-targets", f"{LB} eu-central-1b"),
        ("error", "az-not-served", "subnet-0bbb00000000002a2"),
        ("error", "vpc-dns-attributes", "vpc-0bbb0000000000001"),
        ("error", "private-dns-unverified", "vpce-svc-0a1b2c3d4e5f60718"),
        ("error", "private-name-unresolved", "Z0123456789ABCDEFGHIJ hello.internal.company"),
        ("error", "vpn-cidr-overlap", "cvpn-endpoint-0ccc00000000000001"),
        ("error", "vpn-not-authorized", "cvpn-endpoint-0ccc00000000000001"),
        ("error", "listener-target-port-mismatch", LB),
        ("error", "listener-target-port-mismatch", TG),
        ("error", "cross-region-not-supported", "vpce-svc-0a1b2c3d4e5f60718"),
        ("error", "cross-region-not-supported", "vpce-0fedcba9876543210"),
        ("error", "cross-region-not-supported", LISTENER),
        ("warning", "describe-failed", "consumer:ops"),
        ("info", "check-skipped", "consumer:ops"),
        ("info", "nlb-idle-timeout", LISTENER),
    ]


def test_the_doctor_imports_no_aws_sdk_templates_targets_or_cli():
    src = Path(privlink.__file__).parents[1]
    script = (
        "import sys; import privlink.doctor; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('boto3', 'botocore', 'troposphere', "
        "'asyncio', 'click') or m.startswith(('privlink.targets', 'privlink.cli', 'privlink.templates.')) "
        "and m != 'privlink.templates.naming'))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        env={"PYTHONPATH": str(src)},
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout == "[]\n"
