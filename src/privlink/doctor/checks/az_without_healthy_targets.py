"""az-without-healthy-targets: with cross-zone load balancing off, every AZ of the NLB has a healthy
target."""

from __future__ import annotations

from privlink.doctor.check import Check, FindingKind
from privlink.doctor.findings import Finding
from privlink.doctor.serving import checking, in_service
from privlink.observe.model import Observation

FIX = "set producer.service.cross_zone: true, or add a healthy target in that AZ, then `privlink up`"

AZ_WITHOUT_HEALTHY_TARGETS = FindingKind(
    "az-without-healthy-targets",
    ("error",),
    "An AZ of the NLB has no healthy target while cross-zone load balancing is off.",
    "Each AZ of a Network Load Balancer has its own node, and the interface endpoint sends a "
    "connection to the node in the AZ it entered. With cross-zone load balancing off (the NLB "
    "default) a node sends only to targets in its own AZ, so connections entering an AZ without a "
    "healthy target fail while other AZs work: clients see intermittent failures. A stopped instance "
    "is no healthy target, whatever its health says; an AZ whose targets are still in their initial "
    "health checks is not judged (targets-initial says so).",
    "aws elbv2 describe-load-balancer-attributes --load-balancer-arn <load balancer arn> "
    "--query \"Attributes[?Key=='load_balancing.cross_zone.enabled']\"\n"
    "aws elbv2 describe-target-health --target-group-arn <target group arn> "
    "--query 'TargetHealthDescriptions[].[Target.Id,Target.AvailabilityZone,TargetHealth.State]'",
    (FIX,),
)


def az_without_healthy_targets(obs: Observation) -> list[Finding]:
    balancer = obs.producer.load_balancer
    if balancer is None or balancer.cross_zone:
        return []
    found = []
    for group in balancer.target_groups:
        healthy_azs = {t.az for t in group.targets if in_service(t)}
        if not healthy_azs or "all" in healthy_azs:
            continue  # targets-unhealthy covers a group with nothing healthy
        checked_azs = {t.az for t in group.targets if checking(t)}  # targets-initial says so
        for az_name, az_id in zip(balancer.az_names, balancer.az_ids, strict=False):
            if az_name not in healthy_azs and az_name not in checked_azs:
                found.append(
                    AZ_WITHOUT_HEALTHY_TARGETS.finding(
                        "error",
                        f"{balancer.arn} {az_name}",
                        f"cross-zone load balancing is off on {balancer.arn} and {az_name} ({az_id or '?'}) "
                        f"has no healthy target in {group.arn}; connections entering that AZ fail",
                        FIX,
                    )
                )
    return found


CHECKS = (
    Check(
        "az-without-healthy-targets",
        az_without_healthy_targets,
        (AZ_WITHOUT_HEALTHY_TARGETS,),
        (
            "producer.load_balancer",
            "producer.target_groups",
            "producer.target_health",
            "producer.target_zones",
        ),
    ),
)
