from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from privlink.errors import BadInput
from privlink.targets.local.engine import ids
from privlink.targets.local.engine.intrinsics import (
    NO_VALUE,
    Context,
    TemplateError,
    creation_order,
    evaluate_conditions,
    resolve,
    resolve_parameters,
)


def ctx(**kw) -> Context:
    base = dict(
        region="eu-central-1", account_id="222222222222", stack_name="s", stack_id="sid", azs=ids.az_names
    )
    base.update(kw)
    return Context(**base)


def test_id_formats_and_determinism():
    a, b = ids.IdFactory("seed"), ids.IdFactory("seed")
    assert a.resource_id("vpce-svc") == b.resource_id("vpce-svc")
    svc = a.resource_id("vpce-svc")
    assert ids.RE_HEX17_ID.match(svc) and ids.RE_HEX17_ID.match(a.resource_id("vpce"))
    assert ids.RE_SERVICE_NAME.match(ids.service_name("eu-central-1", svc))
    ep = a.resource_id("vpce")
    for name in ids.endpoint_dns_names(ep, a.endpoint_dns_label(), svc, "us-east-1", ["us-east-1a"]):
        assert ids.RE_ENDPOINT_DNS.match(name), name
    suffix = a.hex(16)
    assert ids.RE_NLB_ARN.match(ids.nlb_arn("eu-west-2", "222222222222", "hello-nlb", suffix))
    assert ids.RE_NLB_DNS.match(ids.nlb_dns_name("eu-west-2", "hello-nlb", suffix))


def test_accounts_and_az_ids():
    assert ids.account_id("prod") == ids.account_id("prod")
    assert ids.account_id("prod") != ids.account_id("dev")
    assert len(ids.account_id("x")) == 12
    assert ids.az_id_prefix("eu-central-1") == "euc1"
    assert ids.az_id_prefix("us-east-1") == "use1"
    assert ids.az_id_prefix("ap-northeast-1") == "apne1"
    assert len(ids.az_names("us-east-1")) == 6
    mappings = {
        tuple(ids.az_mapping(ids.account_id(label), "eu-central-1").values())
        for label in ("prod", "dev", "a", "b", "c", "d")
    }
    assert len(mappings) > 1


def test_ref_getatt_sub_join_select_split():
    c = ctx(
        parameters={"P": "x", "L": ["a", "b"]},
        refs={"Vpc": "vpc-1"},
        attributes={"Vpc": {"CidrBlock": "10.0.0.0/16"}},
    )
    assert resolve({"Ref": "AWS::Region"}, c) == "eu-central-1"
    assert resolve({"Fn::GetAtt": ["Vpc", "CidrBlock"]}, c) == "10.0.0.0/16"
    assert resolve({"Fn::GetAtt": "Vpc.CidrBlock"}, c) == "10.0.0.0/16"
    assert resolve({"Fn::Sub": "${Vpc}-${P}-${Vpc.CidrBlock}-${!Lit}-${AWS::AccountId}"}, c) == (
        "vpc-1-x-10.0.0.0/16-${Lit}-222222222222"
    )
    assert resolve({"Fn::Sub": ["${A}:${P}", {"A": {"Ref": "Vpc"}}]}, c) == "vpc-1:x"
    assert resolve({"Fn::Join": [",", {"Ref": "L"}]}, c) == "a,b"
    assert resolve({"Fn::Select": [1, {"Fn::Split": [",", "q,r"]}]}, c) == "r"
    assert resolve({"Fn::GetAZs": ""}, c) == ["eu-central-1a", "eu-central-1b", "eu-central-1c"]
    assert resolve({"Fn::Cidr": ["10.0.0.0/16", 2, 8]}, c) == ["10.0.0.0/24", "10.0.1.0/24"]
    assert resolve({"K": {"Ref": "AWS::NoValue"}, "L": [1, {"Ref": "AWS::NoValue"}]}, c) == {"L": [1]}
    assert resolve({"Ref": "AWS::NoValue"}, c) is NO_VALUE
    with pytest.raises(TemplateError, match="Fn::ImportValue"):
        resolve({"Fn::ImportValue": "x"}, c)
    with pytest.raises(TemplateError, match="out of range"):
        resolve({"Fn::Select": [5, ["a"]]}, c)
    with pytest.raises(TemplateError, match="unknown"):
        resolve({"Ref": "Nope"}, c)


@given(st.lists(st.text(alphabet="abc-", min_size=1), min_size=1, max_size=5))
def test_join_split_roundtrip(items):
    c = ctx()
    joined = resolve({"Fn::Join": [",", items]}, c)
    assert resolve({"Fn::Split": [",", joined]}, c) == items


def test_conditions_and_if():
    template = {
        "Conditions": {
            "IsEu": {"Fn::Equals": [{"Ref": "AWS::Region"}, "eu-central-1"]},
            "NotEu": {"Fn::Not": [{"Condition": "IsEu"}]},
            "Both": {"Fn::And": [{"Condition": "IsEu"}, {"Fn::Or": [{"Condition": "NotEu"}, True]}]},
        }
    }
    c = ctx()
    assert evaluate_conditions(template, c) == {"IsEu": True, "NotEu": False, "Both": True}
    assert resolve({"Fn::If": ["NotEu", "a", {"Ref": "AWS::NoValue"}]}, c) is NO_VALUE
    with pytest.raises(TemplateError, match="itself"):
        evaluate_conditions({"Conditions": {"A": {"Condition": "B"}, "B": {"Condition": "A"}}}, ctx())


def test_parameters():
    template = {
        "Parameters": {
            "Name": {"Type": "String", "AllowedPattern": "[a-z]+"},
            "Port": {"Type": "Number", "Default": "8080", "MaxValue": 65535},
            "Azs": {"Type": "CommaDelimitedList", "Default": "a, b"},
            "Ami": {"Type": "AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>", "Default": "/aws/x"},
        }
    }
    values = resolve_parameters(template, {"Name": "abc"}, {"/aws/x": "ami-0123"}.__getitem__)
    assert values == {"Name": "abc", "Port": "8080", "Azs": ["a", "b"], "Ami": "ami-0123"}
    with pytest.raises(BadInput, match="pattern"):
        resolve_parameters(template, {"Name": "ABC"}, {"/aws/x": "ami-1"}.__getitem__)
    with pytest.raises(BadInput, match="no value"):
        resolve_parameters(template, {}, {"/aws/x": "ami-1"}.__getitem__)
    with pytest.raises(BadInput, match="ParameterNotFound"):
        resolve_parameters(template, {"Name": "a"}, {}.__getitem__)


def test_creation_order_and_cycles():
    resources = {
        "B": {"Properties": {"X": {"Fn::GetAtt": ["A", "Y"]}}},
        "C": {"DependsOn": "B", "Properties": {}},
        "A": {"Properties": {"S": {"Fn::Sub": "${!B}"}}},
    }
    assert creation_order(resources) == ["A", "B", "C"]
    with pytest.raises(TemplateError, match="circular"):
        creation_order({"A": {"Properties": {"R": {"Ref": "B"}}}, "B": {"Properties": {"R": {"Ref": "A"}}}})
