"""`consumers[].test_instance`: the optional SSM-managed instance `privlink test --via ssm` uses."""

from __future__ import annotations

import pytest
import yaml

from privlink.errors import SpecError
from privlink.spec import parse_spec
from privlink.spec.demo import demo_spec_text
from privlink.spec.models import TEST_INSTANCE_TYPES


def with_test_instance(value) -> str:
    data = yaml.safe_load(demo_spec_text())
    data["consumers"][0]["test_instance"] = value
    return yaml.safe_dump(data)


def error_for(value) -> SpecError:
    with pytest.raises(SpecError) as info:
        parse_spec(with_test_instance(value))
    return info.value


def test_off_by_default(demo_spec):
    settings = demo_spec.consumer("dev").test_instance
    assert settings.enabled is False
    assert settings.instance_type == "t4g.nano"
    assert settings.ssm_endpoints is True


@pytest.mark.parametrize(
    ("instance_type", "architecture"),
    [("t4g.nano", "arm64"), ("t4g.small", "arm64"), ("t3.nano", "x86_64"), ("t3.micro", "x86_64")],
)
def test_architecture_follows_the_instance_type(instance_type, architecture):
    spec = parse_spec(with_test_instance({"enabled": True, "instance_type": instance_type}))
    settings = spec.consumer("dev").test_instance
    assert settings.enabled and settings.instance_type == instance_type
    assert settings.architecture == architecture


def test_every_allowed_type_is_t3_or_t4g():
    assert TEST_INSTANCE_TYPES and all(t.split(".")[0] in ("t3", "t4g") for t in TEST_INSTANCE_TYPES)


def test_unknown_instance_type_names_the_field_and_the_choices():
    err = error_for({"enabled": True, "instance_type": "m5.24xlarge"})
    assert err.where.endswith("consumers[0].test_instance.instance_type")
    assert "'t4g.nano'" in err.what and "'t3.small'" in err.what
    assert err.hint == "use one of the values listed"
    assert err.exit_code == 2


def test_typo_in_a_key_suggests_the_right_one():
    err = error_for({"enable": True})
    assert err.where.endswith("consumers[0].test_instance.enable")
    assert err.hint == "did you mean 'enabled'?"


def test_enabled_must_be_a_boolean():
    err = error_for({"enabled": "sometimes"})
    assert err.where.endswith("consumers[0].test_instance.enabled")
    assert err.hint == "use true or false"


def test_a_bare_value_is_not_a_mapping():
    err = error_for(True)
    assert err.where.endswith("consumers[0].test_instance")
    assert err.hint == "use a mapping of keys"


def test_the_cli_reports_bad_input_in_one_line_with_exit_2(tmp_path):
    from privlink_testing import run_privlink

    (tmp_path / "privlink.yaml").write_text(with_test_instance({"enabled": True, "instance_type": "t2.nano"}))
    result = run_privlink("render", "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    first = result.stderr.splitlines()[0]
    assert "consumers[0].test_instance.instance_type" in first


def test_the_demo_shows_the_key_commented_out_and_uncommenting_it_works():
    text = demo_spec_text()
    assert "    # test_instance: {enabled: true, instance_type: t4g.nano}" in text
    spec = parse_spec(text.replace("    # test_instance:", "    test_instance:"))
    assert spec.consumer("dev").test_instance.enabled
