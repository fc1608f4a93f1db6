"""private-dns-unverified: the endpoint service's private DNS name is verified."""

from __future__ import annotations

from privlink.doctor.check import Check, FindingKind
from privlink.doctor.consumers import with_endpoint
from privlink.doctor.findings import Finding
from privlink.observe.model import Observation

FIX = "publish {txt_record} in public DNS, then run `privlink up` (it starts the verification)"

PRIVATE_DNS_UNVERIFIED = FindingKind(
    "private-dns-unverified",
    ("error", "warning"),
    "The endpoint service's private DNS name is not verified.",
    "An endpoint service may carry a private DNS name (`producer.endpoint_service.private_dns_name`), "
    "which consumers' endpoints with private DNS enabled answer inside their VPCs. AWS serves it only "
    "after the service owner proves they own the domain: a TXT record with the name and value AWS "
    "gives must be published in public DNS, and verification started. Until then the name is "
    "`pendingVerification` (or `failed`). An error when a consumer's endpoint relies on the name, a "
    "warning when none does yet.",
    "aws ec2 describe-vpc-endpoint-service-configurations --service-ids <service id> "
    "--query 'ServiceConfigurations[0].PrivateDnsNameConfiguration'\n"
    "dig +short TXT <txt name>.<private dns name>",
    (FIX,),
)


def private_dns_unverified(obs: Observation) -> list[Finding]:
    service = obs.producer.service
    if service is None or not service.private_dns_name:
        return []
    config = service.private_dns_configuration
    state = config.state if config else "unknown"
    if state == "verified":
        return []
    uses = [consumer.name for consumer, endpoint in with_endpoint(obs) if endpoint.private_dns_enabled]
    txt_record = (
        f"a TXT record {config.name}.{service.private_dns_name} = {config.value}"
        if config
        else "the TXT record"
    )
    return [
        PRIVATE_DNS_UNVERIFIED.finding(
            "error" if uses else "warning",
            service.id,
            f"private DNS name {service.private_dns_name} of {service.id} is {state}"
            + (f"; consumers {', '.join(uses)} rely on it" if uses else ""),
            FIX.format(txt_record=txt_record),
        )
    ]


CHECKS = (
    Check("private-dns-unverified", private_dns_unverified, (PRIVATE_DNS_UNVERIFIED,), ("producer.service",)),
)
