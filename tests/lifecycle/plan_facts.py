"""Specs and facts for planning tests: plain data, no target."""

from __future__ import annotations

import copy

import yaml

from privlink.lifecycle.facts import Facts, StackFact, Zones, wanted
from privlink.spec import validate_spec
from privlink.spec.demo import demo_spec_text

# A per-account AZ mapping as AWS has it: the same names, other IDs, in each account.
ZONES = {
    ("prod", "eu-central-1"): {
        "eu-central-1a": "euc1-az2",
        "eu-central-1b": "euc1-az3",
        "eu-central-1c": "euc1-az1",
    },
    ("dev", "eu-central-1"): {
        "eu-central-1a": "euc1-az1",
        "eu-central-1b": "euc1-az2",
        "eu-central-1c": "euc1-az3",
    },
    ("qa", "eu-central-1"): {
        "eu-central-1a": "euc1-az3",
        "eu-central-1b": "euc1-az1",
        "eu-central-1c": "euc1-az2",
    },
    ("prod", "us-east-1"): {
        "us-east-1a": "use1-az3",  # no cross-region PrivateLink here
        "us-east-1b": "use1-az6",
        "us-east-1c": "use1-az1",
        "us-east-1d": "use1-az2",
    },
    ("dev", "eu-west-2"): {"eu-west-2a": "euw2-az2", "eu-west-2b": "euw2-az1", "eu-west-2c": "euw2-az3"},
}


def spec_of(edit=None, cross_region=False):
    data = yaml.safe_load(demo_spec_text(cross_region=cross_region))
    data = copy.deepcopy(data)
    if edit:
        edit(data)
    return validate_spec(data)


def facts_for(spec, stacks=(), offerings=None, steps=None, certificates=(), subnets=None, images=None):
    """The facts a target would gather for `spec`, from `ZONES` (everything offered but `offerings`)."""
    want = wanted(spec)
    zones = {}
    for key, types in want.zones.items():
        ids = ZONES[key]
        missing = (offerings or {}).get(key, {})
        zones[key] = Zones(
            ids, {t: frozenset(i for i in ids.values() if i not in missing.get(t, ())) for t in types}
        )
    found_images = {
        (region, path): f"ami-{abs(hash((region, path))) % 10**17:017d}" for _a, region, path in want.images
    }
    found_images.update(images or {})
    return Facts(
        stacks=tuple(stacks),
        steps=steps or {},
        certificates=tuple(certificates),
        zones=zones,
        images=found_images,
        subnets=subnets or {},
    )


def deployed(name, account="dev", region="eu-central-1", status="CREATE_COMPLETE", **parameters):
    return StackFact(name, account, region, status, parameters=parameters)
