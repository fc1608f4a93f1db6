"""nlb-idle-timeout: the TCP idle timeout of each NLB listener, for the record."""

from __future__ import annotations

from privlink.doctor.check import Check, FindingKind
from privlink.doctor.findings import Finding
from privlink.observe.model import NLB_DEFAULT_IDLE_TIMEOUT, Observation

FIX = (
    "send TCP or application keepalives more often than every {seconds} s, or set "
    "producer.service.idle_timeout (not with cross-region consumers)"
)

NLB_IDLE_TIMEOUT = FindingKind(
    "nlb-idle-timeout",
    ("info",),
    "The TCP idle timeout of an NLB listener (information, not a problem).",
    "A Network Load Balancer drops a TCP flow that carried no data for the listener's idle timeout "
    f"({NLB_DEFAULT_IDLE_TIMEOUT} s unless the listener sets `tcp.idle_timeout.seconds`), and "
    "PrivateLink with it, without telling either side: the next write on a long-idle connection "
    "fails or hangs. Clients and services that keep connections open (pools, databases, streams) "
    "need keepalives more often than that.",
    "aws elbv2 describe-listener-attributes --listener-arn <listener arn> "
    "--query \"Attributes[?Key=='tcp.idle_timeout.seconds']\"",
    (FIX,),
)


def nlb_idle_timeout(obs: Observation) -> list[Finding]:
    balancer = obs.producer.load_balancer
    if balancer is None:
        return []
    found = []
    for listener in balancer.listeners:
        seconds = listener.idle_timeout or NLB_DEFAULT_IDLE_TIMEOUT
        source = "set on the listener" if listener.idle_timeout else "the NLB default"
        found.append(
            NLB_IDLE_TIMEOUT.finding(
                "info",
                listener.arn or balancer.arn,
                f"TCP idle timeout of listener {listener.port} is {seconds} s ({source}); idle connections "
                "through the endpoint are dropped silently after it",
                FIX.format(seconds=seconds),
            )
        )
    return found


CHECKS = (Check("nlb-idle-timeout", nlb_idle_timeout, (NLB_IDLE_TIMEOUT,), ("producer.listeners",)),)
