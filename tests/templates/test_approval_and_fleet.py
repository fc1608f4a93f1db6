"""The producer template with auto-approval and with a `consumers_from` fleet (cfn-lint and tags over
these variants run in test_cfn_lint.py with every other variant)."""

from __future__ import annotations

from spec_variants import FLEET_ACCOUNTS, variants

from privlink.approval.registry import OUT_REGISTRY_TABLE, registry_table_name
from privlink.approval.template import (
    FUNCTION_ID,
    LOG_GROUP_ID,
    PERMISSION_ID,
    ROLE_ID,
    SUBSCRIPTION_ID,
    TABLE_ID,
)
from privlink.templates import naming
from privlink.templates.producer import ENDPOINT_SERVICE, PERMISSIONS, TOPIC
from privlink.templates.render import render_stacks

SPECS = variants()
APPROVAL_IDS = {TABLE_ID, LOG_GROUP_ID, ROLE_ID, FUNCTION_ID, PERMISSION_ID, SUBSCRIPTION_ID}


def producer(name: str) -> dict:
    stacks = render_stacks(SPECS[name])
    assert stacks[0].name.part == "producer"
    return stacks[0].template


def props(template: dict, logical_id: str) -> dict:
    return template["Resources"][logical_id]["Properties"]


def principals(template: dict) -> list:
    return props(template, PERMISSIONS)["AllowedPrincipals"]


def test_auto_approval_adds_the_function_wired_to_the_service_and_topic():
    t = producer("auto-approval")
    assert set(t["Resources"]) >= APPROVAL_IDS
    function = props(t, FUNCTION_ID)
    assert function["Environment"]["Variables"]["SERVICE_ID"] == {"Ref": ENDPOINT_SERVICE}
    assert function["Environment"]["Variables"]["REGISTRY_TABLE"] == {"Ref": TABLE_ID}
    assert props(t, SUBSCRIPTION_ID)["TopicArn"] == {"Ref": TOPIC}
    assert props(t, SUBSCRIPTION_ID)["Endpoint"] == {"Fn::GetAtt": [FUNCTION_ID, "Arn"]}
    assert props(t, PERMISSION_ID)["SourceArn"] == {"Ref": TOPIC}
    assert props(t, TABLE_ID)["TableName"] == registry_table_name("hello")
    accept = props(t, ROLE_ID)["Policies"][0]["PolicyDocument"]["Statement"][0]
    assert accept["Action"] == "ec2:AcceptVpcEndpointConnections"
    assert accept["Resource"]["Fn::Sub"][1] == {"ServiceId": {"Ref": ENDPOINT_SERVICE}}
    assert t["Outputs"][OUT_REGISTRY_TABLE]["Value"] == {"Ref": TABLE_ID}
    # the fragment's resources are tagged like the rest of the producer stack
    for logical_id in (TABLE_ID, ROLE_ID, FUNCTION_ID, LOG_GROUP_ID):
        tags = {x["Key"]: x["Value"] for x in props(t, logical_id)["Tags"]}
        assert tags == {naming.TAG_LINK: "hello", naming.TAG_PART: "producer"}, logical_id
    # principals are unchanged by auto-approval: only the declared consumer
    assert principals(t) == [{"Fn::Sub": "arn:${AWS::Partition}:iam::${AccountIdDev}:root"}]


def test_without_auto_approval_there_is_no_function():
    assert not APPROVAL_IDS & set(producer("default")["Resources"])
    assert not APPROVAL_IDS & set(producer("fleet-accounts")["Resources"])
    assert OUT_REGISTRY_TABLE not in producer("default")["Outputs"]


def test_fleet_accounts_are_allowed_principals_and_its_regions_supported():
    t = producer("fleet-accounts")
    assert principals(t) == [
        {"Fn::Sub": "arn:${AWS::Partition}:iam::${AccountIdDev}:root"},
        *[f"arn:aws:iam::{a}:root" for a in FLEET_ACCOUNTS],
    ]
    assert props(t, ENDPOINT_SERVICE)["SupportedRegions"] == ["eu-central-1", "eu-west-1"]
    # the fleet is not a stack of render_stacks: it is deployed as StackSets by the aws target
    assert [s.name.part for s in render_stacks(SPECS["fleet-accounts"])] == [
        "producer",
        "network",
        "consumer",
        "vpn",
    ]


def test_fleet_ou_allows_any_principal_and_has_the_registry():
    t = producer("fleet-ou")
    assert principals(t)[-1] == "*"
    assert props(t, ENDPOINT_SERVICE)["AcceptanceRequired"] is True
    assert set(t["Resources"]) >= APPROVAL_IDS
    assert "SupportedRegions" not in props(t, ENDPOINT_SERVICE)
