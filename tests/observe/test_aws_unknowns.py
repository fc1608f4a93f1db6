"""A describe call that fails leaves part of the observation unknown, never "observed empty".

Each case denies one call in the deployed healthy link (`aws_world`) and asserts that the doctor
reports the `describe-failed` warning (naming the IAM action to grant) and one `check-skipped` info
per subject that names the check held back and points at the warning, and not the error the empty
data would suggest; and that real faults still fire next to a denied call they do not depend on.
"""

from __future__ import annotations

import pytest
from aws_world import AwsWorld, deployed, spec_text  # noqa: F401
from test_aws_observe import (
    endpoint_deleted,
    pending,
    principal_removed,
    problems,
    record_deleted,
    targets_failing,
    vpn_rule_revoked,
)

from privlink.doctor import CHECKS, run_checks
from privlink.observe.aws import observe_aws
from privlink.observe.model import consumer_part
from privlink.spec import parse_spec
from privlink_testing import skipped_checks

REGION = "eu-central-1"
DENIED = "You are not authorized to perform this operation."


@pytest.fixture
def world(deployed) -> AwsWorld:  # noqa: F811
    return deployed(parse_spec(spec_text()))


def deny(world: AwsWorld, label: str, region: str, operation: str, **only) -> None:
    code = "AccessDenied" if operation.startswith("List") else "UnauthorizedOperation"
    world.fail(label, region, operation, code, DENIED, 403, only=only or None)


# (account, region, denied operation, only these parameters, the false finding it used to cause,
#  the check now skipped, the unknown part, the IAM action the fix names)
TABLE = [
    ("prod", REGION, "DescribeStacks", {}, "not-deployed", "not-deployed", "producer.stack",
     "cloudformation:DescribeStacks"),
    # ops relies on the service's private DNS name: without the service it cannot be judged
    ("prod", REGION, "DescribeStacks", {}, "private-name-unresolved", "private-name-unresolved",
     "producer.service", "cloudformation:DescribeStacks"),
    ("prod", REGION, "DescribeVpcEndpointServiceConfigurations", {}, "cross-region-not-supported",
     "cross-region-not-supported", "producer.service", "ec2:DescribeVpcEndpointServiceConfigurations"),
    ("prod", REGION, "DescribeVpcEndpointServiceConfigurations", {}, "private-name-unresolved",
     "private-name-unresolved", "producer.service", "ec2:DescribeVpcEndpointServiceConfigurations"),
    ("prod", REGION, "DescribeVpcEndpointServicePermissions", {}, "principal-not-allowed",
     "principal-not-allowed", "producer.permissions", "ec2:DescribeVpcEndpointServicePermissions"),
    ("prod", REGION, "DescribeTargetHealth", {}, "targets-unhealthy", "targets-unhealthy",
     "producer.target_health", "elasticloadbalancing:DescribeTargetHealth"),
    ("ops", REGION, "DescribeVpcEndpoints", {}, "endpoint-missing", "endpoint-missing",
     "consumer:ops.endpoint", "ec2:DescribeVpcEndpoints"),
    ("dev", REGION, "ListHostedZonesByVPC", {}, "private-name-unresolved", "private-name-unresolved",
     "consumer:dev.zones", "route53:ListHostedZonesByVPC"),
    ("dev", REGION, "ListResourceRecordSets", {}, "private-name-unresolved", "private-name-unresolved",
     "consumer:dev.zones", "route53:ListResourceRecordSets"),
    ("dev", REGION, "DescribeClientVpnTargetNetworks", {}, "vpn-not-authorized", "vpn-not-authorized",
     "consumer:dev.vpn_access", "ec2:DescribeClientVpnTargetNetworks"),
    ("dev", REGION, "DescribeClientVpnAuthorizationRules", {}, "vpn-not-authorized", "vpn-not-authorized",
     "consumer:dev.vpn_access", "ec2:DescribeClientVpnAuthorizationRules"),
    # found by denying every call in turn (test_no_single_denied_call_yields_a_finding)
    ("ops", "eu-west-2", "DescribeStacks", {}, "not-deployed", "not-deployed", "consumer:west.stack",
     "cloudformation:DescribeStacks"),
    ("dev", REGION, "DescribeStacks", {"StackName": "privlink-hello-vpn-dev"}, "vpn-missing",
     "vpn-not-authorized", "consumer:dev.vpn", "cloudformation:DescribeStacks"),
    ("dev", REGION, "DescribeClientVpnEndpoints", {}, "vpn-missing", "vpn-not-authorized",
     "consumer:dev.vpn", "ec2:DescribeClientVpnEndpoints"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("label", "region", "operation", "only", "false_finding", "check", "part", "action"),
    TABLE,
    ids=[f"{row[2]}-{row[0]}-{row[4]}" for row in TABLE],
)
def test_a_denied_call_is_a_warning_not_a_false_finding(
    world, label, region, operation, only, false_finding, check, part, action
):
    deny(world, label, region, operation, **only)
    obs = observe_aws(world.spec, world.clients)
    found = run_checks(obs)

    assert part in obs.unknown
    assert set(problems(found)) == {"describe-failed"}, {
        k: [f.evidence for f in v] for k, v in problems(found).items()
    }
    assert false_finding not in {f.id for f in found}
    warning = next(f for f in found if f.id == "describe-failed" and action in f.fix)
    assert warning.severity == "warning"
    assert f"accounts.{label}" in warning.fix and "grant IAM permission" in warning.fix
    call = warning.evidence.split(" failed:")[0]
    held = [s for s, (names, parts) in skipped_checks(found).items() if check in names and part in parts]
    assert len(held) == 1, [f.evidence for f in found if f.id == "check-skipped"]
    info = next(f for f in found if f.id == "check-skipped" and f.resource == held[0])
    assert f"see the describe-failed warning above for {call} (" in info.fix


@pytest.mark.parametrize("cross_zone", ["true", "false"])
def test_no_single_denied_call_yields_a_finding(deployed, cross_zone):  # noqa: F811
    """Every call the observer makes, denied alone, in the healthy link with cross-zone on and off
    (off, the AZ of each target matters): only describe-failed warnings, never an error."""
    world = deployed(parse_spec(spec_text().replace("cross_zone: true", f"cross_zone: {cross_zone}")))
    world.calls.clear()
    healthy = run_checks(observe_aws(world.spec, world.clients))
    assert problems(healthy) == {} and "check-skipped" not in {f.id for f in healthy}
    calls = sorted(set(world.calls))
    assert len(calls) > 40
    for label, region, operation in calls:
        world.failures.clear()
        deny(world, label, region, operation)
        obs = observe_aws(world.spec, world.clients)
        assert obs.errors, (label, region, operation)
        findings = run_checks(obs)
        found = problems(findings)
        assert set(found) == {"describe-failed"}, (
            label,
            region,
            operation,
            {k: [f.evidence for f in v] for k, v in found.items()},
        )
        listed = {(s, name) for s, (names, _) in skipped_checks(findings).items() for name in names}
        needs = skipped_by_needs(obs)
        assert needs <= listed and {name for _, name in listed - needs} <= SKIP_THEMSELVES


# checks that judge what they can and skip the rest themselves (their finding ids include check-skipped)
SKIP_THEMSELVES = {c.name for c in CHECKS if "check-skipped" in c.ids}


def skipped_by_needs(obs) -> set[tuple[str, str]]:
    """(subject, check) for every check that declares a part `obs` could not read: the check does
    not run (a producer part), or runs without that consumer."""
    out = set()
    for check in CHECKS:
        if any(n.startswith("producer.") and not obs.known(n) for n in check.needs):
            out.add(("producer", check.name))
            continue
        parts = [n.removeprefix("consumer.") for n in check.needs if n.startswith("consumer.")]
        for c in obs.consumers:
            if any(not obs.known(consumer_part(c.name, p)) for p in parts):
                out.add((f"consumer:{c.name}", check.name))
    return out


# (fault, what it returns is in the finding, the finding, a denied call it does not depend on)
REAL_FAULTS = [
    (pending, "connection-pending-acceptance", ("prod", REGION, "DescribeTargetHealth")),
    (targets_failing, "targets-unhealthy", ("dev", REGION, "DescribeVpcEndpoints")),
    (vpn_rule_revoked, "vpn-not-authorized", ("dev", REGION, "ListHostedZonesByVPC")),
    # the allowed principals are read by their own call
    (
        principal_removed,
        "principal-not-allowed",
        ("prod", REGION, "DescribeVpcEndpointServiceConfigurations"),
    ),
    # ops's endpoint is unknown, dev's record is still judged
    (record_deleted, "private-name-unresolved", ("ops", REGION, "DescribeVpcEndpoints")),
    # with the principals unknown the missing endpoint is still reported, its cause not guessed
    (endpoint_deleted, "endpoint-missing", ("prod", REGION, "DescribeVpcEndpointServicePermissions")),
]


@pytest.mark.parametrize(
    ("fault", "finding", "denied"), REAL_FAULTS, ids=[f"{f[0].__name__}-{f[2][2]}" for f in REAL_FAULTS]
)
def test_a_real_fault_still_fires_next_to_an_unrelated_denied_call(world, fault, finding, denied):
    needle = fault(world)
    deny(world, *denied)
    found = problems(run_checks(observe_aws(world.spec, world.clients)))
    assert set(found) == {"describe-failed", finding}, {k: [f.evidence for f in v] for k, v in found.items()}
    assert any(needle in f.evidence or needle in f.resource for f in found[finding])
    if finding == "endpoint-missing":
        assert "is not an allowed principal" not in found[finding][0].evidence


def test_a_throttled_call_says_run_again(world):
    world.fail("prod", REGION, "DescribeTargetHealth", "Throttling", "Rate exceeded")
    found = run_checks(observe_aws(world.spec, world.clients))
    warning = next(f for f in found if f.id == "describe-failed")
    assert "throttled" in warning.fix and "privlink doctor" in warning.fix
    assert "not judged: producer.target_health" in warning.evidence
