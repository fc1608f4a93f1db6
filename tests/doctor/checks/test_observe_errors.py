"""observe-errors: each failed describe call is one describe-failed warning saying what to do."""

from __future__ import annotations

import pytest

from privlink.doctor.findings import Finding

DENIED = {
    "side": "consumer:dev",
    "call": "route53.list_hosted_zones_by_vpc",
    "code": "AccessDenied",
    "message": "User is not authorized to perform route53:ListHostedZonesByVPC",
    "action": "route53:ListHostedZonesByVPC",
    "account": "dev",
    "parts": ["consumer:dev.zones"],
}


def test_healthy(run_check):
    assert run_check("observe-errors") == []


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        pytest.param(
            DENIED,
            Finding(
                "describe-failed",
                "warning",
                "consumer:dev",
                "route53.list_hosted_zones_by_vpc failed: AccessDenied User is not authorized to perform "
                "route53:ListHostedZonesByVPC; not judged: consumer:dev.zones",
                "grant IAM permission route53:ListHostedZonesByVPC to the credentials of account dev "
                "(accounts.dev in the spec), then run `privlink doctor` again",
            ),
            id="denied",
        ),
        pytest.param(
            {
                "side": "producer",
                "call": "elbv2.describe_target_health",
                "code": "Throttling",
                "message": "Rate exceeded",
                "action": "elasticloadbalancing:DescribeTargetHealth",
                "account": "prod",
            },
            Finding(
                "describe-failed",
                "warning",
                "producer",
                "elbv2.describe_target_health failed: Throttling Rate exceeded",
                "AWS throttled the call; run `privlink doctor` again",
            ),
            id="throttled",
        ),
        pytest.param(
            {
                "side": "producer",
                "call": "ec2.describe_vpcs",
                "code": "ExpiredToken",
                "action": "ec2:DescribeVpcs",
            },
            Finding(
                "describe-failed",
                "warning",
                "producer",
                "ec2.describe_vpcs failed: ExpiredToken",
                "check the credentials of this account and that they may call ec2:DescribeVpcs",
            ),
            id="other-code-no-account",
        ),
        pytest.param(
            {"side": "producer", "call": "dataplane", "code": "NotRunning", "message": "run `privlink up`"},
            Finding(
                "describe-failed",
                "warning",
                "producer",
                "dataplane failed: NotRunning run `privlink up`",
                "check the credentials of this account (accounts: in the spec) and the IAM permissions for "
                "dataplane; findings that need it are incomplete",
            ),
            id="not-an-aws-call",
        ),
    ],
)
def test_failed_call(run_check, error, expected):
    assert run_check("observe-errors", {"errors/-": error}) == [expected]
