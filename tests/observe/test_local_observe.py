"""The sandbox's observer reports each registered target as DescribeTargetHealth would: the EC2
state of its instance first, then the data plane's health checks, with botocore's reason codes."""

from __future__ import annotations

import pytest

from privlink.observe.local import sandbox_target_health

STOPPED = ("unused", "Target.InvalidState", "The target is in the stopped or terminated state.")


@pytest.mark.parametrize(
    ("instance_state", "running", "seen", "expected"),
    [
        (None, True, {"health": "healthy"}, ("healthy", None, None)),
        ("running", True, {"health": "healthy"}, ("healthy", None, None)),
        (
            None,
            True,
            {"health": "initial"},
            (
                "initial",
                "Elb.InitialHealthChecking",
                "The load balancer is still sending the target the minimum number of health checks "
                "required to determine its health status.",
            ),
        ),
        (
            "running",
            True,
            {"health": "unhealthy"},
            (
                "unhealthy",
                "Target.FailedHealthChecks",
                "The load balancer received an error while establishing a connection to the target or "
                "the target response was malformed.",
            ),
        ),
        (
            "running",
            True,
            {"health": "unused"},
            (
                "unused",
                "Target.NotInUse",
                "The target group is not used by any load balancer or the target is in an Availability "
                "Zone that is not enabled for its load balancer.",
            ),
        ),
        # stopped: unused at once, whatever the data plane still says
        ("stopped", True, {"health": "healthy"}, STOPPED),
        ("stopped", False, None, STOPPED),
        (
            None,
            False,
            None,
            ("unavailable", "Elb.InternalError", "Target health is unavailable due to an internal error."),
        ),
        (None, True, None, ("unhealthy", "Target.Timeout", "The health check requests timed out.")),
    ],
)
def test_target_health(instance_state, running, seen, expected):
    assert sandbox_target_health(instance_state, running, seen) == expected
