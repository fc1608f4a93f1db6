"""endpoint-missing: every deployed consumer has its interface endpoint."""

from __future__ import annotations

from privlink.doctor.check import Check, FindingKind
from privlink.doctor.consumers import deployed_consumers
from privlink.doctor.coverage import principal_allowed
from privlink.doctor.findings import Finding
from privlink.observe.model import Consumer, Observation, producer_part

FIX = (
    "fix the cause (producer.endpoint_service.allowed_principals or consumers[{consumer}].principal), "
    "then run `privlink up`; an endpoint deleted outside CloudFormation `privlink up` does not recreate: "
    "remove consumers[{consumer}] from the spec and run `privlink up`, then put it back and run "
    "`privlink up` again"
)

ENDPOINT_MISSING = FindingKind(
    "endpoint-missing",
    ("error",),
    "A consumer's stack exists but its interface endpoint does not.",
    "The consumer stack creates the interface endpoint (`AWS::EC2::VPCEndpoint`) that clients in the "
    "consumer VPC connect to. Without it nothing reaches the service. The evidence names the endpoint "
    "ID the stack output still holds, the stack's status and what CloudFormation said when creating "
    "it failed. When the doctor sees the root cause (the consumer's principal is not allowed, or the "
    "service does not list the consumer's region) it reports that finding instead "
    "(principal-not-allowed, cross-region-not-supported); `InvalidServiceName` from CloudFormation "
    "means one of those, or a wrong service name.",
    "aws ec2 describe-vpc-endpoints --vpc-endpoint-ids <endpoint id>\n"
    "aws cloudformation describe-stack-events --stack-name privlink-<link>-consumer-<name> "
    "--query \"StackEvents[?ResourceType=='AWS::EC2::VPCEndpoint']\"",
    (FIX,),
)


def explained_elsewhere(obs: Observation, consumer: Consumer) -> bool:
    """principal-not-allowed or cross-region-not-supported names the root cause of the missing endpoint."""
    service = obs.producer.service
    if service is None:
        return False
    unlisted = (
        bool(consumer.principal)
        and obs.known(producer_part("permissions"))
        and not principal_allowed(consumer.principal, service.allowed_principals)
    )
    unsupported_region = (
        obs.known(producer_part("service"))
        and consumer.region != obs.expected.producer_region
        and consumer.region not in service.supported_regions
    )
    return unlisted or unsupported_region


def endpoint_missing(obs: Observation) -> list[Finding]:
    found = []
    for consumer in deployed_consumers(obs):
        if consumer.endpoint is not None or explained_elsewhere(obs, consumer):
            continue
        evidence = f"consumer {consumer.name} (VPC {consumer.vpc_id or '?'}) has no interface endpoint"
        if consumer.endpoint_id_expected:
            evidence += f"; the stack output names {consumer.endpoint_id_expected}, which no longer exists"
        if consumer.stack_status:
            evidence += f"; stack {consumer.stack_status}"
        if consumer.endpoint_failure:
            evidence += f"; CloudFormation said: {consumer.endpoint_failure}"
        if "InvalidServiceName" in consumer.endpoint_failure:
            cause = (
                "the service name is wrong, the principal is not allowed, or a cross-region "
                "endpoint lacks ServiceRegion"
            )
        else:
            cause = "it was deleted outside privlink or its creation failed"
        found.append(
            ENDPOINT_MISSING.finding(
                "error",
                consumer.endpoint_id_expected or consumer.name,
                evidence + ". Likely cause: " + cause,
                FIX.format(consumer=consumer.name),
            )
        )
    return found


CHECKS = (Check("endpoint-missing", endpoint_missing, (ENDPOINT_MISSING,), ("consumer.endpoint",)),)
