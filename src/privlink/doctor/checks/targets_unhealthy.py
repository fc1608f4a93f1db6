"""targets-unhealthy: every target of the NLB's target groups is registered, running and healthy;
targets still in their initial health checks are said to be (targets-initial), not judged."""

from __future__ import annotations

from privlink.doctor.check import Check, FindingKind
from privlink.doctor.checks.listener_target_port_mismatch import sends_to_wrong_port
from privlink.doctor.findings import Finding
from privlink.doctor.serving import checking, in_service, stopped, zone
from privlink.observe import target_health as th
from privlink.observe.model import LoadBalancer, Observation, TargetGroup, TargetHealth

FIX_NO_TARGETS = "set producer.service.app: demo or producer.service.targets, then `privlink up`"
FIX_UNHEALTHY = (
    "make the targets answer TCP on port {port} (the health check port {health_check_port}) and allow "
    "the NLB subnets in their security group; check producer.service.targets / target_port"
)
FIX_ADDRESSES = (
    "make {addresses} accept TCP connections (producer.service.targets), then run `privlink doctor` again"
)
FIX_STOPPED = "start the instances: `aws ec2 start-instances --instance-ids {instance_ids}`"
FIX_WAIT = (
    "wait about {seconds} s, then run `privlink doctor` again (a target that fails its checks turns "
    "unhealthy, and targets-unhealthy says why)"
)
FIX_WAIT_UNTIMED = (
    "wait for the health checks, then run `privlink doctor` again (a target that fails its checks "
    "turns unhealthy, and targets-unhealthy says why)"
)

TARGETS_UNHEALTHY = FindingKind(
    "targets-unhealthy",
    ("error", "warning"),
    "A target group of the NLB has no registered targets, or some of its targets are stopped or not healthy.",
    "The Network Load Balancer behind the endpoint service sends a connection only to healthy targets "
    "(when none is healthy it fails open and tries them all). A target is unhealthy when it does not "
    "accept TCP on the health check port, often because its security group does not admit the NLB's "
    "subnets; a stopped instance is `unused` (`Target.InvalidState`) at once and gets nothing. The "
    "doctor reads each instance target's state too (DescribeInstances), so a stopped instance is "
    "reported even while its health has not caught up. An error when no target of the group is "
    "healthy or still being checked (or none is registered), a warning when some are. It defers to "
    "listener-target-port-mismatch when the group uses the wrong port, and to "
    "az-without-healthy-targets when whole AZs are down with cross-zone load balancing off.",
    "aws elbv2 describe-target-health --target-group-arn <target group arn>\n"
    "aws ec2 describe-instances --instance-ids <instance id> --query 'Reservations[].Instances[].State'",
    (FIX_NO_TARGETS, FIX_STOPPED, FIX_UNHEALTHY, FIX_ADDRESSES),
)

TARGETS_INITIAL = FindingKind(
    "targets-initial",
    ("info",),
    "Targets are still in their initial health checks.",
    "A target the Network Load Balancer has just registered (or an instance that has just started) "
    "is `initial` (`Elb.InitialHealthChecking`) until it has passed the health check's healthy "
    "threshold of checks, one interval apart, or failed its unhealthy threshold. Until then it is "
    "neither healthy nor failed, so the doctor does not judge it; the evidence gives the expected "
    "time, interval x healthy threshold. (The sandbox decides a new target on its first check.)",
    "aws elbv2 describe-target-health --target-group-arn <target group arn> "
    "--query 'TargetHealthDescriptions[].[Target.Id,TargetHealth.State,TargetHealth.Reason]'",
    (FIX_WAIT, FIX_WAIT_UNTIMED),
)


def described(target: TargetHealth) -> str:
    """`127.0.0.1:9000 in eu-central-1a is unhealthy (Target.FailedHealthChecks: ...)`."""
    text = f"{target.label} in {target.az or 'an unknown AZ'} is {target.state or 'of unknown health'}"
    if target.reason:
        text += f" ({target.reason}" + (f": {target.description}" if target.description else "") + ")"
    if target.instance_state and target.instance_state != th.INSTANCE_RUNNING:
        text += f", instance {target.id} is {target.instance_state}"
    return text


def down_zones(balancer: LoadBalancer, group: TargetGroup) -> set[str | None]:
    """With cross-zone off and some target in service: the zones with no target in service nor
    being checked, which az-without-healthy-targets reports."""
    if balancer.cross_zone or not any(in_service(t) for t in group.targets):
        return set()
    alive = {zone(t) for t in group.targets if in_service(t) or checking(t)}
    return {zone(t) for t in group.targets} - alive


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
        found.extend(judge_group(obs, balancer, group))
    return found


def judge_group(obs: Observation, balancer: LoadBalancer, group: TargetGroup) -> list[Finding]:
    found = []
    total = len(group.targets)
    waiting = [t for t in group.targets if checking(t)]
    bad = [t for t in group.targets if not in_service(t) and not checking(t)]
    deferred = sends_to_wrong_port(group, obs.expected.target_port) or (
        bad and all(zone(t) in down_zones(balancer, group) for t in bad)
    )
    if bad and not deferred:
        severity = "warning" if any(in_service(t) or checking(t) for t in group.targets) else "error"
        halted = [t for t in bad if stopped(t)]
        failing = [t for t in bad if not stopped(t)]
        if halted:
            found.append(
                TARGETS_UNHEALTHY.finding(
                    severity,
                    ",".join(t.id for t in halted),
                    f"{len(halted)} of {total} targets of {group.arn} are stopped instances: "
                    + "; ".join(described(t) for t in halted),
                    FIX_STOPPED.format(instance_ids=" ".join(t.id for t in halted)),
                )
            )
        if failing:
            if all(t.address for t in failing):
                fix = FIX_ADDRESSES.format(addresses=", ".join(str(t.address) for t in failing))
            else:
                fix = FIX_UNHEALTHY.format(
                    port=group.port if group.port is not None else obs.expected.target_port,
                    health_check_port=group.health_check.port,
                )
            found.append(
                TARGETS_UNHEALTHY.finding(
                    severity,
                    ",".join(t.address or t.id for t in failing),
                    f"{len(failing)} of {total} targets of {group.arn} are not healthy: "
                    + "; ".join(described(t) for t in failing),
                    fix,
                )
            )
    if waiting:
        check = group.health_check
        timed = check.interval is not None and check.healthy_threshold is not None
        expected = (
            f"; the NLB marks a target healthy after {check.healthy_threshold} passing checks "
            f"{check.interval} s apart, about {check.interval * check.healthy_threshold} s"  # type: ignore[operator]
            if timed
            else ""
        )
        found.append(
            TARGETS_INITIAL.finding(
                "info",
                ",".join(t.address or t.id for t in waiting),
                f"{len(waiting)} of {total} targets of {group.arn} are in their initial health checks: "
                + "; ".join(described(t) for t in waiting)
                + expected,
                FIX_WAIT.format(seconds=check.interval * check.healthy_threshold)  # type: ignore[operator]
                if timed
                else FIX_WAIT_UNTIMED,
            )
        )
    return found


CHECKS = (
    Check(
        "targets-unhealthy",
        targets_unhealthy,
        (TARGETS_UNHEALTHY, TARGETS_INITIAL),
        ("producer.target_groups", "producer.target_health"),
    ),
)
