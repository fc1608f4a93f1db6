from __future__ import annotations

import json

import pytest

from privlink.spec.demo import demo_spec_text
from privlink_testing import run_privlink as privlink

APPROVAL = "auto_accept: true\n    auto_approval: {registry: true}"


@pytest.fixture
def project(tmp_path):
    (tmp_path / "privlink.yaml").write_text(demo_spec_text().replace("auto_accept: true", APPROVAL))
    return tmp_path


def test_consumers_add_list_remove_on_the_local_target(project):
    added = privlink("consumers", "add", "222222222222", "--name", "dev", cwd=project)
    assert added.returncode == 0, added.stderr
    assert "registered 222222222222 (dev)" in added.stderr
    role = "arn:aws:iam::333333333333:role/app"
    assert privlink("consumers", "add", "333333333333", "--principal", role, cwd=project).returncode == 0
    listed = privlink("consumers", "list", "--output", "json", cwd=project)
    assert listed.returncode == 0, listed.stderr
    entries = json.loads(listed.stdout)
    assert [(e["account_id"], e["consumer_name"], e["principal"]) for e in entries] == [
        ("222222222222", "dev", None),
        ("333333333333", None, role),
    ]
    assert all(e["added_at"].endswith("+00:00") for e in entries)
    text = privlink("consumers", "list", cwd=project)
    assert text.stdout.splitlines()[0].split() == ["ACCOUNT", "NAME", "PRINCIPAL", "ADDED_AT", "ADDED_BY"]
    assert privlink("consumers", "remove", "222222222222", cwd=project).returncode == 0
    again = privlink("consumers", "remove", "222222222222", cwd=project)
    assert again.returncode == 0 and "not registered" in again.stderr
    on_disk = json.loads((project / ".privlink" / "registry.json").read_text())
    assert list(on_disk["consumers"]) == ["333333333333"]


@pytest.mark.parametrize(
    "args, where",
    [
        (("consumers", "add", "12345"), "ACCOUNT_ID"),
        (
            ("consumers", "add", "222222222222", "--principal", "arn:aws:iam::333333333333:root"),
            "--principal",
        ),
        (("consumers", "remove", "abc"), "ACCOUNT_ID"),
    ],
)
def test_bad_input_is_exit_2_one_line_and_writes_nothing(project, args, where):
    result = privlink(*args, cwd=project)
    assert result.returncode == 2
    assert result.stderr.startswith(f"privlink: error: {where}:")
    assert "Traceback" not in result.stderr
    assert not (project / ".privlink" / "registry.json").exists()


def test_registry_off_is_bad_input(tmp_path):
    (tmp_path / "privlink.yaml").write_text(demo_spec_text())
    result = privlink("consumers", "list", cwd=tmp_path)
    assert result.returncode == 2 and "auto_approval" in result.stderr


def test_fleet_plan_needs_consumers_from(project):
    result = privlink("fleet", "plan", cwd=project)
    assert result.returncode == 2 and "consumers_from" in result.stderr
