from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
from troposphere import Output, Ref, Template
from troposphere.ec2 import VPCEndpointConnectionNotification, VPCEndpointService
from troposphere.sns import Topic, TopicPolicy

from privlink.approval import handler
from privlink.approval.template import (
    FUNCTION_ID,
    ROLE_ID,
    TABLE_ID,
    approval_resources,
    inline_handler_source,
    strip_docstrings,
)
from privlink.spec import parse_spec
from privlink.spec.demo import demo_spec_text


@pytest.fixture
def spec():
    text = demo_spec_text().replace(
        "auto_accept: true", "auto_accept: true\n    auto_approval: {registry: true}"
    )
    spec = parse_spec(text)
    assert spec.producer.endpoint_service.auto_approval.registry
    return spec


def minimal_producer(spec) -> dict:
    """A producer-like template: endpoint service, SNS topic + policy, notification, the fragment."""
    t = Template()
    service = t.add_resource(
        VPCEndpointService(
            "EndpointService",
            AcceptanceRequired=True,
            NetworkLoadBalancerArns=[
                "arn:aws:elasticloadbalancing:eu-central-1:111111111111:loadbalancer/net/x/0123456789abcdef"
            ],
        )
    )
    topic = t.add_resource(Topic("NotificationTopic"))
    t.add_resource(
        TopicPolicy(
            "NotificationTopicPolicy",
            Topics=[Ref(topic)],
            PolicyDocument={
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "vpce.amazonaws.com"},
                        "Action": "SNS:Publish",
                        "Resource": Ref(topic),
                    }
                ],
            },
        )
    )
    t.add_resource(
        VPCEndpointConnectionNotification(
            "ConnectionNotification",
            ServiceId=Ref(service),
            ConnectionEvents=["Connect", "Accept", "Reject", "Delete"],
            ConnectionNotificationArn=Ref(topic),
        )
    )
    t.add_output(Output("ServiceId", Value=Ref(service)))
    approval_resources(t, spec, Ref(service), Ref(topic))
    return t.to_dict()


def test_inline_source_fits_and_is_the_same_program():
    code = inline_handler_source()
    assert len(code) < len(Path(handler.__file__).read_text())  # narrower than the module
    original = strip_docstrings(ast.parse(Path(handler.__file__).read_text()))
    assert ast.dump(ast.parse(code)) == ast.dump(original)
    namespace: dict = {}
    exec(compile(code, "index.py", "exec"), namespace)  # noqa: S102 - our own module's code
    assert callable(namespace["lambda_handler"]) and callable(namespace["handle"])


def test_fragment_resources_and_least_privilege(spec):
    tpl = minimal_producer(spec)
    res = tpl["Resources"]
    table = res[TABLE_ID]["Properties"]
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["SSESpecification"] == {"SSEEnabled": True}
    assert table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert table["KeySchema"] == [{"AttributeName": "account_id", "KeyType": "HASH"}]
    fn = res[FUNCTION_ID]["Properties"]
    assert fn["Handler"] == "index.lambda_handler"
    assert fn["Environment"]["Variables"] == {
        "SERVICE_ID": {"Ref": "EndpointService"},
        "REGISTRY_TABLE": {"Ref": TABLE_ID},
    }
    statements = res[ROLE_ID]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    actions = {
        s["Action"] if isinstance(s["Action"], str) else tuple(s["Action"]): s["Resource"] for s in statements
    }
    assert "vpc-endpoint-service/${ServiceId}" in actions["ec2:AcceptVpcEndpointConnections"]["Fn::Sub"][0]
    assert actions["dynamodb:GetItem"] == {"Fn::GetAtt": [TABLE_ID, "Arn"]}
    assert not any("*" in str(a) for a in actions if a != "ec2:DescribeVpcEndpointConnections")
    sub = res["ApprovalSubscription"]["Properties"]
    assert sub == {
        "Protocol": "lambda",
        "Endpoint": {"Fn::GetAtt": [FUNCTION_ID, "Arn"]},
        "TopicArn": {"Ref": "NotificationTopic"},
    }
    perm = res["ApprovalInvokePermission"]["Properties"]
    assert perm["Principal"] == "sns.amazonaws.com" and perm["SourceArn"] == {"Ref": "NotificationTopic"}
    assert tpl["Outputs"]["ApprovalRegistryTableName"] == {"Value": {"Ref": TABLE_ID}}


def test_fragment_passes_cfn_lint_without_errors_or_warnings(spec, tmp_path):
    from cfnlint.api import lint_all

    text = json.dumps(minimal_producer(spec), default=str)
    matches = lint_all(text)
    # informational rules (I...) advise on style and come and go between releases; E and W judge
    assert [f"{m.rule.id} {m.message}" for m in matches if m.rule.id[0] in "EW"] == []
