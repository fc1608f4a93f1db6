"""Interface endpoints to AWS services (`com.amazonaws.<region>.ssm`, ...), as the test instance uses.

They are not PrivateLink connections to a provider's endpoint service: no acceptance, no connection
notifications, no data-plane listeners (the sandbox does not run Systems Manager). They are kept
in the resource's `data` (not in `World.endpoints`, which holds only connections to endpoint
services) with what AWS checks and allocates: subnets one per AZ in the VPC, security groups of
the VPC, one ENI and private IP per subnet, the DNS names, and the private DNS name that only one
endpoint per VPC may claim.
"""

from __future__ import annotations

import re
from typing import Any

from privlink.targets.local.engine import ids as idfmt
from privlink.targets.local.engine.handlers.base import (
    Op,
    allocate_ip,
    as_bool,
    endpoint_security_groups,
    endpoint_subnets,
    release_ips,
    remove,
    tags_of,
)
from privlink.targets.local.world import AVAILABLE, Resource, SimulatedAwsError, iso

ENDPOINT = "AWS::EC2::VPCEndpoint"
# The AWS services the sandbox offers interface endpoints for: those the SSM agent needs.
SERVICES = frozenset({"ssm", "ssmmessages", "ec2messages"})
AWS_SERVICE_NAME = re.compile(
    r"^com\.amazonaws\.(?P<region>[a-z]{2}(-gov)?-[a-z]+-\d)\.(?P<service>[a-z0-9-]+)$"
)


def is_aws_service(service_name: Any) -> bool:
    """`com.amazonaws.<region>.<service>` (an endpoint service's name has `vpce.` after `amazonaws.`)."""
    return bool(AWS_SERVICE_NAME.match(str(service_name)))


def private_dns_name(service: str, region: str) -> str:
    """The service's public API name, which the endpoint's private DNS answers inside the VPC."""
    return f"{service}.{region}.amazonaws.com"


def create(op: Op, rtype: str, props: dict[str, Any]) -> Resource:
    match = AWS_SERVICE_NAME.match(str(props["ServiceName"]))
    assert match is not None
    service, region = match["service"], match["region"]
    if region != op.region or service not in SERVICES:
        raise SimulatedAwsError(
            "InvalidServiceName", f"The Vpc Endpoint Service '{props['ServiceName']}' does not exist"
        )
    if props.get("ServiceRegion") not in (None, op.region):
        # Cross-region endpoints are for endpoint services only.
        raise SimulatedAwsError(
            "InvalidParameter", f"ServiceRegion is not supported for the AWS service {props['ServiceName']}"
        )
    endpoint_id = op.world.ids.resource_id("vpce")
    data: dict[str, Any] = {
        "vpc_id": props["VpcId"],
        "aws_service": service,
        "service_name": props["ServiceName"],
        "state": AVAILABLE,  # AWS services accept every endpoint at once
        "created": iso(op.world.now()),
        "dns_label": op.world.ids.endpoint_dns_label(),
        "tags": tags_of(props),
    }
    place(op, endpoint_id, data, props)
    return op.add(rtype, endpoint_id, props, attributes(endpoint_id, data), data)


def update(op: Op, res: Resource, new: dict[str, Any]) -> None:
    place(op, res.id, res.data, new)
    res.attributes = attributes(res.id, res.data)
    res.data["tags"] = tags_of(new)


def delete(op: Op, res: Resource) -> None:
    release_ips(op.world, res.id)
    remove(op.world, res)


def place(op: Op, endpoint_id: str, data: dict[str, Any], props: dict[str, Any]) -> None:
    """Subnets, security groups and private DNS with AWS's checks; then ENIs, IPs and DNS names."""
    vpc = op.find(data["vpc_id"], "AWS::EC2::VPC", "vpc", "InvalidVpcId.NotFound")
    subnets = endpoint_subnets(op, props, vpc)
    zones = [s.data["az"] for s in subnets]
    sg_ids = endpoint_security_groups(op, props, vpc)
    private_dns = as_bool(props.get("PrivateDnsEnabled"), False)
    name = private_dns_name(data["aws_service"], op.region)
    if private_dns:
        if not (vpc.data["dns_support"] and vpc.data["dns_hostnames"]):
            # Exact text UNCONFIRMED (aws-facts-detailed §9).
            raise SimulatedAwsError(
                "InvalidParameter",
                "Enabling private DNS requires both enableDnsSupport "
                f"and enableDnsHostnames VPC attributes set to true for {vpc.id}",
            )
        for other in op.world.of_type(ENDPOINT):
            if (
                other.id != endpoint_id
                and other.data.get("vpc_id") == vpc.id
                and other.data.get("private_dns_name") == name
            ):
                # Exact text UNCONFIRMED: one endpoint per VPC may answer a service's private name.
                raise SimulatedAwsError(
                    "InvalidParameter",
                    f"private-dns-enabled cannot be set because there is already a conflicting DNS domain "
                    f"for {name} in the VPC {vpc.id}",
                )
    release_ips(op.world, endpoint_id)
    data["subnet_ids"] = [s.id for s in subnets]
    known = data.get("network_interfaces", {})
    data["network_interfaces"] = {s.id: known.get(s.id) or op.world.ids.resource_id("eni") for s in subnets}
    data["private_ips"] = {s.id: allocate_ip(op.world, s, endpoint_id) for s in subnets}
    data["security_group_ids"] = sg_ids
    data["private_dns_name"] = name if private_dns else None
    data["dns_names"] = idfmt.endpoint_dns_names(
        endpoint_id, data["dns_label"], data["aws_service"], op.region, zones
    )
    data["dns_zone_id"] = idfmt.vpce_hosted_zone_id(op.region)


def attributes(endpoint_id: str, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "Id": endpoint_id,
        "CreationTimestamp": data["created"],
        "DnsEntries": [f"{data['dns_zone_id']}:{name}" for name in data["dns_names"]],
        "NetworkInterfaceIds": list(data["network_interfaces"].values()),
    }
