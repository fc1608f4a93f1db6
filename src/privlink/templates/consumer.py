"""A consumer stack: endpoint security group, interface endpoint, private hosted zone + alias, and
the optional test instance with its SSM endpoints (`privlink.templates.test_instance`).

The consumer's VPC is its network stack's (`privlink.templates.network.render_network`) when
privlink creates it, or an existing one; only the `consumers_from` StackSet embeds the VPC (one
StackSet instance is one stack). The endpoint's private DNS is the `PrivateDnsEnabled` parameter:
false at creation when the service requires acceptance, since AWS refuses private DNS on an
endpoint whose connection is not accepted yet (terraform-provider-aws #7148, PR #37628), then true
by the plan's `enable-private-dns:<c>` stack update.
"""

from __future__ import annotations

from typing import Any

from troposphere import GetAtt, Join, Ref, Select, Split
from troposphere.ec2 import SecurityGroup, SecurityGroupRule, VPCEndpoint
from troposphere.route53 import (
    AliasTarget,
    HostedZone,
    HostedZoneConfiguration,
    HostedZoneVPCs,
    RecordSetType,
)

from privlink.spec.models import Consumer, Spec
from privlink.templates import naming
from privlink.templates.builder import StackBuilder
from privlink.templates.network import (
    AzByIdParameter,
    AzByName,
    AzPlacement,
    Network,
    add_network,
    reference_vpc,
)
from privlink.templates.stacks import FromOutput, Literal, ParamBinding
from privlink.templates.test_instance import add_test_instance

ENDPOINT = "Endpoint"
ENDPOINT_SECURITY_GROUP = "EndpointSecurityGroup"
HOSTED_ZONE = "PrivateHostedZone"
RECORD = "PrivateRecord"
# An egress rule to a loopback /32: effectively no egress. Endpoint ENIs never open connections;
# answers to allowed ingress pass because security groups are stateful.
NO_EGRESS = SecurityGroupRule(
    IpProtocol="-1", CidrIp="127.0.0.1/32", Description="No egress: the endpoint only answers"
)


def private_dns_at_creation(spec: Spec, consumer: Consumer) -> bool:
    """Whether the endpoint is created with private DNS on: only when nothing must accept it first."""
    return consumer.private_dns_enabled and not spec.producer.endpoint_service.acceptance_required


def network_parameters(b: StackBuilder, spec: Spec, consumer: Consumer) -> Network:
    """The consumer's new VPC as parameters bound to its network stack's outputs (re-exported as the
    consumer stack's own VpcId/VpcCidr/SubnetIds outputs, which `status` and `doctor` read)."""
    assert consumer.vpc.cidr is not None
    network = naming.network_stack(spec.name, consumer.name).name
    vpc_id = b.parameter(
        naming.PARAM_VPC_ID,
        FromOutput(network, naming.OUT_VPC_ID),
        Type="String",
        AllowedPattern=r"^vpc-[0-9a-f]+$",
        Description="The consumer VPC (from its network stack)",
    )
    subnets = b.parameter(
        naming.PARAM_SUBNET_IDS,
        FromOutput(network, naming.OUT_SUBNET_IDS),
        Type="CommaDelimitedList",
        Description="The consumer's private subnets, one per AZ (from its network stack)",
    )
    net = Network(
        vpc_id=Ref(vpc_id),
        vpc_cidr=consumer.vpc.cidr,
        subnet_ids=[Select(i, Ref(subnets)) for i in range(consumer.vpc.az_count)],
        az_ids=None,
        subnet_cidrs=[],
        created=False,
    )
    b.output(naming.OUT_VPC_ID, net.vpc_id, "The VPC (its network stack's)")
    b.output(naming.OUT_VPC_CIDR, net.vpc_cidr, "The VPC's IPv4 CIDR")
    b.output(naming.OUT_SUBNET_IDS, Join(",", Ref(subnets)), "The private subnets, one per AZ")
    return net


def render_consumer(
    spec: Spec, consumer: Consumer, embedded_network: bool = False
) -> tuple[dict[str, Any], dict[str, ParamBinding]]:
    """The template of one consumer and its parameter bindings.

    `embedded_network`: the VPC inside this stack (the `consumers_from` StackSet's template);
    otherwise a new VPC comes from the consumer's network stack.
    """
    producer_stack = naming.producer_stack(spec.name).name
    cross_region = spec.is_cross_region(consumer)
    b = StackBuilder(
        link=spec.name,
        part="consumer",
        description=f"privlink {spec.name}: consumer {consumer.name}, interface endpoint and private DNS",
    )
    service_name = b.parameter(
        naming.PARAM_SERVICE_NAME,
        FromOutput(producer_stack, naming.OUT_SERVICE_NAME),
        Type="String",
        AllowedPattern=r"^com\.amazonaws\.vpce\.[a-z0-9-]+\.vpce-svc-[0-9a-f]+$",
        Description="The producer's endpoint service name",
    )
    if consumer.vpc.cidr is None:
        net = reference_vpc(b, consumer.vpc, want_az_ids=False)
        b.output(naming.OUT_VPC_ID, net.vpc_id, "The VPC")
        b.output(naming.OUT_VPC_CIDR, net.vpc_cidr, "The VPC's IPv4 CIDR")
        b.output(naming.OUT_SUBNET_IDS, Join(",", net.subnet_ids), "The private subnets, one per AZ")
    elif not embedded_network:
        net = network_parameters(b, spec, consumer)
    else:
        placement: AzPlacement = AzByName()
        if not cross_region:
            # Endpoints can only go where the service's NLB has a subnet: match the producer's AZ IDs
            # (names map to different IDs in different accounts).
            b.parameter(
                naming.PARAM_SERVICE_AZ_IDS,
                FromOutput(producer_stack, naming.OUT_AZ_IDS),
                Type="CommaDelimitedList",
                Description="The AZ IDs the endpoint service serves; subnet i goes in AZ ID i",
            )
            placement = AzByIdParameter(naming.PARAM_SERVICE_AZ_IDS)
        net = add_network(b, consumer.vpc, placement)

    ingress = [
        SecurityGroupRule(
            IpProtocol="tcp",
            FromPort=spec.producer.service.port,
            ToPort=spec.producer.service.port,
            CidrIp=net.vpc_cidr,
            Description="Clients in the VPC (and Client VPN, SNATed to its ENIs)",
        )
    ]
    extra_sources: list[tuple[str, str]] = []
    if consumer.vpn is not None:
        extra_sources.append((consumer.vpn.client_cidr, "Client VPN client range"))
    extra_sources += [(cidr, "allowed_cidrs") for cidr in consumer.allowed_cidrs]
    seen = {net.vpc_cidr} if isinstance(net.vpc_cidr, str) else set()
    for cidr, why in extra_sources:
        if cidr in seen:
            continue
        seen.add(cidr)
        ingress.append(
            SecurityGroupRule(
                IpProtocol="tcp",
                FromPort=spec.producer.service.port,
                ToPort=spec.producer.service.port,
                CidrIp=cidr,
                Description=why,
            )
        )
    group = b.add(
        SecurityGroup(
            ENDPOINT_SECURITY_GROUP,
            GroupDescription=f"privlink {spec.name}: endpoint, TCP {spec.producer.service.port} only",
            VpcId=net.vpc_id,
            SecurityGroupIngress=ingress,
            SecurityGroupEgress=[NO_EGRESS],
        ),
        name=f"privlink-{spec.name}-{consumer.name}-endpoint",
    )
    private_dns: Any = consumer.private_dns_enabled
    if consumer.private_dns_enabled:
        private_dns = Ref(
            b.parameter(
                naming.PARAM_PRIVATE_DNS_ENABLED,
                Literal("true" if private_dns_at_creation(spec, consumer) else "false"),
                Type="String",
                AllowedValues=["true", "false"],
                Description="Private DNS on the endpoint: false until its connection is accepted",
            )
        )
    endpoint = VPCEndpoint(
        ENDPOINT,
        VpcEndpointType="Interface",
        ServiceName=Ref(service_name),
        VpcId=net.vpc_id,
        SubnetIds=net.subnet_ids,
        SecurityGroupIds=[Ref(group)],
        PrivateDnsEnabled=private_dns,
    )
    if cross_region:
        endpoint.ServiceRegion = spec.producer.region
    b.add(endpoint, name=f"privlink-{spec.name}-{consumer.name}")
    b.output(naming.OUT_ENDPOINT_ID, Ref(endpoint), "The interface endpoint (vpce-...)")
    b.output(
        naming.OUT_ENDPOINT_DNS_ENTRIES,
        Join(",", GetAtt(endpoint, "DnsEntries")),
        "The endpoint's DNS entries, '<hosted zone id>:<name>', regional first",
    )
    b.output(naming.OUT_ENDPOINT_SG_ID, Ref(group), "The endpoint's security group")
    if consumer.test_instance.enabled:
        add_test_instance(b, spec, consumer, net, group)

    if consumer.private_dns is not None:
        zone = b.add(
            HostedZone(
                HOSTED_ZONE,
                Name=consumer.private_dns.zone,
                VPCs=[HostedZoneVPCs(VPCId=net.vpc_id, VPCRegion=Ref("AWS::Region"))],
                HostedZoneConfig=HostedZoneConfiguration(
                    Comment=f"privlink {spec.name}: private names of consumer {consumer.name}"
                ),
            )
        )
        regional = Split(":", Select(0, GetAtt(endpoint, "DnsEntries")))
        b.add(
            RecordSetType(
                RECORD,
                HostedZoneId=Ref(zone),
                Name=consumer.private_dns.fqdn + ".",
                Type="A",
                AliasTarget=AliasTarget(
                    DNSName=Select(1, regional),
                    HostedZoneId=Select(0, regional),
                    EvaluateTargetHealth=False,
                ),
            )
        )
        b.output(naming.OUT_HOSTED_ZONE_ID, Ref(zone), "The private hosted zone")
        b.output(naming.OUT_PRIVATE_NAME, consumer.private_dns.fqdn, "The service's private name")
    return b.finish(), b.bindings
