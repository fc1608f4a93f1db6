"""CloudFormation's limits, checked at render time: one table, one line per refusal, each reached."""

from __future__ import annotations

import base64
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from spec_variants import all_features_spec, edited

from privlink.errors import SpecError
from privlink.targets.aws import deployer
from privlink.templates import limits
from privlink.templates.limits import LIMITS, body_size, check_limits, limit
from privlink.templates.naming import producer_stack
from privlink.templates.render import render_stacks
from privlink.templates.stacks import RenderedStack


def test_the_counts_are_cfn_lints():
    from cfnlint.helpers import LIMITS as CFN_LINT

    assert limit("parameters").maximum == CFN_LINT["Parameters"]["number"]
    assert limit("resources").maximum == CFN_LINT["Resources"]["number"]
    assert limit("outputs").maximum == CFN_LINT["Outputs"]["number"]
    for item in LIMITS:
        assert item.source and item.fix["producer"]


def test_the_lambda_inline_limit_is_what_the_function_schema_says():
    from cfnlint.schema.manager import PROVIDER_SCHEMA_MANAGER

    schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema("us-east-1", "AWS::Lambda::Function").schema
    zip_file = schema["definitions"]["Code"]["properties"]["ZipFile"]
    assert "maxLength" not in zip_file
    assert "This zip file cannot exceed 4MB" in zip_file["description"]
    assert limit("Lambda inline code (zipped)").maximum == 4 * 1024 * 1024


def test_the_deployer_measures_the_body_as_render_checks_it():
    assert deployer.template_body is limits.template_body
    assert deployer.MAX_TEMPLATE_BODY == limit("template body").maximum == 51_200


@pytest.mark.parametrize("azs", [5, 6])
def test_every_feature_in_every_az_renders_within_the_limits(azs):
    stacks = render_stacks(all_features_spec(azs))  # over 51,200 bytes before the launch template
    assert all(body_size(s.template) <= 51_200 for s in stacks)


def with_principals(n: int):
    def edit(d):
        d["producer"]["endpoint_service"]["allowed_principals"] = [
            f"arn:aws:iam::{100000000000 + i}:role/team-{i:04d}" for i in range(n)
        ]

    return edited(edit)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(min_value=600, max_value=900))
def test_allowed_principals_reach_the_body_limit(n):
    spec = with_principals(n)
    try:
        stacks = render_stacks(spec)
    except SpecError as exc:
        assert exc.where == "privlink-hello-producer"
        assert exc.what.startswith("template body: ")
        assert exc.what.endswith("bytes, over CloudFormation's 51,200")
        assert "allowed principals" in exc.hint
        size = int(exc.what.split(": ")[1].split(" ")[0].replace(",", ""))
        assert size > 51_200
        return
    assert body_size(stacks[0].template) <= 51_200


def test_the_body_limit_is_reached_between_bounds():
    assert body_size(render_stacks(with_principals(600))[0].template) < 51_200
    with pytest.raises(SpecError, match="template body"):
        render_stacks(with_principals(900))


def bare(resources: int = 1, outputs: int = 0, parameters: int = 0, code: str | None = None) -> RenderedStack:
    template: dict = {
        "Resources": {f"R{i}": {"Type": "AWS::SNS::Topic", "Properties": {}} for i in range(resources)},
        "Outputs": {f"O{i}": {"Value": "x"} for i in range(outputs)},
        "Parameters": {f"P{i}": {"Type": "String"} for i in range(parameters)},
    }
    if code is not None:
        template["Resources"]["Function"] = {
            "Type": "AWS::Lambda::Function",
            "Properties": {"Code": {"ZipFile": code}},
        }
    return RenderedStack(producer_stack("hello"), "prod", "eu-central-1", template)


# Resources and outputs: no valid spec comes near (the producer has about 50 resources at 6 AZs),
# so these are checked on templates made here.
@pytest.mark.parametrize(
    ("name", "at_most", "over"),
    [
        ("resources", {"resources": 500}, {"resources": 501}),
        ("outputs", {"outputs": 200}, {"outputs": 201}),
        ("parameters", {"parameters": 200}, {"parameters": 201}),
    ],
)
def test_each_count_is_refused_one_past_its_maximum(name, at_most, over):
    check_limits([bare(**at_most)])
    with pytest.raises(SpecError) as info:
        check_limits([bare(**over)])
    count = next(iter(over.values()))
    assert f"{name}: {count} {name}, over CloudFormation's {limit(name).maximum}" in info.value.what
    assert info.value.hint


def test_inline_code_is_measured_zipped_against_four_megabytes():
    code_limit = limit("Lambda inline code (zipped)")
    small = bare(code="def handler(event, context):\n    return None\n" * 1000)
    assert 0 < code_limit.measure(small.template) < 1000  # repetitive code zips small
    assert code_limit.over(small.template) is None
    incompressible = base64.b64encode(random.Random(0).randbytes(4_500_000)).decode()
    assert code_limit.over(bare(code=incompressible).template) > 4 * 1024 * 1024
    # Such code would pass the body's 51,200 bytes first: that is the limit a user meets.
    with pytest.raises(SpecError, match="template body"):
        check_limits([bare(code=incompressible)])


def test_render_refuses_with_one_line_through_the_cli(tmp_path):
    import yaml

    from privlink_testing import run_privlink

    data = yaml.safe_load(with_principals(900).model_dump_json(exclude_none=True))
    (tmp_path / "privlink.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    result = run_privlink("render", "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("privlink: error: privlink-hello-producer: template body:")
    assert "hint:" in line
    assert not (tmp_path / "out").exists()
