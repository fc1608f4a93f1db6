"""Which AWS partition a region is in, from botocore's bundled endpoint data (no network).

ARNs start with the partition (`arn:aws:`, `arn:aws-cn:`, `arn:aws-us-gov:`), and global services
such as Route 53 sign in one region per partition (us-east-1, cn-northwest-1, us-gov-west-1).
privlink is tested in the `aws` partition only; the others are derived, not tried.

The regions AWS has (`known_regions`) come from the same data: `spec.load` refuses a spec naming
another. `partitions.json` is read as a file, without importing botocore (about 60 ms, 240 with its
loaders), so validating a spec stays fast and `privlink --help` never pays for it; a region newer
than the installed botocore is unknown until boto3 is upgraded.
"""

from __future__ import annotations

import difflib
import functools
import importlib.util
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from privlink.errors import BadInput


@dataclass(frozen=True)
class Partition:
    name: str  # aws | aws-cn | aws-us-gov | ...
    dns_suffix: str  # amazonaws.com | amazonaws.com.cn | ...
    route53_region: str  # where Route 53's global endpoint signs (its credential scope)

    def arn(self, service: str, region: str, account: str, resource: str) -> str:
        return f"arn:{self.name}:{service}:{region}:{account}:{resource}"


CLOSE = 0.75  # difflib's similarity from which a known region is offered as the one meant


@functools.cache
def _partitions_data() -> dict[str, Any]:
    """botocore's bundled `partitions.json`, read without importing botocore."""
    found = importlib.util.find_spec("botocore")
    if found is None or not found.submodule_search_locations:
        raise RuntimeError("botocore is not installed (boto3 needs it): pip install boto3")
    path = Path(next(iter(found.submodule_search_locations))) / "data" / "partitions.json"
    return json.loads(path.read_text(encoding="utf-8"))


@functools.cache
def known_regions() -> frozenset[str]:
    """Every region of every partition (aws, aws-cn, aws-us-gov, ...), without the `*-global`
    pseudo regions."""
    return frozenset(
        region
        for p in _partitions_data()["partitions"]
        for region in p.get("regions", {})
        if re.match(p["regionRegex"], region)
    )


def closest_regions(name: str) -> list[str]:
    """The known regions `name` most likely misspells (ties all), best first; empty when none is close."""
    scored = sorted(
        ((difflib.SequenceMatcher(None, name, region).ratio(), region) for region in known_regions()),
        key=lambda pair: (-pair[0], pair[1]),
    )
    if not scored or scored[0][0] < CLOSE:
        return []
    return [region for ratio, region in scored if ratio == scored[0][0]]


@functools.cache
def botocore_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("botocore")
    except PackageNotFoundError:
        return "?"


@functools.cache
def _partitions() -> tuple[tuple[str, re.Pattern[str], frozenset[str], Partition], ...]:
    from botocore.loaders import create_loader

    loader = create_loader()
    # endpoints.json says where Route 53's partition-wide endpoint signs; partitions.json which
    # regions belong to a partition (a pattern, plus regions listed by name) and its DNS suffix.
    route53 = {
        p["partition"]: next(
            (
                e["credentialScope"]["region"]
                for e in p["services"].get("route53", {}).get("endpoints", {}).values()
                if e.get("credentialScope", {}).get("region")
            ),
            None,
        )
        for p in loader.load_data("endpoints")["partitions"]
    }
    found = []
    for p in _partitions_data()["partitions"]:
        outputs = p["outputs"]
        partition = Partition(
            name=outputs["name"],
            dns_suffix=outputs["dnsSuffix"],
            route53_region=route53.get(p["id"]) or outputs["implicitGlobalRegion"],
        )
        found.append((p["id"], re.compile(p["regionRegex"]), frozenset(p.get("regions", {})), partition))
    return tuple(found)


@functools.cache
def partition_of(region: str) -> Partition:
    """The partition `region` belongs to; BadInput for a region no partition claims."""
    entries = _partitions()
    for _, _, regions, partition in entries:
        if region in regions:
            return partition
    for _, pattern, _, partition in entries:
        if pattern.match(region):
            return partition
    raise BadInput("region", f"{region!r} is in no AWS partition botocore knows", "check the region name")


def partition_of_regions(regions: list[str], where: str) -> Partition:
    """The one partition of several regions (a side's); BadInput when they span partitions."""
    found = {partition_of(r) for r in regions}
    if len(found) > 1:
        raise BadInput(
            where,
            f"regions {', '.join(sorted(set(regions)))} are in different AWS partitions "
            f"({', '.join(sorted(p.name for p in found))}); PrivateLink does not cross partitions",
            "keep the producer and its consumers in one partition",
        )
    return found.pop()
