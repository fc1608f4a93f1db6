"""Build the `Observation` from the sandbox: the simulated world plus the data plane's runtime.

The same model the AWS builder fills from describe calls, so the doctor's checks run unchanged.
"""

from __future__ import annotations

from typing import Any

from privlink.observe import model as m
from privlink.observe import target_health as th
from privlink.observe.expect import consumer_skeleton, expectations
from privlink.spec.models import Spec
from privlink.targets.local.engine.handlers.clientvpn import CVPN
from privlink.targets.local.engine.handlers.ec2 import INSTANCE, security_group_rules
from privlink.targets.local.engine.handlers.elb import LB
from privlink.targets.local.engine.handlers.route53 import ZONE
from privlink.targets.local.world_to_dataplane import instance_state, local_target_addresses
from privlink.templates import naming


def observe_sandbox(spec: Spec, world, runtime: dict[str, Any] | None) -> m.Observation:
    """What the sandbox holds now; `runtime` is the data plane's published state (None: not running)."""
    world.settle()
    account_ids = {
        label: world.account(label).id
        for label in {spec.producer.account, *(c.account for c in spec.consumers)}
    }
    observation = m.Observation(target="local", expected=expectations(spec, account_ids))
    observation.producer = _producer(spec, world, runtime, account_ids)
    for consumer in spec.consumers:
        observation.consumers.append(_consumer(spec, consumer, world, account_ids))
    if runtime is None and world.stacks:
        observation.errors.append(
            m.ObserveError(
                side="producer",
                call="dataplane",
                code="NotRunning",
                message="the sandbox data plane is not running; run `privlink up`",
            )
        )
    return observation


def _producer(spec: Spec, world, runtime: dict[str, Any] | None, account_ids: dict[str, str]) -> m.Producer:
    producer = m.Producer(
        account_label=spec.producer.account,
        account_id=account_ids[spec.producer.account],
        region=spec.producer.region,
        az_name_to_id=world.az_mapping(spec.producer.account, spec.producer.region),
    )
    record = world.find_stack(naming.producer_stack(spec.name).name)
    if record is None:
        return producer
    producer.deployed, producer.stack_status = True, record.status
    service = world.endpoint_services.get(record.outputs.get(naming.OUT_SERVICE_ID, ""))
    if service is None:
        return producer
    dns_config = None
    if service.private_dns_name:
        dns_config = m.PrivateDnsConfiguration(
            state=service.private_dns_state or "",
            type="TXT",
            name=service.private_dns_txt_name or "",
            value=service.private_dns_txt_value or "",
        )
    producer.service = m.EndpointService(
        id=service.id,
        name=service.name,
        state=service.state,
        acceptance_required=service.acceptance_required,
        az_names=list(service.az_names),
        az_ids=list(service.az_ids),
        supported_regions=list(service.supported_regions),
        private_dns_name=service.private_dns_name,
        private_dns_configuration=dns_config,
        allowed_principals=list(service.allowed_principals),
        load_balancer_arns=list(service.load_balancer_arns),
    )
    producer.connections = [
        m.EndpointConnection(
            endpoint_id=c["VpcEndpointId"],
            owner=c["VpcEndpointOwner"],
            state=c["VpcEndpointState"],
            region=c.get("VpcEndpointRegion", ""),
            created=c["CreationTimestamp"],
        )
        for c in world.connections(service.id)
    ]
    if service.load_balancer_arns:
        producer.load_balancer = _load_balancer(world, service.load_balancer_arns[0], runtime)
    return producer


def _load_balancer(world, arn: str, runtime: dict[str, Any] | None) -> m.LoadBalancer | None:
    lb = world.get_any(arn, LB)
    if lb is None:
        return None
    subnets = [world.get_any(s) for s in lb.data.get("subnet_ids", [])]
    health = ((runtime or {}).get("load_balancers", {}).get(arn, {}) or {}).get("targets", {})
    listeners = []
    groups = []
    for listener in world.listeners_of(arn):
        idle = listener.data.get("attributes", {}).get("tcp.idle_timeout.seconds")
        custom_idle = idle is not None and int(idle) != m.NLB_DEFAULT_IDLE_TIMEOUT
        listeners.append(
            m.Listener(
                arn=listener.id,
                port=int(listener.data["port"]),
                protocol=listener.data.get("protocol", "TCP"),
                target_group_arns=list(listener.data["target_group_arns"]),
                idle_timeout=int(idle) if custom_idle else None,
            )
        )
        for tg_arn in listener.data["target_group_arns"]:
            tg = world.get_any(tg_arn)
            if tg is None or any(g.arn == tg_arn for g in groups):
                continue
            check = tg.data.get("health_check", {})
            mapping = world.az_mapping(tg.account, tg.region)
            addresses = local_target_addresses(world, tg)
            targets = []
            for entry in tg.data.get("targets", []):
                instance = world.get_any(entry["Id"], INSTANCE)
                running = instance_state(instance) if instance is not None else None
                seen = health.get(entry["Id"]) if runtime is not None else None
                state, reason, description = sandbox_target_health(running, runtime is not None, seen)
                targets.append(
                    m.TargetHealth(
                        id=entry["Id"],
                        port=int(entry.get("Port") or tg.data["port"]),
                        az=entry.get("AvailabilityZone"),
                        az_id=mapping.get(entry.get("AvailabilityZone", "")),
                        state=state,
                        reason=reason,
                        description=description,
                        instance_state=running,
                        address=addresses.get(entry.get("Ip") or entry["Id"]),
                    )
                )
            groups.append(
                m.TargetGroup(
                    arn=tg_arn,
                    port=int(tg.data["port"]),
                    protocol=tg.data.get("protocol", "TCP"),
                    target_type=tg.data.get("target_type", "instance"),
                    proxy_protocol=str(tg.data.get("attributes", {}).get("proxy_protocol_v2.enabled"))
                    == "true",
                    health_check=m.HealthCheck(
                        interval=check.get("HealthCheckIntervalSeconds"),
                        timeout=check.get("HealthCheckTimeoutSeconds"),
                        healthy_threshold=check.get("HealthyThresholdCount"),
                        unhealthy_threshold=check.get("UnhealthyThresholdCount"),
                    ),
                    targets=targets,
                )
            )
    return m.LoadBalancer(
        arn=arn,
        name=lb.data.get("name", ""),
        state="active",
        dns_name=lb.attributes.get("DNSName", ""),
        cross_zone=str(lb.data.get("attributes", {}).get("load_balancing.cross_zone.enabled")) == "true",
        subnet_ids=[s.id for s in subnets if s],
        az_names=[s.data["az"] for s in subnets if s],
        az_ids=[s.data["az_id"] for s in subnets if s],
        listeners=listeners,
        target_groups=groups,
    )


# The data plane's health states (`dataplane.health`) as DescribeTargetHealth reports them.
DATA_PLANE_HEALTH = {
    th.HEALTHY: th.health(th.HEALTHY),
    th.INITIAL: th.health(th.INITIAL, "Elb.InitialHealthChecking"),
    th.UNHEALTHY: th.health(th.UNHEALTHY, "Target.FailedHealthChecks"),  # TCP connect failed
    th.UNUSED: th.health(th.UNUSED, "Target.NotInUse"),  # no node in its AZ (a stopped one: below)
}


def sandbox_target_health(
    instance_state: str | None, running: bool, seen: dict[str, Any] | None
) -> tuple[str, str | None, str | None]:
    """(state, reason, description) of a registered target: a stopped instance is unused at once
    (as on AWS); else what the data plane's health checks say, `unavailable` when it does not run,
    and `Target.Timeout` for a target it does not run (an IP or instance nothing answers for)."""
    if instance_state is not None and instance_state != th.INSTANCE_RUNNING:
        return th.health(th.UNUSED, "Target.InvalidState")
    if not running:
        return th.health(th.UNAVAILABLE, "Elb.InternalError")
    if seen is None or seen.get("health") not in DATA_PLANE_HEALTH:
        return th.health(th.UNHEALTHY, "Target.Timeout")
    return DATA_PLANE_HEALTH[seen["health"]]


def _consumer(spec: Spec, consumer, world, account_ids: dict[str, str]) -> m.Consumer:
    observed = consumer_skeleton(spec, consumer, account_ids[consumer.account])
    record = world.find_stack(naming.consumer_stack(spec.name, consumer.name).name)
    if record is None:
        return observed
    observed.deployed, observed.stack_status = True, record.status
    observed.vpc_id = record.outputs.get(naming.OUT_VPC_ID, "")
    vpc = world.get_any(observed.vpc_id)
    if vpc is not None:
        observed.vpc_cidr = vpc.data["cidr"]
        observed.enable_dns_support = bool(vpc.data.get("dns_support"))
        observed.enable_dns_hostnames = bool(vpc.data.get("dns_hostnames"))
    observed.endpoint_id_expected = record.outputs.get(naming.OUT_ENDPOINT_ID, "")
    endpoint = world.endpoints.get(observed.endpoint_id_expected)
    subnet_ids = [s for s in record.outputs.get(naming.OUT_SUBNET_IDS, "").split(",") if s]
    for subnet_id in subnet_ids:
        subnet = world.get_any(subnet_id)
        if subnet is not None:
            observed.subnets.append(
                m.Subnet(
                    id=subnet.id,
                    az_name=subnet.data["az"],
                    az_id=subnet.data["az_id"],
                    cidr=subnet.data["cidr"],
                )
            )
    if endpoint is not None and endpoint.state != "deleted":
        observed.endpoint = m.Endpoint(
            id=endpoint.id,
            state=endpoint.state,
            service_name=endpoint.service_name,
            service_region=endpoint.service_region if endpoint.service_region != endpoint.region else None,
            private_dns_enabled=endpoint.private_dns_enabled,
            dns_entries=[
                m.DnsEntry(dns_name=n, hosted_zone_id=endpoint.dns_zone_id) for n in endpoint.dns_names
            ],
            subnet_ids=list(endpoint.subnet_ids),
            security_group_ids=list(endpoint.security_group_ids),
            network_interface_ids=list(endpoint.network_interfaces.values()),
            addresses=dict(endpoint.private_ips),
        )
        for group_id in endpoint.security_group_ids:
            group = world.get_any(group_id)
            if group is None:
                continue
            rules = security_group_rules(world, group, "ingress")
            observed.security_groups.append(
                m.SecurityGroup(
                    id=group.id,
                    name=group.data.get("name", ""),
                    vpc_id=group.data.get("vpc_id", ""),
                    ingress=[
                        m.IngressRule(
                            protocol=str(r.get("IpProtocol", "tcp")),
                            from_port=r.get("FromPort"),
                            to_port=r.get("ToPort"),
                            cidrs=[r["CidrIp"]] if r.get("CidrIp") else [],
                            source_security_group_ids=[r["SourceSecurityGroupId"]]
                            if r.get("SourceSecurityGroupId")
                            else [],
                        )
                        for r in rules
                    ],
                )
            )
    elif endpoint is not None:
        observed.endpoint_failure = "the endpoint could not be created (InvalidServiceName)"
    for zone in world.of_type(ZONE):
        vpc_ids = [v.get("VPCId") for v in zone.data.get("vpcs", [])]
        if observed.vpc_id not in vpc_ids:
            continue
        observed.hosted_zones.append(
            m.HostedZone(
                id=zone.id,
                name=zone.data["name"],
                private=True,
                records=[
                    m.Record(
                        name=r["name"],
                        type=r["type"],
                        alias_target=(r.get("alias") or {}).get("dns_name"),
                        values=list(r.get("values", [])),
                    )
                    for r in zone.data.get("records", {}).values()
                ],
            )
        )
    vpn_record = world.find_stack(naming.vpn_stack(spec.name, consumer.name).name)
    if vpn_record is not None:
        cvpn = world.get_any(vpn_record.outputs.get(naming.OUT_CLIENT_VPN_ENDPOINT_ID, ""), CVPN)
        if cvpn is not None:
            observed.vpn = m.ClientVpn(
                id=cvpn.id,
                state=cvpn.data.get("status", ""),
                client_cidr=cvpn.data["client_cidr"],
                dns_servers=list(cvpn.properties.get("DnsServers", [])),
                split_tunnel=bool(cvpn.properties.get("SplitTunnel", False)),
                associations=[
                    m.VpnAssociation(id=k, subnet_id=a["subnet_id"], state=a.get("status", ""))
                    for k, a in cvpn.data.get("associations", {}).items()
                ],
                authorization_rules=[
                    m.VpnAuthorizationRule(destination_cidr=r["cidr"], state="active")
                    for r in cvpn.data.get("authorization_rules", [])
                ],
                routes=[
                    m.VpnRoute(
                        destination_cidr=r["destination"],
                        target_subnet=r.get("target_subnet", ""),
                        state=r.get("status", ""),
                    )
                    for r in cvpn.data.get("routes", [])
                ],
            )
    return observed
