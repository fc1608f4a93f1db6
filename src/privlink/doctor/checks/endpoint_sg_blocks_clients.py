"""endpoint-sg-blocks-clients: the endpoint's security groups admit every expected client on the
service port."""

from __future__ import annotations

from privlink.doctor.check import Check, FindingKind
from privlink.doctor.consumers import with_endpoint
from privlink.doctor.coverage import cidr_covers
from privlink.doctor.findings import Finding
from privlink.observe.model import IngressRule, Observation

FIX = (
    "add {client} to consumers[{consumer}].allowed_cidrs and run `privlink up`; a rule privlink made "
    "that was removed outside CloudFormation `privlink up` does not restore: `aws ec2 "
    "authorize-security-group-ingress --group-id {group_id} --ip-protocol tcp --from-port {port} "
    "--to-port {port} --cidr-ip {client}`"
)

ENDPOINT_SG_BLOCKS_CLIENTS = FindingKind(
    "endpoint-sg-blocks-clients",
    ("error",),
    "The interface endpoint's security groups do not admit a client range on the service port.",
    "An interface endpoint's network interfaces are guarded by its security groups: a client reaches "
    "the service only when an ingress rule allows TCP on the service port (`producer.service.port`) "
    "from the client's address. privlink expects the consumer VPC's CIDR and, with a Client VPN, its "
    "client CIDR to get in. Only CIDR rules count: a rule naming another security group or a "
    "prefix list is not evaluated. The evidence lists the ingress rules found.",
    "aws ec2 describe-vpc-endpoints --vpc-endpoint-ids <endpoint id> --query 'VpcEndpoints[0].Groups'\n"
    "aws ec2 describe-security-groups --group-ids <group id> --query 'SecurityGroups[].IpPermissions'",
    (FIX,),
)


def rule_allows(rule: IngressRule, cidr: str, port: int) -> bool:
    """The rule admits TCP to `port` from every address of `cidr`."""
    protocol = rule.protocol.lower()
    if protocol not in ("tcp", "6", "-1", "all"):
        return False
    if (
        protocol not in ("-1", "all")
        and rule.from_port is not None
        and rule.to_port is not None
        and not (rule.from_port <= port <= rule.to_port)
    ):
        return False
    return any(cidr_covers(source, cidr) for source in rule.cidrs)


def describe_rules(rules: list[IngressRule]) -> str:
    if not rules:
        return "none"
    return "; ".join(
        f"{r.protocol} {ports(r)} from {','.join(r.cidrs + r.source_security_group_ids) or '-'}"
        for r in rules
    )


def ports(rule: IngressRule) -> str:
    if rule.from_port is None or rule.to_port is None or rule.protocol.lower() in ("-1", "all"):
        return "all ports"
    return f"{rule.from_port}-{rule.to_port}"


def endpoint_sg_blocks_clients(obs: Observation) -> list[Finding]:
    found = []
    port = obs.expected.service_port
    for consumer, endpoint in with_endpoint(obs):
        read = (consumer.security_group(group_id) for group_id in endpoint.security_group_ids)
        groups = [group for group in read if group is not None]
        if len(groups) < len(endpoint.security_group_ids):
            continue  # a group we could not read; describe-failed says so
        rules = [rule for group in groups for rule in group.ingress]
        for client in consumer.expected_clients:
            if not any(rule_allows(rule, client, port) for rule in rules):
                ids = ", ".join(endpoint.security_group_ids) or "none"
                found.append(
                    ENDPOINT_SG_BLOCKS_CLIENTS.finding(
                        "error",
                        ",".join(endpoint.security_group_ids) or endpoint.id,
                        f"security groups {ids} of endpoint {endpoint.id} allow no TCP {port} from {client} "
                        f"(consumer {consumer.name}); ingress: {describe_rules(rules)}",
                        FIX.format(
                            client=client,
                            consumer=consumer.name,
                            group_id=endpoint.security_group_ids[0]
                            if endpoint.security_group_ids
                            else "<group id>",
                            port=port,
                        ),
                    )
                )
    return found


CHECKS = (
    Check(
        "endpoint-sg-blocks-clients",
        endpoint_sg_blocks_clients,
        (ENDPOINT_SG_BLOCKS_CLIENTS,),
        ("consumer.vpc", "consumer.endpoint", "consumer.security_groups"),
    ),
)
