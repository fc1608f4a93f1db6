"""The health states and reason codes of an NLB's targets, as ELBv2's DescribeTargetHealth reports
them, and the EC2 instance states that take an instance target out of use.

The table is botocore's elbv2 model: `TargetHealthStateEnum`, `TargetHealthReasonEnum`, and the
documentation of `TargetHealth.Reason`, which says with which state each reason comes and what it
means (`tests/observe/test_target_health.py` compares them). The AWS observer passes AWS's own
answers through; the sandbox's observer reports its targets with these codes; the doctor reads them.
"""

from __future__ import annotations

from dataclasses import dataclass

INITIAL = "initial"
HEALTHY = "healthy"
UNHEALTHY = "unhealthy"
UNHEALTHY_DRAINING = "unhealthy.draining"
UNUSED = "unused"
DRAINING = "draining"
UNAVAILABLE = "unavailable"
STATES = (INITIAL, HEALTHY, UNHEALTHY, UNHEALTHY_DRAINING, UNUSED, DRAINING, UNAVAILABLE)


@dataclass(frozen=True)
class Reason:
    code: str
    state: str  # the state it comes with (Elb.InternalError comes with two)
    description: str


REASONS = (
    Reason(
        "Elb.RegistrationInProgress",
        INITIAL,
        "The target is in the process of being registered with the load balancer.",
    ),
    Reason(
        "Elb.InitialHealthChecking",
        INITIAL,
        "The load balancer is still sending the target the minimum number of health checks required "
        "to determine its health status.",
    ),
    Reason(
        "Target.ResponseCodeMismatch", UNHEALTHY, "The health checks did not return an expected HTTP code."
    ),
    Reason("Target.Timeout", UNHEALTHY, "The health check requests timed out."),
    Reason(
        "Target.FailedHealthChecks",
        UNHEALTHY,
        "The load balancer received an error while establishing a connection to the target or the "
        "target response was malformed.",
    ),
    Reason("Elb.InternalError", UNHEALTHY, "The health checks failed due to an internal error."),
    Reason("Target.NotRegistered", UNUSED, "The target is not registered with the target group."),
    Reason(
        "Target.NotInUse",
        UNUSED,
        "The target group is not used by any load balancer or the target is in an Availability Zone "
        "that is not enabled for its load balancer.",
    ),
    Reason("Target.InvalidState", UNUSED, "The target is in the stopped or terminated state."),
    Reason("Target.IpUnusable", UNUSED, "The target IP address is reserved for use by a load balancer."),
    Reason(
        "Target.DeregistrationInProgress",
        DRAINING,
        "The target is in the process of being deregistered and the deregistration delay period has "
        "not expired.",
    ),
    Reason("Target.HealthCheckDisabled", UNAVAILABLE, "Health checks are disabled for the target group."),
    Reason("Elb.InternalError", UNAVAILABLE, "Target health is unavailable due to an internal error."),
)

# The reasons of targets that are still being checked: neither healthy nor failed yet.
CHECKING = frozenset({"Elb.RegistrationInProgress", "Elb.InitialHealthChecking"})

# EC2 instance states (botocore ec2 `InstanceStateName`) in which a registered instance takes no
# traffic: the NLB reports it `unused`, `Target.InvalidState`.
INSTANCE_RUNNING = "running"


def reason(code: str, state: str) -> Reason:
    """The reason `code` as it comes with `state`."""
    return next(r for r in REASONS if r.code == code and r.state == state)


def health(state: str, code: str | None = None) -> tuple[str, str | None, str | None]:
    """(state, reason, description) of a target, the description botocore's for the reason."""
    if code is None:
        return state, None, None
    return state, code, reason(code, state).description
