"""Every region a spec names must exist (botocore's bundled partition data, no network): a typo is
one line naming the field with a "did you mean", exit 2, before anything is deployed."""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml

from privlink.errors import SpecError
from privlink.partitions import closest_regions, known_regions
from privlink.spec import parse_spec
from privlink.spec.demo import demo_spec_text
from privlink_testing import SRC, run_privlink


def demo() -> dict:
    return yaml.safe_load(demo_spec_text())


def fleet(data: dict, regions: list[str]) -> dict:
    data["producer"]["endpoint_service"].update(acceptance_required=True, auto_approval={"registry": True})
    data["consumers_from"] = {"accounts": ["111111111111"], "regions": regions}
    return data


def with_region(field: str, region: str) -> dict:
    data = demo()
    if field == "producer.region":
        data["producer"]["region"] = region
    elif field == "consumers[0].region":
        data["consumers"][0]["region"] = region
    elif field == "producer.endpoint_service.supported_regions[1]":
        data["producer"]["endpoint_service"]["supported_regions"] = ["eu-west-2", region]
    else:
        fleet(data, ["eu-west-1", region])
    return data


FIELDS = [
    "producer.region",
    "consumers[0].region",
    "producer.endpoint_service.supported_regions[1]",
    "consumers_from.regions[1]",
]


@pytest.mark.parametrize("field", FIELDS)
def test_a_misspelt_region_names_its_field_and_the_region_meant(field):
    with pytest.raises(SpecError) as info:
        parse_spec(yaml.safe_dump(with_region(field, "eu-centrl-1")))
    error = info.value
    assert (error.where, error.what, error.hint) == (
        f"privlink.yaml: {field}",
        "'eu-centrl-1' is not an AWS region",
        "did you mean 'eu-central-1'?",
    )


def test_a_region_like_no_other_says_where_the_list_is_and_that_botocore_may_be_old():
    with pytest.raises(SpecError) as info:
        parse_spec(yaml.safe_dump(with_region("consumers[0].region", "xx-nowhere-9")))
    assert info.value.where == "privlink.yaml: consumers[0].region"
    assert "describe-regions" in info.value.hint and "boto3" in info.value.hint


def test_every_partitions_regions_are_known_and_pseudo_regions_are_not():
    known = known_regions()
    assert {"eu-central-1", "us-east-1", "eu-west-2", "cn-north-1", "us-gov-west-1"} <= known
    assert not {r for r in known if r.endswith("-global")}
    for field in FIELDS:  # a real region passes in every field
        parse_spec(yaml.safe_dump(with_region(field, "ap-southeast-2")))


def test_ties_are_all_offered():
    assert closest_regions("us-est-1") == ["us-east-1", "us-west-1"]
    assert closest_regions("xx-nowhere-9") == []


def test_the_cli_says_it_in_one_line_exit_2(tmp_path):
    data = with_region("consumers[0].region", "eu-centrl-1")
    (tmp_path / "privlink.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    result = run_privlink("plan", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "privlink: error: privlink.yaml: consumers[0].region: 'eu-centrl-1' is not an AWS region; "
        "hint: did you mean 'eu-central-1'?"
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["privlink.yaml"]


def test_neither_help_nor_validating_a_spec_imports_botocore():
    code = (
        "import sys; from privlink.cli import main; main.register_commands(); "
        "from privlink.spec import parse_spec; from privlink.spec.demo import demo_spec_text; "
        "parse_spec(demo_spec_text()); print('botocore' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env={"PYTHONPATH": str(SRC)}, check=True
    )
    assert done.stdout.strip() == "False"
