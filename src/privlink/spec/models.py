"""The spec (`privlink.yaml`) as pydantic models: the keys of the outside contract and their rules.

Every model forbids unknown keys; `privlink.spec.load` turns validation errors into one line that
names the field and the fix.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

NAME_PATTERN = r"^[a-z][a-z0-9-]{0,19}$"
ACCOUNT_ID = re.compile(r"^\d{12}$")
PRINCIPAL_ARN = re.compile(
    r"^arn:aws(-cn|-us-gov)?:iam::(?P<account>\d{12}):(root|(role|user)/[\w+=,.@/-]{1,512})$"
)
REGION = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$")
FQDN_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
MIN_AZS, MAX_AZS = 1, 6


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def parse_cidr(value: str) -> ipaddress.IPv4Network:
    """Parse an IPv4 CIDR whose host bits are zero, or raise ValueError with the fix."""
    try:
        return ipaddress.IPv4Network(value, strict=True)
    except ipaddress.NetmaskValueError as exc:
        raise ValueError(f"{value!r} is not a valid IPv4 CIDR (e.g. 10.20.0.0/16)") from exc
    except ValueError as exc:
        if "has host bits set" in str(exc):
            net = ipaddress.IPv4Network(value, strict=False)
            raise ValueError(f"{value!r} has host bits set; use {net}") from exc
        raise ValueError(f"{value!r} is not a valid IPv4 CIDR (e.g. 10.20.0.0/16)") from exc


def check_fqdn(value: str) -> str:
    name = value.rstrip(".").lower()
    labels = name.split(".")
    if len(name) > 253 or len(labels) < 2 or not all(FQDN_LABEL.match(x) for x in labels):
        raise ValueError(f"{value!r} is not a valid DNS name (e.g. hello.example.com)")
    if labels[-1].isdigit():
        raise ValueError(f"{value!r} is not a valid DNS name (its last label is numeric)")
    return name


class Vpc(StrictModel):
    """A VPC to create (`cidr`, `azs`) or to reuse (`id`, `subnet_ids`)."""

    cidr: str | None = None
    azs: int = Field(default=2, ge=MIN_AZS, le=MAX_AZS)
    id: str | None = Field(default=None, pattern=r"^vpc-[0-9a-f]{8,17}$")
    subnet_ids: list[str] = Field(default_factory=list)

    @field_validator("cidr")
    @classmethod
    def _cidr(cls, value: str | None) -> str | None:
        if value is None:
            return None
        net = parse_cidr(value)
        if not 16 <= net.prefixlen <= 28:
            raise ValueError(f"VPC CIDR must be between /16 and /28, got /{net.prefixlen}")
        return str(net)

    @field_validator("subnet_ids")
    @classmethod
    def _subnets(cls, value: list[str]) -> list[str]:
        for subnet in value:
            if not re.match(r"^subnet-[0-9a-f]{8,17}$", subnet):
                raise ValueError(f"{subnet!r} is not a subnet ID (subnet-...)")
        return value

    @model_validator(mode="after")
    def _one_kind(self) -> Vpc:
        if self.id is None and self.cidr is None:
            raise ValueError("give either cidr (a new VPC) or id + subnet_ids (an existing one)")
        if self.id is not None and self.cidr is not None:
            raise ValueError("give cidr (a new VPC) or id (an existing one), not both")
        if self.id is not None and not self.subnet_ids:
            raise ValueError("an existing VPC needs subnet_ids, one per AZ")
        if self.cidr is not None and self.subnet_ids:
            raise ValueError("subnet_ids go with id (an existing VPC), not with cidr")
        if self.cidr is not None:
            subnet_prefix(parse_cidr(self.cidr), self.azs)  # raises when the VPC is too small
        return self

    @property
    def network(self) -> ipaddress.IPv4Network | None:
        return parse_cidr(self.cidr) if self.cidr else None

    @property
    def az_count(self) -> int:
        return len(self.subnet_ids) if self.id else self.azs


def subnet_prefix(vpc: ipaddress.IPv4Network, azs: int) -> int:
    """The prefix length of each private subnet: /24 in a /16, never smaller than /28."""
    needed = (azs - 1).bit_length()  # bits to number `azs` subnets
    if vpc.prefixlen + needed > 28:
        raise ValueError(f"a /{vpc.prefixlen} VPC has no room for {azs} subnets of /28 or larger")
    prefix = min(max(vpc.prefixlen + needed, min(vpc.prefixlen + 8, 24)), 28)
    return prefix


def subnet_cidrs(vpc_cidr: str, azs: int) -> list[str]:
    """One private subnet per AZ: 10.20.1.0/24, 10.20.2.0/24, ... for 10.20.0.0/16."""
    vpc = parse_cidr(vpc_cidr)
    subnets = list(vpc.subnets(new_prefix=subnet_prefix(vpc, azs)))
    first = 1 if len(subnets) > azs else 0
    return [str(s) for s in subnets[first : first + azs]]


def vpc_resolver(vpc_cidr: str) -> str:
    """The Route 53 Resolver address of a VPC: its base address + 2."""
    return str(parse_cidr(vpc_cidr).network_address + 2)


class Target(StrictModel):
    """A target the NLB forwards to: an IP, an instance, or (local target) a loopback address."""

    ip: str | None = None
    instance: str | None = Field(default=None, pattern=r"^i-[0-9a-f]{8,17}$")
    address: str | None = None

    @field_validator("ip")
    @classmethod
    def _ip(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ipaddress.IPv4Address(value)
            except ValueError as exc:
                raise ValueError(f"{value!r} is not an IPv4 address") from exc
        return value

    @field_validator("address")
    @classmethod
    def _address(cls, value: str | None) -> str | None:
        if value is None:
            return None
        host, _, port = value.rpartition(":")
        try:
            if not ipaddress.IPv4Address(host).is_loopback:
                raise ValueError
            if not 1 <= int(port) <= 65535:
                raise ValueError
        except ValueError as exc:
            raise ValueError(f"{value!r} must be a loopback HOST:PORT, e.g. 127.0.0.1:9000") from exc
        return value

    @model_validator(mode="after")
    def _exactly_one(self) -> Target:
        given = [k for k in ("ip", "instance", "address") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("a target has exactly one of ip, instance or address")
        return self


class HealthCheck(StrictModel):
    """TCP health check of the target group (AWS ranges)."""

    interval: int = Field(default=10, ge=5, le=300)
    timeout: int = Field(default=5, ge=2, le=120)
    healthy_threshold: int = Field(default=3, ge=2, le=10)
    unhealthy_threshold: int = Field(default=3, ge=2, le=10)

    @model_validator(mode="after")
    def _timeout_below_interval(self) -> HealthCheck:
        if self.timeout > self.interval:
            raise ValueError(f"timeout ({self.timeout}) must not exceed interval ({self.interval})")
        return self


class Service(StrictModel):
    port: int = Field(default=8080, ge=1, le=65535)
    target_port: int | None = Field(default=None, ge=1, le=65535)
    app: Literal["demo", "none"] = "demo"
    targets: list[Target] = Field(default_factory=list)
    health_check: HealthCheck = Field(default_factory=HealthCheck)
    cross_zone: bool = True
    proxy_protocol: bool = False
    idle_timeout: int | None = Field(default=None, ge=60, le=6000)

    @model_validator(mode="after")
    def _targets(self) -> Service:
        if self.app == "none" and not self.targets:
            raise ValueError("app: none needs targets (e.g. [{address: 127.0.0.1:9000}])")
        return self

    @property
    def backend_port(self) -> int:
        """The port targets listen on (the listener port unless `target_port` is set)."""
        return self.target_port or self.port


def check_principal(value: str) -> str:
    if value == "*":
        return value
    if not PRINCIPAL_ARN.match(value):
        raise ValueError(
            f"{value!r} is not a principal ARN; use arn:aws:iam::<12-digit account>:root "
            "or arn:aws:iam::<account>:role/<name>"
        )
    return value


class AutoApproval(StrictModel):
    """`auto_approval: {registry: true}`: a Lambda accepts connections from registered accounts."""

    registry: bool = False


class EndpointService(StrictModel):
    acceptance_required: bool = True
    auto_accept: bool = True
    allowed_principals: list[str] = Field(default_factory=list)
    private_dns_name: str | None = None
    supported_regions: list[str] = Field(default_factory=list)
    notifications: bool = True
    auto_approval: AutoApproval = Field(default_factory=AutoApproval)

    @field_validator("allowed_principals")
    @classmethod
    def _principals(cls, value: list[str]) -> list[str]:
        return [check_principal(v) for v in value]

    @model_validator(mode="after")
    def _approval_needs(self) -> EndpointService:
        if self.auto_approval.registry and not (self.acceptance_required and self.notifications):
            raise ValueError(
                "auto_approval.registry needs acceptance_required: true (else there is nothing to approve) "
                "and notifications: true (they trigger the approval function)"
            )
        return self

    @field_validator("private_dns_name")
    @classmethod
    def _dns(cls, value: str | None) -> str | None:
        return check_fqdn(value) if value is not None else None

    @field_validator("supported_regions")
    @classmethod
    def _regions(cls, value: list[str]) -> list[str]:
        for region in value:
            if not REGION.match(region):
                raise ValueError(f"{region!r} is not an AWS region name (e.g. eu-west-2)")
        return value


class Producer(StrictModel):
    account: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    region: str
    vpc: Vpc
    service: Service = Field(default_factory=Service)
    endpoint_service: EndpointService = Field(default_factory=EndpointService)

    @field_validator("region")
    @classmethod
    def _region(cls, value: str) -> str:
        if not REGION.match(value):
            raise ValueError(f"{value!r} is not an AWS region name (e.g. eu-central-1)")
        return value


class PrivateDns(StrictModel):
    """A Route 53 private hosted zone on the consumer VPC with an alias to the endpoint."""

    zone: str
    record: str = "hello"

    @field_validator("zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return check_fqdn(value)

    @field_validator("record")
    @classmethod
    def _record(cls, value: str) -> str:
        if not all(FQDN_LABEL.match(x) for x in value.lower().split(".")):
            raise ValueError(f"{value!r} is not a valid DNS label (e.g. hello)")
        return value.lower()

    @property
    def fqdn(self) -> str:
        return f"{self.record}.{self.zone}"


class Vpn(StrictModel):
    client_cidr: str = "172.16.0.0/22"
    split_tunnel: bool = True
    port: Literal[443, 1194] = 443
    protocol: Literal["udp", "tcp"] = "udp"
    log_retention_days: Literal[1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365] = 30

    @field_validator("client_cidr")
    @classmethod
    def _cidr(cls, value: str) -> str:
        net = parse_cidr(value)
        if not 12 <= net.prefixlen <= 22:
            raise ValueError(f"VPN client CIDR must be between /12 and /22, got /{net.prefixlen}")
        return str(net)


# Small burstable types with an on-demand price in privlink/data/prices.json (for `privlink cost`).
TestInstanceType = Literal["t4g.nano", "t4g.micro", "t4g.small", "t3.nano", "t3.micro", "t3.small"]
TEST_INSTANCE_TYPES: tuple[str, ...] = get_args(TestInstanceType)


class SsmProbeInstance(StrictModel):
    """`test_instance: {enabled: true}`: a small SSM-managed instance in the consumer VPC that
    `privlink test --via ssm` runs the probe on (aws target), plus the SSM endpoints it needs."""

    enabled: bool = False
    instance_type: TestInstanceType = "t4g.nano"
    # false when the VPC already has ssm, ssmmessages and ec2messages interface endpoints with
    # private DNS (a second endpoint with private DNS for the same service conflicts)
    ssm_endpoints: bool = True

    @property
    def architecture(self) -> str:
        """The AMI architecture the instance type needs: Graviton (t4g) is arm64, t3 is x86_64."""
        return "arm64" if self.instance_type.startswith("t4g.") else "x86_64"


class Consumer(StrictModel):
    name: str = Field(pattern=NAME_PATTERN)
    account: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    region: str
    vpc: Vpc
    allowed_cidrs: list[str] = Field(default_factory=list)
    private_dns: PrivateDns | None = None
    private_dns_enabled: bool = False
    vpn: Vpn | None = None
    principal: str | None = None
    test_instance: SsmProbeInstance = Field(default_factory=SsmProbeInstance)

    @field_validator("region")
    @classmethod
    def _region(cls, value: str) -> str:
        if not REGION.match(value):
            raise ValueError(f"{value!r} is not an AWS region name (e.g. eu-central-1)")
        return value

    @field_validator("allowed_cidrs")
    @classmethod
    def _cidrs(cls, value: list[str]) -> list[str]:
        return [str(parse_cidr(v)) for v in value]

    @field_validator("principal")
    @classmethod
    def _principal(cls, value: str | None) -> str | None:
        return check_principal(value) if value is not None else None

    @model_validator(mode="after")
    def _vpn_fits(self) -> Consumer:
        if self.vpn is not None and self.vpc.network is not None:
            client = parse_cidr(self.vpn.client_cidr)
            if client.overlaps(self.vpc.network):
                raise ValueError(
                    f"vpn.client_cidr {client} overlaps the VPC CIDR {self.vpc.network}; "
                    "pick a range outside it (e.g. 172.16.0.0/22)"
                )
        return self


class ConsumerTemplate(StrictModel):
    """The consumer block every account of a `consumers_from` fleet gets (no name/account/region)."""

    vpc: Vpc = Field(default_factory=lambda: Vpc(cidr="10.10.0.0/16", azs=2))
    allowed_cidrs: list[str] = Field(default_factory=list)
    private_dns: PrivateDns | None = None
    private_dns_enabled: bool = False

    @field_validator("allowed_cidrs")
    @classmethod
    def _cidrs(cls, value: list[str]) -> list[str]:
        return [str(parse_cidr(v)) for v in value]

    @field_validator("vpc")
    @classmethod
    def _new_vpc(cls, value: Vpc) -> Vpc:
        if value.id is not None:
            raise ValueError("a fleet creates its VPCs: give cidr, not id (VPC IDs differ per account)")
        return value


class ConsumersFrom(StrictModel):
    """Consumers deployed as one CloudFormation StackSet: to an OU (service-managed) or to accounts."""

    organization_unit: str | None = Field(default=None, pattern=r"^ou-[0-9a-z]{4,32}-[0-9a-z]{8,32}$")
    accounts: list[str] = Field(default_factory=list)
    regions: list[str] = Field(min_length=1)
    template_consumer: ConsumerTemplate = Field(default_factory=ConsumerTemplate)
    max_concurrent_percentage: int = Field(default=25, ge=1, le=100)
    failure_tolerance_percentage: int = Field(default=10, ge=0, le=100)
    retain_stacks_on_account_removal: bool = False
    delegated_admin: bool = False  # CallAs DELEGATED_ADMIN: the producer account administers StackSets

    @field_validator("accounts")
    @classmethod
    def _accounts(cls, value: list[str]) -> list[str]:
        for account in value:
            if not ACCOUNT_ID.match(account):
                raise ValueError(f"{account!r} is not a 12-digit AWS account ID")
        if len(set(value)) != len(value):
            raise ValueError("an account is listed twice")
        return value

    @field_validator("regions")
    @classmethod
    def _regions(cls, value: list[str]) -> list[str]:
        for region in value:
            if not REGION.match(region):
                raise ValueError(f"{region!r} is not an AWS region name (e.g. eu-west-2)")
        if len(set(value)) != len(value):
            raise ValueError("a region is listed twice")
        return value

    @model_validator(mode="after")
    def _one_target(self) -> ConsumersFrom:
        if (self.organization_unit is None) == (not self.accounts):
            raise ValueError("give organization_unit (ou-...) or accounts ([12-digit IDs]), exactly one")
        return self


class Account(StrictModel):
    """How to reach an account on the aws target: a profile, or a role to assume."""

    profile: str | None = None
    role_arn: str | None = Field(default=None, pattern=r"^arn:aws(-cn|-us-gov)?:iam::\d{12}:role/.+$")
    external_id: str | None = None
    account_id: str | None = Field(default=None, pattern=r"^\d{12}$")

    @model_validator(mode="after")
    def _one_way(self) -> Account:
        if self.profile and self.role_arn:
            raise ValueError("give profile or role_arn, not both")
        if self.external_id and not self.role_arn:
            raise ValueError("external_id goes with role_arn")
        return self


class Spec(StrictModel):
    name: str = Field(pattern=NAME_PATTERN)
    target: Literal["local", "aws"] = "local"
    producer: Producer
    consumers: list[Consumer] = Field(default_factory=list)
    accounts: dict[str, Account] = Field(default_factory=dict)
    consumers_from: ConsumersFrom | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Spec:
        seen: set[str] = set()
        for consumer in self.consumers:
            if consumer.name in seen:
                raise ValueError(f"consumer name {consumer.name!r} is used twice; names must be unique")
            seen.add(consumer.name)
        fleet = self.consumers_from
        if fleet is not None and fleet.organization_unit is not None:
            service = self.producer.endpoint_service
            if not (service.acceptance_required and service.auto_approval.registry):
                raise ValueError(
                    "consumers_from.organization_unit needs producer.endpoint_service.acceptance_required: "
                    "true and auto_approval: {registry: true} (endpoint services cannot allow an OU, "
                    "so the service allows '*' and the registry decides who is accepted)"
                )
        return self

    def consumer(self, name: str) -> Consumer:
        for consumer in self.consumers:
            if consumer.name == name:
                return consumer
        raise KeyError(name)

    def is_cross_region(self, consumer: Consumer) -> bool:
        return consumer.region != self.producer.region

    def region_fields(self) -> list[tuple[str, str]]:
        """Every region the spec names, with its field (`consumers[0].region`), in spec order."""
        service = self.producer.endpoint_service
        return [
            ("producer.region", self.producer.region),
            *(
                (f"producer.endpoint_service.supported_regions[{i}]", r)
                for i, r in enumerate(service.supported_regions)
            ),
            *((f"consumers[{i}].region", c.region) for i, c in enumerate(self.consumers)),
            *(
                (f"consumers_from.regions[{i}]", r)
                for i, r in enumerate(self.consumers_from.regions if self.consumers_from else [])
            ),
        ]

    @property
    def supported_regions(self) -> list[str]:
        """Regions the endpoint service lists: the consumers' remote regions plus any declared."""
        regions = list(self.producer.endpoint_service.supported_regions)
        for consumer in self.consumers:
            if self.is_cross_region(consumer) and consumer.region not in regions:
                regions.append(consumer.region)
        for region in self.consumers_from.regions if self.consumers_from else []:
            if region not in regions:
                regions.append(region)
        return [r for r in regions if r != self.producer.region]

    def warnings(self) -> list[str]:
        """Valid but unwise choices, one line each."""
        found = []
        if self.producer.vpc.az_count < 2:
            found.append("producer.vpc.azs: 1 AZ has no failover; use 2 or more")
        for i, consumer in enumerate(self.consumers):
            if consumer.vpc.az_count < 2:
                found.append(f"consumers[{i}].vpc.azs: 1 AZ has no failover; use 2 or more")
        if self.consumers_from is not None and self.consumers_from.organization_unit is not None:
            found.append(
                "consumers_from.organization_unit: the endpoint service allows '*' (it cannot name an OU); "
                "only accounts in the approval registry are accepted: privlink consumers add ACCOUNT_ID"
            )
        if "*" in self.producer.endpoint_service.allowed_principals:
            found.append(
                "producer.endpoint_service.allowed_principals: '*' lets any AWS account connect; "
                "list accounts or role ARNs instead"
            )
        return found
