"""Which of the NLB's targets take traffic, are still being checked, or are stopped: what
targets-unhealthy and az-without-healthy-targets both judge by."""

from __future__ import annotations

from privlink.observe import target_health as th
from privlink.observe.model import TargetHealth


def stopped(target: TargetHealth) -> bool:
    """An instance target that is not running (its state read from EC2, or AWS's reason says so)."""
    if target.instance_state is not None and target.instance_state != th.INSTANCE_RUNNING:
        return True
    return target.reason == "Target.InvalidState"


def in_service(target: TargetHealth) -> bool:
    """Healthy, and (when its instance was read) running: a stopped instance serves nothing, even
    while its health still says healthy."""
    return target.state == th.HEALTHY and not stopped(target)


def checking(target: TargetHealth) -> bool:
    """In its initial health checks: neither healthy nor failed yet."""
    return target.state == th.INITIAL and not stopped(target)


def zone(target: TargetHealth) -> str | None:
    return target.az_id or target.az
