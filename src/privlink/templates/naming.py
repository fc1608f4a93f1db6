"""Names shared by the templates, both targets and the doctor: stacks, parameters, outputs.

This is the seam between the pure templates and the targets that deploy them: a target reads only
these names, never a template's internals.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

TAG_LINK = "privlink:link"  # every resource carries this tag with the link name
TAG_PART = "privlink:part"  # producer | network | consumer | vpn
TAG_APP = "privlink:app"  # `demo` on the demo app's instances
# Tags CloudFormation puts on a stack's resources itself; the `aws:` prefix is reserved, so no one
# can put them on anything else (the IAM condition of `privlink test --via ssm` relies on that).
TAG_CFN_STACK_NAME = "aws:cloudformation:stack-name"
TAG_CFN_LOGICAL_ID = "aws:cloudformation:logical-id"

# Template metadata on the target group: {"<modelled private IP>": "127.0.0.1:9000"} for the
# `address` targets of the local target.
META_LOCAL_TARGETS = "Privlink::LocalTargets"

# Producer stack outputs.
OUT_SERVICE_ID = "ServiceId"
OUT_SERVICE_NAME = "ServiceName"
OUT_LOAD_BALANCER_ARN = "LoadBalancerArn"
OUT_TARGET_GROUP_ARN = "TargetGroupArn"
OUT_VPC_ID = "VpcId"
OUT_VPC_CIDR = "VpcCidr"
OUT_SUBNET_IDS = "SubnetIds"  # comma-joined
OUT_AZ_IDS = "AvailabilityZoneIds"  # comma-joined AZ IDs of the producer subnets, in subnet order
OUT_NOTIFICATION_TOPIC_ARN = "NotificationTopicArn"  # absent when endpoint_service.notifications is off

# Producer stack parameters (all optional to bind: see `account_id_param` and the existing-VPC ones).
# The demo app's AMI: a plain image ID the lifecycle plan resolves once from the public SSM
# parameter and records, so CloudFormation never re-resolves it (a new AMI would replace the targets).
PARAM_DEMO_IMAGE_ID = "DemoImageId"
DEMO_INSTANCE_TYPE = "t3.micro"  # the demo app's instances
DEMO_IMAGE_SSM_PATH = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
# The AZ IDs new subnets go in (producer, and consumer network stacks): decided by the lifecycle
# plan from DescribeAvailabilityZones before anything is deployed (`privlink.lifecycle.placement`).
PARAM_AZ_IDS = "AvailabilityZoneIds"
PARAM_VPC_CIDR = "VpcCidr"  # existing VPCs only (FromLookup); the VPN stack always takes it
PARAM_SUBNET_AZ_IDS = "SubnetAvailabilityZoneIds"  # existing producer VPC only (FromLookup)

# Consumer stack parameters and outputs.
PARAM_SERVICE_NAME = "ServiceName"  # bound to the producer's OUT_SERVICE_NAME
PARAM_SERVICE_AZ_IDS = "ServiceAvailabilityZoneIds"  # bound to the producer's OUT_AZ_IDS
# (only the same-region `consumers_from` StackSet takes PARAM_SERVICE_AZ_IDS: its instances create
# their VPC in the stack itself)
# "true" | "false": the endpoint's private DNS; false at creation when the service requires
# acceptance (AWS refuses it before), then flipped by the plan's `enable-private-dns:<c>` step.
PARAM_PRIVATE_DNS_ENABLED = "PrivateDnsEnabled"
OUT_ENDPOINT_ID = "EndpointId"
OUT_ENDPOINT_DNS_ENTRIES = "EndpointDnsEntries"  # comma-joined "<zone id>:<dns name>", regional first
OUT_ENDPOINT_SG_ID = "EndpointSecurityGroupId"
# The consumer stack also outputs OUT_VPC_ID, OUT_VPC_CIDR, OUT_SUBNET_IDS and OUT_AZ_IDS.
OUT_HOSTED_ZONE_ID = "HostedZoneId"  # absent without private_dns
OUT_PRIVATE_NAME = "PrivateName"  # absent without private_dns
# The SSM-managed instance `privlink test --via ssm` runs the probe on (test_instance.enabled only).
OUT_TEST_INSTANCE_ID = "TestInstanceId"
PARAM_TEST_INSTANCE_IMAGE_ID = "TestInstanceImageId"  # a plain AMI ID, like PARAM_DEMO_IMAGE_ID
TEST_INSTANCE_APP = "ssm-probe"  # its TAG_APP value
# Its logical ID in the consumer template; the IAM condition of `privlink test --via ssm` names it
# (CloudFormation tags the instance with it as aws:cloudformation:logical-id).
TEST_INSTANCE_LOGICAL_ID = "TestInstance"


def al2023_image_ssm_path(architecture: str) -> str:
    """The public SSM parameter holding the latest Amazon Linux 2023 AMI for x86_64 or arm64."""
    return f"/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-{architecture}"


# VPN stack parameters (bound to consumer outputs and imported ACM certificates) and outputs.
PARAM_VPC_ID = "VpcId"
PARAM_SUBNET_IDS = "SubnetIds"
PARAM_SERVER_CERT_ARN = "ServerCertificateArn"
PARAM_CLIENT_CA_ARN = "ClientRootCertificateChainArn"
# The VPN stack also takes PARAM_VPC_CIDR (<- consumer OUT_VPC_CIDR) and, for an existing VPC,
PARAM_VPC_DNS_SERVER = "VpcDnsServer"  # the VPC resolver (FromLookup LOOKUP_VPC_RESOLVER)
OUT_CLIENT_VPN_ENDPOINT_ID = "ClientVpnEndpointId"
OUT_LOG_GROUP = "ConnectionLogGroup"


PRODUCER, NETWORK, CONSUMER, VPN = "producer", "network", "consumer", "vpn"
CONSUMER_PARTS = (NETWORK, CONSUMER, VPN)  # the parts of a link named after one consumer


@dataclass(frozen=True)
class StackName:
    """A stack's name and what part of the link it holds."""

    name: str
    part: str  # producer | network | consumer | vpn
    consumer: str | None = None


def producer_stack(link: str) -> StackName:
    return StackName(f"privlink-{link}-producer", PRODUCER)


def network_stack(link: str, consumer: str) -> StackName:
    """A consumer's VPC, subnets and route table (when privlink creates its VPC)."""
    return StackName(f"privlink-{link}-network-{consumer}", NETWORK, consumer)


def consumer_stack(link: str, consumer: str) -> StackName:
    return StackName(f"privlink-{link}-consumer-{consumer}", CONSUMER, consumer)


def vpn_stack(link: str, consumer: str) -> StackName:
    return StackName(f"privlink-{link}-vpn-{consumer}", VPN, consumer)


def parse_stack_name(link: str, name: str) -> StackName | None:
    """The StackName of one of link `link`'s stacks, or None for any other stack.

    Exact parsing, not a prefix match: `privlink-hello-x-producer` belongs to link `hello-x`,
    never to link `hello`.
    """
    prefix = f"privlink-{link}-"
    if not name.startswith(prefix):
        return None
    rest = name[len(prefix) :]
    if rest == PRODUCER:
        return producer_stack(link)
    part, _, consumer = rest.partition("-")
    if part in CONSUMER_PARTS and re.fullmatch(r"[a-z][a-z0-9-]{0,19}", consumer):
        return StackName(name, part, consumer)
    return None


def account_id_param(label: str) -> str:
    """The producer parameter holding the account ID of account `label`: `AccountIdDev` for `dev`.

    Labels other than `[a-z][a-z0-9]*` get a short hash suffix so distinct labels never collide.
    """
    words = [w for w in re.split(r"[^A-Za-z0-9]+", label) if w]
    name = "AccountId" + "".join(w[:1].upper() + w[1:] for w in words)
    if not re.fullmatch(r"[a-z][a-z0-9]*", label):
        name += hashlib.sha256(label.encode()).hexdigest()[:8]
    return name


# The step that imports a consumer's VPN certificates into ACM, and the values it produces.
STEP_SERVER_CERT_ARN = "server_certificate_arn"
STEP_CLIENT_CA_ARN = "client_ca_arn"


def import_certificates_step(consumer: str) -> str:
    return f"import-certificates:{consumer}"
