"""principal-not-allowed: the endpoint service allows every declared consumer's principal."""

from __future__ import annotations

from privlink.doctor.check import Check, FindingKind
from privlink.doctor.coverage import principal_allowed
from privlink.doctor.findings import Finding
from privlink.observe.model import Observation

FIX = (
    "run `privlink up` (it allows every consumer of the spec), or add it to "
    "producer.endpoint_service.allowed_principals; a principal removed outside CloudFormation "
    "`privlink up` does not restore: `aws ec2 modify-vpc-endpoint-service-permissions --service-id "
    "{service_id} --add-allowed-principals {principal}`"
)

PRINCIPAL_NOT_ALLOWED = FindingKind(
    "principal-not-allowed",
    ("error",),
    "A consumer's principal is not among the endpoint service's allowed principals.",
    "An endpoint service is visible only to the principals in its permissions (allowed principals). "
    "For any other account, role or user the service name does not exist: creating the interface "
    "endpoint fails with `InvalidServiceName`. An account root (`arn:aws:iam::<account>:root`) allows "
    "every role and user of that account; `*` allows everyone.",
    "aws ec2 describe-vpc-endpoint-service-permissions --service-id <service id>",
    (FIX,),
)


def principal_not_allowed(obs: Observation) -> list[Finding]:
    service = obs.producer.service
    if service is None:
        return []
    principals = obs.expected.consumer_principals + [consumer.principal for consumer in obs.consumers]
    return [
        PRINCIPAL_NOT_ALLOWED.finding(
            "error",
            service.id,
            f"{principal} is not among the allowed principals of {service.id} "
            f"({', '.join(service.allowed_principals) or 'none'}); its endpoint gets InvalidServiceName",
            FIX.format(service_id=service.id, principal=principal),
        )
        for principal in dict.fromkeys(principals)
        if principal and not principal_allowed(principal, service.allowed_principals)
    ]


CHECKS = (
    Check(
        "principal-not-allowed", principal_not_allowed, (PRINCIPAL_NOT_ALLOWED,), ("producer.permissions",)
    ),
)
