"""vpn-cidr-overlap: a Client VPN's client CIDR does not overlap its consumer VPC's CIDR."""

from __future__ import annotations

from privlink.doctor.check import Check, FindingKind
from privlink.doctor.consumers import deployed_consumers
from privlink.doctor.coverage import ipv4_network
from privlink.doctor.findings import Finding
from privlink.observe.model import Observation

FIX = (
    "change consumers[{consumer}].vpn.client_cidr to a range outside {vpc_cidr} and run `privlink up`: "
    "a client CIDR cannot change in place, so CloudFormation replaces the Client VPN endpoint, and "
    "clients need its new profile (`privlink vpn-config --consumer {consumer} --out {consumer}-new.ovpn`)"
)

VPN_CIDR_OVERLAP = FindingKind(
    "vpn-cidr-overlap",
    ("error",),
    "The Client VPN's client CIDR overlaps the consumer VPC's CIDR.",
    "Client VPN gives each connected client an address from its client CIDR. That range must not "
    "overlap the CIDR of the VPC whose subnets the endpoint is associated with (nor any of its "
    "routes): with an overlap AWS refuses the association, or traffic to the overlapping addresses "
    "(the interface endpoint's among them) is not routed into the VPC. The client CIDR of an "
    "existing Client VPN endpoint cannot be changed.",
    "aws ec2 describe-client-vpn-endpoints --client-vpn-endpoint-ids <client vpn endpoint id> "
    "--query 'ClientVpnEndpoints[0].ClientCidrBlock'\n"
    "aws ec2 describe-vpcs --vpc-ids <vpc id> --query 'Vpcs[0].CidrBlock'",
    (FIX,),
)


def vpn_cidr_overlap(obs: Observation) -> list[Finding]:
    found = []
    for consumer in deployed_consumers(obs):
        vpn = consumer.vpn
        if vpn is None or not vpn.client_cidr:
            continue
        client, vpc = ipv4_network(vpn.client_cidr), ipv4_network(consumer.vpc_cidr)
        if client is not None and vpc is not None and client.overlaps(vpc):
            found.append(
                VPN_CIDR_OVERLAP.finding(
                    "error",
                    vpn.id,
                    f"Client VPN {vpn.id} client CIDR {client} overlaps VPC {consumer.vpc_id} CIDR {vpc}",
                    FIX.format(consumer=consumer.name, vpc_cidr=vpc),
                )
            )
    return found


CHECKS = (Check("vpn-cidr-overlap", vpn_cidr_overlap, (VPN_CIDR_OVERLAP,), ("consumer.vpc", "consumer.vpn")),)
