"""A consumer's Client VPN stack: mutual-TLS endpoint in the consumer VPC, one association per
subnet, an authorization rule for the VPC CIDR, and a connection log group.

It needs only the consumer's VPC (its network stack, or the existing VPC's IDs) and the imported
certificates, not the endpoint: it deploys while the producer does. The associations are chained
(each DependsOn the previous): AWS refuses a second change on one Client VPN endpoint while another
is in progress ("ConcurrentMutationLimitExceeded: Cannot initiate another change for this endpoint
at this time", terraform-provider-aws #19750; the daisy-chain workaround in #15680).
"""

from __future__ import annotations

from typing import Any

from troposphere import Ref, Select
from troposphere.ec2 import (
    CertificateAuthenticationRequest,
    ClientAuthenticationRequest,
    ClientVpnAuthorizationRule,
    ClientVpnEndpoint,
    ClientVpnTargetNetworkAssociation,
    ConnectionLogOptions,
    SecurityGroup,
    SecurityGroupRule,
)
from troposphere.logs import LogGroup

from privlink.spec.models import Consumer, Spec, vpc_resolver
from privlink.templates import naming
from privlink.templates.builder import StackBuilder
from privlink.templates.network import CIDR_PATTERN
from privlink.templates.security import skip
from privlink.templates.stacks import (
    LOOKUP_VPC_CIDR,
    LOOKUP_VPC_RESOLVER,
    FromLookup,
    FromOutput,
    FromStep,
    Literal,
    ParamBinding,
)

CLIENT_VPN_ENDPOINT = "ClientVpnEndpoint"
CLIENT_VPN_SECURITY_GROUP = "ClientVpnSecurityGroup"
LOG_GROUP = "ClientVpnLogGroup"
AUTHORIZATION_RULE = "ClientVpnAuthorizationRule"


def association_id(i: int) -> str:
    return f"ClientVpnAssociation{i + 1}"


def render_vpn(spec: Spec, consumer: Consumer) -> tuple[dict[str, Any], dict[str, ParamBinding]]:
    """The Client VPN template of one consumer (which must have `vpn`) and its parameter bindings."""
    vpn = consumer.vpn
    assert vpn is not None
    step = naming.import_certificates_step(consumer.name)
    vpc_binding: ParamBinding
    subnets_binding: ParamBinding
    cidr_binding: ParamBinding
    if consumer.vpc.id is None:
        network = naming.network_stack(spec.name, consumer.name).name
        vpc_binding = FromOutput(network, naming.OUT_VPC_ID)
        subnets_binding = FromOutput(network, naming.OUT_SUBNET_IDS)
        cidr_binding = FromOutput(network, naming.OUT_VPC_CIDR)
    else:
        vpc_binding = Literal(consumer.vpc.id)
        subnets_binding = Literal(",".join(consumer.vpc.subnet_ids))
        cidr_binding = FromLookup(LOOKUP_VPC_CIDR, (consumer.vpc.id,))
    b = StackBuilder(
        link=spec.name,
        part="vpn",
        description=f"privlink {spec.name}: Client VPN (mutual TLS) into consumer {consumer.name}'s VPC",
    )
    vpc_id = b.parameter(
        naming.PARAM_VPC_ID,
        vpc_binding,
        Type="String",
        AllowedPattern=r"^vpc-[0-9a-f]+$",
        Description="The consumer VPC",
    )
    subnet_ids = b.parameter(
        naming.PARAM_SUBNET_IDS,
        subnets_binding,
        Type="CommaDelimitedList",
        Description="The consumer's private subnets, one per AZ",
    )
    vpc_cidr = b.parameter(
        naming.PARAM_VPC_CIDR,
        cidr_binding,
        Type="String",
        AllowedPattern=CIDR_PATTERN,
        Description="The consumer VPC's CIDR (authorized for VPN clients)",
    )
    server_cert = b.parameter(
        naming.PARAM_SERVER_CERT_ARN,
        FromStep(step, naming.STEP_SERVER_CERT_ARN),
        Type="String",
        AllowedPattern=r"^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate/.+$",
        Description="The ACM ARN of the VPN server certificate",
    )
    client_ca = b.parameter(
        naming.PARAM_CLIENT_CA_ARN,
        FromStep(step, naming.STEP_CLIENT_CA_ARN),
        Type="String",
        AllowedPattern=r"^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate/.+$",
        Description="The ACM ARN of the CA that signs client certificates",
    )
    if consumer.vpc.cidr is not None:
        dns_server: Any = vpc_resolver(consumer.vpc.cidr)
    else:
        assert consumer.vpc.id is not None
        dns_server = Ref(
            b.parameter(
                naming.PARAM_VPC_DNS_SERVER,
                FromLookup(LOOKUP_VPC_RESOLVER, (consumer.vpc.id,)),
                Type="String",
                AllowedPattern=r"^(\d{1,3}\.){3}\d{1,3}$",
                Description=f"The Route 53 Resolver of {consumer.vpc.id} (its CIDR base + 2)",
            )
        )

    logs = b.add(
        skip(
            LogGroup(
                LOG_GROUP,
                LogGroupName=f"/privlink/{spec.name}/{consumer.name}/client-vpn",
                RetentionInDays=vpn.log_retention_days,
            ),
            "CKV_AWS_158",
        )
    )
    group = b.add(
        SecurityGroup(
            CLIENT_VPN_SECURITY_GROUP,
            GroupDescription=f"privlink {spec.name}: Client VPN ENIs of {consumer.name}",
            VpcId=Ref(vpc_id),
            SecurityGroupEgress=[
                SecurityGroupRule(
                    IpProtocol="-1",
                    CidrIp=Ref(vpc_cidr),
                    Description="VPN clients reach the VPC only (endpoint and resolver)",
                )
            ],
        ),
        name=f"privlink-{spec.name}-{consumer.name}-client-vpn",
    )
    endpoint = b.add(
        ClientVpnEndpoint(
            CLIENT_VPN_ENDPOINT,
            Description=f"privlink {spec.name}: {consumer.name}",
            AuthenticationOptions=[
                ClientAuthenticationRequest(
                    Type="certificate-authentication",
                    MutualAuthentication=CertificateAuthenticationRequest(
                        ClientRootCertificateChainArn=Ref(client_ca)
                    ),
                )
            ],
            ServerCertificateArn=Ref(server_cert),
            ClientCidrBlock=vpn.client_cidr,
            SplitTunnel=vpn.split_tunnel,
            DnsServers=[dns_server],
            VpcId=Ref(vpc_id),
            SecurityGroupIds=[Ref(group)],
            TransportProtocol=vpn.protocol,
            VpnPort=vpn.port,
            ConnectionLogOptions=ConnectionLogOptions(Enabled=True, CloudwatchLogGroup=Ref(logs)),
        ),
        name=f"privlink-{spec.name}-{consumer.name}",
    )
    associations: list[ClientVpnTargetNetworkAssociation] = []
    for i in range(consumer.vpc.az_count):
        association = ClientVpnTargetNetworkAssociation(
            association_id(i),
            ClientVpnEndpointId=Ref(endpoint),
            SubnetId=Select(i, Ref(subnet_ids)),
        )
        if associations:
            association.DependsOn = [associations[-1].title]  # one change at a time per endpoint
        associations.append(b.add(association))
    b.add(
        ClientVpnAuthorizationRule(
            AUTHORIZATION_RULE,
            ClientVpnEndpointId=Ref(endpoint),
            TargetNetworkCidr=Ref(vpc_cidr),
            AuthorizeAllGroups=True,
            Description="VPN clients may reach the consumer VPC",
            # Nothing is reachable before an association exists; creating the rule after the last
            # one also keeps the endpoint's changes one at a time.
            DependsOn=[associations[-1].title],
        )
    )
    b.output(naming.OUT_CLIENT_VPN_ENDPOINT_ID, Ref(endpoint), "The Client VPN endpoint (cvpn-endpoint-...)")
    b.output(naming.OUT_LOG_GROUP, Ref(logs), "The connection log group")
    return b.finish(), b.bindings
