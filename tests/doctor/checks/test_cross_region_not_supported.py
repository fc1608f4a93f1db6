"""cross-region-not-supported: far (eu-west-2) uses a service in eu-central-1: its region is listed,
its endpoint names ServiceRegion, the listener keeps the default idle timeout; what cannot be read is
skipped, the rest still judged."""

from __future__ import annotations

from privlink.doctor.findings import Finding, Skipped

LISTENER = "arn:aws:elasticloadbalancing:eu-central-1:111111111111:listener/net/privlink-hello/0123456789abcdef/aaaabbbbccccdddd"
IDLE_TIMEOUT = "producer/load_balancer/listeners/0/idle_timeout"
REGIONS = "producer/service/supported_regions"


def skip(resource: str, part: str) -> Skipped:
    return Skipped(
        "check-skipped",
        "info",
        resource,
        f"check cross-region-not-supported skipped for {resource}: {part} unknown (a describe call failed)",
        "see the describe-failed warning: once that call is allowed, `privlink doctor` runs this check",
        "cross-region-not-supported",
        (part,),
    )


def test_healthy(run_check):
    assert run_check("cross-region-not-supported") == []


def test_region_not_listed(run_check):
    assert run_check("cross-region-not-supported", {REGIONS: ["eu-central-1"]}) == [
        Finding(
            "cross-region-not-supported",
            "error",
            "vpce-svc-0a1b2c3d4e5f60718",
            "consumer far is in eu-west-2 but vpce-svc-0a1b2c3d4e5f60718 lists SupportedRegions eu-central-1",
            "run `privlink up` (it lists every consumer region), or add it to "
            "producer.endpoint_service.supported_regions; a region removed outside CloudFormation "
            "`privlink up` does not restore: `aws ec2 modify-vpc-endpoint-service-configuration "
            "--service-id vpce-svc-0a1b2c3d4e5f60718 --add-supported-regions eu-west-2`",
        )
    ]


def test_endpoint_without_service_region(run_check):
    assert run_check("cross-region-not-supported", {"consumers/far/endpoint/service_region": None}) == [
        Finding(
            "cross-region-not-supported",
            "error",
            "vpce-0fedcba9876543210",
            "endpoint vpce-0fedcba9876543210 of consumer far has ServiceRegion unset, the service is in eu-central-1",
            "run `privlink up` to recreate the endpoint with ServiceRegion",
        )
    ]


def test_custom_idle_timeout(run_check):
    assert run_check("cross-region-not-supported", {IDLE_TIMEOUT: 600}) == [
        Finding(
            "cross-region-not-supported",
            "error",
            LISTENER,
            "listener 8080 has a custom idle timeout (600 s); cross-region PrivateLink (consumers far) does not "
            "work with it",
            "remove producer.service.idle_timeout, then `privlink up`",
        )
    ]


def test_custom_idle_timeout_without_remote_consumers(run_check):
    assert (
        run_check("cross-region-not-supported", {IDLE_TIMEOUT: 600, "consumers/far/region": "eu-central-1"})
        == []
    )


def test_regions_unknown(run_check):
    patch = {REGIONS: ["eu-central-1"], "unknown": ["producer.service"]}
    assert run_check("cross-region-not-supported", patch) == [skip("producer", "producer.service")]


def test_remote_endpoint_unknown(run_check):
    patch = {"consumers/far/endpoint/service_region": None, "unknown": ["consumer:far.endpoint"]}
    assert run_check("cross-region-not-supported", patch) == [skip("consumer:far", "consumer:far.endpoint")]


def test_listeners_unknown(run_check):
    patch = {IDLE_TIMEOUT: 600, "unknown": ["producer.listeners"]}
    assert run_check("cross-region-not-supported", patch) == [skip("producer", "producer.listeners")]
