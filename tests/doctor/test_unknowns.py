"""Parts of the observation that could not be read are not judged: the check is skipped with an info.

The broken fixture yields every check's finding; marking the parts a check needs unknown must take
that finding away and say which parts were missing, and only for the consumers they belong to. The
skipped checks of one subject (the producer, a consumer) fold into one `check-skipped` info.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from privlink.doctor import CHECKS, run_checks
from privlink.doctor.checks.observe_errors import describe_fix
from privlink.observe.model import CONSUMER_PARTS, PRODUCER_PARTS, Observation, ObserveError
from privlink_testing import skipped_checks

FIXTURES = Path(__file__).parent / "fixtures"
CHECK = {c.name: c for c in CHECKS}


@pytest.fixture
def broken() -> Observation:
    obs = Observation.model_validate(json.loads((FIXTURES / "broken.json").read_text()))
    obs.errors, obs.unknown = [], []
    return obs


def keys(obs: Observation, needs: tuple[str, ...]) -> list[str]:
    """The `unknown` keys of declared needs: `consumer.<part>` is every consumer's."""
    out = []
    for need in needs:
        side, part = need.split(".", 1)
        out += [f"consumer:{c.name}.{part}" for c in obs.consumers] if side == "consumer" else [need]
    return out


def problems(found) -> list[tuple[str, str]]:
    return [(f.id, f.resource) for f in found if f.severity != "info"]


def skips(found) -> list[str]:
    return [f.evidence for f in found if f.id == "check-skipped"]


def test_declared_needs_name_real_parts():
    parts = {f"producer.{p}" for p in PRODUCER_PARTS} | {f"consumer.{p}" for p in CONSUMER_PARTS}
    assert {n for c in CHECKS for n in c.needs} <= parts


@pytest.mark.parametrize("name", sorted(c.name for c in CHECKS if c.needs))
def test_a_check_whose_parts_are_unknown_judges_nothing(broken, name):
    check = CHECK[name]
    for need in check.needs:  # each declared part alone is enough to hold the check back
        obs = broken.model_copy(update={"unknown": keys(broken, (need,))})
        found = run_checks(obs, [check])
        assert not any(need.split(".", 1)[1] in f.resource for f in found if f.severity != "info")
        assert problems(found) == []
        if need.startswith("producer."):
            assert skipped_checks(found) == {"producer": ([name], [need])}
        else:
            assert skipped_checks(found) == {
                f"consumer:{c.name}": ([name], [f"consumer:{c.name}.{need.split('.', 1)[1]}"])
                for c in broken.consumers
            }


def test_only_the_consumer_whose_part_is_unknown_is_skipped(broken):
    check = CHECK["endpoint-sg-blocks-clients"]
    assert {r for _, r in problems(run_checks(broken, [check]))} == {"sg-0bbb0000000000001"}

    others = broken.model_copy(
        update={"unknown": ["consumer:far.security_groups", "consumer:ops.security_groups"]}
    )
    found = run_checks(others, [check])
    assert {r for _, r in problems(found)} == {"sg-0bbb0000000000001"}
    assert sorted(f.resource for f in found if f.id == "check-skipped") == ["consumer:far", "consumer:ops"]

    dev = broken.model_copy(update={"unknown": ["consumer:dev.security_groups"]})
    found = run_checks(dev, [check])
    assert problems(found) == [] and [f.resource for f in found if f.id == "check-skipped"] == [
        "consumer:dev"
    ]


def denied(side: str, call: str, *parts: str) -> ObserveError:
    return ObserveError(side=side, call=call, code="AccessDenied", parts=list(parts))


PRODUCER_STACK = denied(
    "producer", "cloudformation.describe_stacks", *(f"producer.{p}" for p in PRODUCER_PARTS)
)


def test_skipped_checks_fold_into_one_info_per_subject(broken):
    """The registry's skips and those a check makes itself (not-deployed, cross-region-not-supported)
    alike: one info per subject naming every check that did not judge it, right below the warnings,
    its fix naming the failed calls behind it."""
    errors = [
        PRODUCER_STACK,
        denied("consumer:dev", "ec2.describe_vpc_endpoints", "consumer:dev.endpoint"),
        denied("consumer:ops", "route53.list_hosted_zones_by_vpc", "consumer:ops.zones"),
    ]
    obs = broken.model_copy(update={"errors": errors, "unknown": sorted(p for e in errors for p in e.parts)})
    found = run_checks(obs)

    assert skipped_checks(found) == {
        "producer": (
            [
                "not-deployed",  # its own skip
                "principal-not-allowed",
                "targets-unhealthy",
                "az-without-healthy-targets",
                "az-not-served",
                "private-dns-unverified",
                "listener-target-port-mismatch",
                "cross-region-not-supported",  # its own skip; it still judged far's endpoint
                "nlb-idle-timeout",
            ],
            [f"producer.{p}" for p in PRODUCER_PARTS if p != "connections"],  # no check needs it
        ),
        "consumer:dev": (
            ["endpoint-missing", "endpoint-sg-blocks-clients", "private-name-unresolved"],
            ["consumer:dev.endpoint"],
        ),
        "consumer:ops": (["private-name-unresolved"], ["consumer:ops.zones"]),
    }
    assert [(f.severity, f.id, f.resource) for f in found if f.severity != "error"] == [
        ("warning", "describe-failed", "producer"),
        ("warning", "describe-failed", "consumer:dev"),
        ("warning", "describe-failed", "consumer:ops"),
        ("info", "check-skipped", "producer"),
        ("info", "check-skipped", "consumer:dev"),
        ("info", "check-skipped", "consumer:ops"),
    ]
    assert ("cross-region-not-supported", "vpce-0fedcba9876543210") in problems(found)
    fixes = {f.resource: f.fix for f in found if f.id == "check-skipped"}
    assert fixes["producer"] == (
        "see the describe-failed warning above for cloudformation.describe_stacks (producer); once "
        "that call succeeds, `privlink doctor` runs them for the producer"
    )
    assert "ec2.describe_vpc_endpoints (consumer:dev)" in fixes["consumer:dev"]
    assert "cloudformation" not in fixes["consumer:dev"] + fixes["consumer:ops"]


def test_one_info_for_a_subject_whose_parts_several_calls_left_unknown(broken):
    errors = [
        denied("producer", "elbv2.describe_target_health", "producer.target_health"),
        denied("producer", "ec2.describe_vpc_endpoint_service_permissions", "producer.permissions"),
    ]
    obs = broken.model_copy(
        update={"errors": errors, "unknown": ["producer.permissions", "producer.target_health"]}
    )
    found = run_checks(obs)
    assert skipped_checks(found) == {
        "producer": (
            ["principal-not-allowed", "targets-unhealthy", "az-without-healthy-targets"],
            ["producer.permissions", "producer.target_health"],
        )
    }
    assert [f.id for f in found if f.severity == "info"] == ["check-skipped", "nlb-idle-timeout"]
    fix = next(f.fix for f in found if f.id == "check-skipped")
    assert fix.startswith(
        "see the describe-failed warnings above for elbv2.describe_target_health (producer), "
        "ec2.describe_vpc_endpoint_service_permissions (producer); once those calls succeed"
    )


def test_nothing_unknown_nothing_skipped(broken):
    """Problems alone (every check's finding in the broken fixture) are no reason to skip a check."""
    found = run_checks(broken)
    assert problems(found) and "check-skipped" not in {f.id for f in found}


def test_cross_region_judges_what_it_can(broken):
    """SupportedRegions needs the service configuration; an endpoint's ServiceRegion does not."""
    obs = broken.model_copy(update={"unknown": ["producer.service"]})
    found = CHECK["cross-region-not-supported"].run(obs)
    assert {r for _, r in problems(found)} == {
        "vpce-0fedcba9876543210",  # ServiceRegion unset on far's endpoint
        "arn:aws:elasticloadbalancing:eu-central-1:111111111111:listener/net/privlink-hello/"
        "0123456789abcdef/aaaabbbbccccdddd",  # custom idle timeout
    }
    assert skips(found) == [
        "check cross-region-not-supported skipped for producer: producer.service unknown "
        "(a describe call failed)"
    ]

    obs = broken.model_copy(update={"unknown": ["consumer:far.endpoint", "producer.listeners"]})
    found = CHECK["cross-region-not-supported"].run(obs)
    assert {r for _, r in problems(found)} == {"vpce-svc-0a1b2c3d4e5f60718"}
    assert len(skips(found)) == 2


def test_an_unread_producer_stack_is_not_a_missing_one(broken):
    obs = broken.model_copy(deep=True)
    obs.producer.deployed = False
    assert problems(CHECK["not-deployed"].run(obs)) == [("not-deployed", "privlink-hello-producer")]
    obs.unknown = [f"producer.{p}" for p in PRODUCER_PARTS]
    found = run_checks(obs, [CHECK["not-deployed"]])
    assert problems(found) == [] and "producer.stack unknown" in skips(found)[0]


def test_private_name_of_a_service_name_waits_for_the_service(broken):
    """A consumer resolving the service's private DNS name through its endpoint: whether AWS answers
    it depends on the service configuration, so without it the name is not judged."""
    obs = broken.model_copy(deep=True)
    far = next(c for c in obs.consumers if c.name == "far")
    far.expected_private_name = "hello.example.com"
    far.endpoint.private_dns_enabled = True
    obs.producer.service.private_dns_name = None  # read, and not set: AWS does not answer the name
    assert ("private-name-unresolved", far.vpc_id) in problems(CHECK["private-name-unresolved"].run(obs))
    obs.unknown = ["producer.service"]
    found = CHECK["private-name-unresolved"].run(obs)
    assert all("hello.example.com" not in f.evidence for f in found if f.severity != "info")
    # dev resolves its own zone's record, which does not depend on the service: still judged
    assert any("hello.internal.company" in f.resource for f in found if f.severity == "error")
    assert skips(found) == [
        "check private-name-unresolved skipped for consumer:far: producer.service unknown "
        "(a describe call failed)"
    ]


@pytest.mark.parametrize(
    ("code", "fix"),
    [
        (
            "AccessDenied",
            "grant IAM permission elasticloadbalancing:DescribeTargetHealth to the credentials of "
            "account prod (accounts.prod in the spec), then run `privlink doctor` again",
        ),
        (
            "UnauthorizedOperation",
            "grant IAM permission elasticloadbalancing:DescribeTargetHealth to the credentials of "
            "account prod (accounts.prod in the spec), then run `privlink doctor` again",
        ),
        ("Throttling", "AWS throttled the call; run `privlink doctor` again"),
        (
            "ExpiredToken",
            "check the credentials of account prod (accounts.prod in the spec) and that they may call "
            "elasticloadbalancing:DescribeTargetHealth",
        ),
    ],
)
def test_describe_failed_says_what_to_grant(code, fix):
    error = ObserveError(
        side="producer",
        call="elbv2.describe_target_health",
        code=code,
        action="elasticloadbalancing:DescribeTargetHealth",
        account="prod",
        parts=["producer.target_health"],
    )
    assert describe_fix(error) == fix
    finding = run_checks(Observation(errors=[error]), [CHECK["observe-errors"]])[0]
    assert finding.fix == fix and finding.evidence.endswith("; not judged: producer.target_health")


def test_a_failure_that_is_not_an_aws_call_keeps_the_generic_fix():
    error = ObserveError(side="producer", call="dataplane", code="NotRunning", message="run `privlink up`")
    assert "grant" not in describe_fix(error) and "dataplane" in describe_fix(error)
