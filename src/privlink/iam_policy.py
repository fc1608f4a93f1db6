"""The least-privilege IAM policies privlink needs in each account, as data.

`policy_for(spec, side)` returns an IAM policy document for the producer or the consumer
account(s). CloudFormation deploys with the caller's credentials (no service role), so the caller
needs the actions of every resource the templates create as well as the ones privlink calls
directly. The first are derived: `permissions.handler_permissions` reads the resource schemas'
handler permissions for the types the side's templates contain, and `handler_groups` scopes them
(destructive EC2, ELB and ACM actions only on resources tagged `privlink:link=<link>`, IAM, Logs,
SNS, DynamoDB and Lambda on privlink's names, the rest on "*" where AWS offers no narrower scope,
each such destructive action with its reason in `UNSCOPED_DESTRUCTIVE`). The second are kept by
hand, one group per purpose; `tests/test_iam_policy.py` scans the source tree and fails when code
calls an AWS operation that no policy grants, and `tests/test_permissions.py` checks the derived
part against the schemas, botocore's models and the IAM service authorization reference.
ARNs take the partition of the side's regions (`privlink.partitions`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from privlink.errors import BadInput
from privlink.partitions import Partition, partition_of, partition_of_regions
from privlink.permissions import handler_permissions_by_type, side_resources
from privlink.spec.models import Spec
from privlink.templates import naming

SIDES = ("producer", "consumer")
# IAM's limit for a customer managed policy document, in characters not counting white space
# (IAM and AWS STS quotas, "Managed policy size"). Every feature on, one side's statements can pass it.
MANAGED_POLICY_MAX_CHARS = 6144


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


TAG_CONDITION_KEY = f"aws:ResourceTag/{naming.TAG_LINK}"


def tagged(link: str) -> dict[str, Any]:
    """The condition that admits only resources carrying `privlink:link = <link>`."""
    return {"StringEquals": {TAG_CONDITION_KEY: link}}


# Actions that destroy or take away (the verbs IAM policy linters flag on `Resource: "*"`).
DESTRUCTIVE_VERBS = (
    "Delete",
    "Terminate",
    "Remove",
    "Detach",
    "Disassociate",
    "Reject",
    "Revoke",
    "Deregister",
    "Stop",
    "Untag",
    "Disable",
    "Unsubscribe",
    "Unmonitor",
)


def is_destructive(action: str) -> bool:
    return action.split(":", 1)[1].startswith(DESTRUCTIVE_VERBS)


# Services whose destructive actions take `aws:ResourceTag/privlink:link` on every resource type
# privlink's requests name (the IAM service authorization reference; checked by a test): privlink
# tags everything it creates there, so these actions are granted on its own resources only.
TAG_SCOPED_SERVICES = ("ec2", "elasticloadbalancing", "acm")

# Destructive actions granted on `Resource: "*"` without a condition, and why (a test fails for any
# other destructive action on "*" without a condition).
UNSCOPED_DESTRUCTIVE = {
    "route53:DeleteHostedZone": "Route 53 supports no tag condition keys (IAM service authorization "
    "reference, Route 53: no aws:ResourceTag) and zone IDs are random, so no ARN pattern narrows it",
    "route53:DisassociateVPCFromHostedZone": "as DeleteHostedZone: no tag condition keys, random zone IDs",
}

# The services whose resources CloudFormation names after the stack (`privlink-<link>-...`) or
# privlink names itself: their actions are granted on those names.
NAMED_SERVICES = ("iam", "logs", "sns", "dynamodb", "lambda")

# Actions of those services that take no resource ARN (the IAM service authorization reference
# lists no resource type for them), so IAM only matches them on "*"; a test checks each.
ACCOUNT_WIDE = {
    "logs:DescribeLogGroups": "lists groups by prefix",
    "logs:DescribeResourcePolicies": "account-level resource policies",
    "logs:DescribeIndexPolicies": "read by the log group's handler for every group",
    "logs:CreateLogDelivery": "vended-log deliveries are account-level",
}

# Who may receive a role privlink's templates pass, by the type that passes it.
PASSED_TO = {
    "AWS::Lambda::Function": "lambda.amazonaws.com",
    "AWS::EC2::Instance": "ec2.amazonaws.com",
    "AWS::IAM::InstanceProfile": "ec2.amazonaws.com",
}

SERVICE_TITLES = {
    "ec2": "Ec2",
    "elasticloadbalancing": "LoadBalancing",
    "route53": "Route53",
    "iam": "Iam",
    "logs": "Logs",
    "sns": "Sns",
    "dynamodb": "DynamoDb",
    "lambda": "Lambda",
    "cloudwatch": "CloudWatch",
    "firehose": "Firehose",
    "vpce": "Vpce",
    "ssm": "Ssm",
}


def named_resources(partition: Partition, prefix: str) -> tuple[str, ...]:
    """The ARNs of privlink's own resources of a named service, in `partition`."""
    p = partition.name
    return {
        "iam": (f"arn:{p}:iam::*:role/privlink-*", f"arn:{p}:iam::*:instance-profile/privlink-*"),
        "logs": tuple(
            f"arn:{p}:logs:*:*:log-group:{group}{suffix}"
            for group in ("/privlink/*", "/aws/lambda/privlink-*")
            for suffix in ("", ":*")
        ),
        "sns": (f"arn:{p}:sns:*:*:privlink-*",),
        "dynamodb": (f"arn:{p}:dynamodb:*:*:table/privlink-*",),
        "lambda": (f"arn:{p}:lambda:*:*:function:privlink-*",),
    }[prefix]


def side_partition(spec: Spec, side: str) -> Partition:
    """The partition of a side's regions (the producer's, or every consumer's)."""
    regions = [spec.producer.region] if side == "producer" else [c.region for c in spec.consumers]
    return partition_of_regions(regions or [spec.producer.region], f"{side} regions")


def managed_policy_arns(spec: Spec, side: str, partition: Partition) -> list[str]:
    """The managed policies the side's roles attach (`ManagedPolicyArns`), in `partition`."""
    found: set[str] = set()
    for resource in side_resources(spec, side):
        if resource["Type"] != "AWS::IAM::Role":
            continue
        for arn in (resource.get("Properties") or {}).get("ManagedPolicyArns") or []:
            text = arn["Fn::Sub"] if isinstance(arn, dict) else arn
            found.add(text.replace("${AWS::Partition}", partition.name))
    return sorted(found)


def handler_groups(spec: Spec, side: str, partition: Partition) -> list[Group]:
    """Statements for what CloudFormation's handlers need (`permissions.handler_permissions`),
    scoped: destructive EC2/ELB actions by privlink's tag, the named services by name, the rest
    on "*". Raises ValueError for an action no rule scopes (a test renders every feature)."""
    by_type = handler_permissions_by_type(spec, side)
    actions = set().union(*by_type.values()) if by_type else set()
    link = spec.name
    buckets: dict[str, list[str]] = {}
    special: list[Group] = []
    for action in sorted(actions):
        prefix = action.split(":", 1)[0]
        title = SERVICE_TITLES.get(prefix)
        if title is None:
            raise ValueError(f"{action}: no scoping rule for the {prefix} service; add it to SERVICE_TITLES")
        if action == "iam:PassRole":
            services = sorted({PASSED_TO[t] for t, needed in by_type.items() if action in needed})
            special.append(
                Group(
                    "CfnPassRole",
                    f"hand privlink's roles to {', '.join(services)} only (the function's role, the "
                    "test instance's profile)",
                    (action,),
                    named_resources(partition, "iam")[:1],
                    {"StringEquals": {"iam:PassedToService": services if len(services) > 1 else services[0]}},
                )
            )
        elif action in ("iam:AttachRolePolicy", "iam:DetachRolePolicy"):
            buckets.setdefault("IamManagedPolicies", []).append(action)
        elif action == "iam:CreateServiceLinkedRole":
            raise ValueError(f"{action}: grant it per service with a condition (see LOAD_BALANCER_ROLE)")
        elif prefix in NAMED_SERVICES and action not in ACCOUNT_WIDE:
            buckets.setdefault(f"{title}ByName", []).append(action)
        elif is_destructive(action) and prefix in TAG_SCOPED_SERVICES:
            buckets.setdefault(f"{title}Tagged", []).append(action)
        elif is_destructive(action) and action not in UNSCOPED_DESTRUCTIVE:
            raise ValueError(
                f"{action}: destructive on every resource; scope it or say why in UNSCOPED_DESTRUCTIVE"
            )
        else:
            buckets.setdefault(title, []).append(action)
    groups: list[Group] = []
    for key, names in buckets.items():
        acts = tuple(names)
        if key == "IamManagedPolicies":
            arns = managed_policy_arns(spec, side, partition)
            groups.append(
                Group(
                    "CfnIamManagedPolicies",
                    f"attach to (and detach from) privlink's roles the managed policies its templates "
                    f"name ({', '.join(a.rsplit('/', 1)[-1] for a in arns)}), no other",
                    acts,
                    named_resources(partition, "iam")[:1],
                    {"ArnEquals": {"iam:PolicyARN": arns if len(arns) > 1 else arns[0]}},
                )
            )
        elif key.endswith("ByName"):
            prefix = next(p for p, t in SERVICE_TITLES.items() if f"{t}ByName" == key)
            groups.append(
                Group(
                    f"Cfn{key}",
                    f"CloudFormation's {prefix} handlers, on privlink's own names (privlink-*, its log "
                    "groups)",
                    acts,
                    named_resources(partition, prefix),
                )
            )
        elif key.endswith("Tagged"):
            groups.append(
                Group(
                    f"Cfn{key}",
                    f"CloudFormation's destructive {key.removesuffix('Tagged')} calls, only on resources "
                    f"tagged {naming.TAG_LINK}={link}",
                    acts,
                    ("*",),
                    tagged(link),
                )
            )
        else:
            unscoped = [a for a in acts if is_destructive(a)]
            note = (
                f"; {', '.join(a.split(':')[1] for a in unscoped)} on any resource: "
                + "; ".join(sorted({UNSCOPED_DESTRUCTIVE[a] for a in unscoped}))
                if unscoped
                else ""
            )
            groups.append(
                Group(
                    f"Cfn{key}",
                    f"CloudFormation's {key} handlers: creating, reading and updating (no resource ARN or "
                    f"tag exists before creation){note}",
                    acts,
                )
            )
    order = {f"Cfn{t}": i for i, t in enumerate(SERVICE_TITLES.values())}
    groups.sort(key=lambda g: (order.get(g.sid.removesuffix("ByName").removesuffix("Tagged"), 99), g.sid))
    return groups + special


def cloudformation(partition: Partition) -> Group:
    p = partition.name
    return Group(
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
        (
            f"arn:{p}:cloudformation:*:*:stack/privlink-*/*",
            f"arn:{p}:cloudformation:*:*:changeSet/privlink-*/*",
        ),
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

# What privlink reads itself (`status`, `doctor`, `test`, lookups for existing VPCs), beyond what
# the handlers already read; the source scan in tests/test_iam_policy.py keeps this complete.
OBSERVE = Group(
    "Observe",
    "privlink's own reads: status, doctor and the lookups of existing VPCs",
    (
        "ec2:DescribeVpcs",
        "ec2:DescribeSubnets",
        "ec2:DescribeRouteTables",
        "ec2:DescribeSecurityGroups",
        "ec2:DescribeSecurityGroupRules",
        "ec2:DescribeNetworkAcls",
        "ec2:DescribeNetworkInterfaces",
        "ec2:DescribeVpcAttribute",
        "ec2:DescribeVpcEndpoints",
        "ec2:DescribeVpcEndpointServices",
    ),
)

OBSERVE_PRODUCER = Group(
    "ObserveService",
    "privlink's own reads of the service: its connections, permissions, load balancer and targets",
    (
        "ec2:DescribeVpcEndpointServiceConfigurations",
        "ec2:DescribeVpcEndpointServicePermissions",
        "ec2:DescribeVpcEndpointConnections",
        "ec2:DescribeVpcEndpointConnectionNotifications",
        "ec2:DescribeInstances",
        "elasticloadbalancing:DescribeLoadBalancers",
        "elasticloadbalancing:DescribeLoadBalancerAttributes",
        "elasticloadbalancing:DescribeListeners",
        "elasticloadbalancing:DescribeListenerAttributes",
        "elasticloadbalancing:DescribeTargetGroups",
        "elasticloadbalancing:DescribeTargetGroupAttributes",
        "elasticloadbalancing:DescribeTargetHealth",
    ),
)


def endpoint_service_steps(link: str) -> Group:
    return Group(
        "EndpointServiceSteps",
        "accept and reject the service's endpoint connections, start its private DNS verification: "
        f"only on the service tagged {naming.TAG_LINK}={link}",
        (
            "ec2:AcceptVpcEndpointConnections",
            "ec2:RejectVpcEndpointConnections",
            "ec2:StartVpcEndpointServicePrivateDnsVerification",
        ),
        ("*",),
        tagged(link),
    )


def service_linked_role(partition: Partition, sid: str, service: str, purpose: str) -> Group:
    return Group(
        sid,
        purpose,
        ("iam:CreateServiceLinkedRole",),
        (f"arn:{partition.name}:iam::*:role/aws-service-role/{service}/*",),
        {"StringEquals": {"iam:AWSServiceName": service}},
    )


def ami_parameter(partition: Partition, sid: str, purpose: str) -> Group:
    return Group(
        sid,
        purpose,
        ("ssm:GetParameters", "ssm:GetParameter"),
        (f"arn:{partition.name}:ssm:*::parameter/aws/service/*",),
    )


TARGETS_READ = Group(
    "ExistingTargets",
    "look up the instances given as targets (app: none)",
    ("ec2:DescribeInstances", "ec2:DescribeInstanceStatus"),
)

PRIVATE_DNS_VERIFICATION = Group(
    "PrivateDnsVerification",
    "write the TXT record that proves ownership of the service's private DNS name (Route 53 supports "
    "no tag conditions, and the public zone is the owner's, so no ARN narrows it)",
    (
        "route53:ListHostedZones",
        "route53:ListHostedZonesByName",
        "route53:GetHostedZone",
        "route53:ListResourceRecordSets",
        "route53:ChangeResourceRecordSets",
        "route53:GetChange",
    ),
)

PRIVATE_ZONE_READ = Group(
    "PrivateZoneRead",
    "privlink's own reads of the consumer's private zone (status, doctor)",
    ("route53:GetHostedZone", "route53:ListResourceRecordSets", "route53:ListHostedZonesByVPC"),
)

CERTIFICATES = Group(
    "VpnCertificates",
    "import the Client VPN server and client CA certificates into ACM (tagged on import)",
    (
        "acm:GetCertificate",
        "acm:ImportCertificate",
        "acm:AddTagsToCertificate",
        "acm:ListTagsForCertificate",
        "acm:ListCertificates",
        "acm:DescribeCertificate",
    ),
)


def certificates_delete(link: str) -> Group:
    return Group(
        "VpnCertificatesDelete",
        f"remove the imported certificates on down: only those tagged {naming.TAG_LINK}={link}",
        ("acm:DeleteCertificate",),
        ("*",),
        tagged(link),
    )


# AWS::EC2::ClientVpnEndpoint and ::ClientVpnTargetNetworkAssociation list no handler permissions
# in their schemas (permissions.NO_HANDLER_DATA), so these are kept by hand from the EC2 API calls
# CloudFormation makes for them; privlink exports the client configuration itself.
CLIENT_VPN = Group(
    "ClientVpn",
    "the Client VPN endpoint and its subnet associations (their schemas list no handler permissions), "
    "and the client configuration privlink exports",
    (
        "ec2:CreateClientVpnEndpoint",
        "ec2:ModifyClientVpnEndpoint",
        "ec2:DescribeClientVpnEndpoints",
        "ec2:AssociateClientVpnTargetNetwork",
        "ec2:DescribeClientVpnTargetNetworks",
        "ec2:ApplySecurityGroupsToClientVpnTargetNetwork",
        "ec2:DescribeClientVpnRoutes",
        "ec2:DescribeClientVpnConnections",
        "ec2:ExportClientVpnClientConfiguration",
        "ec2:CreateTags",
    ),
)


def client_vpn_delete(link: str) -> Group:
    return Group(
        "ClientVpnDelete",
        f"delete the Client VPN endpoint and its associations: only those tagged {naming.TAG_LINK}={link}",
        (
            "ec2:DeleteClientVpnEndpoint",
            "ec2:DisassociateClientVpnTargetNetwork",
            "ec2:TerminateClientVpnConnections",
        ),
        ("*",),
        tagged(link),
    )


ENDPOINT_PRIVATE_DNS = Group(
    "EndpointPrivateDns",
    "interface endpoints with private DNS enabled (the service's private DNS name, or the test "
    "instance's ssm, ssmmessages and ec2messages) associate the VPC with AWS-managed private zones",
    ("route53:AssociateVPCWithHostedZone",),
)


def consumer_registry(partition: Partition) -> Group:
    return Group(
        "ConsumerRegistry",
        "`privlink consumers add/remove/list` read and write the registry table",
        ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem", "dynamodb:Scan"),
        (f"arn:{partition.name}:dynamodb:*:*:table/privlink-*-consumers",),
    )


# SendCommand is authorized on the document and on each instance, so it takes two statements: the
# document one alone lets the command run nowhere, the instance one admits only the test instances
# privlink tagged for this link. `ssm:resourceTag/<key>` is the condition key SSM documents for
# that ("Restricting Run Command access based on tags",
# https://docs.aws.amazon.com/systems-manager/latest/userguide/sysman-rc-setting-up-cmdsec.html);
# it is SSM's own key, so the rule that global keys (`aws:...`) on SendCommand also need
# `aws:ViaAWSService` (https://docs.aws.amazon.com/systems-manager/latest/userguide/run-command-setting-up.html)
# does not apply.
def ssm_probe_document(partition: Partition) -> Group:
    return Group(
        "SsmProbeDocument",
        "`privlink test --via ssm`: run the probe with the AWS-RunShellScript document, no other",
        ("ssm:SendCommand",),
        (f"arn:{partition.name}:ssm:*::document/AWS-RunShellScript",),
    )


def ssm_probe_instances(link: str, partition: Partition | None = None) -> Group:
    """SendCommand on the test instances privlink made for `link` only.

    The condition uses the tags CloudFormation itself puts on every instance of a stack
    (aws:cloudformation:stack-name, aws:cloudformation:logical-id): the `aws:` prefix is reserved,
    so no identity can add them to another instance, while this policy's ec2:CreateTags could put
    privlink's own tags on any instance. Only the `TestInstance` of one of this link's consumer
    stacks matches.
    """
    stack_names = naming.consumer_stack(link, "*").name
    name = (partition or partition_of("us-east-1")).name
    return Group(
        "SsmProbeTestInstances",
        f"`privlink test --via ssm`: only on the test instances CloudFormation made in this link's "
        f"consumer stacks ({stack_names}); an instance you name with `--instance` needs an "
        "ssm:SendCommand grant of yours",
        ("ssm:SendCommand",),
        (f"arn:{name}:ec2:*:*:instance/*",),
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

STACK_SET_ADMINISTRATION_ROLE = "AWSCloudFormationStackSetAdministrationRole"


def fleet_groups(spec: Spec, partition: Partition) -> list[Group]:
    """consumers_from: the StackSet calls; a self-managed set (an account list) passes the
    administration role, a delegated administrator's calls ask Organizations who it is."""
    fleet = spec.consumers_from
    assert fleet is not None
    p = partition.name
    groups = [
        Group(
            "ConsumerFleet",
            "consumers_from: the consumer stack deployed as a StackSet across accounts",
            (
                "cloudformation:UpdateStackSet",
                "cloudformation:DeleteStackSet",
                "cloudformation:DescribeStackSet",
                "cloudformation:CreateStackInstances",
                "cloudformation:DeleteStackInstances",
                "cloudformation:ListStackInstances",
                "cloudformation:DescribeStackSetOperation",
            ),
            (
                f"arn:{p}:cloudformation:*:*:stackset/privlink-*:*",
                f"arn:{p}:cloudformation:*:*:stackset-target/*",
            ),
        ),
        Group(
            "ConsumerFleetCreate",
            "consumers_from: CreateStackSet takes no resource ARN (IAM service authorization reference), "
            f"so it is granted for sets tagged {naming.TAG_LINK}={spec.name} on creation "
            "(fleet.deploy_calls tags them)",
            ("cloudformation:CreateStackSet",),
            ("*",),
            {"StringEquals": {f"aws:RequestTag/{naming.TAG_LINK}": spec.name}},
        ),
    ]
    if fleet.organization_unit is None:
        groups.append(
            Group(
                "ConsumerFleetAdministrationRole",
                "a self-managed StackSet (consumers_from.accounts) runs as the administration role "
                f"{STACK_SET_ADMINISTRATION_ROLE}, which CreateStackSet and UpdateStackSet pass",
                ("iam:PassRole",),
                (f"arn:{p}:iam::*:role/{STACK_SET_ADMINISTRATION_ROLE}",),
            )
        )
    if fleet.delegated_admin:
        groups.append(
            Group(
                "ConsumerFleetDelegatedAdmin",
                "CallAs DELEGATED_ADMIN: CloudFormation checks with Organizations that the account is a "
                "delegated administrator (ListDelegatedAdministrators takes no resource ARN)",
                ("organizations:ListDelegatedAdministrators",),
            )
        )
    return groups


def groups_for(spec: Spec, side: str) -> list[Group]:
    """The statements one side needs for this spec, in a stable order: privlink's stacks, what
    CloudFormation's handlers need for the side's templates (derived), then privlink's own calls."""
    if side not in SIDES:
        raise BadInput("--side", f"unknown side {side!r}", "use producer, consumer or all")
    partition = side_partition(spec, side)
    link = spec.name
    groups = [cloudformation(partition), CLOUDFORMATION_READ, IDENTITY]
    groups += handler_groups(spec, side, partition)
    groups.append(OBSERVE)
    if side == "producer":
        groups += [OBSERVE_PRODUCER, endpoint_service_steps(link)]
        groups.append(
            service_linked_role(
                partition,
                "LoadBalancerServiceLinkedRole",
                "elasticloadbalancing.amazonaws.com",
                "the first load balancer in an account creates Elastic Load Balancing's service-linked role",
            )
        )
        if spec.producer.service.app == "demo":
            groups.append(
                ami_parameter(
                    partition,
                    "DemoAppImage",
                    "privlink resolves the demo app's public AMI parameter once (and records it)",
                )
            )
        elif any(t.instance for t in spec.producer.service.targets):
            groups.append(TARGETS_READ)
        if spec.producer.endpoint_service.private_dns_name:
            groups.append(PRIVATE_DNS_VERIFICATION)
        if spec.producer.endpoint_service.auto_approval.registry:
            groups.append(consumer_registry(partition))
        if spec.consumers_from is not None:
            groups += fleet_groups(spec, partition)
        return groups
    if any(c.private_dns for c in spec.consumers):
        groups.append(PRIVATE_ZONE_READ)
    if any(c.vpn for c in spec.consumers):
        groups += [CERTIFICATES, certificates_delete(link), CLIENT_VPN, client_vpn_delete(link)]
        groups.append(
            service_linked_role(
                partition,
                "ClientVpnServiceLinkedRole",
                "clientvpn.amazonaws.com",
                "the first Client VPN endpoint in an account creates Client VPN's service-linked role "
                "AWSServiceRoleForClientVPN",
            )
        )
    tested = [c.test_instance for c in spec.consumers if c.test_instance.enabled]
    if any(c.private_dns_enabled for c in spec.consumers) or any(t.ssm_endpoints for t in tested):
        groups.append(ENDPOINT_PRIVATE_DNS)
    if tested:
        groups.append(
            ami_parameter(
                partition,
                "TestInstanceImage",
                "privlink resolves the test instance's public AMI parameter once (and records it)",
            )
        )
        groups += [ssm_probe_document(partition), ssm_probe_instances(link, partition), SSM_PROBE_READ]
    return groups


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
