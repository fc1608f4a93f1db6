"""Every privlink command a doctor fix names is a real command: taken from the fix templates of every
finding kind, filled with the sandbox's IDs and run as a user runs it, where it applies (after the
fault it fixes), it ends as the fix says, never as a usage error (exit 2). The two fixes that take a
consumer or its VPN away and back (connection-rejected when AWS refuses to accept again,
vpn-cidr-overlap) are followed through: `privlink up` deletes and recreates what the spec changed."""

from __future__ import annotations

import json
import re

import pytest
import yaml

from privlink.doctor import CHECKS
from privlink.doctor.registry import INTERNAL_ERROR
from privlink_testing import run_privlink as privlink

KINDS = [kind for check in CHECKS for kind in check.emits] + [INTERNAL_ERROR]


def fix_commands() -> set[str]:
    return {
        command for kind in KINDS for fix in kind.fixes for command in re.findall(r"`(privlink [^`]+)`", fix)
    }


# command template -> (the fault it fixes, injected first; its exit code there)
WHERE = {
    "privlink up": (None, 0),
    "privlink doctor": (None, 0),
    "privlink doctor --output json": (None, 0),
    "privlink status": (None, 0),
    "privlink connections accept {endpoint_id}": ("connection-rejected", 0),
    "privlink vpn-config --consumer {consumer} --out {consumer}-new.ovpn": ("vpn-cidr-overlap", 0),
}


def test_every_command_a_fix_names_is_walked_below():
    assert fix_commands() == set(WHERE)


@pytest.fixture
def sandbox(tmp_path):
    assert privlink("init", cwd=tmp_path).returncode == 0
    up = privlink("up", cwd=tmp_path)
    assert up.returncode == 0, up.stderr
    yield tmp_path
    down = privlink("down", "--yes", cwd=tmp_path)
    assert down.returncode == 0, down.stderr


def status(cwd) -> dict:
    return json.loads(privlink("status", "--output", "json", cwd=cwd).stdout)


@pytest.mark.timeout(180)
def test_each_fix_command_runs_where_it_applies(sandbox):
    values = {"endpoint_id": status(sandbox)["consumers"][0]["endpoint_id"], "consumer": "dev"}
    for template, (fault, code) in sorted(WHERE.items(), key=lambda item: item[0]):
        if fault:
            assert privlink("sandbox", "inject", fault, cwd=sandbox).returncode == 0
        command = template.format(**values)
        result = privlink(*command.split()[1:], cwd=sandbox)
        assert result.returncode == code, (command, result.stdout, result.stderr)
        assert "Usage:" not in result.stderr and "No such option" not in result.stderr, command
        if fault:
            assert privlink("sandbox", "clear", cwd=sandbox).returncode == 0
    assert (sandbox / "dev-new.ovpn").read_text().startswith("client\n")
    assert json.loads(privlink("doctor", "--output", "json", cwd=sandbox).stdout)["ok"] is True


def edit_spec(cwd, change) -> None:
    path = cwd / "privlink.yaml"
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data), encoding="utf-8")


@pytest.mark.timeout(180)
def test_a_rejected_consumer_taken_out_and_put_back_gets_a_new_endpoint(sandbox):
    """connection-rejected's fix when AWS refuses to accept again: without the consumer `privlink up`
    deletes its stacks; with it back, `privlink up` creates a new endpoint, accepted and working."""
    before = status(sandbox)["consumers"][0]["endpoint_id"]
    assert privlink("sandbox", "inject", "connection-rejected", cwd=sandbox).returncode == 0
    original = yaml.safe_load((sandbox / "privlink.yaml").read_text())
    edit_spec(sandbox, lambda data: data.update(consumers=[]))
    assert privlink("up", cwd=sandbox).returncode == 0
    deployed = [s["name"] for s in status(sandbox)["stacks"] if s["status"] != "NOT_DEPLOYED"]
    assert deployed == ["privlink-hello-producer"]
    edit_spec(sandbox, lambda data: data.update(consumers=original["consumers"]))
    up = privlink("up", cwd=sandbox)
    assert up.returncode == 0, up.stderr
    consumer = status(sandbox)["consumers"][0]
    assert consumer["endpoint_id"] != before and consumer["endpoint_state"] == "available"
    assert privlink("test", cwd=sandbox).returncode == 0
    assert privlink("doctor", cwd=sandbox).returncode == 0


@pytest.mark.timeout(180)
def test_a_new_client_cidr_replaces_the_client_vpn(sandbox):
    """vpn-cidr-overlap's fix: another client_cidr and `privlink up` replace the Client VPN endpoint."""
    before = status(sandbox)["consumers"][0]["vpn_endpoint_id"]
    assert privlink("sandbox", "inject", "vpn-cidr-overlap", cwd=sandbox).returncode == 0
    assert privlink("doctor", cwd=sandbox).returncode == 1
    edit_spec(sandbox, lambda data: data["consumers"][0]["vpn"].update(client_cidr="172.17.0.0/22"))
    up = privlink("up", cwd=sandbox)
    assert up.returncode == 0, up.stderr
    assert status(sandbox)["consumers"][0]["vpn_endpoint_id"] != before
    assert privlink("test", cwd=sandbox).returncode == 0
    doctor = privlink("doctor", "--output", "json", cwd=sandbox)
    assert doctor.returncode == 0, doctor.stdout
