from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from privlink.errors import AwsError, BadInput
from privlink.spec.models import Account
from privlink.targets.aws.gateway import ClientProxy, Gateway, aws_error


def recording_factory(calls):
    def factory(**kwargs):
        calls.append(dict(kwargs))
        kwargs.pop("profile_name", None)  # no profiles on a test machine; moto ignores them anyway
        return boto3.session.Session(**kwargs)

    return factory


def test_clients_are_cached_per_label_and_region_and_account_ids_come_from_sts():
    calls = []
    with mock_aws():
        gw = Gateway(
            {"prod": Account(profile="prod"), "dev": Account(profile="dev")}, recording_factory(calls)
        )
        a = gw.client("ec2", "prod", "eu-central-1")
        assert gw.client("ec2", "prod", "eu-central-1") is a
        assert gw.client("ec2", "prod", "eu-west-2") is not a
        assert gw.client("ec2", "dev", "eu-central-1") is not a
        assert gw.account_id("prod") == "123456789012"
    assert [c.get("profile_name") for c in calls] == ["prod", "dev"]


def test_role_accounts_assume_the_role_with_the_external_id():
    calls = []
    role = "arn:aws:iam::222222222222:role/privlink-deployer"
    with mock_aws():
        gw = Gateway({"dev": Account(role_arn=role, external_id="xyz")}, recording_factory(calls))
        assert gw.account_id("dev") == "222222222222"  # moto answers as the assumed role's account
        creds = calls[-1]["botocore_session"].get_credentials()
        assert creds.method == "sts-assume-role" and creds.get_frozen_credentials().token


def test_configured_account_id_skips_sts():
    gw = Gateway({"prod": Account(account_id="111111111111")}, lambda **kw: pytest.fail("no session needed"))
    assert gw.account_id("prod") == "111111111111"


def test_unknown_label_is_bad_input():
    gw = Gateway({"prod": Account(profile="prod")}, recording_factory([]))
    with pytest.raises(BadInput, match="accounts.dev"):
        gw.client("ec2", "dev", "eu-central-1")


def test_missing_profile_becomes_an_aws_error_with_a_hint():
    gw = Gateway({"prod": Account(profile="nope")}, lambda **kw: boto3.session.Session(**kw))
    with pytest.raises(AwsError) as info:
        gw.client("ec2", "prod", "eu-central-1")
    assert info.value.code == "ProfileNotFound" and "accounts.prod.profile" in info.value.hint


def client_error(code, message, op="CreateVpcEndpoint"):
    return ClientError({"Error": {"Code": code, "Message": message}}, op)


def test_client_errors_become_one_line_with_hints():
    denied = aws_error(
        client_error("UnauthorizedOperation", "You are not authorized to perform this operation."),
        "ec2",
        "CreateVpcEndpoint",
        "dev",
        "eu-west-2",
    )
    assert denied.one_line() == (
        "aws ec2:CreateVpcEndpoint (dev, eu-west-2): UnauthorizedOperation: "
        "You are not authorized to perform this operation."
    )
    assert "ec2:CreateVpcEndpoint" in denied.hint and "accounts.dev" in denied.hint
    multi = aws_error(
        client_error("AccessDenied", "not authorized to perform: vpce:AllowMultiRegion"),
        "ec2",
        "create_vpc_endpoint",
        "dev",
        "eu-west-2",
    )
    assert "vpce:AllowMultiRegion" in multi.hint
    expired = aws_error(
        client_error("ExpiredToken", "The security token included in the request is expired"),
        "sts",
        "get_caller_identity",
        "dev",
        "eu-west-2",
    )
    assert "refresh" in expired.hint and expired.code == "ExpiredToken"


def test_proxy_raises_aws_errors(stubbed):
    ec2, stub = stubbed("ec2")
    stub.add_client_error("describe_vpcs", "UnauthorizedOperation", "You are not authorized", 403)
    with pytest.raises(AwsError) as info:
        ec2.describe_vpcs()
    assert info.value.code == "UnauthorizedOperation" and "ec2:DescribeVpcs" in info.value.where
    assert isinstance(ec2, ClientProxy)


def test_denied_hint_names_the_iam_action_not_the_boto3_method(stubbed):
    """A grant the user can paste into a policy: IAM's service prefix and action name."""
    elbv2, stub = stubbed("elbv2")
    stub.add_client_error("describe_target_health", "AccessDenied", "User is not authorized", 403)
    with pytest.raises(AwsError) as info:
        elbv2.describe_target_health(
            TargetGroupArn="arn:aws:elasticloadbalancing:eu-west-2:111111111111:targetgroup/t/0123456789abcdef"
        )
    assert info.value.where.startswith("aws elasticloadbalancing:DescribeTargetHealth (")
    assert "grant elasticloadbalancing:DescribeTargetHealth to the identity" in info.value.hint
    ssm, stub = stubbed("ssm")
    stub.add_client_error("send_command", "AccessDeniedException", "not authorized", 400)
    with pytest.raises(AwsError) as info:
        ssm.send_command(DocumentName="AWS-RunShellScript", InstanceIds=["i-0123456789abcdef0"])
    assert "grant ssm:SendCommand to the identity" in info.value.hint
