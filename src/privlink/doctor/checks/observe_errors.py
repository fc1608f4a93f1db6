"""observe-errors: every describe call that failed while observing is a `describe-failed` warning."""

from __future__ import annotations

from privlink.aws_error_codes import ACCESS_DENIED, THROTTLED
from privlink.doctor.check import Check, FindingKind
from privlink.doctor.findings import Finding
from privlink.observe.model import Observation, ObserveError

FIX_NOT_AN_AWS_CALL = (
    "check the credentials of this account (accounts: in the spec) and the IAM permissions for {call}; "
    "findings that need it are incomplete"
)
FIX_DENIED = "grant IAM permission {action} to the credentials of {account}, then run `privlink doctor` again"
FIX_THROTTLED = "AWS throttled the call; run `privlink doctor` again"
FIX_OTHER = "check the credentials of {account} and that they may call {action}"

DESCRIBE_FAILED = FindingKind(
    "describe-failed",
    ("warning",),
    "A call that reads the deployment failed, so part of it could not be judged.",
    "`privlink doctor` reads everything with describe and list calls before it judges anything. When "
    "AWS denies or throttles one of them (or the sandbox's data plane cannot be read), the parts of "
    "the deployment that call reads are unknown, and the checks that need them are skipped (see "
    "check-skipped) instead of reporting resources as missing. The evidence names the call, AWS's "
    "error code and message, and the parts it left unknown; the fix names the IAM action of the call "
    "and the account (its label in the spec) whose credentials made it.",
    "aws sts get-caller-identity --profile <profile of that account>\n"
    "aws iam simulate-principal-policy --policy-source-arn <role or user ARN> --action-names <action>",
    (FIX_DENIED, FIX_THROTTLED, FIX_OTHER, FIX_NOT_AN_AWS_CALL),
)


def describe_fix(error: ObserveError) -> str:
    """What to do about a failed call: the IAM action to grant when AWS denied it."""
    if not error.action:  # not an AWS call (the sandbox's data plane)
        return FIX_NOT_AN_AWS_CALL.format(call=error.call)
    if error.account:
        account = f"account {error.account} (accounts.{error.account} in the spec)"
    else:
        account = "this account"
    if error.code in ACCESS_DENIED:
        return FIX_DENIED.format(action=error.action, account=account)
    if error.code in THROTTLED:
        return FIX_THROTTLED
    return FIX_OTHER.format(account=account, action=error.action)


def observe_errors(obs: Observation) -> list[Finding]:
    return [
        DESCRIBE_FAILED.finding(
            "warning",
            error.side,
            f"{error.call} failed: {error.code} {error.message}".strip()
            + (f"; not judged: {', '.join(error.parts)}" if error.parts else ""),
            describe_fix(error),
        )
        for error in obs.errors
    ]


CHECKS = (Check("observe-errors", observe_errors, (DESCRIBE_FAILED,)),)
