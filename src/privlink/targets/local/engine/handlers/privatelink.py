"""PrivateLink: endpoint services, their permissions and notifications, interface endpoints."""

from __future__ import annotations

import re
from typing import Any

from privlink.lifecycle import facts
from privlink.targets.local.engine import ids as idfmt
from privlink.targets.local.engine.handlers import aws_services
from privlink.targets.local.engine.handlers.base import (
    Handler,
    Op,
    allocate_ip,
    as_bool,
    endpoint_security_groups,
    endpoint_subnets,
    register,
    release_ips,
    remove,
    tags_of,
)
from privlink.targets.local.world import (
    BLOCKING_STATES,
    DELETED,
    PENDING,
    PENDING_ACCEPTANCE,
    ConnectionNotification,
    Endpoint,
    EndpointService,
    Resource,
    SimulatedAwsError,
    iso,
)

SERVICE = "AWS::EC2::VPCEndpointService"
ENDPOINT = "AWS::EC2::VPCEndpoint"
PRINCIPAL = re.compile(r"^(\*|arn:aws(-cn|-us-gov)?:iam::\d{12}:(root|(role|user)/[\w+=,.@/-]+))$")
CONNECTION_EVENTS = {"Accept", "Connect", "Delete", "Reject"}
# AZ IDs where cross-region PrivateLink is not offered: the one constant the plan avoids too (with
# its source there).
NO_CROSS_REGION_AZ_IDS = facts.NO_CROSS_REGION_AZ_IDS


def _service_of(op: Op, service_id: str) -> EndpointService:
    service = op.world.endpoint_services.get(service_id)
    if service is None or service.account != op.account or service.region != op.region:
        raise SimulatedAwsError(
            "InvalidVpcEndpointServiceId.NotFound",
            f"The Vpc Endpoint Service Id '{service_id}' does not exist",
        )
    return service


@register
class EndpointServiceHandler(Handler):
    type = SERVICE

    def _configure(self, op: Op, service: EndpointService, props: dict[str, Any]) -> None:
        if props.get("GatewayLoadBalancerArns"):
            raise SimulatedAwsError(
                "InvalidParameter", "the sandbox simulates Network Load Balancer services only"
            )
        arns = list(props.get("NetworkLoadBalancerArns") or [])
        if not arns:
            raise SimulatedAwsError("InvalidParameter", "NetworkLoadBalancerArns must be specified")
        names, zone_ids = [], []
        mapping = op.world.az_mapping(op.account, op.region)
        listeners = op.world.of_type("AWS::ElasticLoadBalancingV2::Listener")
        custom_idle = False
        for arn in arns:
            lb = op.find(
                arn, "AWS::ElasticLoadBalancingV2::LoadBalancer", "load balancer", "InvalidParameter"
            )
            for other in op.world.endpoint_services.values():
                if other.id != service.id and arn in other.load_balancer_arns:
                    raise SimulatedAwsError(
                        "InvalidParameter",
                        f"Load balancer {arn} is already associated with "
                        f"another VPC Endpoint Service {other.id}",
                    )
            for subnet_id in lb.data["subnet_ids"]:
                subnet = op.find(subnet_id, "AWS::EC2::Subnet", "subnet")
                if subnet.data["az"] not in names:
                    names.append(subnet.data["az"])
                    zone_ids.append(mapping[subnet.data["az"]])
            custom_idle = custom_idle or any(
                listener.data["load_balancer_arn"] == arn
                and listener.data["attributes"]["tcp.idle_timeout.seconds"] != "350"
                for listener in listeners
            )
        regions = list(props.get("SupportedRegions") or [])
        if len(set(regions)) != len(regions):
            raise SimulatedAwsError("InvalidParameter", "SupportedRegions must be unique")
        remote = [r for r in regions if r != op.region]
        if remote and custom_idle:
            # Cross-region is not offered with a custom NLB TCP idle timeout; the exact text is UNCONFIRMED.
            raise SimulatedAwsError(
                "InvalidParameter",
                "Cross-region connectivity is not supported for a Network "
                "Load Balancer with a custom TCP idle timeout",
            )
        blocked = sorted(set(zone_ids) & NO_CROSS_REGION_AZ_IDS)
        if remote and blocked:
            raise SimulatedAwsError(
                "InvalidParameter",
                f"Cross-region connectivity is not supported in Availability Zone {', '.join(blocked)}",
            )
        private_name = props.get("PrivateDnsName") or None
        if private_name != service.private_dns_name:
            service.private_dns_name = private_name
            if private_name:
                service.private_dns_state = "pendingVerification"
                service.private_dns_txt_name = "_" + op.world.ids.lower_alnum(20, "txt")
                service.private_dns_txt_value = "vpce:" + op.world.ids._chars(
                    idfmt.LOWER_ALNUM + idfmt.UPPER_ALNUM[:26], 20, "txtvalue"
                )
            else:
                service.private_dns_state = service.private_dns_txt_name = service.private_dns_txt_value = (
                    None
                )
        service.load_balancer_arns = arns
        service.az_names, service.az_ids = names, zone_ids
        service.acceptance_required = as_bool(props.get("AcceptanceRequired"), True)
        service.supported_regions = remote

    def create(self, op: Op, props: dict[str, Any]) -> Resource:
        service_id = op.world.ids.resource_id("vpce-svc")
        service = EndpointService(
            id=service_id,
            name=idfmt.service_name(op.region, service_id),
            account=op.account,
            region=op.region,
            load_balancer_arns=[],
            az_names=[],
            az_ids=[],
            created=iso(op.world.now()),
        )
        self._configure(op, service, props)
        op.world.endpoint_services[service_id] = service
        return op.add(SERVICE, service_id, props, {"ServiceId": service_id}, {"tags": tags_of(props)})

    def update(self, op: Op, res: Resource, old: dict[str, Any], new: dict[str, Any]) -> None:
        super().update(op, res, old, new)
        self._configure(op, _service_of(op, res.id), new)
        res.data["tags"] = tags_of(new)

    def delete(self, op: Op, res: Resource) -> None:
        active = [
            e.id for e in op.world.endpoints.values() if e.service_id == res.id and e.state in BLOCKING_STATES
        ]
        if active:
            raise SimulatedAwsError(
                "ExistingVpcEndpointConnections",
                f"Service {res.id} has existing active VPC Endpoint connections: {', '.join(active)}",
            )
        op.world.endpoint_services.pop(res.id, None)
        for nid in [n.id for n in op.world.notifications.values() if n.service_id == res.id]:
            del op.world.notifications[nid]
        remove(op.world, res)


@register
class EndpointServicePermissionsHandler(Handler):
    type = "AWS::EC2::VPCEndpointServicePermissions"
    required = ("ServiceId",)
    create_only = frozenset({"ServiceId"})

    def _apply(self, op: Op, props: dict[str, Any]) -> None:
        service = _service_of(op, props["ServiceId"])
        principals = list(props.get("AllowedPrincipals") or [])
        for principal in principals:
            if not PRINCIPAL.match(str(principal)):
                raise SimulatedAwsError("InvalidPrincipal", f"Invalid Principal: '{principal}'")
        service.allowed_principals = principals  # authoritative: unlisted principals are revoked

    def create(self, op: Op, props: dict[str, Any]) -> Resource:
        self._apply(op, props)
        return op.add(
            self.type,
            op.world.ids.resource_id("vpce-svc-perm"),
            props,
            {},
            {"service_id": props["ServiceId"]},
        )

    def update(self, op: Op, res: Resource, old: dict[str, Any], new: dict[str, Any]) -> None:
        super().update(op, res, old, new)
        self._apply(op, new)

    def delete(self, op: Op, res: Resource) -> None:
        service = op.world.endpoint_services.get(res.data["service_id"])
        if service is not None:
            service.allowed_principals = []
        remove(op.world, res)


@register
class ConnectionNotificationHandler(Handler):
    type = "AWS::EC2::VPCEndpointConnectionNotification"
    required = ("ConnectionEvents", "ConnectionNotificationArn")
    create_only = frozenset({"ServiceId", "VPCEndpointId"})

    def _check(self, op: Op, props: dict[str, Any]) -> None:
        events = set(props["ConnectionEvents"])
        if not events <= CONNECTION_EVENTS:
            raise SimulatedAwsError(
                "InvalidParameter",
                f"Invalid connection events: {', '.join(sorted(events - CONNECTION_EVENTS))}",
            )
        topic = props["ConnectionNotificationArn"]
        if not any(t.id == topic and t.region == op.region for t in op.world.of_type("AWS::SNS::Topic")):
            raise SimulatedAwsError(
                "InvalidConnectionNotification", f"Topic {topic} does not exist in {op.region}"
            )
        if bool(props.get("ServiceId")) == bool(props.get("VPCEndpointId")):
            raise SimulatedAwsError("InvalidParameter", "Specify either ServiceId or VPCEndpointId")
        if props.get("ServiceId"):
            _service_of(op, props["ServiceId"])
        elif props["VPCEndpointId"] not in op.world.endpoints:
            raise SimulatedAwsError(
                "InvalidVpcEndpointId.NotFound",
                f"The Vpc Endpoint Id '{props['VPCEndpointId']}' does not exist",
            )

    def create(self, op: Op, props: dict[str, Any]) -> Resource:
        self._check(op, props)
        nid = op.world.ids.resource_id("vpce-nfn")
        op.world.notifications[nid] = ConnectionNotification(
            id=nid,
            account=op.account,
            region=op.region,
            topic_arn=props["ConnectionNotificationArn"],
            events=list(props["ConnectionEvents"]),
            service_id=props.get("ServiceId"),
            endpoint_id=props.get("VPCEndpointId"),
        )
        return op.add(self.type, nid, props, {"VPCEndpointConnectionNotificationId": nid}, {})

    def update(self, op: Op, res: Resource, old: dict[str, Any], new: dict[str, Any]) -> None:
        super().update(op, res, old, new)
        self._check(op, new)
        notification = op.world.notifications[res.id]
        notification.events = list(new["ConnectionEvents"])
        notification.topic_arn = new["ConnectionNotificationArn"]

    def delete(self, op: Op, res: Resource) -> None:
        op.world.notifications.pop(res.id, None)
        remove(op.world, res)


@register
class EndpointHandler(Handler):
    type = ENDPOINT
    required = ("VpcId",)
    create_only = frozenset(
        {
            "ServiceName",
            "VpcEndpointType",
            "VpcId",
            "ServiceRegion",
            "ServiceNetworkArn",
            "ResourceConfigurationArn",
        }
    )

    def _placement(self, op: Op, endpoint: Endpoint, service: EndpointService, props: dict[str, Any]) -> None:
        """Subnets, security groups and private DNS: AWS's checks, then ENIs and DNS names."""
        vpc = op.find(endpoint.vpc_id, "AWS::EC2::VPC", "vpc", "InvalidVpcId.NotFound")

        def served(subnet: Resource) -> None:
            if service.region == op.region and subnet.data["az_id"] not in service.az_ids:
                raise SimulatedAwsError(
                    "InvalidParameter",
                    f"The VPC endpoint service {service.name} does not "
                    f"support the availability zone of the subnet: {subnet.id}.",
                )

        subnets = endpoint_subnets(op, props, vpc, served)
        sg_ids = endpoint_security_groups(op, props, vpc)
        private_dns = as_bool(props.get("PrivateDnsEnabled"), False)
        if private_dns:
            if not service.private_dns_name:
                raise SimulatedAwsError(
                    "InvalidParameter",
                    "Private DNS can't be enabled because the service "
                    f"{service.name} does not provide a private DNS name.",
                )
            if service.private_dns_state != "verified":
                # Exact text UNCONFIRMED: the consumer cannot use an unverified name (aws-facts-detailed §3).
                raise SimulatedAwsError(
                    "InvalidParameter",
                    "Private DNS can't be enabled because the service "
                    f"{service.name} has not verified its private DNS name.",
                )
            if not (vpc.data["dns_support"] and vpc.data["dns_hostnames"]):
                # Exact text UNCONFIRMED (aws-facts-detailed §9).
                raise SimulatedAwsError(
                    "InvalidParameter",
                    "Enabling private DNS requires both enableDnsSupport "
                    f"and enableDnsHostnames VPC attributes set to true for {vpc.id}",
                )
        release_ips(op.world, endpoint.id)
        endpoint.subnet_ids = [s.id for s in subnets]
        endpoint.network_interfaces = {
            s.id: endpoint.network_interfaces.get(s.id) or op.world.ids.resource_id("eni") for s in subnets
        }
        endpoint.private_ips = {s.id: allocate_ip(op.world, s, endpoint.id) for s in subnets}
        endpoint.security_group_ids = sg_ids
        endpoint.private_dns_enabled = private_dns
        label = (
            endpoint.dns_names[0].split(".", 1)[0].rsplit("-", 1)[1]
            if endpoint.dns_names
            else (op.world.ids.endpoint_dns_label())
        )
        endpoint.dns_names = idfmt.endpoint_dns_names(
            endpoint.id, label, service.id, service.region, [s.data["az"] for s in subnets]
        )

    def _attributes(self, endpoint: Endpoint) -> dict[str, Any]:
        return {
            "Id": endpoint.id,
            "CreationTimestamp": endpoint.created,
            "DnsEntries": endpoint.dns_entries,
            "NetworkInterfaceIds": list(endpoint.network_interfaces.values()),
        }

    def create(self, op: Op, props: dict[str, Any]) -> Resource:
        kind = props.get("VpcEndpointType", "Gateway")
        if kind != "Interface":
            raise SimulatedAwsError(
                "InvalidParameter",
                f"the sandbox simulates Interface endpoints only, not {kind} "
                "(VpcEndpointType defaults to Gateway)",
            )
        if not props.get("ServiceName"):
            raise SimulatedAwsError("InvalidParameter", "ServiceName must be specified")
        op.find(props["VpcId"], "AWS::EC2::VPC", "vpc", "InvalidVpcId.NotFound")
        if aws_services.is_aws_service(props["ServiceName"]):
            return aws_services.create(op, ENDPOINT, props)
        service_region = props.get("ServiceRegion") or op.region
        service = op.world.visible_service(props["ServiceName"], service_region, op.info, op.region)
        endpoint_id = op.world.ids.resource_id("vpce")
        now = iso(op.world.now())
        endpoint = Endpoint(
            id=endpoint_id,
            account=op.account,
            region=op.region,
            vpc_id=props["VpcId"],
            service_id=service.id,
            service_name=service.name,
            service_region=service.region,
            subnet_ids=[],
            dns_zone_id=idfmt.vpce_hosted_zone_id(service.region),
            created=now,
        )
        self._placement(op, endpoint, service, props)
        op.world.endpoints[endpoint_id] = endpoint
        op.world.set_endpoint_state(endpoint, PENDING_ACCEPTANCE if service.acceptance_required else PENDING)
        op.world.notify(endpoint, "Connect")
        op.world.settle()
        # CloudFormation completes while the endpoint awaits acceptance (aws-facts-detailed §2).
        return op.add(
            ENDPOINT,
            endpoint_id,
            props,
            self._attributes(endpoint),
            {"vpc_id": endpoint.vpc_id, "tags": tags_of(props)},
        )

    def update(self, op: Op, res: Resource, old: dict[str, Any], new: dict[str, Any]) -> None:
        super().update(op, res, old, new)
        if res.data.get("aws_service"):
            aws_services.update(op, res, new)
            return
        endpoint = op.world.endpoints[res.id]
        service = op.world.endpoint_services.get(endpoint.service_id)
        if service is None:
            raise SimulatedAwsError(
                "InvalidVpcEndpointServiceId.NotFound", f"The service of {res.id} no longer exists"
            )
        self._placement(op, endpoint, service, new)
        res.attributes = self._attributes(endpoint)
        res.data["tags"] = tags_of(new)

    def delete(self, op: Op, res: Resource) -> None:
        if res.data.get("aws_service"):
            aws_services.delete(op, res)
            return
        endpoint = op.world.endpoints.get(res.id)
        if endpoint is not None:
            op.world.set_endpoint_state(endpoint, DELETED)
            op.world.notify(endpoint, "Delete")
            release_ips(op.world, endpoint.id)
            del op.world.endpoints[res.id]
        remove(op.world, res)
