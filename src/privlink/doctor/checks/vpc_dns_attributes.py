"""vpc-dns-attributes: a consumer VPC that resolves private names has DNS support and hostnames on."""

from __future__ import annotations

from privlink.doctor.check import Check, FindingKind
from privlink.doctor.consumers import deployed_consumers
from privlink.doctor.findings import Finding
from privlink.observe.model import Observation

FIX = (
    "turn both on (`privlink up` does not undo a change made outside CloudFormation, and never changes "
    "a VPC of yours): `aws ec2 modify-vpc-attribute --vpc-id {vpc_id} --enable-dns-support`, then `aws "
    "ec2 modify-vpc-attribute --vpc-id {vpc_id} --enable-dns-hostnames`"
)

VPC_DNS_ATTRIBUTES = FindingKind(
    "vpc-dns-attributes",
    ("error",),
    "A consumer VPC has DNS support or DNS hostnames turned off, so private names do not resolve.",
    "Private hosted zones and an interface endpoint's private DNS name are answered by the VPC's "
    "Route 53 Resolver only when the VPC has both `enableDnsSupport` and `enableDnsHostnames` on. "
    "With either off, the private name of the service (or of the consumer's `private_dns` record) "
    "does not resolve in that VPC. Judged only for consumers that resolve a private name (a "
    "`private_dns` record, or the endpoint's private DNS).",
    "aws ec2 describe-vpc-attribute --vpc-id <vpc id> --attribute enableDnsSupport\n"
    "aws ec2 describe-vpc-attribute --vpc-id <vpc id> --attribute enableDnsHostnames",
    (FIX,),
)


def vpc_dns_attributes(obs: Observation) -> list[Finding]:
    found = []
    for consumer in deployed_consumers(obs):
        needs_dns = consumer.expected_private_name is not None or (
            consumer.endpoint is not None and consumer.endpoint.private_dns_enabled
        )
        off = [
            name
            for name, value in (
                ("enableDnsSupport", consumer.enable_dns_support),
                ("enableDnsHostnames", consumer.enable_dns_hostnames),
            )
            if value is False
        ]
        if needs_dns and off:
            found.append(
                VPC_DNS_ATTRIBUTES.finding(
                    "error",
                    consumer.vpc_id,
                    f"VPC {consumer.vpc_id} of consumer {consumer.name} has {' and '.join(off)} off; private "
                    "names do not resolve there",
                    FIX.format(vpc_id=consumer.vpc_id),
                )
            )
    return found


CHECKS = (Check("vpc-dns-attributes", vpc_dns_attributes, (VPC_DNS_ATTRIBUTES,)),)
