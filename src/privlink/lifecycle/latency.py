"""How long AWS takes: one table of figures, and a stack's expected time computed from its template.

`LATENCY` holds seconds per CloudFormation resource type, `STEP_LATENCY` per plan step that is not a
stack; each figure carries its source. A stack's expected time is the longest path through its
template's resource graph (Ref, GetAtt, Sub, DependsOn) weighted by the table, so the figures follow
the templates: chaining the Client VPN associations makes the VPN stack longer here too.

Pure: no boto3, sockets or files.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Figure:
    seconds: float
    source: str


ISSUE = "typical, from the issue's latency table (issue 12)"
GROUPED = "counted in the figure of the resource it is created with (issue 12's table groups them)"
UNTIMED = "not in the issue's table: CloudFormation creates it in seconds, counted as 0"

LATENCY: dict[str, Figure] = {
    # "VPC with subnets, route tables and security groups 30 s"
    "AWS::EC2::VPC": Figure(30, ISSUE),
    "AWS::EC2::Subnet": Figure(0, GROUPED + " (the VPC's 30 s)"),
    "AWS::EC2::RouteTable": Figure(0, GROUPED + " (the VPC's 30 s)"),
    "AWS::EC2::SubnetRouteTableAssociation": Figure(0, GROUPED + " (the VPC's 30 s)"),
    "AWS::EC2::SecurityGroup": Figure(0, GROUPED + " (the VPC's 30 s)"),
    "AWS::EC2::SecurityGroupIngress": Figure(0, GROUPED + " (the VPC's 30 s)"),
    "AWS::EC2::SecurityGroupEgress": Figure(0, GROUPED + " (the VPC's 30 s)"),
    # "NLB to active 180 s; target group + listener 10 s"
    "AWS::ElasticLoadBalancingV2::LoadBalancer": Figure(180, ISSUE),
    "AWS::ElasticLoadBalancingV2::TargetGroup": Figure(0, GROUPED + " (the listener's 10 s)"),
    "AWS::ElasticLoadBalancingV2::Listener": Figure(10, ISSUE + " (target group + listener)"),
    # "EC2 instance 60 s (in parallel with the NLB)"
    "AWS::EC2::Instance": Figure(60, ISSUE),
    "AWS::EC2::LaunchTemplate": Figure(0, GROUPED + " (the instance's 60 s)"),
    # "endpoint service + permissions + notification 20 s"
    "AWS::EC2::VPCEndpointService": Figure(20, ISSUE + " (service + permissions + notification)"),
    "AWS::EC2::VPCEndpointServicePermissions": Figure(0, GROUPED + " (the endpoint service's 20 s)"),
    "AWS::EC2::VPCEndpointConnectionNotification": Figure(0, GROUPED + " (the endpoint service's 20 s)"),
    # "interface endpoint to available 90 s"
    "AWS::EC2::VPCEndpoint": Figure(90, ISSUE),
    # "private hosted zone 45 s; record 10 s"
    "AWS::Route53::HostedZone": Figure(45, ISSUE),
    "AWS::Route53::RecordSet": Figure(10, ISSUE),
    # "Client VPN endpoint 60 s; each target-network association 300 s, one at a time per endpoint;
    # authorization rule 10 s" (one at a time: the template chains them, so the longest path adds them)
    "AWS::EC2::ClientVpnEndpoint": Figure(60, ISSUE),
    "AWS::EC2::ClientVpnTargetNetworkAssociation": Figure(300, ISSUE),
    "AWS::EC2::ClientVpnAuthorizationRule": Figure(10, ISSUE),
}
DEFAULT = Figure(0, UNTIMED)

# Plan steps that are not stacks (keys: `privlink.lifecycle.model.StepKind` values).
STEP_LATENCY: dict[str, Figure] = {
    "import-certificates": Figure(5, ISSUE + " (ACM import)"),
    "accept-connections": Figure(10, ISSUE + " (connection acceptance)"),
    "reject-connections": Figure(10, "as acceptance (issue 12's table has no figure for rejecting)"),
    "delete-certificates": Figure(5, "as the ACM import (issue 12's table has no figure for deleting)"),
    "verify-private-dns": Figure(
        0, "not estimated: immediate once verified; a new name waits for public DNS (minutes)"
    ),
}


def figure(resource_type: str) -> Figure:
    return LATENCY.get(resource_type, DEFAULT)


_SUB_NAME = re.compile(r"\$\{([A-Za-z0-9]+)(?:\.[A-Za-z0-9.]+)?\}")


def references(value: Any) -> set[str]:
    """Logical IDs `value` refers to (Ref, Fn::GetAtt, Fn::Sub), parameters and pseudo-parameters included."""
    found: set[str] = set()
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "Ref" and isinstance(inner, str):
                found.add(inner)
            elif key == "Fn::GetAtt":
                target = inner[0] if isinstance(inner, list) else str(inner).split(".")[0]
                found.add(str(target))
            elif key == "Fn::Sub":
                text, names = (inner[0], inner[1]) if isinstance(inner, list) else (inner, {})
                found.update(m.group(1) for m in _SUB_NAME.finditer(str(text)) if m.group(1) not in names)
                found.update(references(names))
            else:
                found.update(references(inner))
    elif isinstance(value, list):
        for inner in value:
            found.update(references(inner))
    return found


def resource_graph(template: Mapping[str, Any]) -> dict[str, set[str]]:
    """Logical ID -> the logical IDs of the resources it needs first (references and DependsOn)."""
    resources = template.get("Resources", {}) or {}
    graph: dict[str, set[str]] = {}
    for logical_id, body in resources.items():
        needs = references(body.get("Properties", {}))
        depends = body.get("DependsOn", [])
        needs.update([depends] if isinstance(depends, str) else depends)
        graph[logical_id] = {n for n in needs if n in resources and n != logical_id}
    return graph


def stack_seconds(template: Mapping[str, Any], only: Iterable[str] | None = None) -> float:
    """The expected time to create the stack: its longest resource path weighted by `LATENCY`.

    `only`: count just those logical IDs (an update's changed resources); the others take no time.
    """
    resources = template.get("Resources", {}) or {}
    graph = resource_graph(template)
    counted = set(resources) if only is None else set(only)
    finish: dict[str, float] = {}

    def done(logical_id: str, path: tuple[str, ...] = ()) -> float:
        if logical_id in finish:
            return finish[logical_id]
        if logical_id in path:
            raise ValueError(f"resource dependency cycle through {logical_id}")
        start = max((done(n, (*path, logical_id)) for n in graph[logical_id]), default=0.0)
        own = figure(resources[logical_id]["Type"]).seconds if logical_id in counted else 0.0
        finish[logical_id] = start + own
        return finish[logical_id]

    return max((done(lid) for lid in resources), default=0.0)


def dependents(template: Mapping[str, Any], parameters: Iterable[str]) -> set[str]:
    """Resources whose properties refer to any of `parameters` (what a parameter change updates)."""
    wanted = set(parameters)
    resources = template.get("Resources", {}) or {}
    return {lid for lid, body in resources.items() if references(body.get("Properties", {})) & wanted}


def health_seconds(template: Mapping[str, Any]) -> float:
    """How long a target group's targets take to pass their first health checks after registration:
    interval x healthy threshold (Elastic Load Balancing's health check rule; 0 without a group)."""
    for body in (template.get("Resources", {}) or {}).values():
        if body.get("Type") == "AWS::ElasticLoadBalancingV2::TargetGroup":
            props = body.get("Properties", {})
            interval = props.get("HealthCheckIntervalSeconds", 30)
            healthy = props.get("HealthyThresholdCount", 5)
            if isinstance(interval, int | float) and isinstance(healthy, int | float):
                return float(interval * healthy)
    return 0.0
