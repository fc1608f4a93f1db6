"""private-name-unresolved: the name a consumer's clients resolve has an A/CNAME record pointing to its
endpoint's regional name (or addresses); a zonal name is a warning."""

from __future__ import annotations

import pytest

from privlink.doctor.findings import Finding, Skipped

RECORD = "consumers/dev/hosted_zones/0/records/1"  # hello.internal.company, alias to dev's endpoint
REGIONAL = "vpce-0123456789abcdef0-1a2b3c4d.vpce-svc-0a1b2c3d4e5f60718.eu-central-1.vpce.amazonaws.com"
ZONAL = (
    "vpce-0123456789abcdef0-1a2b3c4d-eu-central-1a.vpce-svc-0a1b2c3d4e5f60718.eu-central-1.vpce.amazonaws.com"
)
FIX_ALIAS = (
    "point the record back at the endpoint's regional name, `hello.internal.company A ALIAS "
    f"{REGIONAL}` (`privlink up` does not undo a change made outside CloudFormation)"
)
FIX_RECORD = (
    "check consumers[dev].private_dns and run `privlink up`; a record deleted outside CloudFormation "
    f"`privlink up` does not restore: add `hello.internal.company A ALIAS {REGIONAL}` to the private zone "
    "again"
)
# far resolves the service's private DNS name through its endpoint instead of a record of its own
SERVICE_NAME = {
    "expected/private_dns_name": "hello.example.com",
    "consumers/far/expected_private_name": "hello.example.com",
    "consumers/far/endpoint/private_dns_enabled": True,
}


def test_healthy(run_check):
    assert run_check("private-name-unresolved") == []


def test_alias_to_another_endpoint(run_check):
    assert run_check(
        "private-name-unresolved", {f"{RECORD}/alias_target": "some-other-endpoint.vpce.amazonaws.com"}
    ) == [
        Finding(
            "private-name-unresolved",
            "error",
            "Z0123456789ABCDEFGHIJ hello.internal.company",
            "hello.internal.company in consumer dev (Z0123456789ABCDEFGHIJ) points to "
            "some-other-endpoint.vpce.amazonaws.com, not to endpoint vpce-0123456789abcdef0's regional name "
            f"{REGIONAL}",
            FIX_ALIAS,
        )
    ]


def test_alias_to_a_zonal_name_is_a_warning(run_check):
    assert run_check("private-name-unresolved", {f"{RECORD}/alias_target": ZONAL + "."}) == [
        Finding(
            "private-name-unresolved",
            "warning",
            "Z0123456789ABCDEFGHIJ hello.internal.company",
            f"hello.internal.company in consumer dev (Z0123456789ABCDEFGHIJ) points to {ZONAL}., not to "
            f"endpoint vpce-0123456789abcdef0's regional name {REGIONAL}; a zonal name pins clients to one AZ",
            FIX_ALIAS,
        )
    ]


def test_an_a_record_of_other_addresses(run_check):
    record = {"name": "hello.internal.company", "type": "A", "values": ["10.10.1.99"]}
    assert run_check("private-name-unresolved", {RECORD: record}) == [
        Finding(
            "private-name-unresolved",
            "error",
            "Z0123456789ABCDEFGHIJ hello.internal.company",
            "hello.internal.company in consumer dev (Z0123456789ABCDEFGHIJ) points to 10.10.1.99, not to "
            f"endpoint vpce-0123456789abcdef0's regional name {REGIONAL}",
            FIX_ALIAS,
        )
    ]


def test_no_record(run_check):
    only_soa = [
        {
            "name": "internal.company",
            "type": "SOA",
            "values": ["ns-1.awsdns-00.org. hostmaster 1 7200 900 1209600 86400"],
        }
    ]
    assert run_check("private-name-unresolved", {"consumers/dev/hosted_zones/0/records": only_soa}) == [
        Finding(
            "private-name-unresolved",
            "error",
            "Z0123456789ABCDEFGHIJ",
            "hello.internal.company has no A/CNAME record in consumer dev (Z0123456789ABCDEFGHIJ)",
            FIX_RECORD,
        )
    ]


def test_no_zone(run_check):
    assert run_check("private-name-unresolved", {"consumers/dev/hosted_zones": []}) == [
        Finding(
            "private-name-unresolved",
            "error",
            "vpc-0bbb0000000000001",
            "hello.internal.company has no A/CNAME record in consumer dev (no private hosted zone for it)",
            FIX_RECORD,
        )
    ]


@pytest.mark.parametrize(
    "record",
    [
        pytest.param(
            {"name": "hello.internal.company.", "type": "A", "alias_target": f"DUALSTACK.{REGIONAL}."},
            id="dualstack-alias",
        ),
        pytest.param(
            {"name": "hello.internal.company", "type": "A", "values": ["10.10.1.25", "10.10.2.25"]},
            id="a-endpoint-addresses",
        ),
        pytest.param(
            {"name": "hello.internal.company", "type": "CNAME", "values": [REGIONAL]}, id="cname-regional"
        ),
    ],
)
def test_other_records_that_resolve_to_the_endpoint(run_check, record):
    assert run_check("private-name-unresolved", {RECORD: record}) == []


def test_the_services_name_answered_through_the_endpoint(run_check):
    patch = {**SERVICE_NAME, "producer/service/private_dns_name": "hello.example.com"}
    assert run_check("private-name-unresolved", patch) == []


def test_the_services_name_when_the_service_does_not_answer_it(run_check):
    assert run_check("private-name-unresolved", SERVICE_NAME) == [
        Finding(
            "private-name-unresolved",
            "error",
            "vpc-0ddd0000000000001",
            "hello.example.com has no A/CNAME record in consumer far (no private hosted zone for it)",
            "check consumers[far].private_dns and run `privlink up`; a record deleted outside CloudFormation "
            "`privlink up` does not restore: add `hello.example.com A ALIAS "
            "vpce-0fedcba9876543210-1a2b3c4d.vpce-svc-0a1b2c3d4e5f60718.eu-west-2.vpce.amazonaws.com` "
            "to the private zone again",
        )
    ]


def test_the_services_name_waits_for_the_service(run_check):
    assert run_check("private-name-unresolved", {**SERVICE_NAME, "unknown": ["producer.service"]}) == [
        Skipped(
            "check-skipped",
            "info",
            "consumer:far",
            "check private-name-unresolved skipped for consumer:far: producer.service unknown (a describe call failed)",
            "see the describe-failed warning: once that call is allowed, `privlink doctor` runs this check",
            "private-name-unresolved",
            ("producer.service",),
        )
    ]
