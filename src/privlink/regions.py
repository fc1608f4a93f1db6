"""The AWS regions botocore knows, from its bundled partition data (`botocore/data/partitions.json`).

Read as a file, without importing botocore (about 60 ms, more with its loaders), so validating a
spec stays fast and `privlink --help` never pays for it. No network: a region newer than the
installed botocore is unknown until boto3 is upgraded.
"""

from __future__ import annotations

import difflib
import functools
import importlib.util
import json
import re
from pathlib import Path

CUTOFF = 0.75  # difflib's similarity from which a known region is offered as the meant one


@functools.cache
def known_regions() -> frozenset[str]:
    """Every region of every partition (aws, aws-cn, aws-us-gov, ...), without the `*-global`
    pseudo regions."""
    found = importlib.util.find_spec("botocore")
    if found is None or not found.submodule_search_locations:
        raise RuntimeError("botocore is not installed (boto3 needs it): pip install boto3")
    data = json.loads((Path(found.submodule_search_locations[0]) / "data" / "partitions.json").read_text())
    return frozenset(
        region
        for partition in data["partitions"]
        for region in partition.get("regions", {})
        if re.match(partition["regionRegex"], region)
    )


def closest_regions(name: str) -> list[str]:
    """The known regions `name` most likely misspells (ties all), best first; empty when none is close."""
    scored = sorted(
        ((difflib.SequenceMatcher(None, name, region).ratio(), region) for region in known_regions()),
        key=lambda pair: (-pair[0], pair[1]),
    )
    if not scored or scored[0][0] < CUTOFF:
        return []
    return [region for ratio, region in scored if ratio == scored[0][0]]


@functools.cache
def botocore_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("botocore")
    except PackageNotFoundError:
        return "?"
