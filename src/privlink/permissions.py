"""The permissions CloudFormation's resource handlers need for a side's templates, derived.

CloudFormation creates, reads, updates and deletes each resource with the deploying identity's
credentials (or a service role's), calling the actions the type's resource schema lists under
`handlers.<phase>.permissions`. `data/handler_permissions.json` holds those lists for every type
privlink renders, as the CloudFormation resource schemas bundled with cfn-lint state them
(`tests/schema_data.py` regenerates it; a test fails when it differs from the installed cfn-lint).

`handler_permissions(spec, side)` renders the spec and returns what the side's templates need:
every handler permission of every type they contain, less `UNUSED` (permissions a handler calls
only for a property privlink does not set on that type in these templates: each entry names the
property and why) and `NOT_ACTIONS` (schema entries that are not IAM actions). `iam_policy` scopes
these actions into statements; a CloudFormation service role would be exactly this set.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from privlink.spec.models import Spec
from privlink.templates.tags import TAGGING

PHASES = ("create", "read", "update", "delete")
HANDLER_PERMISSIONS_PATH = Path(__file__).with_name("data") / "handler_permissions.json"
RENDERED_TYPES = frozenset(TAGGING)  # tags.TAGGING lists every type privlink renders

# Types whose schema (cfn-lint 1.58) lists no handler permissions: they are not registry resource
# types yet, so their permissions cannot be derived and `iam_policy` keeps them by hand (from the
# EC2 API reference of the calls CloudFormation makes for them). A test fails once a schema lists
# handlers for one of these, so the hand-kept list can be dropped.
NO_HANDLER_DATA = {
    "AWS::EC2::ClientVpnEndpoint": "iam_policy.CLIENT_VPN",
    "AWS::EC2::ClientVpnTargetNetworkAssociation": "iam_policy.CLIENT_VPN",
}

# Schema entries that name no IAM action (neither an API operation in botocore's models nor an
# action in the IAM service authorization reference); a test checks that each is still unknown.
NOT_ACTIONS = {
    "ec2:CreateVpcEndpointServicePermissions": "no such action: the permissions are set with "
    "ec2:ModifyVpcEndpointServicePermissions (granted)",
    "ec2:DeleteVpcEndpointServicePermissions": "no such action: ec2:ModifyVpcEndpointServicePermissions "
    "removes principals (granted)",
    "s3:REST.PUT.OBJECT": "an S3 REST operation name, not an IAM action (s3:PutObject would be)",
    "s3:GetObjectMetadata": "no such action (s3:GetObject covers HeadObject); only for a log delivery "
    "or an import privlink does not make",
    "lambda:AssociateRuntimeAlias": "no such action in the IAM service authorization reference yet",
    "vpc-lattice:DescribeServiceNetworkVpcEndpointAssociation": "no such action; only for a "
    "service-network endpoint (ServiceNetworkArn), which privlink does not make",
}


@dataclass(frozen=True)
class Unused:
    """Handler permissions that only `property` (a dotted path into the resource's Properties; a
    list matches when any item has the rest) makes the handler call, and why that holds."""

    property: str
    actions: tuple[str, ...]
    reason: str


def unused(prop: str, reason: str, *actions: str) -> Unused:
    return Unused(prop, actions, reason)


_KMS = ("kms:CreateGrant", "kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey")

# Per type: the permissions left out while no resource of that type in the side's templates sets
# the property. Reads of the type's own service stay granted even when a property is unset: the
# read handler returns the whole model, so it reads every property whether set or not.
UNUSED: dict[str, tuple[Unused, ...]] = {
    "AWS::DynamoDB::Table": (
        unused(
            "ImportSourceSpecification",
            "creating a table from an S3 import (reads the bucket, writes import logs)",
            "dynamodb:ImportTable",
            "dynamodb:DescribeImport",
            "s3:GetObject",
            "s3:ListBucket",
            "logs:CreateLogGroup",
            "logs:CreateLogStream",
            "logs:DescribeLogGroups",
            "logs:DescribeLogStreams",
            "logs:PutLogEvents",
            "logs:PutRetentionPolicy",
        ),
        unused(
            "KinesisStreamSpecification",
            "streaming changes to a Kinesis data stream",
            "dynamodb:EnableKinesisStreamingDestination",
            "dynamodb:DisableKinesisStreamingDestination",
            "dynamodb:UpdateKinesisStreamingDestination",
            "kinesis:DescribeStream",
            "kinesis:PutRecords",
        ),
        unused("TimeToLiveSpecification", "setting item expiry", "dynamodb:UpdateTimeToLive"),
        unused(
            "ContributorInsightsSpecification",
            "switching CloudWatch Contributor Insights on; its first use creates DynamoDB's service-linked "
            "role AWSServiceRoleForDynamoDBCloudWatchContributorInsights (DynamoDB developer guide, "
            '"Using IAM with CloudWatch contributor insights for DynamoDB")',
            "dynamodb:UpdateContributorInsights",
            "iam:CreateServiceLinkedRole",
        ),
        unused(
            "ResourcePolicy",
            "a resource-based policy on the table",
            "dynamodb:PutResourcePolicy",
            "dynamodb:DeleteResourcePolicy",
        ),
        unused(
            "SSESpecification.KMSMasterKeyId",
            "a customer-managed key; with SSEEnabled and no key DynamoDB uses the AWS managed key "
            "aws/dynamodb, whose key policy admits the account's principals calling through DynamoDB",
            "kms:CreateGrant",
            "kms:Decrypt",
            "kms:DescribeKey",
            "kms:Encrypt",
            "kms:ListAliases",
            "kms:RevokeGrant",
        ),
    ),
    "AWS::Lambda::Function": (
        unused("KmsKeyArn", "a customer-managed key for the environment variables", *_KMS),
        unused(
            "Code.S3Bucket",
            "code from S3; privlink's is inline (ZipFile)",
            "s3:GetObject",
            "s3:GetObjectVersion",
        ),
        unused(
            "FileSystemConfigs",
            "mounting a file system",
            "elasticfilesystem:DescribeMountTargets",
            "s3files:ListMountTargets",
        ),
        unused(
            "ReservedConcurrentExecutions",
            "reserved concurrency (security.REASONS CKV_AWS_115 says why there is none)",
            "lambda:PutFunctionConcurrency",
            "lambda:DeleteFunctionConcurrency",
        ),
        unused(
            "CodeSigningConfigArn",
            "a code signing configuration",
            "lambda:GetCodeSigningConfig",
            "lambda:PutFunctionCodeSigningConfig",
            "lambda:DeleteFunctionCodeSigningConfig",
        ),
        unused("Layers", "layers", "lambda:GetLayerVersion"),
        unused("RuntimeManagementConfig", "pinning the runtime version", "lambda:PutRuntimeManagementConfig"),
        unused("RecursiveLoop", "changing recursive-loop detection", "lambda:PutFunctionRecursionConfig"),
        unused("FunctionScalingConfig", "a scaling configuration", "lambda:PutFunctionScalingConfig"),
        unused("CapacityProviderConfig", "a capacity provider", "lambda:PassCapacityProvider"),
    ),
    "AWS::EC2::Instance": (
        unused(
            "SsmAssociations",
            "SSM associations made by CloudFormation",
            "ssm:CreateAssociation",
            "ssm:DeleteAssociation",
            "ssm:DescribeAssociation",
            "ssm:ListAssociations",
        ),
        unused("KeyName", "a key pair (the instances have none: no SSH)", "ec2:DescribeKeyPairs"),
        unused("Volumes", "attaching extra EBS volumes", "ec2:AttachVolume", "ec2:DetachVolume"),
        unused(
            "PrivateDnsNameOptions",
            "changing the private DNS name options",
            "ec2:ModifyPrivateDnsNameOptions",
        ),
        unused(
            "IamInstanceProfile",
            "an instance profile (the demo app's instances have none)",
            "ec2:AssociateIamInstanceProfile",
            "ec2:DisassociateIamInstanceProfile",
            "ec2:ReplaceIamInstanceProfileAssociation",
            "ec2:DescribeIamInstanceProfileAssociations",
            "iam:PassRole",
        ),
        unused("Monitoring", "detailed monitoring", "ec2:MonitorInstances", "ec2:UnmonitorInstances"),
        unused("Affinity", "dedicated-host placement", "ec2:ModifyInstancePlacement"),
        unused(
            "CreditSpecification",
            "changing a burstable instance's credit option (the test instance sets it, the demo app not)",
            "ec2:ModifyInstanceCreditSpecification",
        ),
    ),
    "AWS::EC2::VPC": (
        unused("VpcEncryptionControl", "VPC encryption controls", "ec2:CreateVpcEncryptionControl"),
        unused("InstanceTenancy", "changing the tenancy", "ec2:ModifyVpcTenancy"),
    ),
    "AWS::EC2::Subnet": (
        unused(
            "Ipv6CidrBlock",
            "an IPv6 block (privlink's subnets are IPv4 only)",
            "ec2:AssociateSubnetCidrBlock",
            "ec2:DisassociateSubnetCidrBlock",
        ),
    ),
    "AWS::EC2::VPCEndpointService": (
        unused(
            "SupportedRegions",
            "cross-region access: a permission-only action checked when the service names other regions",
            "vpce:AllowMultiRegion",
        ),
        unused(
            "ContributorInsightsEnabled",
            "the service's managed Contributor Insights rules (listing them stays granted: a read)",
            "cloudwatch:PutManagedInsightRules",
            "cloudwatch:DeleteInsightRules",
        ),
        unused(
            "PayerResponsibility",
            "the service owner paying for endpoints",
            "ec2:ModifyVpcEndpointServicePayerResponsibility",
        ),
    ),
    "AWS::EC2::VPCEndpoint": (
        unused(
            "ServiceRegion",
            "an endpoint to a service in another region: the permission-only action cross-region needs",
            "vpce:AllowMultiRegion",
        ),
        unused(
            "ServiceNetworkArn",
            "a VPC Lattice service-network endpoint",
            "vpc-lattice:CreateServiceNetworkVpcEndpointAssociation",
        ),
    ),
    "AWS::ElasticLoadBalancingV2::LoadBalancer": (
        unused(
            "MinimumLoadBalancerCapacity",
            "reserved load balancer capacity (reading it stays granted)",
            "elasticloadbalancing:ModifyCapacityReservation",
        ),
        unused("Ipv4IpamPoolId", "IPAM pools", "ec2:DescribeIpamPools", "elasticloadbalancing:ModifyIpPools"),
    ),
    "AWS::ElasticLoadBalancingV2::Listener": (
        unused(
            "DefaultActions.AuthenticateCognitoConfig",
            "Cognito authentication (an ALB action; the NLB's listener forwards TCP)",
            "cognito-idp:DescribeUserPoolClient",
        ),
    ),
    "AWS::IAM::Role": (
        unused(
            "PermissionsBoundary",
            "a permissions boundary",
            "iam:PutRolePermissionsBoundary",
            "iam:DeleteRolePermissionsBoundary",
        ),
        unused(
            "ManagedPolicyArns",
            "managed policies (the approval function's role has only its inline policy)",
            "iam:AttachRolePolicy",
            "iam:DetachRolePolicy",
        ),
        unused(
            "Policies",
            "inline policies (the test instance's role has only its managed policy)",
            "iam:PutRolePolicy",
            "iam:DeleteRolePolicy",
        ),
    ),
    "AWS::Logs::LogGroup": (
        unused(
            "DataProtectionPolicy",
            "a data protection policy (reading it stays granted)",
            "logs:PutDataProtectionPolicy",
            "logs:DeleteDataProtectionPolicy",
        ),
        unused(
            "ResourcePolicyDocument",
            "a resource policy on the group",
            "logs:PutResourcePolicy",
            "logs:DeleteResourcePolicy",
        ),
        unused("FieldIndexPolicies", "field index policies", "logs:PutIndexPolicy", "logs:DeleteIndexPolicy"),
        unused("KmsKeyId", "a customer-managed key", "logs:AssociateKmsKey", "logs:DisassociateKmsKey"),
        unused(
            "BearerTokenAuthenticationEnabled",
            "bearer-token ingestion",
            "logs:PutBearerTokenAuthentication",
        ),
        unused(
            "DeletionProtectionEnabled",
            "deletion protection (privlink's groups go with their stack)",
            "logs:PutLogGroupDeletionProtection",
        ),
    ),
    "AWS::Route53::HostedZone": (
        unused(
            "QueryLoggingConfig",
            "DNS query logging (listing the configurations stays granted: a read)",
            "route53:CreateQueryLoggingConfig",
            "route53:DeleteQueryLoggingConfig",
        ),
        unused("HostedZoneFeatures", "hosted zone features", "route53:UpdateHostedZoneFeatures"),
    ),
    "AWS::SNS::Topic": (
        unused(
            "DeliveryStatusLogging",
            "delivery status logging, which passes the roles that write the logs",
            "iam:PassRole",
        ),
        unused(
            "DataProtectionPolicy",
            "a message data protection policy (reading it stays granted)",
            "sns:PutDataProtectionPolicy",
        ),
    ),
    "AWS::SNS::Subscription": (
        unused(
            "SubscriptionRoleArn",
            "a Firehose subscription, which passes the role that writes to the stream",
            "iam:PassRole",
        ),
    ),
}


@functools.cache
def schema_handler_permissions() -> dict[str, dict[str, list[str]]]:
    """`{type: {phase: [permission, ...]}}` as shipped in data/handler_permissions.json."""
    data = json.loads(HANDLER_PERMISSIONS_PATH.read_text(encoding="utf-8"))
    return data["types"]


def side_of(part: str) -> str:
    """The side (producer, consumer) that deploys a stack of `part` (producer, network, consumer, vpn)."""
    return "producer" if part == "producer" else "consumer"


def side_resources(spec: Spec, side: str) -> list[dict[str, Any]]:
    """Every resource (`{"Type": ..., "Properties": ...}`) of the side's rendered templates."""
    from privlink.templates.render import render_stacks

    return [
        resource
        for stack in render_stacks(spec)
        if side_of(stack.name.part) == side
        for resource in stack.template.get("Resources", {}).values()
    ]


def sets(properties: Any, path: str) -> bool:
    """Whether `properties` has a value at the dotted `path` (a list: any item has the rest)."""
    if isinstance(properties, list):
        return any(sets(item, path) for item in properties)
    if not isinstance(properties, dict):
        return False
    head, _, rest = path.partition(".")
    if head not in properties or properties[head] in (None, [], {}):
        return False
    return sets(properties[head], rest) if rest else True


def permissions_for(resource_type: str, resources: Iterable[dict[str, Any]]) -> set[str]:
    """The handler permissions resources of one type need: every phase, less what `UNUSED` says
    no resource among them sets, less `NOT_ACTIONS`."""
    phases = schema_handler_permissions().get(resource_type, {})
    needed = {p for phase in PHASES for p in phases.get(phase, [])}
    properties = [r.get("Properties") or {} for r in resources]
    for entry in UNUSED.get(resource_type, ()):
        if not any(sets(p, entry.property) for p in properties):
            needed -= set(entry.actions)
    return needed - set(NOT_ACTIONS)


def handler_permissions_by_type(spec: Spec, side: str) -> dict[str, set[str]]:
    """`{resource type: permissions}` for the side's rendered templates."""
    by_type: dict[str, list[dict[str, Any]]] = {}
    for resource in side_resources(spec, side):
        by_type.setdefault(resource["Type"], []).append(resource)
    return {t: permissions_for(t, resources) for t, resources in sorted(by_type.items())}


def handler_permissions(spec: Spec, side: str) -> set[str]:
    """Every permission CloudFormation's handlers need for the side's templates (a service role's
    policy would grant exactly these)."""
    return set().union(*handler_permissions_by_type(spec, side).values())
