"""Where subnets go, decided up front from the facts: AZ IDs for the producer and each new consumer VPC.

Rules (AWS's, with sources in `privlink.lifecycle.facts` and `docs/architecture.md`):
- An interface endpoint can only use AZs where the service's load balancer has a node, and AZ names
  map to different AZs in different accounts: same-region consumers' subnets take the producer's
  AZ IDs, in the producer's order.
- Cross-region PrivateLink is not offered in some AZ IDs (`NO_CROSS_REGION_AZ_IDS`): a producer
  whose service lists other regions, and every cross-region consumer, avoid them.
- An instance needs an AZ that offers its type (DescribeInstanceTypeOfferings): the demo app runs
  in every producer AZ, a consumer's test instance in its first subnet.
- An existing VPC's subnets are checked against the same rules before anything is deployed.
- A deployed stack keeps the AZ IDs it was deployed with (subnets are never moved by a re-run).

Pure: raises `BadInput` (exit 2) naming the field, the subnet and the allowed AZ IDs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from privlink.errors import BadInput
from privlink.lifecycle.facts import DEMO_INSTANCE_TYPE, NO_CROSS_REGION_AZ_IDS, Facts, Zones
from privlink.spec.models import Consumer, Spec
from privlink.templates import naming


@dataclass(frozen=True)
class Placement:
    producer: tuple[str, ...]  # the AZ IDs of the producer's subnets, in subnet order
    consumers: Mapping[str, tuple[str, ...]]  # consumer name -> its new VPC's subnet AZ IDs


def place(spec: Spec, facts: Facts) -> Placement:
    producer = _producer(spec, facts)
    consumers = {}
    for i, consumer in enumerate(spec.consumers):
        if consumer.vpc.cidr is None:
            _check_existing(spec, facts, i, consumer, producer)
        else:
            consumers[consumer.name] = _consumer(spec, facts, consumer, producer)
    return Placement(producer, consumers)


def _zones(facts: Facts, account: str, region: str) -> Zones:
    zones = facts.zones.get((account, region))
    if zones is None:
        raise ValueError(f"no availability-zone facts for account {account} in {region}")
    return zones


def _deployed(facts: Facts, stack: str, account: str, region: str, count: int) -> tuple[str, ...] | None:
    fact = facts.stack(stack, account, region)
    if fact is None:
        return None
    ids = tuple(i for i in fact.parameters.get(naming.PARAM_AZ_IDS, "").split(",") if i)
    return ids if len(ids) == count else None


def _producer(spec: Spec, facts: Facts) -> tuple[str, ...]:
    producer = spec.producer
    remote = bool(spec.supported_regions)
    if producer.vpc.cidr is None:
        found = []
        for subnet in producer.vpc.subnet_ids:
            az_id = facts.subnets[subnet]
            if remote and az_id in NO_CROSS_REGION_AZ_IDS:
                raise BadInput(
                    "producer.vpc.subnet_ids",
                    f"{subnet} is in {az_id}, where cross-region PrivateLink is not offered",
                    "use subnets in other AZs, or keep every consumer in " + producer.region,
                )
            found.append(az_id)
        return tuple(found)
    stack = naming.producer_stack(spec.name).name
    kept = _deployed(facts, stack, producer.account, producer.region, producer.vpc.azs)
    if kept is not None:
        return kept
    zones = _zones(facts, producer.account, producer.region)
    types = [DEMO_INSTANCE_TYPE] if producer.service.app == "demo" else []
    usable, left_out = [], []
    for az_id in zones.ids.values():
        if remote and az_id in NO_CROSS_REGION_AZ_IDS:
            left_out.append(f"{az_id} (no cross-region PrivateLink)")
        elif not all(zones.offered(t, az_id) for t in types):
            left_out.append(f"{az_id} (no {', '.join(types)})")
        else:
            usable.append(az_id)
    if len(usable) < producer.vpc.azs:
        raise BadInput(
            "producer.vpc.azs",
            f"{producer.vpc.azs} AZs wanted, but account {producer.account} has {len(usable)} usable in "
            f"{producer.region}: {', '.join(usable) or 'none'}"
            + (f"; left out {', '.join(left_out)}" if left_out else ""),
            f"use azs: {len(usable)}" if usable else "pick another region",
        )
    return tuple(usable[: producer.vpc.azs])


def _consumer(spec: Spec, facts: Facts, consumer: Consumer, producer: tuple[str, ...]) -> tuple[str, ...]:
    azs = consumer.vpc.azs
    stack = naming.network_stack(spec.name, consumer.name).name
    kept = _deployed(facts, stack, consumer.account, consumer.region, azs)
    if kept is not None:
        return kept
    zones = _zones(facts, consumer.account, consumer.region)
    where = f"consumers[{spec.consumers.index(consumer)}].vpc.azs"
    if spec.is_cross_region(consumer):
        candidates = [a for a in zones.ids.values() if a not in NO_CROSS_REGION_AZ_IDS]
        reason = "AZ IDs with cross-region PrivateLink"
    else:
        known = set(zones.ids.values())
        candidates = [a for a in producer if a in known]
        reason = "AZ IDs of the service's load balancer"
    if consumer.test_instance.enabled:
        kind = consumer.test_instance.instance_type
        first = next((a for a in candidates if zones.offered(kind, a)), None)
        if first is None:
            raise BadInput(
                f"consumers[{spec.consumers.index(consumer)}].test_instance.instance_type",
                f"{kind} is not offered in any of the {reason} in {consumer.region}: {', '.join(candidates)}",
                "pick another instance type",
            )
        candidates = [first] + [a for a in candidates if a != first]  # the instance's subnet
    if len(candidates) < azs:
        raise BadInput(
            where,
            f"{azs} AZs wanted, but only {len(candidates)} {reason} are usable in {consumer.region}: "
            f"{', '.join(candidates) or 'none'}",
            f"use azs: {len(candidates)}" if candidates else "pick another region",
        )
    return tuple(candidates[:azs])


def _check_existing(spec: Spec, facts: Facts, i: int, consumer: Consumer, producer: tuple[str, ...]) -> None:
    """An existing VPC's subnets must be where an endpoint can be: one line naming the subnet."""
    for subnet in consumer.vpc.subnet_ids:
        az_id = facts.subnets[subnet]
        if spec.is_cross_region(consumer):
            if az_id in NO_CROSS_REGION_AZ_IDS:
                raise BadInput(
                    f"consumers[{i}].vpc.subnet_ids",
                    f"{subnet} is in {az_id}, where cross-region PrivateLink is not offered",
                    "use subnets in other AZs",
                )
        elif az_id not in producer:
            raise BadInput(
                f"consumers[{i}].vpc.subnet_ids",
                f"{subnet} is in {az_id}; the service's load balancer is only in {', '.join(producer)}",
                f"use subnets in {', '.join(producer)}",
            )
