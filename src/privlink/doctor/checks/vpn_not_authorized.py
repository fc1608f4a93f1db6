"""vpn-not-authorized: a declared Client VPN exists, has an associated subnet and authorizes access to
the VPC and the endpoint's addresses."""

from __future__ import annotations

from privlink.doctor.check import Check, FindingKind
from privlink.doctor.consumers import deployed_consumers
from privlink.doctor.coverage import cidr_covers
from privlink.doctor.findings import Finding
from privlink.observe.model import Observation
from privlink.templates.naming import vpn_stack

FIX_MISSING = "run `privlink up`"
FIX_NO_ASSOCIATION = (
    "associate a subnet again (`privlink up` does not undo a change made outside CloudFormation): "
    "`aws ec2 associate-client-vpn-target-network --client-vpn-endpoint-id {vpn_id} --subnet-id "
    "{subnet_id}`"
)
FIX_NO_RULE = (
    "authorize {vpc_cidr} again (`privlink up` does not undo a change made outside CloudFormation): "
    "`aws ec2 authorize-client-vpn-ingress --client-vpn-endpoint-id {vpn_id} --target-network-cidr "
    "{vpc_cidr} --authorize-all-groups`"
)

VPN_MISSING = FindingKind(
    "vpn-missing",
    ("error",),
    "A consumer declares a Client VPN but none was found.",
    "The consumer's `vpn:` key asks for a Client VPN endpoint in its VPC, deployed by the stack "
    "`privlink-<link>-vpn-<name>`. Without it people outside the VPC have no way to reach the service. "
    "The VPN stack was not deployed yet, failed, or was deleted.",
    "aws cloudformation describe-stacks --stack-name privlink-<link>-vpn-<name> "
    "--query 'Stacks[0].[StackStatus,Outputs]'",
    (FIX_MISSING,),
)
VPN_NOT_AUTHORIZED = FindingKind(
    "vpn-not-authorized",
    ("error",),
    "The Client VPN has no associated subnet, or does not authorize access to the VPC or the endpoint.",
    "A Client VPN endpoint passes traffic only once it is associated with at least one subnet (a "
    "target network) and an active authorization rule covers the destination. privlink authorizes the "
    "consumer VPC's CIDR, which covers the interface endpoint's addresses; without the association or "
    "the rule, connected clients reach nothing.",
    "aws ec2 describe-client-vpn-target-networks --client-vpn-endpoint-id <client vpn endpoint id>\n"
    "aws ec2 describe-client-vpn-authorization-rules --client-vpn-endpoint-id <client vpn endpoint id>",
    (FIX_NO_ASSOCIATION, FIX_NO_RULE),
)


def vpn_not_authorized(obs: Observation) -> list[Finding]:
    found = []
    for consumer in deployed_consumers(obs):
        vpn = consumer.vpn
        if consumer.vpn_expected and vpn is None:
            found.append(
                VPN_MISSING.finding(
                    "error",
                    vpn_stack(obs.expected.link, consumer.name).name,
                    f"consumer {consumer.name} declares a Client VPN but none was found",
                    FIX_MISSING,
                )
            )
            continue
        if vpn is None:
            continue
        if not any(association.state in ("associated", "") for association in vpn.associations):
            found.append(
                VPN_NOT_AUTHORIZED.finding(
                    "error",
                    vpn.id,
                    f"Client VPN {vpn.id} has no associated subnet, so clients reach nothing",
                    FIX_NO_ASSOCIATION.format(
                        vpn_id=vpn.id,
                        subnet_id=consumer.subnets[0].id if consumer.subnets else "<subnet id>",
                    ),
                )
            )
        destinations = [consumer.vpc_cidr] if consumer.vpc_cidr else []
        destinations += list(consumer.endpoint.addresses.values()) if consumer.endpoint else []
        rules = [rule for rule in vpn.authorization_rules if rule.state in ("active", "")]
        blocked = [
            d for d in destinations if not any(cidr_covers(rule.destination_cidr, d) for rule in rules)
        ]
        if blocked:
            have = (
                ", ".join(
                    f"{rule.destination_cidr} ({rule.state or '?'})" for rule in vpn.authorization_rules
                )
                or "none"
            )
            found.append(
                VPN_NOT_AUTHORIZED.finding(
                    "error",
                    vpn.id,
                    f"Client VPN {vpn.id} authorizes no access to {', '.join(blocked)}; rules: {have}",
                    FIX_NO_RULE.format(vpn_id=vpn.id, vpc_cidr=consumer.vpc_cidr or "<vpc cidr>"),
                )
            )
    return found


CHECKS = (
    Check(
        "vpn-not-authorized",
        vpn_not_authorized,
        (VPN_NOT_AUTHORIZED, VPN_MISSING),
        ("consumer.vpn", "consumer.vpn_access"),
    ),
)
