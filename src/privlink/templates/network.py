"""The network both sides stand on: a new VPC with private subnets, or an existing one referenced.

A new VPC gets DNS support and hostnames on (interface endpoints with private DNS need both), one
private subnet per AZ (`subnet_cidrs`), no public IPs, and one route table with only the local
route: no internet gateway, no NAT. Its subnets go in the AZ IDs of a parameter the lifecycle plan
fills (`AvailabilityZoneIds`, decided up front from the accounts' AZs), never in AZ names: names
map to different AZs in different accounts.

A consumer's new VPC is a stack of its own (`render_network`, `privlink-<link>-network-<c>`): it
does not depend on the producer, so it deploys from the start, and the Client VPN (minutes of
subnet associations) needs only it, not the consumer's endpoint.

An existing VPC (`vpc: {id, subnet_ids}`) is referenced by its IDs. CloudFormation cannot read
the CIDR or the AZ IDs of resources it does not manage, so those come in as parameters bound with
`FromLookup`: the target describes the VPC and subnets in the stack's account and region.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from troposphere import GetAtt, GetAZs, Join, Ref, Select
from troposphere.ec2 import VPC, RouteTable, Subnet, SubnetRouteTableAssociation

from privlink.spec.models import Vpc, subnet_cidrs
from privlink.templates import naming
from privlink.templates.builder import StackBuilder
from privlink.templates.stacks import (
    LOOKUP_SUBNET_AZ_IDS,
    LOOKUP_VPC_CIDR,
    PLAN_AZ_IDS,
    FromLookup,
    FromPlan,
    ParamBinding,
)

if TYPE_CHECKING:
    from privlink.spec.models import Consumer, Spec

CIDR_PATTERN = r"^(\d{1,3}\.){3}\d{1,3}/\d{1,2}$"
VPC_ID = "Vpc"
ROUTE_TABLE = "PrivateRouteTable"


def subnet_id(i: int) -> str:
    return f"PrivateSubnet{i + 1}"


@dataclass(frozen=True)
class AzByName:
    """Place subnet i in the region's i-th AZ name (`Fn::GetAZs`)."""


@dataclass(frozen=True)
class AzByIdParameter:
    """Place subnet i in the i-th AZ ID of a CommaDelimitedList parameter.

    With a `binding` the network declares the parameter itself (the plan's decided AZ IDs);
    without, the template declares it (the fleet's `ServiceAvailabilityZoneIds`).
    """

    parameter: str
    binding: ParamBinding | None = None


def planned_az_ids() -> AzByIdParameter:
    """Subnets in the AZ IDs the lifecycle plan decides (`privlink.lifecycle.placement`)."""
    return AzByIdParameter(naming.PARAM_AZ_IDS, FromPlan(PLAN_AZ_IDS))


AzPlacement = AzByName | AzByIdParameter


@dataclass(frozen=True)
class Network:
    """What the rest of a template needs from the network: expressions, not resources."""

    vpc_id: Any  # Ref to the VPC, or the existing VPC's ID
    vpc_cidr: Any  # the CIDR string, or a Ref to the VpcCidr parameter
    subnet_ids: list[Any]  # in AZ order
    az_ids: Any | None  # comma-joined AZ IDs of the subnets, when known
    subnet_cidrs: list[str]  # the new subnets' CIDRs; empty for an existing VPC
    created: bool  # True when this stack creates the VPC


def add_network(b: StackBuilder, vpc: Vpc, placement: AzPlacement, want_az_ids: bool = False) -> Network:
    """Add the VPC (new or referenced) to the template and its VpcId/VpcCidr/SubnetIds outputs."""
    if vpc.cidr is not None:
        net = add_new_vpc(b, vpc.cidr, vpc.azs, placement)
    else:
        net = reference_vpc(b, vpc, want_az_ids)
    b.output(naming.OUT_VPC_ID, net.vpc_id, "The VPC")
    b.output(naming.OUT_VPC_CIDR, net.vpc_cidr, "The VPC's IPv4 CIDR")
    b.output(naming.OUT_SUBNET_IDS, Join(",", net.subnet_ids), "The private subnets, one per AZ")
    if net.az_ids is not None:
        b.output(naming.OUT_AZ_IDS, net.az_ids, "The AZ IDs of the private subnets, in order")
    return net


def add_new_vpc(b: StackBuilder, cidr: str, azs: int, placement: AzPlacement) -> Network:
    prefix = f"privlink-{b.link}-{b.part}"
    if isinstance(placement, AzByIdParameter) and placement.binding is not None:
        b.parameter(
            placement.parameter,
            placement.binding,
            Type="CommaDelimitedList",
            Description="The AZ IDs of the subnets, in order (decided by privlink before deploying)",
        )
    vpc = b.add(VPC(VPC_ID, CidrBlock=cidr, EnableDnsSupport=True, EnableDnsHostnames=True), name=prefix)
    table = b.add(RouteTable(ROUTE_TABLE, VpcId=Ref(vpc)), name=f"{prefix}-private")
    cidrs = subnet_cidrs(cidr, azs)
    subnets = []
    for i, subnet_cidr in enumerate(cidrs):
        if isinstance(placement, AzByIdParameter):
            where = {"AvailabilityZoneId": Select(i, Ref(placement.parameter))}
        else:
            where = {"AvailabilityZone": Select(i, GetAZs(""))}
        subnet = b.add(
            Subnet(
                subnet_id(i),
                VpcId=Ref(vpc),
                CidrBlock=subnet_cidr,
                MapPublicIpOnLaunch=False,
                **where,
            ),
            name=f"{prefix}-private-{i + 1}",
        )
        b.add(
            SubnetRouteTableAssociation(
                f"{subnet_id(i)}RouteTableAssociation", SubnetId=Ref(subnet), RouteTableId=Ref(table)
            )
        )
        subnets.append(subnet)
    return Network(
        vpc_id=Ref(vpc),
        vpc_cidr=cidr,
        subnet_ids=[Ref(s) for s in subnets],
        az_ids=Join(",", [GetAtt(s, "AvailabilityZoneId") for s in subnets]),
        subnet_cidrs=cidrs,
        created=True,
    )


def reference_vpc(b: StackBuilder, vpc: Vpc, want_az_ids: bool) -> Network:
    assert vpc.id is not None
    cidr = b.parameter(
        naming.PARAM_VPC_CIDR,
        FromLookup(LOOKUP_VPC_CIDR, (vpc.id,)),
        Type="String",
        AllowedPattern=CIDR_PATTERN,
        Description=f"The primary IPv4 CIDR of {vpc.id} (looked up by privlink)",
    )
    az_ids = None
    if want_az_ids:
        az_ids = Ref(
            b.parameter(
                naming.PARAM_SUBNET_AZ_IDS,
                FromLookup(LOOKUP_SUBNET_AZ_IDS, tuple(vpc.subnet_ids)),
                Type="String",
                Description="The AZ IDs of the subnets, comma-joined in order (looked up by privlink)",
            )
        )
    return Network(
        vpc_id=vpc.id,
        vpc_cidr=Ref(cidr),
        subnet_ids=list(vpc.subnet_ids),
        az_ids=az_ids,
        subnet_cidrs=[],
        created=False,
    )


def render_network(spec: Spec, consumer: Consumer) -> tuple[dict[str, Any], dict[str, ParamBinding]]:
    """The network stack of a consumer that creates its VPC: VPC, subnets, route table."""
    assert consumer.vpc.cidr is not None
    b = StackBuilder(
        link=spec.name,
        part=naming.NETWORK,
        description=f"privlink {spec.name}: consumer {consumer.name}'s VPC and private subnets",
    )
    add_network(b, consumer.vpc, planned_az_ids())
    return b.finish(), b.bindings
