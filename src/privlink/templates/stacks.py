"""Rendered stacks and how their parameters are bound: the data a target deploys.

`render_stacks(spec)` (in `privlink.templates.render`) returns `RenderedStack`s; a target fills
each parameter from its `ParamBinding` and deploys the stacks batch by batch (`deploy_batches`),
deleting in the reverse order.
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


ParamBinding = FromOutput | FromStep | Literal | FromAccount | FromLookup


@dataclass(frozen=True)
class RenderedStack:
    """One CloudFormation stack: where it goes, its template, and where its parameters come from."""

    name: StackName
    account: str  # the spec's account label
    region: str
    template: dict[str, Any]
    parameters: dict[str, ParamBinding] = field(default_factory=dict)
    depends_on: tuple[str, ...] = ()  # stack names that must be deployed first

    @property
    def stack_name(self) -> str:
        return self.name.name


def deploy_batches(stacks: list[RenderedStack]) -> list[list[RenderedStack]]:
    """Stacks grouped so that each batch depends only on earlier batches (deploy order).

    Raises ValueError on a dependency cycle or an unknown dependency.
    """
    by_name = {s.stack_name: s for s in stacks}
    for stack in stacks:
        for dep in stack.depends_on:
            if dep not in by_name:
                raise ValueError(f"{stack.stack_name} depends on unknown stack {dep}")
    done: set[str] = set()
    batches: list[list[RenderedStack]] = []
    remaining = list(stacks)
    while remaining:
        ready = [s for s in remaining if all(d in done for d in s.depends_on)]
        if not ready:
            raise ValueError("stack dependency cycle: " + ", ".join(s.stack_name for s in remaining))
        batches.append(ready)
        done.update(s.stack_name for s in ready)
        remaining = [s for s in remaining if s.stack_name not in done]
    return batches


def delete_batches(stacks: list[RenderedStack]) -> list[list[RenderedStack]]:
    """The deploy batches reversed: consumers (and their VPNs) before the producer."""
    return list(reversed(deploy_batches(stacks)))
