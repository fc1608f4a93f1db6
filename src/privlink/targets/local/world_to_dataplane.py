"""The simulated world -> the data plane's config: what listens where, and what it enforces.

Pure: reads the world (and the templates recorded in it), returns a `DataPlaneConfig`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from privlink.targets.local.dataplane import config_model as dp
from privlink.targets.local.engine.handlers.clientvpn import CVPN
from privlink.targets.local.engine.handlers.ec2 import INSTANCE, security_group_rules
from privlink.targets.local.engine.handlers.elb import LB
from privlink.targets.local.engine.handlers.route53 import ZONE
from privlink.targets.local.world import Resource, World

DEMO_TAG = ("privlink:app", "demo")
LOCAL_TARGETS_METADATA = "Privlink::LocalTargets"
MODELLED_INSTANCE_HOST = 100  # a consumer instance at subnet base + 100, when there is no VPN


def build_config(
    world: World,
    loopback_block: str,
    consumer_names: dict[str, str],
    app_port: int | None = None,
    time_scale: float = 1.0,
    addresses: Mapping[str, str] | None = None,
) -> dp.DataPlaneConfig:
    """The data plane for everything in `world`.

    `consumer_names` maps a consumer VPC id to its name; `app_port` is the port the demo app
    listens on (its user data): a target group sending elsewhere reaches nothing. `addresses` is
    `loopback_addresses(...)`: each ENI's and consumer VPC resolver's loopback IP (by default
    allocated afresh, in the world's order).
    """
    world.settle()
    if addresses is None:
        addresses = loopback_addresses(world, loopback_block, consumer_names, {})
    load_balancers, node_count, target_count = [], 0, 0
    for lb in world.of_type(LB):
        built, node_count, target_count = _load_balancer(
            world, lb, loopback_block, node_count, target_count, app_port
        )
        if built is not None:
            load_balancers.append(built)
    known_lbs = {lb.id for lb in load_balancers}
    endpoints = []
    for endpoint in world.endpoints.values():
        if endpoint.state == "deleted":
            continue
        service = world.endpoint_services.get(endpoint.service_id)
        if service is None or not service.load_balancer_arns:
            continue
        if service.load_balancer_arns[0] not in known_lbs:
            continue
        lb_config = next(lb for lb in load_balancers if lb.id == service.load_balancer_arns[0])
        enis = []
        for subnet_id in endpoint.subnet_ids:
            subnet = world.get_any(subnet_id)
            enis.append(
                dp.Eni(
                    eni_id=_eni_id(endpoint, subnet_id),
                    subnet_id=subnet_id,
                    az_name=subnet.data["az"],
                    az_id=subnet.data["az_id"],
                    private_ip=endpoint.private_ips[subnet_id],
                    bind_ip=addresses[_eni_id(endpoint, subnet_id)],
                )
            )
        source, authorized = _host_source(world, endpoint.vpc_id, endpoint.subnet_ids)
        endpoints.append(
            dp.Endpoint(
                endpoint_id=endpoint.id,
                consumer=consumer_names.get(endpoint.vpc_id, endpoint.account),
                service_id=endpoint.service_id,
                state=endpoint.state,
                port=lb_config.listener_port,
                load_balancer_id=lb_config.id,
                cross_region=endpoint.region != service.region,
                enis=enis,
                security_group_rules=_ingress_rules(world, endpoint.security_group_ids),
                source=source,
                vpn_authorized_cidrs=authorized,
            )
        )
    return dp.DataPlaneConfig(
        loopback_block=loopback_block,
        time_scale=time_scale,
        dns=_dns(world, endpoints, consumer_names, addresses),
        load_balancers=load_balancers,
        endpoints=endpoints,
    )


def loopback_addresses(
    world: World, block: str, consumer_names: Mapping[str, str], known: Mapping[str, str]
) -> dict[str, str]:
    """The loopback IP of every live endpoint ENI (by ENI id) and consumer VPC resolver (by VPC id).

    An address is kept for its ENI's (or VPC's) life, as AWS keeps an ENI's private IP: `known` is
    the previous result (the local target keeps it in `local.json`), so an `up` that adds, removes or
    changes something else never moves an address a user saved. New ones take the lowest free
    address; a deleted ENI or VPC frees its own.
    """
    enis = [
        _eni_id(endpoint, subnet_id)
        for endpoint in world.endpoints.values()
        if endpoint.state != "deleted"
        for subnet_id in endpoint.subnet_ids
    ]
    existing = {r.id for r in world.resources.values()}
    vpcs = [v for v, _ in sorted(consumer_names.items(), key=lambda kv: kv[1]) if v in existing]
    return {
        **_keep_or_take(enis, known, lambda i: dp.eni_address(block, i), lambda ip: dp.eni_index(block, ip)),
        **_keep_or_take(
            vpcs, known, lambda i: dp.resolver_address(block, i), lambda ip: dp.resolver_index(block, ip)
        ),
    }


def _keep_or_take(
    keys: Iterable[str],
    known: Mapping[str, str],
    address: Callable[[int], str],
    index_of: Callable[[str], int | None],
) -> dict[str, str]:
    """Each key's known address when the layout (`address`, its inverse `index_of`) has it, else the
    lowest free one."""
    keys = list(dict.fromkeys(keys))
    found: dict[str, str] = {}
    taken: set[str] = set()
    for key in keys:
        ip = known.get(key)
        if ip is not None and ip not in taken and index_of(ip) is not None:
            found[key] = ip
            taken.add(ip)
    index = 0
    for key in keys:
        if key in found:
            continue
        while address(index) in taken:
            index += 1
        found[key] = address(index)
        taken.add(found[key])
    return {k: found[k] for k in keys}


def _eni_id(endpoint, subnet_id: str) -> str:
    return endpoint.network_interfaces.get(subnet_id, subnet_id)


def _load_balancer(
    world: World, lb: Resource, block: str, node_count: int, target_count: int, app_port: int | None
) -> tuple[dp.LoadBalancer | None, int, int]:
    listeners = world.listeners_of(lb.id)
    if not listeners or not listeners[0].data["target_group_arns"]:
        return None, node_count, target_count
    listener = listeners[0]
    tg = world.get_any(listener.data["target_group_arns"][0])
    mapping = world.az_mapping(lb.account, lb.region)
    nodes = []
    for subnet_id in lb.data.get("subnet_ids", []):
        subnet = world.get_any(subnet_id)
        nodes.append(
            dp.NlbNode(
                az_name=subnet.data["az"],
                az_id=subnet.data["az_id"],
                private_ip=lb.data.get("ips", {}).get(subnet_id, ""),
                bind_ip=dp.nlb_node_address(block, node_count),
            )
        )
        node_count += 1
    local_targets = local_target_addresses(world, tg)
    targets = []
    for entry in tg.data.get("targets", []):
        az = entry.get("AvailabilityZone", "")
        ip = entry.get("Ip") or entry["Id"]
        port = int(entry.get("Port") or tg.data["port"])
        instance = world.get_any(entry["Id"])
        stopped = False
        if ip in local_targets:
            kind, address, running = "address", local_targets[ip], True
        elif instance is not None and instance.type == INSTANCE and _is_demo(instance):
            kind, address = "demo", f"{dp.target_address(block, target_count)}:{port}"
            listens = app_port is None or port == app_port
            stopped = instance_state(instance) != "running"
            running = not stopped and listens
            target_count += 1
        else:
            continue  # a target the sandbox cannot run (an instance that is not the demo app)
        targets.append(
            dp.Target(
                id=entry["Id"],
                az_name=az,
                az_id=mapping.get(az, ""),
                private_ip=ip,
                kind=kind,
                address=address,
                running=running,
                stopped=stopped,
            )
        )
    check = tg.data.get("health_check", {})
    lb_attributes = lb.data.get("attributes", {})
    tg_attributes = tg.data.get("attributes", {})
    built = dp.LoadBalancer(
        id=lb.id,
        arn=lb.id,
        listener_port=int(listener.data["port"]),
        target_port=int(tg.data["port"]),
        cross_zone=str(lb_attributes.get("load_balancing.cross_zone.enabled", "false")) == "true",
        proxy_protocol=str(tg_attributes.get("proxy_protocol_v2.enabled", "false")) == "true",
        idle_timeout_seconds=float(listener.data.get("attributes", {}).get("tcp.idle_timeout.seconds", 350)),
        health_check=dp.HealthCheck(
            interval_seconds=float(check.get("HealthCheckIntervalSeconds", 30)),
            timeout_seconds=float(check.get("HealthCheckTimeoutSeconds", 10)),
            healthy_threshold=int(check.get("HealthyThresholdCount", 5)),
            unhealthy_threshold=int(check.get("UnhealthyThresholdCount", 2)),
        ),
        nodes=nodes,
        targets=targets,
    )
    return built, node_count, target_count


def instance_state(instance: Resource) -> str:
    """The EC2 state name of a sandbox instance (running, stopped)."""
    return str(instance.data.get("state", "running"))


def _is_demo(instance: Resource) -> bool:
    tags = instance.data.get("tags") or {}
    if isinstance(tags, list):
        tags = {t.get("Key"): t.get("Value") for t in tags}
    return tags.get(DEMO_TAG[0]) == DEMO_TAG[1]


def local_target_addresses(world: World, tg: Resource) -> dict[str, str]:
    """Modelled IP -> the user's loopback service, from the template's target group Metadata."""
    for stack in world.stacks.values():
        resource = stack.template.get("Resources", {}).get(tg.logical_id)
        if stack.name == tg.stack and resource is not None:
            return dict((resource.get("Metadata") or {}).get(LOCAL_TARGETS_METADATA, {}))
    return {}


def _ingress_rules(world: World, group_ids: list[str]) -> list[dp.SgRule]:
    rules = []
    for group_id in group_ids:
        group = world.get_any(group_id)
        if group is None:
            continue
        for rule in security_group_rules(world, group, "ingress"):
            if not rule.get("CidrIp"):
                continue
            protocol = str(rule.get("IpProtocol", "tcp"))
            if protocol not in ("tcp", "-1", "6"):
                continue
            rules.append(
                dp.SgRule(
                    protocol=protocol,
                    from_port=int(rule.get("FromPort", 0)) if protocol != "-1" else 0,
                    to_port=int(rule.get("ToPort", 65535)) if protocol != "-1" else 65535,
                    cidr=rule["CidrIp"],
                )
            )
    return rules


def _host_source(world: World, vpc_id: str, subnet_ids: list[str]) -> tuple[dp.HostSource, list[str]]:
    """Who the host's connections are modelled as: a VPN client (SNATed to the Client VPN ENI in
    the VPC, as AWS does) with the VPN's authorization rules, or an instance in the first subnet."""
    for cvpn in world.of_type(CVPN):
        if cvpn.data.get("vpc_id") != vpc_id or not cvpn.data.get("associations"):
            continue
        association = next(iter(cvpn.data["associations"].values()))
        authorized = [r["cidr"] for r in cvpn.data.get("authorization_rules", []) if r.get("cidr")]
        vpc = world.get_any(vpc_id)
        client = ipaddress.IPv4Network(cvpn.data["client_cidr"])
        if vpc is not None and client.overlaps(ipaddress.IPv4Network(vpc.data["cidr"])):
            authorized = []  # replies to the clients route into the VPC, not back through the VPN
        return dp.HostSource(kind="vpn", ip=association["ip"]), authorized
    subnet = world.get_any(subnet_ids[0])
    host = ipaddress.IPv4Network(subnet.data["cidr"]).network_address + MODELLED_INSTANCE_HOST
    return dp.HostSource(kind="vpc", ip=str(host)), []


def _dns(
    world: World, endpoints: list[dp.Endpoint], consumer_names: dict[str, str], addresses: Mapping[str, str]
) -> dp.DnsConfig:
    """One view per consumer VPC (what its resolver answers), and the shared server answering as the
    first consumer's VPC (public names only without one): no VPC answers every name at once."""
    sources = _dns_sources(world, endpoints)
    first = next((vpc_id for vpc_id in consumer_names if vpc_id in addresses), None)
    zones, records, aliases = _view(sources, first or "")
    views = []
    for vpc_id, consumer in sorted(consumer_names.items(), key=lambda kv: kv[1]):
        if vpc_id not in addresses:
            continue
        v_zones, v_records, v_aliases = _view(sources, vpc_id)
        views.append(
            dp.DnsView(
                consumer=consumer,
                vpc_id=vpc_id,
                bind_ip=addresses[vpc_id],
                zones=v_zones,
                records=v_records,
                aliases=v_aliases,
            )
        )
    answers_as = consumer_names[first] if first else ""
    return dp.DnsConfig(zones=zones, records=records, aliases=aliases, views=views, answers_as=answers_as)


@dataclass(frozen=True)
class _DnsSources:
    """What the sandbox's DNS answers from, read from the world once for every view."""

    public: dict[str, tuple[str, str | None]]  # an endpoint's own names -> (endpoint, zonal AZ)
    private: list[tuple[str, str, str]]  # (VPC, verified private DNS name, endpoint), in order
    zones: list[tuple[str, frozenset[str], list[dict[str, Any]]]]  # (zone, VPCs it answers in, records)


def _dns_sources(world: World, endpoints: list[dp.Endpoint]) -> _DnsSources:
    """Endpoints' own regional and zonal names are public; a private DNS name answers only in the
    endpoint's VPC, and a private hosted zone only in the VPCs associated with it whose DNS support
    and hostnames are on."""
    served = {e.endpoint_id for e in endpoints}
    public: dict[str, tuple[str, str | None]] = {}
    private: list[tuple[str, str, str]] = []
    for endpoint in world.endpoints.values():
        if endpoint.id not in served:
            continue
        azs = [world.get_any(s).data["az"] for s in endpoint.subnet_ids]
        for name in endpoint.dns_names:
            zone_az = next((az for az in azs if name.split(".")[0].endswith(f"-{az}")), None)
            public[_fqdn(name)] = (endpoint.id, zone_az)
        service = world.endpoint_services.get(endpoint.service_id)
        if (
            endpoint.private_dns_enabled
            and service is not None
            and service.private_dns_name
            and service.private_dns_state == "verified"
        ):
            private.append((endpoint.vpc_id, _fqdn(service.private_dns_name), endpoint.id))
    zones = [
        (_fqdn(zone.data["name"]), _resolving_vpcs(world, zone), list(zone.data.get("records", {}).values()))
        for zone in world.of_type(ZONE)
    ]
    return _DnsSources(public, private, zones)


def _view(sources: _DnsSources, vpc_id: str) -> tuple[list[str], list[dp.DnsRecord], list[dp.DnsAlias]]:
    """Zones, records and endpoint aliases seen from `vpc_id` ("": from outside every VPC)."""
    zones: list[str] = ["vpce.amazonaws.com"]
    aliases: list[dp.DnsAlias] = []
    records: list[dp.DnsRecord] = []
    names_to_endpoint = dict(sources.public)
    private_names: dict[str, tuple[str, str | None]] = {}
    for endpoint_vpc, name, endpoint_id in sources.private:
        if vpc_id == endpoint_vpc:
            private_names[name] = (endpoint_id, None)
            zones.append(name)
    names_to_endpoint.update(private_names)
    for name, (endpoint_id, az) in names_to_endpoint.items():
        aliases.append(dp.DnsAlias(name=name, endpoint_id=endpoint_id, az_name=az))
    seen = set(names_to_endpoint)
    for zone_name, resolving, zone_records in sources.zones:
        if vpc_id not in resolving:
            continue
        zones.append(zone_name)
        for record in zone_records:
            name = _fqdn(record.get("name", ""))
            if not name or name in seen or record.get("type", "A") != "A":
                continue
            seen.add(name)
            alias = record.get("alias")
            if alias:
                target = names_to_endpoint.get(_fqdn(alias.get("dns_name", "")))
                if target is not None:
                    aliases.append(dp.DnsAlias(name=name, endpoint_id=target[0], az_name=target[1]))
                continue
            values = [v for v in record.get("values", []) if _is_ipv4(v)]
            if values:
                records.append(dp.DnsRecord(name=name, values=values))
    return sorted(set(zones)), records, aliases


def _resolving_vpcs(world: World, zone: Resource) -> frozenset[str]:
    """The VPCs `zone` answers in: associated with it, DNS support and hostnames on."""
    vpc_ids = [v.get("VPCId", v) if isinstance(v, dict) else v for v in zone.data.get("vpcs", [])]
    return frozenset(
        v.id
        for v in (world.get_any(i) for i in vpc_ids)
        if v is not None and v.data.get("dns_support") and v.data.get("dns_hostnames")
    )


def _fqdn(name: str) -> str:
    return name.rstrip(".").lower()


def _is_ipv4(value: Any) -> bool:
    try:
        ipaddress.IPv4Address(str(value))
    except ValueError:
        return False
    return True
