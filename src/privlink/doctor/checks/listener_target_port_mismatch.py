"""listener-target-port-mismatch: the NLB listens on the service port and forwards to the port the
targets listen on."""

from __future__ import annotations

from privlink.doctor.check import Check, FindingKind
from privlink.doctor.findings import Finding
from privlink.observe.model import Observation, TargetGroup

FIX_LISTENER = (
    "run `privlink up` if producer.service.port changed since the last one; a listener changed outside "
    "CloudFormation it does not undo: `aws elbv2 modify-listener --listener-arn {listener_arn} --port "
    "{port}`"
)
FIX_TARGET_PORT = "set producer.service.target_port to the port the targets listen on, then `privlink up`"

LISTENER_TARGET_PORT_MISMATCH = FindingKind(
    "listener-target-port-mismatch",
    ("error",),
    "The NLB does not listen on the service port, or forwards to a port the targets do not listen on.",
    "Clients connect through the interface endpoint to the Network Load Balancer's listener port "
    "(`producer.service.port`); the listener forwards to its target group, whose port (or a target's "
    "own registered port) must be the one the service listens on (`producer.service.target_port`). "
    "With no listener on the service port connections are refused; with the wrong target port every "
    "target fails its health checks, which is why targets-unhealthy defers to this finding.",
    "aws elbv2 describe-listeners --load-balancer-arn <load balancer arn> "
    "--query 'Listeners[].[Port,DefaultActions[0].TargetGroupArn]'\n"
    "aws elbv2 describe-target-health --target-group-arn <target group arn> "
    "--query 'TargetHealthDescriptions[].Target'",
    (FIX_LISTENER, FIX_TARGET_PORT),
)


def sends_to_wrong_port(group: TargetGroup, target_port: int) -> bool:
    """The target group (or a registration) uses a port the service does not listen on (a port that
    could not be read is not judged)."""
    wrong = [t for t in group.targets if t.port is not None and t.port != target_port]
    return (group.port is not None and group.port != target_port) or bool(wrong)


def listener_target_port_mismatch(obs: Observation) -> list[Finding]:
    balancer = obs.producer.load_balancer
    if balancer is None:
        return []
    found = []
    want, target_port = obs.expected.service_port, obs.expected.target_port
    if balancer.listeners and not any(listener.port == want for listener in balancer.listeners):
        ports = ", ".join(str(listener.port) for listener in balancer.listeners)
        found.append(
            LISTENER_TARGET_PORT_MISMATCH.finding(
                "error",
                balancer.arn,
                f"{balancer.arn} listens on {ports}, but clients call port {want} (producer.service.port)",
                FIX_LISTENER.format(listener_arn=balancer.listeners[0].arn or "<listener arn>", port=want),
            )
        )
    groups = {group.arn: group for group in balancer.target_groups}
    for listener in balancer.listeners:
        for arn in listener.target_group_arns:
            group = groups.get(arn)
            if group is None or not sends_to_wrong_port(group, target_port):
                continue
            wrong = [t for t in group.targets if t.port is not None and t.port != target_port]
            ports = {str(group.port)} if group.port is not None else set()
            seen = ", ".join(sorted(ports | {f"{t.id}:{t.port}" for t in wrong}))
            found.append(
                LISTENER_TARGET_PORT_MISMATCH.finding(
                    "error",
                    arn,
                    f"listener {listener.port} forwards to {arn} on {seen}; the service listens on "
                    f"{target_port} (producer.service.target_port or port)",
                    FIX_TARGET_PORT,
                )
            )
    return found


CHECKS = (
    Check(
        "listener-target-port-mismatch",
        listener_target_port_mismatch,
        (LISTENER_TARGET_PORT_MISMATCH,),
        ("producer.listeners",),
    ),
)
