"""The least-privilege IAM policies privlink needs in each account, as data.

`policy_for(spec, side)` returns an IAM policy document for the producer or the consumer
account(s). CloudFormation deploys with the caller's credentials (no service role), so the caller
needs the actions of every resource the templates create as well as the ones privlink calls
directly. Actions are grouped by purpose; each group becomes one statement with its `Sid`.
The test `tests/test_iam_policy.py` scans the source tree and fails when code calls an AWS
operation that no policy grants.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from privlink.errors import BadInput
from privlink.spec.models import Spec
from privlink.templates import naming

SIDES = ("producer", "consumer")
# IAM's limit for a customer managed policy document, in characters not counting white space
# (IAM and AWS STS quotas, "Managed policy size"). Every feature on, one side's statements can pass it.
MANAGED_POLICY_MAX_CHARS = 6144

STACKS = "arn:aws:cloudformation:*:*:stack/privlink-*/*"
CHANGE_SETS = "arn:aws:cloudformation:*:*:changeSet/privlink-*/*"


@dataclass(frozen=True)
class Group:
    """One statement: a purpose, its actions, the resources they apply to, and an optional condition."""

    sid: str
    purpose: str
    actions: tuple[str, ...]
    resources: tuple[str, ...] = ("*",)
    condition: dict[str, Any] | None = None

    def statement(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "Sid": self.sid,
            "Effect": "Allow",
            "Action": sorted(self.actions),
            "Resource": list(self.resources) if len(self.resources) > 1 else self.resources[0],
        }
        if self.condition:
            out["Condition"] = self.condition
        return out


CLOUDFORMATION = Group(
    "PrivlinkStacks",
    "deploy, watch and delete privlink's own stacks with change sets",
    (
        "cloudformation:CreateStack",
        "cloudformation:UpdateStack",
        "cloudformation:DeleteStack",
        "cloudformation:DescribeStacks",
        "cloudformation:DescribeStackEvents",
        "cloudformation:DescribeStackResource",
        "cloudformation:DescribeStackResources",
        "cloudformation:ListStackResources",
        "cloudformation:GetTemplate",
        "cloudformation:GetTemplateSummary",
        "cloudformation:CreateChangeSet",
        "cloudformation:DescribeChangeSet",
        "cloudformation:ExecuteChangeSet",
        "cloudformation:DeleteChangeSet",
        "cloudformation:ListChangeSets",
    ),
    (STACKS, CHANGE_SETS),
)

CLOUDFORMATION_READ = Group(
    "CloudFormationAccountWide",
    "calls that take no stack ARN: validating templates and listing stacks",
    ("cloudformation:ValidateTemplate", "cloudformation:ListStacks"),
)

IDENTITY = Group(
    "Identity",
    "region and AZ facts the templates, the plan's AZ choice and the checks depend on",
    (
        "ec2:DescribeAvailabilityZones",
        "ec2:DescribeInstanceTypeOfferings",
        "ec2:DescribeAccountAttributes",
        "ec2:DescribeRegions",
    ),
)

NETWORK = Group(
    "Network",
    "the VPC, private subnets, route tables and security groups of a side",
    (
        "ec2:CreateVpc",
        "ec2:DeleteVpc",
        "ec2:DescribeVpcs",
        "ec2:ModifyVpcAttribute",
        "ec2:DescribeVpcAttribute",
        "ec2:CreateSubnet",
        "ec2:DeleteSubnet",
        "ec2:DescribeSubnets",
        "ec2:ModifySubnetAttribute",
        "ec2:CreateRouteTable",
        "ec2:DeleteRouteTable",
        "ec2:DescribeRouteTables",
        "ec2:AssociateRouteTable",
        "ec2:DisassociateRouteTable",
        "ec2:DescribeNetworkAcls",
        "ec2:DescribeNetworkInterfaces",
        "ec2:CreateSecurityGroup",
        "ec2:DeleteSecurityGroup",
        "ec2:DescribeSecurityGroups",
        "ec2:DescribeSecurityGroupRules",
        "ec2:AuthorizeSecurityGroupIngress",
        "ec2:AuthorizeSecurityGroupEgress",
        "ec2:RevokeSecurityGroupIngress",
        "ec2:RevokeSecurityGroupEgress",
        "ec2:CreateTags",
        "ec2:DeleteTags",
        "ec2:DescribeTags",
    ),
)

ENDPOINT_SERVICE = Group(
    "EndpointService",
    "the endpoint service, who may connect, its connections and their notifications",
    (
        "ec2:CreateVpcEndpointServiceConfiguration",
        "ec2:ModifyVpcEndpointServiceConfiguration",
        "ec2:DeleteVpcEndpointServiceConfigurations",
        "ec2:DescribeVpcEndpointServiceConfigurations",
        "ec2:DescribeVpcEndpointServices",
        "ec2:ModifyVpcEndpointServicePermissions",
        "ec2:DescribeVpcEndpointServicePermissions",
        "ec2:DescribeVpcEndpointConnections",
        "ec2:AcceptVpcEndpointConnections",
        "ec2:RejectVpcEndpointConnections",
        "ec2:CreateVpcEndpointConnectionNotification",
        "ec2:ModifyVpcEndpointConnectionNotification",
        "ec2:DeleteVpcEndpointConnectionNotifications",
        "ec2:DescribeVpcEndpointConnectionNotifications",
        "ec2:StartVpcEndpointServicePrivateDnsVerification",
    ),
)

LOAD_BALANCER = Group(
    "LoadBalancer",
    "the Network Load Balancer, its listener and target group",
    (
        "elasticloadbalancing:CreateLoadBalancer",
        "elasticloadbalancing:DeleteLoadBalancer",
        "elasticloadbalancing:DescribeLoadBalancers",
        "elasticloadbalancing:DescribeLoadBalancerAttributes",
        "elasticloadbalancing:ModifyLoadBalancerAttributes",
        "elasticloadbalancing:SetSecurityGroups",
        "elasticloadbalancing:CreateListener",
        "elasticloadbalancing:DeleteListener",
        "elasticloadbalancing:DescribeListeners",
        "elasticloadbalancing:ModifyListener",
        "elasticloadbalancing:DescribeListenerAttributes",
        "elasticloadbalancing:ModifyListenerAttributes",
        "elasticloadbalancing:CreateTargetGroup",
        "elasticloadbalancing:DeleteTargetGroup",
        "elasticloadbalancing:DescribeTargetGroups",
        "elasticloadbalancing:DescribeTargetGroupAttributes",
        "elasticloadbalancing:ModifyTargetGroup",
        "elasticloadbalancing:ModifyTargetGroupAttributes",
        "elasticloadbalancing:RegisterTargets",
        "elasticloadbalancing:DeregisterTargets",
        "elasticloadbalancing:DescribeTargetHealth",
        "elasticloadbalancing:AddTags",
        "elasticloadbalancing:RemoveTags",
        "elasticloadbalancing:DescribeTags",
    ),
)

LOAD_BALANCER_ROLE = Group(
    "LoadBalancerServiceLinkedRole",
    "the first load balancer in an account creates Elastic Load Balancing's service-linked role",
    ("iam:CreateServiceLinkedRole",),
    ("arn:aws:iam::*:role/aws-service-role/elasticloadbalancing.amazonaws.com/*",),
    {"StringEquals": {"iam:AWSServiceName": "elasticloadbalancing.amazonaws.com"}},
)

NOTIFICATIONS = Group(
    "ConnectionNotifications",
    "the SNS topic that receives endpoint connection events",
    (
        "sns:CreateTopic",
        "sns:DeleteTopic",
        "sns:GetTopicAttributes",
        "sns:SetTopicAttributes",
        "sns:ListSubscriptionsByTopic",
        "sns:TagResource",
        "sns:UntagResource",
        "sns:ListTagsForResource",
    ),
    ("arn:aws:sns:*:*:privlink-*",),
)

AMI_PARAMETER = Group(
    "DemoAppImage",
    "privlink resolves the public Amazon Linux AMI parameter for the demo app once (and records it)",
    ("ssm:GetParameters", "ssm:GetParameter"),
    ("arn:aws:ssm:*::parameter/aws/service/*",),
)

DEMO_APP = Group(
    "DemoAppInstances",
    "the demo app's instances, one per AZ (app: demo)",
    (
        "ec2:RunInstances",
        "ec2:TerminateInstances",
        "ec2:DescribeInstances",
        "ec2:DescribeInstanceStatus",
        "ec2:DescribeImages",
        "ec2:DescribeInstanceTypes",
    ),
)

TARGETS_READ = Group(
    "ExistingTargets",
    "look up the instances given as targets (app: none)",
    ("ec2:DescribeInstances", "ec2:DescribeInstanceStatus"),
)

PRIVATE_DNS_VERIFICATION = Group(
    "PrivateDnsVerification",
    "write the TXT record that proves ownership of the service's private DNS name",
    (
        "route53:ListHostedZones",
        "route53:ListHostedZonesByName",
        "route53:GetHostedZone",
        "route53:ListResourceRecordSets",
        "route53:ChangeResourceRecordSets",
        "route53:GetChange",
    ),
)

ENDPOINT = Group(
    "InterfaceEndpoint",
    "the interface endpoint to the service",
    (
        "ec2:CreateVpcEndpoint",
        "ec2:ModifyVpcEndpoint",
        "ec2:DeleteVpcEndpoints",
        "ec2:DescribeVpcEndpoints",
        "ec2:DescribeVpcEndpointServices",
        "ec2:DescribePrefixLists",
    ),
)

PRIVATE_ZONE = Group(
    "PrivateHostedZone",
    "the private hosted zone on the consumer VPC and its alias record to the endpoint",
    (
        "route53:CreateHostedZone",
        "route53:DeleteHostedZone",
        "route53:GetHostedZone",
        "route53:ListHostedZones",
        "route53:ListHostedZonesByName",
        "route53:ListHostedZonesByVPC",
        "route53:AssociateVPCWithHostedZone",
        "route53:DisassociateVPCFromHostedZone",
        "route53:ChangeResourceRecordSets",
        "route53:ListResourceRecordSets",
        "route53:GetChange",
        "route53:ChangeTagsForResource",
        "route53:ListTagsForResource",
    ),
)

CERTIFICATES = Group(
    "VpnCertificates",
    "import the Client VPN server and client CA certificates into ACM, and remove them on down",
    (
        "acm:GetCertificate",
        "acm:ImportCertificate",
        "acm:DeleteCertificate",
        "acm:AddTagsToCertificate",
        "acm:ListTagsForCertificate",
        "acm:ListCertificates",
        "acm:DescribeCertificate",
    ),
)

CLIENT_VPN = Group(
    "ClientVpn",
    "the Client VPN endpoint, its subnet associations, authorization rule and client configuration",
    (
        "ec2:CreateClientVpnEndpoint",
        "ec2:ModifyClientVpnEndpoint",
        "ec2:DeleteClientVpnEndpoint",
        "ec2:DescribeClientVpnEndpoints",
        "ec2:AssociateClientVpnTargetNetwork",
        "ec2:DisassociateClientVpnTargetNetwork",
        "ec2:DescribeClientVpnTargetNetworks",
        "ec2:ApplySecurityGroupsToClientVpnTargetNetwork",
        "ec2:AuthorizeClientVpnIngress",
        "ec2:RevokeClientVpnIngress",
        "ec2:DescribeClientVpnAuthorizationRules",
        "ec2:CreateClientVpnRoute",
        "ec2:DeleteClientVpnRoute",
        "ec2:DescribeClientVpnRoutes",
        "ec2:DescribeClientVpnConnections",
        "ec2:TerminateClientVpnConnections",
        "ec2:ExportClientVpnClientConfiguration",
    ),
)

VPN_LOGS = Group(
    "ClientVpnLogs",
    "the Client VPN connection log group and stream",
    (
        "logs:CreateLogGroup",
        "logs:DeleteLogGroup",
        "logs:PutRetentionPolicy",
        "logs:DeleteRetentionPolicy",
        "logs:CreateLogStream",
        "logs:DeleteLogStream",
        "logs:DescribeLogStreams",
        "logs:TagResource",
        "logs:UntagResource",
        "logs:ListTagsForResource",
        "logs:TagLogGroup",
        "logs:FilterLogEvents",
        "logs:GetLogEvents",
    ),
    (
        "arn:aws:logs:*:*:log-group:privlink-*",
        "arn:aws:logs:*:*:log-group:privlink-*:*",
        "arn:aws:logs:*:*:log-group:/privlink/*",
        "arn:aws:logs:*:*:log-group:/privlink/*:*",
    ),
)

VPN_LOGS_DESCRIBE = Group(
    "ClientVpnLogsDescribe",
    "Client VPN checks the log group exists; DescribeLogGroups takes no log group ARN",
    ("logs:DescribeLogGroups",),
)

MULTI_REGION = Group(
    "CrossRegion",
    "cross-region PrivateLink: a permission-only action for SupportedRegions / ServiceRegion",
    ("vpce:AllowMultiRegion",),
)


AUTO_APPROVAL = Group(
    "AutoApproval",
    "the auto-approval Lambda, its role, log group and the consumer registry table",
    (
        "dynamodb:CreateTable",
        "dynamodb:DeleteTable",
        "dynamodb:DescribeTable",
        "dynamodb:DescribeContinuousBackups",
        "dynamodb:UpdateContinuousBackups",
        "dynamodb:TagResource",
        "dynamodb:ListTagsOfResource",
        "lambda:CreateFunction",
        "lambda:DeleteFunction",
        "lambda:GetFunction",
        "lambda:UpdateFunctionCode",
        "lambda:UpdateFunctionConfiguration",
        "lambda:AddPermission",
        "lambda:RemovePermission",
        "lambda:TagResource",
        "iam:CreateRole",
        "iam:DeleteRole",
        "iam:GetRole",
        "iam:PutRolePolicy",
        "iam:DeleteRolePolicy",
        "iam:GetRolePolicy",
        "iam:TagRole",
        "iam:PassRole",
        "sns:Subscribe",
        "sns:Unsubscribe",
        "sns:GetSubscriptionAttributes",
    ),
    (
        "arn:aws:dynamodb:*:*:table/privlink-*",
        "arn:aws:lambda:*:*:function:privlink-*",
        "arn:aws:iam::*:role/privlink-*",
        "arn:aws:sns:*:*:privlink-*",
    ),
)

CONSUMER_REGISTRY = Group(
    "ConsumerRegistry",
    "`privlink consumers add/remove/list` read and write the registry table",
    ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem", "dynamodb:Scan"),
    ("arn:aws:dynamodb:*:*:table/privlink-*-consumers",),
)

TEST_INSTANCE = Group(
    "TestInstance",
    "the consumer's test instance (test_instance: {enabled: true}) that `test --via ssm` runs on",
    (
        "ec2:RunInstances",
        "ec2:TerminateInstances",
        "ec2:DescribeInstances",
        "ec2:DescribeInstanceStatus",
        "ec2:DescribeImages",
        "ec2:DescribeInstanceTypes",
    ),
)

TEST_INSTANCE_IMAGE = Group(
    "TestInstanceImage",
    "privlink resolves the public Amazon Linux AMI parameter for the test instance once (and records it)",
    ("ssm:GetParameters", "ssm:GetParameter"),
    ("arn:aws:ssm:*::parameter/aws/service/*",),
)

TEST_INSTANCE_ROLE = Group(
    "TestInstanceRole",
    "the test instance's role and instance profile (CloudFormation names them privlink-...)",
    (
        "iam:CreateRole",
        "iam:DeleteRole",
        "iam:GetRole",
        "iam:TagRole",
        "iam:UntagRole",
        "iam:UpdateRoleDescription",
        "iam:ListAttachedRolePolicies",
        "iam:ListRolePolicies",
        "iam:CreateInstanceProfile",
        "iam:DeleteInstanceProfile",
        "iam:GetInstanceProfile",
        "iam:AddRoleToInstanceProfile",
        "iam:RemoveRoleFromInstanceProfile",
    ),
    ("arn:aws:iam::*:role/privlink-*", "arn:aws:iam::*:instance-profile/privlink-*"),
)

TEST_INSTANCE_ROLE_POLICY = Group(
    "TestInstanceRoleSsmCore",
    "attach to (and detach from) privlink's roles the one managed policy the SSM agent needs, no other",
    ("iam:AttachRolePolicy", "iam:DetachRolePolicy"),
    ("arn:aws:iam::*:role/privlink-*",),
    {"ArnEquals": {"iam:PolicyARN": "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"}},
)

TEST_INSTANCE_PASS_ROLE = Group(
    "TestInstancePassRole",
    "hand the test instance's role to EC2 (its instance profile), to EC2 only",
    ("iam:PassRole",),
    ("arn:aws:iam::*:role/privlink-*",),
    {"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}},
)

ENDPOINT_PRIVATE_DNS = Group(
    "EndpointPrivateDns",
    "interface endpoints with private DNS enabled (the service's private DNS name, or the test "
    "instance's ssm, ssmmessages and ec2messages) associate the VPC with AWS-managed private zones",
    ("route53:AssociateVPCWithHostedZone",),
)

# SendCommand is authorized on the document and on each instance, so it takes two statements: the
# document one alone lets the command run nowhere, the instance one admits only the test instances
# privlink tagged for this link. `ssm:resourceTag/<key>` is the condition key SSM documents for
# that ("Restricting Run Command access based on tags",
# https://docs.aws.amazon.com/systems-manager/latest/userguide/sysman-rc-setting-up-cmdsec.html);
# it is SSM's own key, so the rule that global keys (`aws:...`) on SendCommand also need
# `aws:ViaAWSService` (https://docs.aws.amazon.com/systems-manager/latest/userguide/run-command-setting-up.html)
# does not apply.
SSM_PROBE_DOCUMENT = Group(
    "SsmProbeDocument",
    "`privlink test --via ssm`: run the probe with the AWS-RunShellScript document, no other",
    ("ssm:SendCommand",),
    ("arn:aws:ssm:*::document/AWS-RunShellScript",),
)

SSM_PROBE_INSTANCES = "arn:aws:ec2:*:*:instance/*"


def ssm_probe_instances(link: str) -> Group:
    """SendCommand on the test instances privlink made for `link` only.

    The condition uses the tags CloudFormation itself puts on every instance of a stack
    (aws:cloudformation:stack-name, aws:cloudformation:logical-id): the `aws:` prefix is reserved,
    so no identity can add them to another instance, while this policy's ec2:CreateTags could put
    privlink's own tags on any instance. Only the `TestInstance` of one of this link's consumer
    stacks matches.
    """
    stack_names = naming.consumer_stack(link, "*").name
    return Group(
        "SsmProbeTestInstances",
        f"`privlink test --via ssm`: only on the test instances CloudFormation made in this link's "
        f"consumer stacks ({stack_names}); an instance you name with `--instance` needs an "
        "ssm:SendCommand grant of yours",
        ("ssm:SendCommand",),
        (SSM_PROBE_INSTANCES,),
        {
            "StringEquals": {f"ssm:resourceTag/{naming.TAG_CFN_LOGICAL_ID}": naming.TEST_INSTANCE_LOGICAL_ID},
            "StringLike": {f"ssm:resourceTag/{naming.TAG_CFN_STACK_NAME}": stack_names},
        },
    )


SSM_PROBE_READ = Group(
    "SsmProbeRead",
    "`privlink test --via ssm`: which agents are online, and the command's result",
    ("ssm:DescribeInstanceInformation", "ssm:GetCommandInvocation", "ec2:DescribeInstances"),
)

FLEET = Group(
    "ConsumerFleet",
    "consumers_from: the consumer stack deployed as a StackSet across accounts",
    (
        "cloudformation:CreateStackSet",
        "cloudformation:UpdateStackSet",
        "cloudformation:DeleteStackSet",
        "cloudformation:DescribeStackSet",
        "cloudformation:CreateStackInstances",
        "cloudformation:DeleteStackInstances",
        "cloudformation:ListStackInstances",
        "cloudformation:DescribeStackSetOperation",
    ),
    ("arn:aws:cloudformation:*:*:stackset/privlink-*:*", "arn:aws:cloudformation:*:*:stackset-target/*"),
)


def groups_for(spec: Spec, side: str) -> list[Group]:
    """The statements one side needs for this spec, in a stable order."""
    if side == "producer":
        groups = [CLOUDFORMATION, CLOUDFORMATION_READ, IDENTITY, NETWORK, ENDPOINT_SERVICE]
        groups += [LOAD_BALANCER, LOAD_BALANCER_ROLE]
        if spec.producer.endpoint_service.notifications:
            groups.append(NOTIFICATIONS)
        if spec.producer.service.app == "demo":
            groups += [AMI_PARAMETER, DEMO_APP]
        elif any(t.instance for t in spec.producer.service.targets):
            groups.append(TARGETS_READ)
        if spec.producer.endpoint_service.private_dns_name:
            groups.append(PRIVATE_DNS_VERIFICATION)
        if spec.supported_regions:
            groups.append(MULTI_REGION)
        if spec.producer.endpoint_service.auto_approval.registry:
            groups += [AUTO_APPROVAL, CONSUMER_REGISTRY]
        if spec.consumers_from is not None:
            groups.append(FLEET)
        return groups
    if side == "consumer":
        groups = [CLOUDFORMATION, CLOUDFORMATION_READ, IDENTITY, NETWORK, ENDPOINT]
        if any(c.private_dns for c in spec.consumers):
            groups.append(PRIVATE_ZONE)
        if any(c.vpn for c in spec.consumers):
            groups += [CERTIFICATES, CLIENT_VPN, VPN_LOGS, VPN_LOGS_DESCRIBE]
        if any(spec.is_cross_region(c) for c in spec.consumers):
            groups.append(MULTI_REGION)
        tested = [c.test_instance for c in spec.consumers if c.test_instance.enabled]
        if any(c.private_dns_enabled for c in spec.consumers) or any(t.ssm_endpoints for t in tested):
            groups.append(ENDPOINT_PRIVATE_DNS)
        if tested:
            groups += [TEST_INSTANCE, TEST_INSTANCE_IMAGE, TEST_INSTANCE_ROLE, TEST_INSTANCE_ROLE_POLICY]
            groups += [TEST_INSTANCE_PASS_ROLE, SSM_PROBE_DOCUMENT, ssm_probe_instances(spec.name)]
            groups.append(SSM_PROBE_READ)
        return groups
    raise BadInput("--side", f"unknown side {side!r}", "use producer, consumer or all")


def policy_for(spec: Spec, side: str) -> dict[str, Any]:
    """The IAM policy document (Version 2012-10-17) for `side` (producer or consumer)."""
    return {"Version": "2012-10-17", "Statement": [g.statement() for g in groups_for(spec, side)]}


def policy_size(policy: dict[str, Any]) -> int:
    """Characters IAM counts against the size limit (it ignores white space)."""
    return len(json.dumps(policy, separators=(",", ":")))


def policy_documents(spec: Spec, side: str) -> list[dict[str, Any]]:
    """`side`'s statements as managed policy documents, each within IAM's size limit: one
    document unless the statements are too many for it, then as few as fit, in order."""
    documents: list[dict[str, Any]] = []
    for statement in policy_for(spec, side)["Statement"]:
        if (
            documents
            and policy_size({**documents[-1], "Statement": [*documents[-1]["Statement"], statement]})
            <= MANAGED_POLICY_MAX_CHARS
        ):
            documents[-1]["Statement"].append(statement)
        else:
            documents.append({"Version": "2012-10-17", "Statement": [statement]})
    return documents


def policies(spec: Spec, side: str = "all") -> dict[str, dict[str, Any]]:
    """`{name: policy}` for one side or both (`all`): `producer`, `consumer`, and when a side's
    statements pass IAM's size limit for one managed policy, `<side>-2` (and on) beside it."""
    found: dict[str, dict[str, Any]] = {}
    for name in SIDES if side == "all" else (side,):
        for i, document in enumerate(policy_documents(spec, name), start=1):
            found[name if i == 1 else f"{name}-{i}"] = document
    return found


def actions_in(policy: dict[str, Any]) -> set[str]:
    """Every action a policy document allows."""
    found: set[str] = set()
    for statement in policy["Statement"]:
        action = statement["Action"]
        found.update([action] if isinstance(action, str) else action)
    return found


def condition_text(condition: dict[str, Any]) -> str:
    """A statement's condition on one line: `StringEquals iam:PassedToService=ec2.amazonaws.com`."""
    return "; ".join(
        f"{operator} " + ", ".join(f"{key}={value}" for key, value in pairs.items())
        for operator, pairs in condition.items()
    )


def format_text(spec: Spec, side: str = "all") -> str:
    """Each side's groups with their purpose, then the JSON document to attach."""
    out: list[str] = []
    for name in SIDES if side == "all" else (side,):
        accounts = (
            [spec.producer.account] if name == "producer" else sorted({c.account for c in spec.consumers})
        )
        out.append(f"== {name} (account {', '.join(accounts) or '-'}) ==")
        for group in groups_for(spec, name):
            out.append(f"- {group.sid}: {group.purpose}")
            out.append(f"    {', '.join(sorted(group.actions))}")
            if group.resources != ("*",):
                out.append(f"    on {', '.join(group.resources)}")
            if group.condition:
                out.append(f"    when {condition_text(group.condition)}")
        documents = policy_documents(spec, name)
        if len(documents) > 1:
            out.append(
                f"({len(documents)} policies: together over IAM's {MANAGED_POLICY_MAX_CHARS} characters "
                "for one managed policy; attach every one)"
            )
        for i, document in enumerate(documents, start=1):
            out.append("")
            if len(documents) > 1:
                out.append(f"{name}-{i}:" if i > 1 else f"{name}:")
            out.append(json.dumps(document, indent=2))
        out.append("")
    return "\n".join(out).rstrip() + "\n"
