"""Elastic Load Balancing v2: network load balancers, target groups, listeners."""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from privlink.targets.local.engine import ids as idfmt
from privlink.targets.local.engine.handlers.base import (
    Handler,
    Op,
    Replace,
    allocate_ip,
    register,
    release_ips,
    remove,
    tags_of,
)
from privlink.targets.local.world import Resource, SimulatedAwsError

LB = "AWS::ElasticLoadBalancingV2::LoadBalancer"
TG = "AWS::ElasticLoadBalancingV2::TargetGroup"
LISTENER = "AWS::ElasticLoadBalancingV2::Listener"
NAME = re.compile(r"^(?!-)(?!internal-)[A-Za-z0-9-]{1,32}(?<!-)$")

# Defaults from the ELBv2 API (aws-facts-detailed §4).
LB_ATTRIBUTE_DEFAULTS = {
    "load_balancing.cross_zone.enabled": "false",
    "deletion_protection.enabled": "false",
    "dns_record.client_routing_policy": "any_availability_zone",
}
TG_ATTRIBUTE_DEFAULTS = {
    "proxy_protocol_v2.enabled": "false",
    "deregistration_delay.timeout_seconds": "300",
    "deregistration_delay.connection_termination.enabled": "false",
    "load_balancing.cross_zone.enabled": "use_load_balancer_configuration",
    "stickiness.enabled": "false",
}
LISTENER_ATTRIBUTE_DEFAULTS = {"tcp.idle_timeout.seconds": "350"}
HEALTH_CHECK_DEFAULTS = {
    "HealthCheckProtocol": "TCP",
    "HealthCheckPort": "traffic-port",
    "HealthCheckIntervalSeconds": 30,
    "HealthCheckTimeoutSeconds": 10,
    "HealthyThresholdCount": 5,
    "UnhealthyThresholdCount": 2,
    "HealthCheckEnabled": True,
    "HealthCheckPath": None,
}


def _attribute_map(items: list[dict[str, Any]] | None, defaults: dict[str, str], what: str) -> dict[str, str]:
    merged = dict(defaults)
    for item in items or []:
        key, value = item.get("Key"), item.get("Value")
        if not key:
            raise SimulatedAwsError("ValidationError", f"{what} attribute without a Key")
        merged[str(key)] = str(value).lower() if isinstance(value, bool) else str(value)
    return merged


def _suffix(op: Op) -> str:
    return op.world.ids.hex(16, "elb")


@register
class LoadBalancerHandler(Handler):
    type = LB
    create_only = frozenset({"Name", "Scheme", "Type", "IpAddressType"})

    def _subnets(self, op: Op, props: dict[str, Any]) -> list[tuple[Resource, str | None]]:
        mappings = props.get("SubnetMappings") or []
        chosen = [(m["SubnetId"], m.get("PrivateIPv4Address")) for m in mappings]
        chosen += [(s, None) for s in props.get("Subnets") or []]
        if not chosen:
            raise SimulatedAwsError("ValidationError", "At least one subnet must be specified")
        subnets = [(op.find(s, "AWS::EC2::Subnet", "subnet", "SubnetNotFound"), ip) for s, ip in chosen]
        vpcs = {s.data["vpc_id"] for s, _ in subnets}
        if len(vpcs) > 1:
            raise SimulatedAwsError("InvalidConfigurationRequest", "The subnets must all be in the same VPC")
        azs = [s.data["az"] for s, _ in subnets]
        if len(set(azs)) != len(azs):
            raise SimulatedAwsError(
                "InvalidConfigurationRequest",
                "A load balancer cannot be attached to multiple subnets in the same Availability Zone",
            )
        return subnets

    def create(self, op: Op, props: dict[str, Any]) -> Resource:
        kind = props.get("Type", "application")
        if kind != "network":
            raise SimulatedAwsError(
                "ValidationError", f"the sandbox simulates network load balancers only, not {kind!r}"
            )
        name = props.get("Name") or op.generated_name(32).replace("_", "-")[-32:].lstrip("-")
        if not NAME.match(name):
            raise SimulatedAwsError("ValidationError", f"The load balancer name '{name}' is invalid")
        for other in op.world.of_type(LB):
            if other.account == op.account and other.region == op.region and other.data["name"] == name:
                raise SimulatedAwsError(
                    "DuplicateLoadBalancerName", f"A load balancer with the name '{name}' already exists"
                )
        subnets = self._subnets(op, props)
        suffix = _suffix(op)
        arn = idfmt.nlb_arn(op.region, op.account_id, name, suffix)
        enis = {}
        for subnet, ip in subnets:
            enis[subnet.id] = allocate_ip(op.world, subnet, arn, ip)
        scheme = props.get("Scheme", "internet-facing")
        sgs = list(props.get("SecurityGroups") or [])
        attrs = {
            "LoadBalancerArn": arn,
            "DNSName": idfmt.nlb_dns_name(op.region, name, suffix),
            "CanonicalHostedZoneID": idfmt.vpce_hosted_zone_id(f"elb-{op.region}"),
            "LoadBalancerFullName": f"net/{name}/{suffix}",
            "LoadBalancerName": name,
            "SecurityGroups": sgs,
        }
        data = {
            "name": name,
            "scheme": scheme,
            "vpc_id": subnets[0][0].data["vpc_id"],
            "subnet_ids": [s.id for s, _ in subnets],
            "ips": enis,
            "security_group_ids": sgs,
            "created_with_sgs": bool(sgs),
            "attributes": _attribute_map(
                props.get("LoadBalancerAttributes"), LB_ATTRIBUTE_DEFAULTS, "load balancer"
            ),
            "enforce_sg_on_privatelink": props.get(
                "EnforceSecurityGroupInboundRulesOnPrivateLinkTraffic", "on"
            ),
            "tags": tags_of(props),
        }
        return op.add(LB, arn, props, attrs, data)

    def update(self, op: Op, res: Resource, old: dict[str, Any], new: dict[str, Any]) -> None:
        super().update(op, res, old, new)
        sgs = list(new.get("SecurityGroups") or [])
        if sgs and not res.data["created_with_sgs"]:
            # SetSecurityGroups is refused when the NLB was created without one (aws-facts-detailed §4).
            raise Replace()
        if (old.get("Subnets"), old.get("SubnetMappings")) != (new.get("Subnets"), new.get("SubnetMappings")):
            subnets = self._subnets(op, new)
            release_ips(op.world, res.id)
            res.data["ips"] = {s.id: allocate_ip(op.world, s, res.id, ip) for s, ip in subnets}
            res.data["subnet_ids"] = [s.id for s, _ in subnets]
        res.data["security_group_ids"] = sgs
        res.attributes["SecurityGroups"] = sgs
        res.data["attributes"] = _attribute_map(
            new.get("LoadBalancerAttributes"), LB_ATTRIBUTE_DEFAULTS, "load balancer"
        )
        res.data["enforce_sg_on_privatelink"] = new.get(
            "EnforceSecurityGroupInboundRulesOnPrivateLinkTraffic", "on"
        )
        res.data["tags"] = tags_of(new)

    def delete(self, op: Op, res: Resource) -> None:
        for service in op.world.endpoint_services.values():
            if res.id in service.load_balancer_arns:
                raise SimulatedAwsError(
                    "ResourceInUse",
                    f"Load balancer '{res.id}' cannot be deleted because it is "
                    "currently associated with another service",
                )
        if res.data["attributes"].get("deletion_protection.enabled") == "true":
            raise SimulatedAwsError(
                "OperationNotPermitted",
                f"Load balancer '{res.id}' cannot be deleted because deletion protection is enabled",
            )
        for listener in [r for r in op.world.of_type(LISTENER) if r.data["load_balancer_arn"] == res.id]:
            remove(op.world, listener)
        release_ips(op.world, res.id)
        remove(op.world, res)


def _health_check(props: dict[str, Any]) -> dict[str, Any]:
    check = {k: props.get(k, default) for k, default in HEALTH_CHECK_DEFAULTS.items()}
    ranges = {
        "HealthCheckIntervalSeconds": (5, 300),
        "HealthCheckTimeoutSeconds": (2, 120),
        "HealthyThresholdCount": (2, 10),
        "UnhealthyThresholdCount": (2, 10),
    }
    for key, (low, high) in ranges.items():
        value = int(check[key])
        if not low <= value <= high:
            raise SimulatedAwsError("ValidationError", f"{key} must be between {low} and {high}, got {value}")
        check[key] = value
    return check


@register
class TargetGroupHandler(Handler):
    type = TG
    create_only = frozenset(
        {"Name", "Port", "Protocol", "VpcId", "TargetType", "IpAddressType", "ProtocolVersion"}
    )

    def _targets(self, op: Op, props: dict[str, Any], vpc: Resource | None) -> list[dict[str, Any]]:
        kind = props.get("TargetType", "instance")
        targets = []
        for target in props.get("Targets") or []:
            target_id = str(target.get("Id", ""))
            port = int(target.get("Port") or props.get("Port") or 0)
            entry: dict[str, Any] = {"Id": target_id, "Port": port}
            if kind == "ip":
                try:
                    address = ipaddress.IPv4Address(target_id)
                except ValueError:
                    raise SimulatedAwsError(
                        "ValidationError", f"'{target_id}' is not a valid IP target"
                    ) from None
                inside = vpc is not None and address in ipaddress.IPv4Network(vpc.data["cidr"])
                if not inside and target.get("AvailabilityZone") != "all":
                    raise SimulatedAwsError(
                        "ValidationError",
                        f"The IP address '{target_id}' is not within the "
                        "VPC CIDR; give AvailabilityZone all for an address outside it",
                    )
                if inside:
                    subnet = next(
                        (
                            s
                            for s in op.world.of_type("AWS::EC2::Subnet")
                            if s.data["vpc_id"] == vpc.id and address in ipaddress.IPv4Network(s.data["cidr"])
                        ),
                        None,
                    )
                    entry["AvailabilityZone"] = (
                        subnet.data["az"] if subnet else target.get("AvailabilityZone", "")
                    )
                else:
                    entry["AvailabilityZone"] = "all"
            elif kind == "instance":
                instance = op.find(target_id, "AWS::EC2::Instance", "instance", "InvalidTarget")
                if vpc is not None and instance.data["vpc_id"] != vpc.id:
                    raise SimulatedAwsError(
                        "InvalidTarget",
                        f"The following targets are not in the target group's VPC '{vpc.id}': '{target_id}'",
                    )
                entry["AvailabilityZone"] = instance.attributes["AvailabilityZone"]
                entry["Ip"] = instance.data["ip"]
            else:
                raise SimulatedAwsError("ValidationError", f"target type {kind!r} is not simulated")
            targets.append(entry)
        return targets

    def create(self, op: Op, props: dict[str, Any]) -> Resource:
        protocol = props.get("Protocol")
        if protocol not in ("TCP", "TLS", "UDP", "TCP_UDP"):
            raise SimulatedAwsError(
                "ValidationError", f"the sandbox simulates TCP/TLS/UDP target groups, not {protocol!r}"
            )
        if not props.get("Port") or not props.get("VpcId"):
            raise SimulatedAwsError(
                "ValidationError", "A port and VPC ID must be specified for this target type"
            )
        vpc = op.find(props["VpcId"], "AWS::EC2::VPC", "vpc", "VPCIdNotFound")
        name = props.get("Name") or op.generated_name(32)[-32:].lstrip("-")
        suffix = _suffix(op)
        arn = idfmt.target_group_arn(op.region, op.account_id, name, suffix)
        attrs = {
            "TargetGroupArn": arn,
            "TargetGroupFullName": f"targetgroup/{name}/{suffix}",
            "TargetGroupName": name,
            "LoadBalancerArns": [],
        }
        data = {
            "name": name,
            "vpc_id": vpc.id,
            "protocol": protocol,
            "port": int(props["Port"]),
            "target_type": props.get("TargetType", "instance"),
            "targets": self._targets(op, props, vpc),
            "health_check": _health_check(props),
            "attributes": _attribute_map(
                props.get("TargetGroupAttributes"), TG_ATTRIBUTE_DEFAULTS, "target group"
            ),
            "tags": tags_of(props),
        }
        return op.add(TG, arn, props, attrs, data)

    def update(self, op: Op, res: Resource, old: dict[str, Any], new: dict[str, Any]) -> None:
        super().update(op, res, old, new)
        vpc = op.find(res.data["vpc_id"], "AWS::EC2::VPC", "vpc")
        res.data["targets"] = self._targets(op, new, vpc)
        res.data["health_check"] = _health_check(new)
        res.data["attributes"] = _attribute_map(
            new.get("TargetGroupAttributes"), TG_ATTRIBUTE_DEFAULTS, "target group"
        )
        res.data["tags"] = tags_of(new)

    def delete(self, op: Op, res: Resource) -> None:
        if any(res.id in r.data.get("target_group_arns", []) for r in op.world.of_type(LISTENER)):
            raise SimulatedAwsError(
                "ResourceInUse", f"Target group '{res.id}' is currently in use by a listener or a rule"
            )
        remove(op.world, res)


@register
class ListenerHandler(Handler):
    type = LISTENER
    required = ("LoadBalancerArn", "DefaultActions")
    create_only = frozenset({"LoadBalancerArn"})

    def _apply(
        self, op: Op, res_data: dict[str, Any], props: dict[str, Any], lb: Resource, own_arn: str | None
    ) -> None:
        port = int(props.get("Port") or 0)
        if not 1 <= port <= 65535:
            raise SimulatedAwsError("ValidationError", "A listener port must be between 1 and 65535")
        for other in op.world.of_type(LISTENER):
            if (
                other.id != own_arn
                and other.data["load_balancer_arn"] == lb.id
                and other.data["port"] == port
            ):
                raise SimulatedAwsError(
                    "DuplicateListener", "A listener already exists on this port for this load balancer"
                )
        tg_arns = []
        for action in props["DefaultActions"]:
            if action.get("Type") != "forward":
                raise SimulatedAwsError(
                    "ValidationError",
                    f"the sandbox simulates forward actions only, not {action.get('Type')!r}",
                )
            if action.get("TargetGroupArn"):
                tg_arns.append(action["TargetGroupArn"])
            for group in (action.get("ForwardConfig") or {}).get("TargetGroups", []):
                tg_arns.append(group["TargetGroupArn"])
        for arn in tg_arns:
            tg = op.find(arn, TG, "target group", "TargetGroupNotFound")
            if tg.data["vpc_id"] != lb.data["vpc_id"]:
                raise SimulatedAwsError(
                    "ValidationError", f"Target group '{arn}' is not in the load balancer's VPC"
                )
            if own_arn is None or lb.id not in tg.attributes["LoadBalancerArns"]:
                tg.attributes["LoadBalancerArns"] = sorted(set(tg.attributes["LoadBalancerArns"]) | {lb.id})
        attributes = _attribute_map(props.get("ListenerAttributes"), LISTENER_ATTRIBUTE_DEFAULTS, "listener")
        idle = int(attributes["tcp.idle_timeout.seconds"])
        if not 60 <= idle <= 6000:
            raise SimulatedAwsError("ValidationError", "tcp.idle_timeout.seconds must be between 60 and 6000")
        res_data.update(
            {
                "load_balancer_arn": lb.id,
                "port": port,
                "protocol": props.get("Protocol", "TCP"),
                "target_group_arns": tg_arns,
                "attributes": attributes,
            }
        )

    def create(self, op: Op, props: dict[str, Any]) -> Resource:
        lb = op.find(props["LoadBalancerArn"], LB, "load balancer", "LoadBalancerNotFound")
        data: dict[str, Any] = {}
        self._apply(op, data, props, lb, None)
        arn = idfmt.listener_arn(lb.id, _suffix(op))
        return op.add(LISTENER, arn, props, {"ListenerArn": arn}, data)

    def update(self, op: Op, res: Resource, old: dict[str, Any], new: dict[str, Any]) -> None:
        super().update(op, res, old, new)
        lb = op.find(res.data["load_balancer_arn"], LB, "load balancer", "LoadBalancerNotFound")
        self._apply(op, res.data, new, lb, res.id)

    def delete(self, op: Op, res: Resource) -> None:
        remove(op.world, res)
        for tg in op.world.of_type(TG):
            if tg.id in res.data["target_group_arns"] and not any(
                tg.id in other.data["target_group_arns"]
                and other.data["load_balancer_arn"] == res.data["load_balancer_arn"]
                for other in op.world.of_type(LISTENER)
            ):
                tg.attributes["LoadBalancerArns"] = [
                    a for a in tg.attributes["LoadBalancerArns"] if a != res.data["load_balancer_arn"]
                ]
