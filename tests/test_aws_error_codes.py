"""The gateway's hints and the doctor's fixes treat the same AWS error codes as denied or throttled
(they once had two lists, and UnauthorizedAccess was denied for the doctor only)."""

from __future__ import annotations

import pytest

from privlink.doctor.checks.observe_errors import describe_fix
from privlink.observe.model import ObserveError
from privlink.targets.aws.gateway import hint_for

DENIED = [
    "AccessDenied",
    "AccessDeniedException",
    "UnauthorizedOperation",
    "UnauthorizedAccess",
    "AuthorizationError",
]
THROTTLED = ["Throttling", "ThrottlingException", "RequestLimitExceeded", "TooManyRequestsException"]


def doctor_fix(code: str) -> str:
    error = ObserveError(side="producer", call="ec2.describe_vpcs", code=code, action="ec2:DescribeVpcs")
    return describe_fix(error)


@pytest.mark.parametrize("code", DENIED)
def test_denied_codes_ask_for_the_grant_in_gateway_and_doctor(code):
    assert hint_for(code, "", "ec2", "DescribeVpcs", "dev") == (
        "grant ec2:DescribeVpcs to the identity used for account dev (accounts.dev)"
    )
    assert doctor_fix(code) == (
        "grant IAM permission ec2:DescribeVpcs to the credentials of this account, then run `privlink doctor` again"
    )


@pytest.mark.parametrize("code", THROTTLED)
def test_throttling_codes_ask_to_retry_in_gateway_and_doctor(code):
    assert hint_for(code, "", "ec2", "DescribeVpcs", "dev") == (
        "AWS is throttling requests; wait a minute and run the same command again"
    )
    assert doctor_fix(code) == "AWS throttled the call; run `privlink doctor` again"


def test_other_codes_are_neither():
    assert hint_for("ValidationError", "", "ec2", "DescribeVpcs", "dev") is None
    assert (
        doctor_fix("ValidationError")
        == "check the credentials of this account and that they may call ec2:DescribeVpcs"
    )
