"""The handler interface: one class per resource type, creating, updating and deleting in the world."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from privlink.targets.local.world import AccountInfo, Resource, SimulatedAwsError, World


class Replace(Exception):
    """Raised by `update` when the change needs a new resource (CloudFormation's replacement)."""


@dataclass
class Op:
    """One operation's surroundings: where the stack lives and what it is called."""

    world: World
    account: str  # label
    region: str
    stack: str
    logical_id: str

    @property
    def info(self) -> AccountInfo:
        return self.world.account(self.account)

    @property
    def account_id(self) -> str:
        return self.info.id

    def find(
        self,
        resource_id: Any,
        rtype: str | tuple[str, ...],
        what: str,
        code: str | None = None,
        region: str | None = None,
    ) -> Resource:
        """The resource `resource_id` of `rtype` in this account and region, or AWS's NotFound."""
        types = (rtype,) if isinstance(rtype, str) else rtype
        for res in self.world.resources.values():
            if (
                res.id == resource_id
                and res.type in types
                and res.account == self.account
                and (res.region == (region or self.region) or res.type.startswith("AWS::IAM::"))
            ):
                return res
        raise SimulatedAwsError(
            code or f"Invalid{what}ID.NotFound", f"The {what} ID '{resource_id}' does not exist"
        )

    def add(
        self,
        rtype: str,
        physical_id: str,
        properties: dict[str, Any],
        attributes: dict[str, Any],
        data: dict[str, Any] | None = None,
    ) -> Resource:
        res = Resource(
            type=rtype,
            id=physical_id,
            account=self.account,
            region=self.region,
            stack=self.stack,
            logical_id=self.logical_id,
            properties=properties,
            attributes=attributes,
            data=data or {},
        )
        self.world.resources[key_of(res)] = res
        return res

    def generated_name(self, max_length: int = 64, separator: str = "-") -> str:
        """A name as CloudFormation makes one: <stack>-<logical id>-<random>, trimmed."""
        suffix = self.world.ids.upper_alnum(12, "name")
        base = f"{self.stack}{separator}{self.logical_id}"
        return f"{base[: max_length - len(suffix) - 1]}{separator}{suffix}"


def key_of(res: Resource) -> str:
    key = f"{res.type}|{res.account}|{res.region}|{res.id}"
    if res.data.get("zone_id"):  # a record set's physical ID is its name: unique per zone only
        key += f"|{res.data['zone_id']}"
    return key


def remove(world: World, res: Resource) -> None:
    world.resources.pop(key_of(res), None)


def require(props: dict[str, Any], *names: str) -> None:
    for name in names:
        if props.get(name) in (None, "", []):
            raise SimulatedAwsError("ValidationError", f"Property {name} is required")


def tags_of(props: dict[str, Any]) -> dict[str, str]:
    tags = props.get("Tags") or []
    if isinstance(tags, dict):
        return {str(k): str(v) for k, v in tags.items()}
    return {str(t.get("Key")): str(t.get("Value")) for t in tags}


def as_bool(value: Any, default: bool) -> bool:
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    return str(value).lower() == "true"


def allocate_ip(world: World, subnet: Resource, owner: str, wanted: str | None = None) -> str:
    """A free private IP in the subnet (AWS reserves the first four and the last)."""
    network = ipaddress.IPv4Network(subnet.data["cidr"])
    used: dict[str, str] = subnet.data.setdefault("allocated", {})
    if wanted is not None:
        address = ipaddress.IPv4Address(wanted)
        hosts = list(network)
        if address not in network or address in hosts[:4] or address == hosts[-1]:
            raise SimulatedAwsError(
                "InvalidParameterValue", f"Address {wanted} does not fall within the subnet's address range"
            )
        if wanted in used:
            raise SimulatedAwsError("InvalidIPAddress.InUse", f"Address {wanted} is in use.")
        used[wanted] = owner
        return wanted
    for offset in range(4, network.num_addresses - 1):
        candidate = str(network.network_address + offset)
        if candidate not in used:
            used[candidate] = owner
            return candidate
    raise SimulatedAwsError("InsufficientFreeAddressesInSubnet", f"Subnet {subnet.id} has no free addresses")


def endpoint_subnets(
    op: Op, props: dict[str, Any], vpc: Resource, check: Callable[[Resource], None] = lambda _s: None
) -> list[Resource]:
    """An interface endpoint's subnets with AWS's checks: at least one, each in `vpc`, one per AZ;
    `check` adds the endpoint kind's own test of each subnet, in the same pass."""
    subnets = [
        op.find(s, "AWS::EC2::Subnet", "subnet", "InvalidSubnetId.NotFound")
        for s in props.get("SubnetIds") or []
    ]
    if not subnets:
        raise SimulatedAwsError(
            "InvalidParameter", "At least one subnet must be specified for an Interface endpoint"
        )
    seen_azs: set[str] = set()
    for subnet in subnets:
        if subnet.data["vpc_id"] != vpc.id:
            raise SimulatedAwsError("InvalidParameter", f"The subnet {subnet.id} does not belong to {vpc.id}")
        if subnet.data["az"] in seen_azs:
            raise SimulatedAwsError(
                "DuplicateSubnetsInSameZone",
                f"Found another VPC endpoint subnet in the availability zone of {subnet.id}. "
                "VPC endpoint subnets should be in different availability zones supported "
                "by the VPC endpoint service.",
            )
        seen_azs.add(subnet.data["az"])
        check(subnet)
    return subnets


def endpoint_security_groups(op: Op, props: dict[str, Any], vpc: Resource) -> list[str]:
    """An interface endpoint's security groups: as given (each in its VPC), else the VPC's default."""
    sg_ids = list(props.get("SecurityGroupIds") or []) or [vpc.data["default_sg"]]
    for sg_id in sg_ids:
        sg = op.find(sg_id, "AWS::EC2::SecurityGroup", "security group", "InvalidGroup.NotFound")
        if sg.data["vpc_id"] != vpc.id:
            raise SimulatedAwsError(
                "InvalidParameter", f"The security group {sg_id} does not belong to {vpc.id}"
            )
    return sg_ids


def release_ips(world: World, owner: str) -> None:
    for subnet in world.of_type("AWS::EC2::Subnet"):
        allocated = subnet.data.get("allocated", {})
        for ip in [ip for ip, who in allocated.items() if who == owner]:
            del allocated[ip]


class Handler:
    """How one resource type is created, updated in place (or replaced) and deleted."""

    type: ClassVar[str]
    required: ClassVar[tuple[str, ...]] = ()
    create_only: ClassVar[frozenset[str]] = frozenset()

    def create(self, op: Op, props: dict[str, Any]) -> Resource:
        raise NotImplementedError

    def update(self, op: Op, res: Resource, old: dict[str, Any], new: dict[str, Any]) -> None:
        """Apply `new` properties to `res` in place; the default replaces on create-only changes."""
        changed = {k for k in set(old) | set(new) if old.get(k) != new.get(k)}
        if changed & self.create_only:
            raise Replace()
        res.properties = new

    def delete(self, op: Op, res: Resource) -> None:
        remove(op.world, res)

    def validate(self, props: dict[str, Any]) -> None:
        require(props, *self.required)


HANDLERS: dict[str, Handler] = {}


def register(cls: type[Handler]) -> type[Handler]:
    HANDLERS[cls.type] = cls()
    return cls
