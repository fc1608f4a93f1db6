"""What a target gathers before planning, and what to gather: plain frozen data.

The planner (`privlink.lifecycle.build`) is pure over `Facts`: this link's stacks that exist and in
what state, the step values and certificates recorded in state, per account and region the AZ names
and IDs and the instance-type offerings, the recorded AMI IDs, and the AZ IDs of existing subnets.
`wanted(spec)` says which of those the spec needs, so each target asks for exactly that (the aws
target with describe calls, the local target from its simulated world).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from privlink.spec.models import Spec
from privlink.templates import naming

# AZ IDs where cross-region PrivateLink is not offered. No API lists them: "Cross-Region
# connectivity is not supported in the following Availability Zones: use1-az3, usw1-az2, apne1-az3,
# apne2-az2, apne2-az4" (AWS PrivateLink guide, "Share your services through AWS PrivateLink",
# https://docs.aws.amazon.com/vpc/latest/privatelink/privatelink-share-your-services.html).
# The one constant both targets use: the plan avoids them, the sandbox refuses them.
NO_CROSS_REGION_AZ_IDS = frozenset({"use1-az3", "usw1-az2", "apne1-az3", "apne2-az2", "apne2-az4"})

DEMO_INSTANCE_TYPE = naming.DEMO_INSTANCE_TYPE


@dataclass(frozen=True)
class StackFact:
    """One of this link's stacks as it exists."""

    name: str
    account: str  # the spec's account label
    region: str
    status: str
    outputs: Mapping[str, str] = field(default_factory=dict)
    parameters: Mapping[str, str] = field(default_factory=dict)  # as passed
    resolved: Mapping[str, str] = field(default_factory=dict)  # SSM-typed parameters' values


@dataclass(frozen=True)
class Zones:
    """One account's view of one region: AZ name -> AZ ID (names map to different IDs per account)."""

    ids: Mapping[str, str]  # AZ name -> AZ ID, in name order, available AZs only
    offerings: Mapping[str, frozenset[str]] = field(default_factory=dict)  # type -> AZ IDs

    def offered(self, instance_type: str, az_id: str) -> bool:
        """Whether `instance_type` can run in `az_id` (unknown types count as offered)."""
        if instance_type not in self.offerings:
            return True
        return az_id in self.offerings[instance_type]


@dataclass(frozen=True)
class CertificateFact:
    """Certificates `up` imported for a consumer, as recorded in state (account, region, ARNs)."""

    consumer: str
    account: str
    region: str
    arns: tuple[str, ...]


@dataclass(frozen=True)
class Facts:
    stacks: tuple[StackFact, ...] = ()
    steps: Mapping[str, Mapping[str, str]] = field(default_factory=dict)  # recorded step values
    certificates: tuple[CertificateFact, ...] = ()
    zones: Mapping[tuple[str, str], Zones] = field(default_factory=dict)  # (account, region)
    images: Mapping[tuple[str, str], str] = field(default_factory=dict)  # (region, ssm path) -> AMI
    subnets: Mapping[str, str] = field(default_factory=dict)  # existing subnet ID -> AZ ID

    def stack(self, name: str, account: str | None = None, region: str | None = None) -> StackFact | None:
        for fact in self.stacks:
            if fact.name == name and account in (None, fact.account) and region in (None, fact.region):
                return fact
        return None


@dataclass(frozen=True)
class Wanted:
    """The facts a spec needs beyond the stacks and the state."""

    zones: Mapping[tuple[str, str], frozenset[str]]  # (account, region) -> instance types to check
    images: frozenset[tuple[str, str, str]]  # (account, region, ssm path)
    subnets: Mapping[tuple[str, str], tuple[str, ...]]  # (account, region) -> existing subnet IDs


def wanted(spec: Spec) -> Wanted:
    """Which zones, offerings, images and subnets planning `spec` needs."""
    zones: dict[tuple[str, str], set[str]] = {}
    images: set[tuple[str, str, str]] = set()
    subnets: dict[tuple[str, str], list[str]] = {}
    producer = spec.producer
    home = (producer.account, producer.region)
    if producer.vpc.cidr is not None:
        zones.setdefault(home, set())
    else:
        subnets.setdefault(home, []).extend(producer.vpc.subnet_ids)
    if producer.service.app == "demo":
        zones.setdefault(home, set()).add(DEMO_INSTANCE_TYPE)
        images.add((producer.account, producer.region, naming.DEMO_IMAGE_SSM_PATH))
    for consumer in spec.consumers:
        where = (consumer.account, consumer.region)
        if consumer.vpc.cidr is not None:
            zones.setdefault(where, set())
        else:
            subnets.setdefault(where, []).extend(consumer.vpc.subnet_ids)
        if consumer.test_instance.enabled:
            zones.setdefault(where, set()).add(consumer.test_instance.instance_type)
            path = naming.al2023_image_ssm_path(consumer.test_instance.architecture)
            images.add((consumer.account, consumer.region, path))
    return Wanted(
        zones={k: frozenset(v) for k, v in zones.items()},
        images=frozenset(images),
        subnets={k: tuple(v) for k, v in subnets.items()},
    )
