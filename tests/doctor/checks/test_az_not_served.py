"""az-not-served: a same-region consumer's endpoint subnets are in AZ IDs the service publishes
(euc1-az2 and euc1-az3 in the healthy observation); AZ names do not count."""

from __future__ import annotations

from privlink.doctor.findings import Finding

DEV_SUBNETS = "consumers/dev/subnets"
FIX = (
    "place consumers[dev].vpc subnets in euc1-az2, euc1-az3 (a new VPC does this by itself), or add "
    "producer subnets in those AZ IDs (producer.vpc.azs), then `privlink up`"
)


def test_healthy(run_check):
    assert run_check("az-not-served") == []


def test_one_endpoint_subnet_unserved_is_an_error_naming_the_address_that_fails(run_check):
    """The regional name answers with both addresses: a client given 10.10.2.25 gets nothing."""
    patch = {f"{DEV_SUBNETS}/1/az_name": "eu-central-1b", f"{DEV_SUBNETS}/1/az_id": "euc1-az1"}
    assert run_check("az-not-served", patch) == [
        Finding(
            "az-not-served",
            "error",
            "subnet-0bbb00000000002a2",
            "consumer dev subnets subnet-0bbb00000000002a2 (eu-central-1b = euc1-az1) are in AZ IDs that "
            "vpce-svc-0a1b2c3d4e5f60718 does not publish (euc1-az2, euc1-az3); AZ names differ between "
            "accounts, AZ IDs do not; connections to endpoint vpce-0123456789abcdef0 at 10.10.2.25 fail "
            "(its regional name gives clients every address)",
            FIX,
        )
    ]


def test_unserved_subnets_without_an_endpoint_cannot_hold_one(run_check):
    patch = {
        f"{DEV_SUBNETS}/1/az_name": "eu-central-1b",
        f"{DEV_SUBNETS}/1/az_id": "euc1-az1",
        "consumers/dev/endpoint": None,
    }
    assert run_check("az-not-served", patch) == [
        Finding(
            "az-not-served",
            "error",
            "subnet-0bbb00000000002a2",
            "consumer dev subnets subnet-0bbb00000000002a2 (eu-central-1b = euc1-az1) are in AZ IDs that "
            "vpce-svc-0a1b2c3d4e5f60718 does not publish (euc1-az2, euc1-az3); AZ names differ between "
            "accounts, AZ IDs do not; an endpoint cannot be created in them",
            FIX,
        )
    ]


def test_the_same_az_name_as_the_producer_is_not_the_same_zone(run_check):
    # eu-central-1a is euc1-az2 in the producer account, served; in dev's account it is euc1-az1
    patch = {
        f"{DEV_SUBNETS}/0/az_name": "eu-central-1a",
        f"{DEV_SUBNETS}/0/az_id": "euc1-az1",
        f"{DEV_SUBNETS}/1/az_name": "eu-central-1a",
        f"{DEV_SUBNETS}/1/az_id": "euc1-az1",
    }
    assert run_check("az-not-served", patch) == [
        Finding(
            "az-not-served",
            "error",
            "subnet-0bbb00000000001c1,subnet-0bbb00000000002a2",
            "consumer dev subnets subnet-0bbb00000000001c1 (eu-central-1a = euc1-az1), subnet-0bbb00000000002a2 "
            "(eu-central-1a = euc1-az1) are in AZ IDs that vpce-svc-0a1b2c3d4e5f60718 does not publish "
            "(euc1-az2, euc1-az3); AZ names differ between accounts, AZ IDs do not; connections to "
            "endpoint vpce-0123456789abcdef0 at 10.10.1.25, 10.10.2.25 fail (its regional name gives "
            "clients every address)",
            FIX,
        )
    ]


def test_only_the_endpoints_subnets_count(run_check):
    patch = {
        f"{DEV_SUBNETS}/1/az_id": "euc1-az1",
        "consumers/dev/endpoint/subnet_ids": ["subnet-0bbb00000000001c1"],
    }
    assert run_check("az-not-served", patch) == []


def test_a_cross_region_consumer_uses_its_own_regions_zones(run_check):
    assert run_check("az-not-served", {"consumers/far/subnets/0/az_id": "euc1-az1"}) == []


def test_a_subnet_without_an_az_id_is_not_judged(run_check):
    assert run_check("az-not-served", {f"{DEV_SUBNETS}/1/az_id": ""}) == []
