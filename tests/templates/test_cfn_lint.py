"""Every rendered template of every spec variant passes cfn-lint in its own region, and carries the
privlink tags wherever its CloudFormation schema takes tags."""

from __future__ import annotations

import json

import pytest
from spec_variants import variants

from privlink.templates.naming import TAG_LINK, TAG_PART
from privlink.templates.render import render_stacks, render_template_json

cfnlint_api = pytest.importorskip("cfnlint.api")
from cfnlint.config import ManualArgs  # noqa: E402
from cfnlint.schema import PROVIDER_SCHEMA_MANAGER  # noqa: E402

SPECS = variants()
ALL_STACKS = [(name, s) for name, spec in SPECS.items() for s in render_stacks(spec)]


def known_false_positive(match) -> bool:
    """cfn-lint 1.51's us-east-1 schema for AWS::EC2::VPCEndpointService predates PrivateDnsName
    (CloudFormation documents it, troposphere and cfn-lint >= 1.58 schemas have it): ignore exactly
    that one 'unexpected property' error, nothing else."""
    return match.rule.id == "E3002" and "'PrivateDnsName' was unexpected" in match.message


@pytest.mark.parametrize(("variant", "stack"), ALL_STACKS, ids=[f"{n}:{s.stack_name}" for n, s in ALL_STACKS])
def test_cfn_lint_finds_nothing(variant, stack):
    matches = cfnlint_api.lint(render_template_json(stack), config=ManualArgs(regions=[stack.region]))
    found = [f"{m.rule.id} {m.message} ({m.linenumber})" for m in matches if not known_false_positive(m)]
    # No warnings either: none of these templates needs one justified.
    assert found == []


def test_cfn_lint_does_catch_a_broken_template():
    stack = render_stacks(SPECS["default"])[0]
    broken = json.loads(render_template_json(stack))
    broken["Resources"]["Listener"]["Properties"]["Protocol"] = "HTTPZ"
    assert cfnlint_api.lint(json.dumps(broken), config=ManualArgs(regions=[stack.region]))


def schema_of(kind: str, region: str) -> dict:
    return PROVIDER_SCHEMA_MANAGER.get_resource_schema(region, kind).schema


@pytest.mark.parametrize("variant", sorted(SPECS))
def test_every_taggable_resource_carries_link_and_part(variant):
    for stack in render_stacks(SPECS[variant]):
        for logical_id, resource in stack.template["Resources"].items():
            properties = schema_of(resource["Type"], stack.region)["properties"]
            tag_keys = [k for k in ("Tags", "HostedZoneTags", "TagSpecifications") if k in properties]
            if not tag_keys:
                continue
            given = resource.get("Properties", {}).get(tag_keys[0])
            if tag_keys[0] == "TagSpecifications":
                given = given[0]["Tags"] if given else None
            assert given, f"{stack.stack_name}/{logical_id} ({resource['Type']}) is not tagged"
            tags = {t["Key"]: t["Value"] for t in given}
            assert tags[TAG_LINK] == "hello", logical_id
            assert tags[TAG_PART] == stack.name.part, logical_id
