"""The facts the lifecycle plan needs, read from AWS (and `aws.json`) before planning.

Describe calls only: ListStacks + DescribeStacks for this link's stacks, DescribeAvailabilityZones
and DescribeInstanceTypeOfferings per account and region the spec creates subnets or instances in,
DescribeSubnets for existing VPCs, and SSM GetParameter for an AMI not recorded yet.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from privlink.lifecycle.facts import CertificateFact, Facts, StackFact, Zones, wanted
from privlink.spec.models import Spec
from privlink.templates import naming

# Every status of a stack that exists (ListStacks lists deleted ones for 90 days too).
LIVE_STATUSES = [
    "CREATE_IN_PROGRESS",
    "CREATE_FAILED",
    "CREATE_COMPLETE",
    "ROLLBACK_IN_PROGRESS",
    "ROLLBACK_FAILED",
    "ROLLBACK_COMPLETE",
    "DELETE_IN_PROGRESS",
    "DELETE_FAILED",
    "UPDATE_IN_PROGRESS",
    "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS",
    "UPDATE_COMPLETE",
    "UPDATE_FAILED",
    "UPDATE_ROLLBACK_IN_PROGRESS",
    "UPDATE_ROLLBACK_FAILED",
    "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS",
    "UPDATE_ROLLBACK_COMPLETE",
    "REVIEW_IN_PROGRESS",
    "IMPORT_IN_PROGRESS",
    "IMPORT_COMPLETE",
    "IMPORT_ROLLBACK_IN_PROGRESS",
    "IMPORT_ROLLBACK_FAILED",
    "IMPORT_ROLLBACK_COMPLETE",
]

Client = Callable[[str, str, str], Any]  # (service, account label, region) -> gateway client


def link_stacks(
    spec: Spec,
    client: Client,
    places: Iterable[tuple[str, str]],
    owners: dict[str, tuple[str, str]] | None = None,
) -> tuple[StackFact, ...]:
    """This link's stacks in each (account, region): status, outputs, parameters.

    Two account labels may name one AWS account: a stack seen through both is listed once, under
    the (account, region) of `owners` (stack name -> where the spec puts it) when it names one.
    """
    owners = owners or {}
    found: list[StackFact] = []
    seen: dict[str, int] = {}  # stack ID -> index in found
    for account, region in sorted(set(places)):
        cfn = client("cloudformation", account, region)
        for summary in cfn.paginate("list_stacks", "StackSummaries", StackStatusFilter=LIVE_STATUSES):
            name = summary["StackName"]
            if naming.parse_stack_name(spec.name, name) is None:
                continue
            stacks = cfn.describe_stacks(StackName=summary.get("StackId") or name)["Stacks"]
            if not stacks or stacks[0]["StackStatus"] == "DELETE_COMPLETE":
                continue
            stack = stacks[0]
            fact = StackFact(
                name=name,
                account=account,
                region=region,
                status=stack["StackStatus"],
                outputs={o["OutputKey"]: o.get("OutputValue", "") for o in stack.get("Outputs", [])},
                parameters={
                    p["ParameterKey"]: p.get("ParameterValue", "") for p in stack.get("Parameters", [])
                },
                resolved={
                    p["ParameterKey"]: p["ResolvedValue"]
                    for p in stack.get("Parameters", [])
                    if p.get("ResolvedValue")
                },
            )
            stack_id = stack.get("StackId") or f"{account}/{region}/{name}"
            if stack_id not in seen:
                seen[stack_id] = len(found)
                found.append(fact)
            elif owners.get(name) == (account, region):
                found[seen[stack_id]] = fact
    return tuple(found)


def zones(client: Client, account: str, region: str, types: Iterable[str]) -> Zones:
    """The account's available AZs in the region (name -> ID, in name order) and which offer `types`."""
    ec2 = client("ec2", account, region)
    listed = ec2.describe_availability_zones(
        Filters=[
            {"Name": "zone-type", "Values": ["availability-zone"]},
            {"Name": "state", "Values": ["available"]},
        ]
    )["AvailabilityZones"]
    ids = {z["ZoneName"]: z["ZoneId"] for z in sorted(listed, key=lambda z: z["ZoneName"])}
    offerings: dict[str, set[str]] = {t: set() for t in types}
    if offerings:
        for offer in ec2.paginate(
            "describe_instance_type_offerings",
            "InstanceTypeOfferings",
            LocationType="availability-zone-id",
            Filters=[{"Name": "instance-type", "Values": sorted(offerings)}],
        ):
            offerings.setdefault(offer["InstanceType"], set()).add(offer["Location"])
    return Zones(ids, {k: frozenset(v) for k, v in offerings.items()})


def gather(
    spec: Spec,
    client: Client,
    places: Iterable[tuple[str, str]],
    state: dict[str, Any],
    *,
    owners: dict[str, tuple[str, str]] | None = None,
    for_down: bool = False,
) -> Facts:
    """Everything `plan_up` (or, `for_down`, `plan_down`) needs. `state` is `aws.json`'s data."""
    places = set(places)
    certificates = tuple(
        CertificateFact(
            consumer=name,
            account=record["account"],
            region=record["region"],
            arns=tuple(record.get("arns", [])),
        )
        for name, record in sorted(state.get("certificates", {}).items())
    )
    places.update((c.account, c.region) for c in certificates)
    stacks = link_stacks(spec, client, places, owners)
    steps = {k: dict(v) for k, v in state.get("steps", {}).items()}
    if for_down:
        return Facts(stacks=stacks, steps=steps, certificates=certificates)
    want = wanted(spec)
    found_zones = {key: zones(client, key[0], key[1], types) for key, types in sorted(want.zones.items())}
    subnets: dict[str, str] = {}
    for (account, region), ids in sorted(want.subnets.items()):
        described = client("ec2", account, region).describe_subnets(SubnetIds=list(ids))["Subnets"]
        subnets.update({s["SubnetId"]: s["AvailabilityZoneId"] for s in described})
    images: dict[tuple[str, str], str] = {}
    recorded = state.get("images", {})
    for account, region, path in sorted(want.images):
        image = recorded.get(region, {}).get(path) or deployed_image(spec, stacks, region, path)
        if not image:
            parameter = client("ssm", account, region).get_parameter(Name=path)["Parameter"]
            image = parameter["Value"]
        images[(region, path)] = image
    return Facts(
        stacks=stacks,
        steps=steps,
        certificates=certificates,
        zones=found_zones,
        images=images,
        subnets=subnets,
    )


def deployed_image(spec: Spec, stacks: Iterable[StackFact], region: str, path: str) -> str | None:
    """The AMI a deployed stack runs for `path` (when `aws.json` lost it): never replace an instance."""
    for fact in stacks:
        parsed = naming.parse_stack_name(spec.name, fact.name)
        if fact.region != region or parsed is None:
            continue
        if parsed.part == naming.PRODUCER and path == naming.DEMO_IMAGE_SSM_PATH:
            name = naming.PARAM_DEMO_IMAGE_ID
        elif parsed.part == naming.CONSUMER and any(
            c.name == parsed.consumer
            and c.test_instance.enabled
            and naming.al2023_image_ssm_path(c.test_instance.architecture) == path
            for c in spec.consumers
        ):
            name = naming.PARAM_TEST_INSTANCE_IMAGE_ID
        else:
            continue
        image = fact.resolved.get(name) or fact.parameters.get(name, "")
        if image.startswith("ami-"):
            return image
    return None
