"""Build an `Observation` from AWS describe calls, concurrently per account and region.

Resources are found through the stacks' outputs (names in `privlink.templates.naming`). Clients come
from an injected `clients(account_label, region, service)` callable (the aws target's gateway); this
module never creates a client itself. A failed call is recorded in `Observation.errors` and the
rest of the observation goes on.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from privlink.observe.expect import consumer_skeleton, expectations
from privlink.observe.model import (
    CONSUMER_PARTS,
    NLB_DEFAULT_IDLE_TIMEOUT,
    PRODUCER_PARTS,
    ClientVpn,
    Consumer,
    DnsEntry,
    EndpointConnection,
    EndpointService,
    HealthCheck,
    HostedZone,
    IngressRule,
    Listener,
    LoadBalancer,
    Observation,
    ObserveError,
    PrivateDnsConfiguration,
    Producer,
    Record,
    SecurityGroup,
    Subnet,
    TargetGroup,
    TargetHealth,
    VpnAssociation,
    VpnAuthorizationRule,
    VpnRoute,
)
from privlink.spec.models import Spec
from privlink.targets.aws.gateway import iam_action
from privlink.templates import naming

Clients = Callable[[str, str, str], Any]
"""clients(account_label, region, service) -> a boto3 client."""

NOT_FOUND_CODES = {"InvalidVpcEndpointId.NotFound", "InvalidVpcEndpointServiceId.NotFound"}
# A failed DescribeVpcEndpoints leaves the endpoint and what is read through it unknown.
ENDPOINT_PARTS = ("endpoint", "endpoint_addresses", "security_groups")
SERVICE_NAME_PREFIX = "com.amazonaws.vpce."  # endpoint services (AWS services: com.amazonaws.<region>.x)


def error_code(exc: BaseException) -> str:
    """AWS's error code from a botocore ClientError or the gateway's AwsError."""
    code = getattr(exc, "code", "")
    if code:
        return str(code)
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", ""))
    return type(exc).__name__


class Recorder:
    """Runs describe calls for one side, recording failures instead of raising.

    A failed call is recorded in `errors` and marks the parts of the observation it fills (names
    from `model.PRODUCER_PARTS` / `CONSUMER_PARTS`) as unknown, so the doctor does not judge them."""

    def __init__(self, side: str, clients: Clients, account: str, region: str) -> None:
        self.side = side
        self.clients = clients
        self.account = account
        self.region = region
        self.errors: list[ObserveError] = []
        self.unknown: set[str] = set()
        self._cache: dict[str, Any] = {}

    def client(self, service: str) -> Any:
        if service not in self._cache:
            self._cache[service] = self.clients(self.account, self.region, service)
        return self._cache[service]

    def mark(self, *parts: str) -> list[str]:
        """Mark parts of this side unknown; their keys."""
        keys = [f"{self.side}.{p}" for p in parts]
        self.unknown.update(keys)
        return keys

    def record(self, service: str, op: str, exc: BaseException, parts: tuple[str, ...]) -> None:
        self.errors.append(
            ObserveError(
                side=self.side,
                call=f"{service}.{op}",
                code=error_code(exc),
                message=str(exc)[:300],
                action=iam_action(self._cache.get(service), service, op),
                account=self.account,
                parts=self.mark(*parts),
            )
        )

    def call(
        self,
        service: str,
        op: str,
        quiet: set[str] | frozenset[str] = frozenset(),
        parts: tuple[str, ...] = (),
        **kw: Any,
    ):
        """One call; None when it failed (recorded, `parts` unknown, unless its code is in `quiet`:
        those mean "not there", an observation)."""
        try:
            return getattr(self.client(service), op)(**kw)
        except Exception as exc:  # any failure is an observation, not a crash
            if error_code(exc) not in quiet:
                self.record(service, op, exc, parts)
            return None

    def pages(
        self, service: str, op: str, key: str, parts: tuple[str, ...] = (), **kw: Any
    ) -> list[Any] | None:
        """All items under `key` across pages; None when a page failed (recorded, `parts` unknown)."""
        try:
            client = self.client(service)
            if client.can_paginate(op):
                items: list[Any] = []
                for page in client.get_paginator(op).paginate(**kw):
                    items.extend(page.get(key, []))
                return items
            return getattr(client, op)(**kw).get(key, [])
        except Exception as exc:
            self.record(service, op, exc, parts)
            return None


def stack_outputs(rec: Recorder, stack: str, parts: tuple[str, ...]) -> tuple[str, dict[str, str]] | None:
    """(status, outputs) of a stack, or None when it does not exist or could not be read (then
    `parts` are unknown)."""
    try:
        response = rec.client("cloudformation").describe_stacks(StackName=stack)
    except Exception as exc:
        if "does not exist" in str(exc):
            return None
        rec.record("cloudformation", "describe_stacks", exc, parts)
        return None
    stacks = response.get("Stacks", [])
    if not stacks:
        return None
    outputs = {o["OutputKey"]: o.get("OutputValue", "") for o in stacks[0].get("Outputs", [])}
    return stacks[0].get("StackStatus", ""), outputs


def split(value: str) -> list[str]:
    return [v for v in value.split(",") if v] if value else []


def az_map(rec: Recorder) -> dict[str, str]:
    response = rec.call("ec2", "describe_availability_zones")
    if not response:
        return {}
    return {z["ZoneName"]: z["ZoneId"] for z in response.get("AvailabilityZones", []) if "ZoneId" in z}


def as_bool(value: Any) -> bool:
    return str(value).lower() == "true"


# --- producer ---------------------------------------------------------------------------------


def observe_producer(spec: Spec, rec: Recorder) -> Producer:
    producer = Producer(account_label=spec.producer.account, region=spec.producer.region)
    found = stack_outputs(rec, naming.producer_stack(spec.name).name, PRODUCER_PARTS)
    if found is None:
        return producer
    producer.deployed = True
    producer.stack_status, outputs = found
    producer.az_name_to_id = az_map(rec)
    service_id = outputs.get(naming.OUT_SERVICE_ID, "")
    if service_id:
        producer.service = observe_service(rec, service_id)
        producer.connections = observe_connections(rec, service_id)
    lb_arn = outputs.get(naming.OUT_LOAD_BALANCER_ARN, "")
    if not lb_arn and producer.service and producer.service.load_balancer_arns:
        lb_arn = producer.service.load_balancer_arns[0]
    if lb_arn:
        subnet_ids = split(outputs.get(naming.OUT_SUBNET_IDS, ""))
        subnets = observe_subnets(rec, subnet_ids, "", ("target_zones",))
        producer.load_balancer = observe_load_balancer(rec, lb_arn, producer.az_name_to_id, subnets)
    return producer


def observe_service(rec: Recorder, service_id: str) -> EndpointService:
    service = EndpointService(id=service_id)
    response = rec.call(
        "ec2", "describe_vpc_endpoint_service_configurations", parts=("service",), ServiceIds=[service_id]
    )
    configs = (response or {}).get("ServiceConfigurations", [])
    if configs:
        c = configs[0]
        pdc = c.get("PrivateDnsNameConfiguration")
        service = EndpointService(
            id=service_id,
            name=c.get("ServiceName", ""),
            state=c.get("ServiceState", ""),
            acceptance_required=bool(c.get("AcceptanceRequired", False)),
            az_names=list(c.get("AvailabilityZones", [])),
            az_ids=list(c.get("AvailabilityZoneIds", [])),
            supported_regions=[r["Region"] for r in c.get("SupportedRegions", []) if "Region" in r],
            private_dns_name=c.get("PrivateDnsName"),
            private_dns_configuration=(
                PrivateDnsConfiguration(
                    state=pdc.get("State", ""),
                    type=pdc.get("Type", ""),
                    name=pdc.get("Name", ""),
                    value=pdc.get("Value", ""),
                )
                if pdc
                else None
            ),
            load_balancer_arns=list(c.get("NetworkLoadBalancerArns", [])),
        )
    allowed = rec.pages(
        "ec2",
        "describe_vpc_endpoint_service_permissions",
        "AllowedPrincipals",
        parts=("permissions",),
        ServiceId=service_id,
    )
    service.allowed_principals = [p["Principal"] for p in allowed or [] if "Principal" in p]
    return service


def observe_connections(rec: Recorder, service_id: str) -> list[EndpointConnection]:
    items = rec.pages(
        "ec2",
        "describe_vpc_endpoint_connections",
        "VpcEndpointConnections",
        parts=("connections",),
        Filters=[{"Name": "service-id", "Values": [service_id]}],
    )
    return [
        EndpointConnection(
            endpoint_id=c.get("VpcEndpointId", ""),
            owner=str(c.get("VpcEndpointOwner", "")),
            state=c.get("VpcEndpointState", ""),
            region=c.get("VpcEndpointRegion", ""),
            created=str(c.get("CreationTimestamp", "")),
        )
        for c in items or []
    ]


def observe_subnets(
    rec: Recorder, subnet_ids: list[str], vpc_id: str, parts: tuple[str, ...]
) -> list[Subnet]:
    if subnet_ids:
        response = rec.call("ec2", "describe_subnets", parts=parts, SubnetIds=subnet_ids)
    elif vpc_id:
        response = rec.call(
            "ec2", "describe_subnets", parts=parts, Filters=[{"Name": "vpc-id", "Values": [vpc_id]}]
        )
    else:
        return []
    return [
        Subnet(
            id=s["SubnetId"],
            az_name=s.get("AvailabilityZone", ""),
            az_id=s.get("AvailabilityZoneId", ""),
            cidr=s.get("CidrBlock", ""),
        )
        for s in (response or {}).get("Subnets", [])
    ]


def observe_load_balancer(
    rec: Recorder, arn: str, az_ids: dict[str, str], subnets: list[Subnet]
) -> LoadBalancer:
    lb = LoadBalancer(arn=arn)
    response = rec.call("elbv2", "describe_load_balancers", parts=("load_balancer",), LoadBalancerArns=[arn])
    for item in (response or {}).get("LoadBalancers", [])[:1]:
        zones = item.get("AvailabilityZones", [])
        lb.name = item.get("LoadBalancerName", "")
        lb.state = item.get("State", {}).get("Code", "")
        lb.dns_name = item.get("DNSName", "")
        lb.subnet_ids = [z.get("SubnetId", "") for z in zones]
        lb.az_names = [z.get("ZoneName", "") for z in zones]
        lb.az_ids = [az_ids.get(z.get("ZoneName", ""), "") for z in zones]
    attrs = rec.call(
        "elbv2", "describe_load_balancer_attributes", parts=("load_balancer",), LoadBalancerArn=arn
    )
    for attr in (attrs or {}).get("Attributes", []):
        if attr.get("Key") == "load_balancing.cross_zone.enabled":
            lb.cross_zone = as_bool(attr.get("Value"))
    listeners = rec.pages(
        "elbv2", "describe_listeners", "Listeners", parts=("listeners",), LoadBalancerArn=arn
    )
    for item in listeners or []:
        listener = Listener(
            arn=item.get("ListenerArn", ""), port=item.get("Port", 0), protocol=item.get("Protocol", "TCP")
        )
        for action in item.get("DefaultActions", []):
            if action.get("TargetGroupArn"):
                listener.target_group_arns.append(action["TargetGroupArn"])
            for tg in action.get("ForwardConfig", {}).get("TargetGroups", []):
                if tg.get("TargetGroupArn") and tg["TargetGroupArn"] not in listener.target_group_arns:
                    listener.target_group_arns.append(tg["TargetGroupArn"])
        lattrs = rec.call(
            "elbv2", "describe_listener_attributes", parts=("listeners",), ListenerArn=listener.arn
        )
        for attr in (lattrs or {}).get("Attributes", []):
            if attr.get("Key") == "tcp.idle_timeout.seconds" and attr.get("Value"):
                # AWS lists the attribute on every listener, set or not: the default means "not set".
                seconds = int(attr["Value"])
                listener.idle_timeout = None if seconds == NLB_DEFAULT_IDLE_TIMEOUT else seconds
        lb.listeners.append(listener)
    groups = rec.pages(
        "elbv2",
        "describe_target_groups",
        "TargetGroups",
        parts=("target_groups", "target_health", "target_zones"),
        LoadBalancerArn=arn,
    )
    for item in groups or []:
        lb.target_groups.append(observe_target_group(rec, item, subnets))
    return lb


def observe_target_group(rec: Recorder, item: dict[str, Any], subnets: list[Subnet]) -> TargetGroup:
    arn = item["TargetGroupArn"]
    group = TargetGroup(
        arn=arn,
        port=item.get("Port"),
        protocol=item.get("Protocol", "TCP"),
        target_type=item.get("TargetType", "ip"),
        health_check=HealthCheck(
            protocol=item.get("HealthCheckProtocol", "TCP"),
            port=str(item.get("HealthCheckPort", "traffic-port")),
            interval=item.get("HealthCheckIntervalSeconds"),
            timeout=item.get("HealthCheckTimeoutSeconds"),
            healthy_threshold=item.get("HealthyThresholdCount"),
            unhealthy_threshold=item.get("UnhealthyThresholdCount"),
        ),
    )
    attrs = rec.call(
        "elbv2", "describe_target_group_attributes", parts=("target_groups",), TargetGroupArn=arn
    )
    for attr in (attrs or {}).get("Attributes", []):
        if attr.get("Key") == "proxy_protocol_v2.enabled":
            group.proxy_protocol = as_bool(attr.get("Value"))
    health = rec.call("elbv2", "describe_target_health", parts=("target_health",), TargetGroupArn=arn)
    descriptions = (health or {}).get("TargetHealthDescriptions", [])
    instances = describe_instances(
        rec, [d["Target"]["Id"] for d in descriptions if d["Target"]["Id"].startswith("i-")]
    )
    for d in descriptions:
        target, state = d.get("Target", {}), d.get("TargetHealth", {})
        instance = instances.get(target["Id"], {})
        az = (
            target.get("AvailabilityZone")
            or instance.get("Placement", {}).get("AvailabilityZone")
            or subnet_zone(target["Id"], subnets)
        )
        az_id = next((s.az_id for s in subnets if s.az_name == az), None) if az else None
        group.targets.append(
            TargetHealth(
                id=target["Id"],
                port=target.get("Port"),
                az=az,
                az_id=az_id,
                state=state.get("State", ""),
                reason=state.get("Reason"),
                description=state.get("Description"),
                instance_state=instance.get("State", {}).get("Name"),
            )
        )
    return group


def describe_instances(rec: Recorder, instance_ids: list[str]) -> dict[str, dict[str, Any]]:
    """Instance targets by ID (their AZ, and their state: a stopped instance serves nothing, even
    while its target health still says otherwise)."""
    if not instance_ids:
        return {}
    response = rec.call("ec2", "describe_instances", parts=("target_zones",), InstanceIds=instance_ids)
    return {
        i["InstanceId"]: i for r in (response or {}).get("Reservations", []) for i in r.get("Instances", [])
    }


def subnet_zone(ip: str, subnets: list[Subnet]) -> str | None:
    """The AZ name of the producer subnet holding an IP target."""
    try:
        address = ipaddress.IPv4Address(ip)
    except ValueError:
        return None
    for subnet in subnets:
        if subnet.cidr and address in ipaddress.IPv4Network(subnet.cidr):
            return subnet.az_name
    return None


# --- consumers --------------------------------------------------------------------------------


def observe_consumer(spec: Spec, name: str, rec: Recorder, account_id: str) -> Consumer:
    spec_consumer = spec.consumer(name)
    if not account_id:
        identity = rec.call("sts", "get_caller_identity")
        account_id = (identity or {}).get("Account", "")
    consumer = consumer_skeleton(spec, spec_consumer, account_id)
    found = stack_outputs(rec, naming.consumer_stack(spec.name, name).name, CONSUMER_PARTS)
    if found is None:
        return consumer
    consumer.deployed = True
    consumer.stack_status, outputs = found
    consumer.vpc_id = outputs.get(naming.OUT_VPC_ID, "") or (spec_consumer.vpc.id or "")
    consumer.endpoint_id_expected = outputs.get(naming.OUT_ENDPOINT_ID, "")
    zones = az_map(rec)
    if consumer.vpc_id:
        observe_vpc(rec, consumer)
        consumer.subnets = observe_subnets(rec, [], consumer.vpc_id, ("subnets",))
        for subnet in consumer.subnets:
            subnet.az_id = subnet.az_id or zones.get(subnet.az_name, "")
    if consumer.vpc_cidr and consumer.vpc_cidr not in consumer.expected_clients:
        consumer.expected_clients.insert(0, consumer.vpc_cidr)
    consumer.endpoint = observe_endpoint(rec, consumer, spec.name)
    if consumer.endpoint is not None:
        consumer.security_groups = observe_security_groups(rec, consumer.endpoint.security_group_ids)
    elif consumer.stack_status.endswith(("FAILED", "ROLLBACK_COMPLETE")):
        consumer.endpoint_failure = endpoint_failure(rec, naming.consumer_stack(spec.name, name).name)
    if consumer.vpc_id:
        consumer.hosted_zones = observe_zones(rec, consumer.vpc_id, consumer.region)
    if spec_consumer.vpn is not None:
        vpn = stack_outputs(rec, naming.vpn_stack(spec.name, name).name, ("vpn", "vpn_access"))
        vpn_id = vpn[1].get(naming.OUT_CLIENT_VPN_ENDPOINT_ID, "") if vpn else ""
        if vpn_id:
            consumer.vpn = observe_vpn(rec, vpn_id)
    return consumer


def observe_vpc(rec: Recorder, consumer: Consumer) -> None:
    response = rec.call("ec2", "describe_vpcs", parts=("vpc",), VpcIds=[consumer.vpc_id])
    for vpc in (response or {}).get("Vpcs", [])[:1]:
        consumer.vpc_cidr = vpc.get("CidrBlock", "")
    support = rec.call("ec2", "describe_vpc_attribute", VpcId=consumer.vpc_id, Attribute="enableDnsSupport")
    if support:
        consumer.enable_dns_support = bool(support.get("EnableDnsSupport", {}).get("Value"))
    hostnames = rec.call(
        "ec2", "describe_vpc_attribute", VpcId=consumer.vpc_id, Attribute="enableDnsHostnames"
    )
    if hostnames:
        consumer.enable_dns_hostnames = bool(hostnames.get("EnableDnsHostnames", {}).get("Value"))


def observe_endpoint(rec: Recorder, consumer: Consumer, link: str):
    from privlink.observe.model import Endpoint

    if consumer.endpoint_id_expected:
        response = rec.call(
            "ec2",
            "describe_vpc_endpoints",
            quiet=NOT_FOUND_CODES,
            parts=ENDPOINT_PARTS,
            VpcEndpointIds=[consumer.endpoint_id_expected],
        )
    elif consumer.vpc_id:
        response = rec.call(
            "ec2",
            "describe_vpc_endpoints",
            parts=ENDPOINT_PARTS,
            Filters=[
                {"Name": "vpc-id", "Values": [consumer.vpc_id]},
                {"Name": f"tag:{naming.TAG_LINK}", "Values": [link]},
            ],
        )
    else:
        return None
    # The link's endpoint connects to an endpoint service (com.amazonaws.vpce.<region>.vpce-svc-...);
    # the test instance's endpoints to AWS services (com.amazonaws.<region>.ssm) carry the tag too.
    items = [
        e
        for e in (response or {}).get("VpcEndpoints", [])
        if e.get("State") != "deleted" and str(e.get("ServiceName", "")).startswith(SERVICE_NAME_PREFIX)
    ]
    if not items:
        return None
    e = items[0]
    endpoint = Endpoint(
        id=e["VpcEndpointId"],
        state=e.get("State", ""),
        service_name=e.get("ServiceName", ""),
        service_region=e.get("ServiceRegion"),
        private_dns_enabled=bool(e.get("PrivateDnsEnabled", False)),
        dns_entries=[
            DnsEntry(dns_name=d.get("DnsName", ""), hosted_zone_id=d.get("HostedZoneId", ""))
            for d in e.get("DnsEntries", [])
        ],
        subnet_ids=list(e.get("SubnetIds", [])),
        security_group_ids=[g["GroupId"] for g in e.get("Groups", []) if "GroupId" in g],
        network_interface_ids=list(e.get("NetworkInterfaceIds", [])),
    )
    if endpoint.network_interface_ids:
        enis = rec.call(
            "ec2",
            "describe_network_interfaces",
            parts=("endpoint_addresses",),
            NetworkInterfaceIds=endpoint.network_interface_ids,
        )
        for eni in (enis or {}).get("NetworkInterfaces", []):
            endpoint.addresses[eni.get("SubnetId", "")] = eni.get("PrivateIpAddress", "")
    return endpoint


def endpoint_failure(rec: Recorder, stack: str) -> str:
    """Why CloudFormation failed to create the interface endpoint, from the stack's events."""
    events = rec.pages("cloudformation", "describe_stack_events", "StackEvents", StackName=stack) or []
    for event in events:
        if (
            event.get("ResourceType") == "AWS::EC2::VPCEndpoint"
            and event.get("ResourceStatus") == "CREATE_FAILED"
        ):
            return event.get("ResourceStatusReason", "")
    return ""


def observe_security_groups(rec: Recorder, group_ids: list[str]) -> list[SecurityGroup]:
    if not group_ids:
        return []
    response = rec.call("ec2", "describe_security_groups", parts=("security_groups",), GroupIds=group_ids)
    groups = []
    for g in (response or {}).get("SecurityGroups", []):
        rules = [
            IngressRule(
                protocol=str(p.get("IpProtocol", "-1")),
                from_port=p.get("FromPort"),
                to_port=p.get("ToPort"),
                cidrs=[r["CidrIp"] for r in p.get("IpRanges", []) if "CidrIp" in r],
                source_security_group_ids=[
                    r["GroupId"] for r in p.get("UserIdGroupPairs", []) if "GroupId" in r
                ],
                prefix_list_ids=[
                    r["PrefixListId"] for r in p.get("PrefixListIds", []) if "PrefixListId" in r
                ],
            )
            for p in g.get("IpPermissions", [])
        ]
        groups.append(
            SecurityGroup(
                id=g["GroupId"], name=g.get("GroupName", ""), vpc_id=g.get("VpcId", ""), ingress=rules
            )
        )
    return groups


def observe_zones(rec: Recorder, vpc_id: str, region: str) -> list[HostedZone]:
    response = rec.call(
        "route53", "list_hosted_zones_by_vpc", parts=("zones",), VPCId=vpc_id, VPCRegion=region
    )
    zones = []
    for summary in (response or {}).get("HostedZoneSummaries", []):
        zone_id = summary["HostedZoneId"].rsplit("/", 1)[-1]
        records = rec.pages(
            "route53",
            "list_resource_record_sets",
            "ResourceRecordSets",
            parts=("zones",),
            HostedZoneId=zone_id,
        )
        zones.append(
            HostedZone(
                id=zone_id,
                name=summary.get("Name", "").rstrip("."),
                records=[
                    Record(
                        name=r["Name"].rstrip(".").lower(),
                        type=r["Type"],
                        alias_target=(
                            r["AliasTarget"]["DNSName"].rstrip(".").lower() if "AliasTarget" in r else None
                        ),
                        values=[v["Value"] for v in r.get("ResourceRecords", [])],
                    )
                    for r in records or []
                ],
            )
        )
    return zones


def observe_vpn(rec: Recorder, vpn_id: str) -> ClientVpn | None:
    response = rec.call(
        "ec2", "describe_client_vpn_endpoints", parts=("vpn", "vpn_access"), ClientVpnEndpointIds=[vpn_id]
    )
    items = (response or {}).get("ClientVpnEndpoints", [])
    if not items:
        return None
    e = items[0]
    vpn = ClientVpn(
        id=vpn_id,
        state=e.get("Status", {}).get("Code", ""),
        client_cidr=e.get("ClientCidrBlock", ""),
        dns_servers=list(e.get("DnsServers", [])),
        split_tunnel=bool(e.get("SplitTunnel", False)),
    )
    for a in (
        rec.pages(
            "ec2",
            "describe_client_vpn_target_networks",
            "ClientVpnTargetNetworks",
            parts=("vpn_access",),
            ClientVpnEndpointId=vpn_id,
        )
        or []
    ):
        vpn.associations.append(
            VpnAssociation(
                id=a.get("AssociationId", ""),
                subnet_id=a.get("TargetNetworkId", ""),
                state=a.get("Status", {}).get("Code", ""),
            )
        )
    for r in (
        rec.pages(
            "ec2",
            "describe_client_vpn_authorization_rules",
            "AuthorizationRules",
            parts=("vpn_access",),
            ClientVpnEndpointId=vpn_id,
        )
        or []
    ):
        vpn.authorization_rules.append(
            VpnAuthorizationRule(
                destination_cidr=r.get("DestinationCidr", ""),
                access_all=bool(r.get("AccessAll")),
                group_id=r.get("GroupId", ""),
                state=r.get("Status", {}).get("Code", ""),
            )
        )
    routes = rec.pages(
        "ec2", "describe_client_vpn_routes", "Routes", parts=("vpn_access",), ClientVpnEndpointId=vpn_id
    )
    for r in routes or []:
        vpn.routes.append(
            VpnRoute(
                destination_cidr=r.get("DestinationCidr", ""),
                target_subnet=r.get("TargetSubnet", ""),
                state=r.get("Status", {}).get("Code", ""),
            )
        )
    return vpn


# --- all together -----------------------------------------------------------------------------


def observe_aws(spec: Spec, clients: Clients, max_workers: int = 8) -> Observation:
    """Observe the producer and every consumer concurrently; never raises for AWS errors."""
    account_ids = {label: a.account_id for label, a in spec.accounts.items() if a.account_id}
    producer_rec = Recorder("producer", clients, spec.producer.account, spec.producer.region)
    consumer_recs = {
        c.name: Recorder(f"consumer:{c.name}", clients, c.account, c.region) for c in spec.consumers
    }
    with ThreadPoolExecutor(max_workers=max_workers) as pool:
        producer_future = pool.submit(observe_producer, spec, producer_rec)
        consumer_futures = {
            c.name: pool.submit(
                observe_consumer, spec, c.name, consumer_recs[c.name], account_ids.get(c.account, "")
            )
            for c in spec.consumers
        }
        producer = producer_future.result()
        consumers = [consumer_futures[c.name].result() for c in spec.consumers]
    for spec_consumer, consumer in zip(spec.consumers, consumers, strict=True):
        if consumer.account_id:
            account_ids.setdefault(spec_consumer.account, consumer.account_id)
    errors, unknown = list(producer_rec.errors), set(producer_rec.unknown)
    for rec in consumer_recs.values():
        errors.extend(rec.errors)
        unknown |= rec.unknown
    return Observation(
        target="aws",
        expected=expectations(spec, account_ids),
        producer=producer,
        consumers=consumers,
        errors=errors,
        unknown=sorted(unknown),
    )
