"""targets-unhealthy: every target of the NLB's target groups is registered and healthy."""

from __future__ import annotations

from privlink.doctor.check import Check, FindingKind
from privlink.doctor.checks.listener_target_port_mismatch import sends_to_wrong_port
from privlink.doctor.findings import Finding
from privlink.observe.model import Observation

FIX_NO_TARGETS = "set producer.service.app: demo or producer.service.targets, then `privlink up`"
FIX_UNHEALTHY = (
    "make the targets answer TCP on port {port} (the health check port {health_check_port}) and allow "
    "the NLB subnets in their security group; check producer.service.targets / target_port"
)

TARGETS_UNHEALTHY = FindingKind(
    "targets-unhealthy",
    ("error", "warning"),
    "A target group of the NLB has no registered targets, or some of its targets are not healthy.",
    "The Network Load Balancer behind the endpoint service sends a connection only to healthy targets "
    "(when none is healthy it fails open and tries them all). A target is unhealthy when it does not "
    "accept TCP on the health check port, often because its security group does not admit the NLB's "
    "subnets. An error when no target of the group is healthy (or none is registered), a warning when "
    "only some are. It defers to listener-target-port-mismatch when the group uses the wrong port, "
    "and to az-without-healthy-targets when whole AZs are down with cross-zone load balancing off.",
    "aws elbv2 describe-target-health --target-group-arn <target group arn>",
    (FIX_NO_TARGETS, FIX_UNHEALTHY),
)


def targets_unhealthy(obs: Observation) -> list[Finding]:
    balancer = obs.producer.load_balancer
    if balancer is None:
        return []
    found = []
    for group in balancer.target_groups:
        if not group.targets:
            found.append(
                TARGETS_UNHEALTHY.finding(
                    "error", group.arn, f"target group {group.arn} has no registered targets", FIX_NO_TARGETS
                )
            )
            continue
        bad = [t for t in group.targets if t.state != "healthy"]
        if not bad or sends_to_wrong_port(group, obs.expected.target_port):
            continue  # nothing wrong, or listener-target-port-mismatch names the root cause
        if len(bad) < len(group.targets) and not balancer.cross_zone:
            healthy_zones = {t.az_id or t.az for t in group.targets if t.state == "healthy"}
            if all((t.az_id or t.az) not in healthy_zones for t in bad):
                continue  # whole AZs down with cross-zone off: az-without-healthy-targets says so
        listed = "; ".join(
            f"{t.id}:{t.port} in {t.az or '?'} is {t.state or '?'}"
            + (f" ({t.reason}: {t.description})" if t.reason else "")
            for t in bad
        )
        found.append(
            TARGETS_UNHEALTHY.finding(
                "error" if len(bad) == len(group.targets) else "warning",
                ",".join(t.id for t in bad),
                f"{len(bad)} of {len(group.targets)} targets of {group.arn} are not healthy: {listed}",
                FIX_UNHEALTHY.format(port=group.port, health_check_port=group.health_check.port),
            )
        )
    return found


CHECKS = (
    Check(
        "targets-unhealthy",
        targets_unhealthy,
        (TARGETS_UNHEALTHY,),
        ("producer.target_groups", "producer.target_health"),
    ),
)
