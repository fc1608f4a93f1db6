"""One test per check per outcome: the healthy fixture yields nothing, the broken one its finding."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from privlink.doctor import CHECKS, has_errors, run_checks
from privlink.doctor.registry import Check
from privlink.observe.model import Observation

FIXTURES = Path(__file__).parent / "fixtures"


def load(name: str) -> Observation:
    return Observation.model_validate(json.loads((FIXTURES / f"{name}.json").read_text()))


@pytest.fixture(scope="module")
def healthy() -> Observation:
    return load("healthy")


@pytest.fixture(scope="module")
def broken() -> Observation:
    return load("broken")


CHECK = {c.name: c for c in CHECKS}

# check name -> (finding id, severity, a resource ID, words the evidence must contain, words of the fix)
BROKEN = {
    "observe-errors": (
        "describe-failed",
        "warning",
        "consumer:ops",
        "AccessDenied",
        "grant IAM permission route53:ListHostedZonesByVPC to the credentials of account ops",
    ),
    "connection-pending-acceptance": (
        "connection-pending-acceptance",
        "error",
        "vpce-0123456789abcdef0",
        "pendingAcceptance",
        "privlink connections accept vpce-0123456789abcdef0",
    ),
    "connection-rejected": (
        "connection-rejected",
        "error",
        "vpce-0999999999999999a",
        "555555555555",
        "accept",
    ),
    "principal-not-allowed": (
        "principal-not-allowed",
        "error",
        "vpce-svc-0a1b2c3d4e5f60718",
        "arn:aws:iam::444444444444:root",
        "allowed_principals",
    ),
    "endpoint-sg-blocks-clients": (
        "endpoint-sg-blocks-clients",
        "error",
        "sg-0bbb0000000000001",
        "TCP 8080 from 10.10.0.0/16",
        "allowed_cidrs",
    ),
    "az-without-healthy-targets": (
        "az-without-healthy-targets",
        "error",
        "eu-central-1b",
        "euc1-az3",
        "cross_zone: true",
    ),
    "az-not-served": ("az-not-served", "warning", "subnet-0bbb00000000002a2", "euc1-az1", "euc1-az2"),
    "vpc-dns-attributes": (
        "vpc-dns-attributes",
        "error",
        "vpc-0bbb0000000000001",
        "enableDnsSupport",
        "modify",
    ),
    "private-dns-unverified": (
        "private-dns-unverified",
        "error",
        "vpce-svc-0a1b2c3d4e5f60718",
        "pendingVerification",
        "_privlink-verify.hello.example.com = vpce:abc123",
    ),
    "private-name-unresolved": (
        "private-name-unresolved",
        "error",
        "Z0123456789ABCDEFGHIJ",
        "some-other-endpoint",
        "private_dns",
    ),
    "vpn-cidr-overlap": (
        "vpn-cidr-overlap",
        "error",
        "cvpn-endpoint-0ccc00000000000001",
        "10.10.128.0/22",
        "vpn.client_cidr",
    ),
    "vpn-not-authorized": (
        "vpn-not-authorized",
        "error",
        "cvpn-endpoint-0ccc00000000000001",
        "10.99.0.0/16",
        "authorization rule",
    ),
    "listener-target-port-mismatch": (
        "listener-target-port-mismatch",
        "error",
        "loadbalancer/net",
        "80",
        "producer.service.port",
    ),
    "cross-region-not-supported": (
        "cross-region-not-supported",
        "error",
        "vpce-0fedcba9876543210",
        "ServiceRegion unset",
        "ServiceRegion",
    ),
    "nlb-idle-timeout": ("nlb-idle-timeout", "info", "listener/net", "600 s", "keepalives"),
}


def test_every_check_has_a_broken_case():
    # endpoint-missing and targets-unhealthy have their own tests below: in the broken fixture
    # they defer to the root causes it also holds
    assert set(BROKEN) | {"not-deployed", "endpoint-missing", "targets-unhealthy"} == set(CHECK)


@pytest.mark.parametrize("name", sorted(CHECK))
def test_healthy_fixture_has_no_problem(healthy, name):
    findings = CHECK[name].run(healthy)
    assert [f for f in findings if f.severity != "info"] == []


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_broken_fixture_yields_the_finding(broken, name):
    finding_id, severity, resource, evidence, fix = BROKEN[name]
    findings = CHECK[name].run(broken)
    match = [f for f in findings if resource in f.resource]
    assert match, findings
    f = match[0]
    assert (f.id, f.severity) == (finding_id, severity)
    assert evidence in f.evidence
    assert fix in f.fix
    assert all(f.id in CHECK[name].ids for f in findings)


def test_healthy_deployment_has_only_info(healthy):
    findings = run_checks(healthy)
    assert {f.id for f in findings} == {"nlb-idle-timeout"}
    assert "350 s" in findings[0].evidence
    assert not has_errors(findings)


def test_broken_deployment_is_an_error_and_sorted(broken):
    findings = run_checks(broken)
    assert has_errors(findings)
    order = {"error": 0, "warning": 1, "info": 2}
    assert [order[f.severity] for f in findings] == sorted(order[f.severity] for f in findings)


def test_every_named_finding_id_is_emitted_by_the_broken_fixture(broken):
    ids = {f.id for f in run_checks(broken)}
    required = {
        "connection-pending-acceptance",
        "connection-rejected",
        "principal-not-allowed",
        "endpoint-sg-blocks-clients",
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
    }
    assert required <= ids
    # consequences defer to the root cause the same fixture shows
    assert "endpoint-missing" not in ids  # principal-not-allowed explains the missing endpoint
    assert "targets-unhealthy" not in ids  # listener-target-port-mismatch explains them


def test_endpoint_missing_without_a_known_cause(healthy):
    obs = healthy.model_copy(deep=True)
    consumer = obs.consumers[0]
    consumer.endpoint_id_expected = consumer.endpoint.id
    consumer.endpoint = None
    found = CHECK["endpoint-missing"].run(obs)
    assert [f.id for f in found] == ["endpoint-missing"]
    assert found[0].severity == "error" and "privlink up" in found[0].fix


def test_targets_unhealthy_when_the_ports_are_right(healthy):
    obs = healthy.model_copy(deep=True)
    group = obs.producer.load_balancer.target_groups[0]
    group.targets[0].state = "unhealthy"
    group.targets[0].reason = "Target.FailedHealthChecks"
    found = CHECK["targets-unhealthy"].run(obs)
    assert [f.id for f in found] == ["targets-unhealthy"]
    assert found[0].severity == "warning" and group.targets[0].id in found[0].resource


def test_not_deployed(healthy):
    obs = healthy.model_copy(deep=True)
    assert CHECK["not-deployed"].run(obs) == []
    obs.producer.deployed = False
    obs.consumers[1].deployed = False
    found = CHECK["not-deployed"].run(obs)
    assert [f.resource for f in found] == ["privlink-hello-producer", "privlink-hello-consumer-far"]
    assert all(f.severity == "error" and "privlink up" in f.fix for f in found)


def test_a_crashing_check_becomes_a_finding_and_the_run_continues(healthy):
    def boom(_obs):
        raise KeyError("subnets")

    registry = [Check("boom", boom, ()), *CHECKS]
    findings = run_checks(healthy, registry)
    crash = [f for f in findings if f.id == "internal-error"]
    assert len(crash) == 1
    assert crash[0].resource == "boom" and "internal error in boom" in crash[0].evidence
    assert "nlb-idle-timeout" in {f.id for f in findings}


def test_all_targets_unhealthy_is_an_error(healthy):
    obs = healthy.model_copy(deep=True)
    for t in obs.producer.load_balancer.target_groups[0].targets:
        t.state = "unhealthy"
    found = CHECK["targets-unhealthy"].run(obs)
    assert [f.severity for f in found] == ["error"]


def test_az_names_alone_do_not_count(healthy):
    # Same AZ *name* as a producer AZ, different AZ ID: still not served.
    obs = healthy.model_copy(deep=True)
    for s in obs.consumers[0].subnets:
        s.az_name, s.az_id = "eu-central-1a", "euc1-az1"
    found = CHECK["az-not-served"].run(obs)
    assert [f.severity for f in found] == ["error"]


def test_role_principal_is_covered_by_its_account_root(healthy):
    obs = healthy.model_copy(deep=True)
    obs.consumers[0].principal = "arn:aws:iam::222222222222:role/app"
    assert CHECK["principal-not-allowed"].run(obs) == []
    obs.producer.service.allowed_principals = [
        "arn:aws:iam::222222222222:role/other",
        "arn:aws:iam::333333333333:root",
    ]
    found = CHECK["principal-not-allowed"].run(obs)
    assert {f.evidence.split()[0] for f in found} == {
        "arn:aws:iam::222222222222:role/app",
        "arn:aws:iam::222222222222:root",
    }
