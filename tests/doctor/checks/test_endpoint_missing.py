"""endpoint-missing: each deployed consumer has its interface endpoint; a root cause another check
names (principal-not-allowed, cross-region-not-supported) takes its place."""

from __future__ import annotations

from privlink.doctor.findings import Finding

FIX = (
    "fix the cause (producer.endpoint_service.allowed_principals or consumers[dev].principal), "
    "then run `privlink up`; an endpoint deleted outside CloudFormation `privlink up` does not recreate: "
    "remove consumers[dev] from the spec and run `privlink up`, then put it back and run `privlink up` "
    "again"
)
DELETED = Finding(
    "endpoint-missing",
    "error",
    "vpce-0123456789abcdef0",
    "consumer dev (VPC vpc-0bbb0000000000001) has no interface endpoint; the stack output names "
    "vpce-0123456789abcdef0, which no longer exists; stack CREATE_COMPLETE. Likely cause: it was "
    "deleted outside privlink or its creation failed",
    FIX,
)
ONLY_FAR_ALLOWED = ["arn:aws:iam::333333333333:root"]


def test_healthy(run_check):
    assert run_check("endpoint-missing") == []


def test_deleted_without_a_known_cause(run_check):
    assert run_check("endpoint-missing", {"consumers/dev/endpoint": None}) == [DELETED]


def test_creation_failed_with_invalid_service_name(run_check):
    failure = (
        "The Vpc Endpoint Service 'com.amazonaws.vpce.eu-central-1.vpce-svc-0a1b2c3d4e5f60718' does not "
        "exist (Service: Ec2, Status Code: 400, Error Code: InvalidServiceName)"
    )
    patch = {
        "consumers/dev/endpoint": None,
        "consumers/dev/endpoint_id_expected": "",
        "consumers/dev/stack_status": "ROLLBACK_COMPLETE",
        "consumers/dev/endpoint_failure": failure,
    }
    assert run_check("endpoint-missing", patch) == [
        Finding(
            "endpoint-missing",
            "error",
            "dev",
            "consumer dev (VPC vpc-0bbb0000000000001) has no interface endpoint; stack ROLLBACK_COMPLETE; "
            f"CloudFormation said: {failure}. Likely cause: the service name is wrong, the principal is not "
            "allowed, or a cross-region endpoint lacks ServiceRegion",
            FIX,
        )
    ]


def test_an_unallowed_principal_is_the_cause_principal_not_allowed_names(run_check):
    patch = {"consumers/dev/endpoint": None, "producer/service/allowed_principals": ONLY_FAR_ALLOWED}
    assert run_check("endpoint-missing", patch) == []


def test_with_the_principals_unknown_the_cause_is_not_guessed(run_check):
    patch = {
        "consumers/dev/endpoint": None,
        "producer/service/allowed_principals": ONLY_FAR_ALLOWED,
        "unknown": ["producer.permissions"],
    }
    assert run_check("endpoint-missing", patch) == [DELETED]


def test_an_unsupported_region_is_the_cause_cross_region_not_supported_names(run_check):
    patch = {"consumers/far/endpoint": None, "producer/service/supported_regions": ["eu-central-1"]}
    assert run_check("endpoint-missing", patch) == []


def test_a_consumer_without_its_stack_is_not_deployed_not_missing_an_endpoint(run_check):
    assert (
        run_check("endpoint-missing", {"consumers/dev/endpoint": None, "consumers/dev/deployed": False}) == []
    )
