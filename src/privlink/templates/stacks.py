"""Rendered stacks and how their parameters are bound: the data a target deploys.

`render_stacks(spec)` (in `privlink.templates.render`) returns `RenderedStack`s; the lifecycle plan
(`privlink.lifecycle`) orders them with the steps CloudFormation cannot do, and a target's
handlers fill each parameter from its `ParamBinding`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from privlink.templates.naming import StackName


@dataclass(frozen=True)
class FromOutput:
    """A parameter filled from another stack's output (e.g. the producer's ServiceName)."""

    stack: str
    output: str


@dataclass(frozen=True)
class FromStep:
    """A parameter filled by a step CloudFormation cannot do (e.g. an ACM certificate import).

    `step` names the step (`import-certificates:<consumer>`), `key` the value it produced
    (`server_certificate_arn`, `client_ca_arn`).
    """

    step: str
    key: str


@dataclass(frozen=True)
class Literal:
    value: str


@dataclass(frozen=True)
class FromAccount:
    """A parameter filled with the 12-digit ID of the spec's account `label`.

    The aws target asks STS (or takes `accounts.<label>.account_id`); the local target uses the
    sandbox's simulated ID for that label.
    """

    label: str


# What a `FromLookup` describes.
LOOKUP_VPC_CIDR = "vpc-cidr"  # the primary IPv4 CIDR of VPC `ids[0]` (DescribeVpcs)
LOOKUP_VPC_RESOLVER = "vpc-resolver"  # the Route 53 Resolver of VPC `ids[0]`: its CIDR base + 2
LOOKUP_SUBNET_AZ_IDS = "subnet-az-ids"  # comma-joined AZ IDs of subnets `ids`, in that order


@dataclass(frozen=True)
class FromLookup:
    """A parameter filled by describing existing resources in the stack's own account and region.

    Only stacks that reuse an existing VPC (`vpc: {id, subnet_ids}`) have these: CloudFormation
    cannot read a CIDR or an AZ ID from a resource it does not manage.
    """

    kind: str  # LOOKUP_VPC_CIDR | LOOKUP_VPC_RESOLVER | LOOKUP_SUBNET_AZ_IDS
    ids: tuple[str, ...]


# What a `FromPlan` names.
PLAN_AZ_IDS = "az-ids"  # the AZ IDs of the stack's new subnets, comma-joined in subnet order
PLAN_IMAGE = "image:"  # + an SSM parameter path: the AMI the plan resolved once and recorded


def plan_image(ssm_path: str) -> str:
    return PLAN_IMAGE + ssm_path


@dataclass(frozen=True)
class FromPlan:
    """A parameter the lifecycle plan decides from the facts the target gathered before planning.

    `az-ids`: where new subnets go (`privlink.lifecycle.placement`, from DescribeAvailabilityZones
    and DescribeInstanceTypeOfferings); `image:<ssm path>`: the AMI, resolved once and recorded so
    a re-run never replaces an instance. Each deploy step carries the values as overrides.
    """

    key: str


ParamBinding = FromOutput | FromStep | Literal | FromAccount | FromLookup | FromPlan


@dataclass(frozen=True)
class RenderedStack:
    """One CloudFormation stack: where it goes, its template, and where its parameters come from."""

    name: StackName
    account: str  # the spec's account label
    region: str
    template: dict[str, Any]
    parameters: dict[str, ParamBinding] = field(default_factory=dict)
    depends_on: tuple[str, ...] = ()  # stack names that must be deployed first (the plan's edges)

    @property
    def stack_name(self) -> str:
        return self.name.name
