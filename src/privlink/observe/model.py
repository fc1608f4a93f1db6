"""What is deployed, independent of the target: plain data the doctor's checks loop over.

Builders (`privlink.observe.aws`, the local target's sandbox reader) fill it in; the checks never
call anything. Describe calls that failed are recorded in `errors`, not raised, and the parts of the
observation they would have filled are listed in `unknown` (part keys below): an empty list there
means "could not be read", not "observed empty", and checks that need the part do not judge it.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Plain(BaseModel):
    model_config = ConfigDict(extra="forbid")


# Parts of an observation that a failed describe call can leave unknown. Keys are
# `producer.<part>` and `consumer:<name>.<part>`; checks name them as `producer.<part>` and
# `consumer.<part>` (every consumer's).
PRODUCER_PARTS = (
    "stack",  # DescribeStacks: deployed, outputs; unknown makes every other producer part unknown
    "service",  # DescribeVpcEndpointServiceConfigurations: AZs, SupportedRegions, private DNS
    "permissions",  # DescribeVpcEndpointServicePermissions: allowed principals
    "connections",  # DescribeVpcEndpointConnections
    "load_balancer",  # DescribeLoadBalancers, its attributes: AZs, cross-zone
    "listeners",  # DescribeListeners, their attributes: ports, idle timeout
    "target_groups",  # DescribeTargetGroups, their attributes
    "target_health",  # DescribeTargetHealth: registrations and their states
    "target_zones",  # DescribeInstances / producer DescribeSubnets: each target's AZ (instance state)
)
CONSUMER_PARTS = (
    "stack",  # DescribeStacks: deployed, outputs; unknown makes every other consumer part unknown
    "vpc",  # DescribeVpcs: the CIDR
    "subnets",  # DescribeSubnets
    "endpoint",  # DescribeVpcEndpoints
    "endpoint_addresses",  # DescribeNetworkInterfaces: the endpoint's ENI addresses
    "security_groups",  # DescribeSecurityGroups: the endpoint's groups
    "zones",  # ListHostedZonesByVPC, ListResourceRecordSets
    "vpn",  # the VPN stack, DescribeClientVpnEndpoints
    "vpn_access",  # Client VPN target networks, authorization rules, routes
)


def producer_part(part: str) -> str:
    return f"producer.{part}"


def consumer_part(name: str, part: str) -> str:
    return f"consumer:{name}.{part}"


class ObserveError(Plain):
    """A describe call that failed while observing; the doctor reports it as a finding."""

    side: str  # producer | consumer:<name>
    call: str  # e.g. ec2.describe_vpc_endpoints
    code: str = ""
    message: str = ""
    action: str = ""  # the IAM action, e.g. ec2:DescribeVpcEndpoints
    account: str = ""  # the account label (accounts: in the spec) whose credentials made the call
    parts: list[str] = Field(default_factory=list)  # the part keys it left unknown


class PrivateDnsConfiguration(Plain):
    state: str = ""  # pendingVerification | verified | failed
    type: str = ""  # TXT
    name: str = ""
    value: str = ""


class EndpointService(Plain):
    id: str
    name: str = ""
    state: str = ""  # Available | Pending | ...
    acceptance_required: bool = True
    az_names: list[str] = Field(default_factory=list)
    az_ids: list[str] = Field(default_factory=list)
    supported_regions: list[str] = Field(default_factory=list)
    private_dns_name: str | None = None
    private_dns_configuration: PrivateDnsConfiguration | None = None
    allowed_principals: list[str] = Field(default_factory=list)
    load_balancer_arns: list[str] = Field(default_factory=list)


NLB_DEFAULT_IDLE_TIMEOUT = 350  # seconds: the TCP idle timeout of an NLB listener that sets none


class Listener(Plain):
    arn: str = ""
    port: int
    protocol: str = "TCP"
    target_group_arns: list[str] = Field(default_factory=list)
    idle_timeout: int | None = None  # seconds; None = the NLB default (NLB_DEFAULT_IDLE_TIMEOUT)


class HealthCheck(Plain):
    protocol: str = "TCP"
    port: str = "traffic-port"
    interval: int | None = None
    timeout: int | None = None
    healthy_threshold: int | None = None
    unhealthy_threshold: int | None = None


class TargetHealth(Plain):
    """A registered target and its health (`privlink.observe.target_health` lists the states and
    reason codes)."""

    id: str
    port: int | None = None
    az: str | None = None  # AZ name, or "all"
    az_id: str | None = None
    state: str = ""  # initial | healthy | unhealthy | unhealthy.draining | unused | draining | unavailable
    reason: str | None = None  # e.g. Target.InvalidState
    description: str | None = None
    instance_state: str | None = None  # an instance target's EC2 state (running, stopped, ...), if read
    address: str | None = None  # what the user configured for it when not its ID (sandbox: 127.0.0.1:9000)

    @property
    def label(self) -> str:
        """The target as the user knows it: the address they configured, else ID:port."""
        if self.address:
            return self.address
        return f"{self.id}:{self.port}" if self.port is not None else self.id


class TargetGroup(Plain):
    arn: str
    port: int | None = None
    protocol: str = "TCP"
    target_type: str = "ip"
    proxy_protocol: bool = False
    health_check: HealthCheck = Field(default_factory=HealthCheck)
    targets: list[TargetHealth] = Field(default_factory=list)


class LoadBalancer(Plain):
    arn: str
    name: str = ""
    state: str = ""
    dns_name: str = ""
    cross_zone: bool = False  # NLB default: off
    subnet_ids: list[str] = Field(default_factory=list)
    az_names: list[str] = Field(default_factory=list)
    az_ids: list[str] = Field(default_factory=list)
    listeners: list[Listener] = Field(default_factory=list)
    target_groups: list[TargetGroup] = Field(default_factory=list)


class EndpointConnection(Plain):
    endpoint_id: str
    owner: str = ""
    state: str = ""  # pendingAcceptance | pending | available | rejected | ...
    region: str = ""
    created: str = ""


class Producer(Plain):
    account_label: str = ""
    account_id: str = ""
    region: str = ""
    deployed: bool = False  # the producer stack exists
    stack_status: str = ""
    service: EndpointService | None = None
    load_balancer: LoadBalancer | None = None
    connections: list[EndpointConnection] = Field(default_factory=list)
    # AZ name -> AZ ID in the producer account and region.
    az_name_to_id: dict[str, str] = Field(default_factory=dict)


class Subnet(Plain):
    id: str
    az_name: str = ""
    az_id: str = ""
    cidr: str = ""


class DnsEntry(Plain):
    dns_name: str
    hosted_zone_id: str = ""


class Endpoint(Plain):
    id: str
    state: str = ""
    service_name: str = ""
    service_region: str | None = None
    private_dns_enabled: bool = False
    dns_entries: list[DnsEntry] = Field(default_factory=list)
    subnet_ids: list[str] = Field(default_factory=list)
    security_group_ids: list[str] = Field(default_factory=list)
    network_interface_ids: list[str] = Field(default_factory=list)
    # ENI private IPs of the endpoint, by subnet ID.
    addresses: dict[str, str] = Field(default_factory=dict)

    @property
    def regional_dns_name(self) -> str | None:
        """The regional name (the first entry without an AZ suffix; AWS lists it first)."""
        return self.dns_entries[0].dns_name if self.dns_entries else None


class IngressRule(Plain):
    protocol: str = "tcp"  # tcp | udp | icmp | -1 (all)
    from_port: int | None = None
    to_port: int | None = None
    cidrs: list[str] = Field(default_factory=list)
    source_security_group_ids: list[str] = Field(default_factory=list)
    prefix_list_ids: list[str] = Field(default_factory=list)


class SecurityGroup(Plain):
    id: str
    name: str = ""
    vpc_id: str = ""
    ingress: list[IngressRule] = Field(default_factory=list)


class Record(Plain):
    name: str
    type: str
    alias_target: str | None = None
    values: list[str] = Field(default_factory=list)


class HostedZone(Plain):
    id: str
    name: str
    private: bool = True
    records: list[Record] = Field(default_factory=list)


class VpnAssociation(Plain):
    id: str
    subnet_id: str = ""
    state: str = ""


class VpnAuthorizationRule(Plain):
    destination_cidr: str
    access_all: bool = True
    group_id: str = ""
    state: str = ""


class VpnRoute(Plain):
    destination_cidr: str
    target_subnet: str = ""
    state: str = ""


class ClientVpn(Plain):
    id: str
    state: str = ""
    client_cidr: str = ""
    dns_servers: list[str] = Field(default_factory=list)
    split_tunnel: bool = False
    associations: list[VpnAssociation] = Field(default_factory=list)
    authorization_rules: list[VpnAuthorizationRule] = Field(default_factory=list)
    routes: list[VpnRoute] = Field(default_factory=list)


class Consumer(Plain):
    name: str
    account_label: str = ""
    account_id: str = ""
    region: str = ""
    deployed: bool = False  # the consumer stack exists
    stack_status: str = ""
    vpc_id: str = ""
    vpc_cidr: str = ""
    enable_dns_support: bool | None = None
    enable_dns_hostnames: bool | None = None
    subnets: list[Subnet] = Field(default_factory=list)
    endpoint: Endpoint | None = None
    endpoint_id_expected: str = ""  # from the stack output, even if the endpoint is gone
    endpoint_failure: str = ""  # why the endpoint could not be created (stack event), if known
    security_groups: list[SecurityGroup] = Field(default_factory=list)
    hosted_zones: list[HostedZone] = Field(default_factory=list)
    vpn_expected: bool = False  # the spec declares a Client VPN
    vpn: ClientVpn | None = None
    # Spec-derived expectations.
    expected_private_name: str | None = None  # the name clients resolve (PHZ record or service name)
    expected_clients: list[str] = Field(default_factory=list)  # CIDRs that must reach the endpoint
    principal: str = ""  # the principal ARN the producer must allow for this consumer

    def subnet(self, subnet_id: str) -> Subnet | None:
        return next((s for s in self.subnets if s.id == subnet_id), None)

    def security_group(self, group_id: str) -> SecurityGroup | None:
        return next((g for g in self.security_groups if g.id == group_id), None)


class Expectations(Plain):
    """What the spec asks for, independent of what was found."""

    link: str = ""
    service_port: int = 8080
    target_port: int = 8080
    producer_region: str = ""
    private_dns_name: str | None = None  # the endpoint service's private DNS name, if declared
    consumer_principals: list[str] = Field(default_factory=list)
    consumer_accounts: list[str] = Field(default_factory=list)


class Observation(Plain):
    target: str = ""  # aws | local
    expected: Expectations = Field(default_factory=Expectations)
    producer: Producer = Field(default_factory=Producer)
    consumers: list[Consumer] = Field(default_factory=list)
    errors: list[ObserveError] = Field(default_factory=list)
    unknown: list[str] = Field(default_factory=list)  # part keys that could not be read (sorted)

    def known(self, part: str) -> bool:
        """False when a describe call that fills `part` (a key as in `unknown`) failed."""
        return part not in self.unknown
