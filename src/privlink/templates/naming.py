"""Names shared by the templates, both targets and the doctor: stacks, parameters, outputs.

This is the seam between the pure templates and the targets that deploy them: a target reads only
these names, never a template's internals.
"""

from __future__ import annotations

from dataclasses import dataclass

TAG_LINK = "privlink:link"  # every resource carries this tag with the link name
TAG_PART = "privlink:part"  # producer | consumer | vpn

# Producer stack outputs.
OUT_SERVICE_ID = "ServiceId"
OUT_SERVICE_NAME = "ServiceName"
OUT_LOAD_BALANCER_ARN = "LoadBalancerArn"
OUT_TARGET_GROUP_ARN = "TargetGroupArn"
OUT_VPC_ID = "VpcId"
OUT_VPC_CIDR = "VpcCidr"
OUT_SUBNET_IDS = "SubnetIds"  # comma-joined
OUT_AZ_IDS = "AvailabilityZoneIds"  # comma-joined AZ IDs of the producer subnets, in subnet order
OUT_NOTIFICATION_TOPIC_ARN = "NotificationTopicArn"

# Consumer stack parameters and outputs.
PARAM_SERVICE_NAME = "ServiceName"  # bound to the producer's OUT_SERVICE_NAME
PARAM_SERVICE_AZ_IDS = "ServiceAvailabilityZoneIds"  # bound to the producer's OUT_AZ_IDS
OUT_ENDPOINT_ID = "EndpointId"
OUT_ENDPOINT_DNS_ENTRIES = (
    "EndpointDnsEntries"  # comma-joined "<zone id>:<dns name>", regional first
)
OUT_ENDPOINT_SG_ID = "EndpointSecurityGroupId"
# The consumer stack also outputs OUT_VPC_ID, OUT_VPC_CIDR and OUT_SUBNET_IDS.
OUT_HOSTED_ZONE_ID = "HostedZoneId"
OUT_PRIVATE_NAME = "PrivateName"

# VPN stack parameters (bound to consumer outputs and imported ACM certificates) and outputs.
PARAM_VPC_ID = "VpcId"
PARAM_SUBNET_IDS = "SubnetIds"
PARAM_SERVER_CERT_ARN = "ServerCertificateArn"
PARAM_CLIENT_CA_ARN = "ClientRootCertificateChainArn"
OUT_CLIENT_VPN_ENDPOINT_ID = "ClientVpnEndpointId"
OUT_LOG_GROUP = "ConnectionLogGroup"


@dataclass(frozen=True)
class StackName:
    """A stack's name and what part of the link it holds."""

    name: str
    part: str  # producer | consumer | vpn
    consumer: str | None = None


def producer_stack(link: str) -> StackName:
    return StackName(f"privlink-{link}-producer", "producer")


def consumer_stack(link: str, consumer: str) -> StackName:
    return StackName(f"privlink-{link}-consumer-{consumer}", "consumer", consumer)


def vpn_stack(link: str, consumer: str) -> StackName:
    return StackName(f"privlink-{link}-vpn-{consumer}", "vpn", consumer)
