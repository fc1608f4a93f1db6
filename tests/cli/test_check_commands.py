"""`privlink up / test / doctor / sandbox / down` as a user runs them, on the local target."""

from __future__ import annotations

import json

from privlink_testing import run_privlink as privlink


def test_demo_then_a_fault_then_clear(tmp_path):
    env = {"PRIVLINK_SANDBOX_TIME_SCALE": "0.05"}
    assert privlink("init", cwd=tmp_path).returncode == 0
    try:
        up = privlink("up", cwd=tmp_path, env=env)
        assert up.returncode == 0, up.stderr
        status = json.loads(privlink("status", "--output", "json", cwd=tmp_path).stdout)
        assert status["dns"].startswith("127.0.0.1:")
        assert len(status["consumers"][0]["addresses"]) == 2
        assert status["dns_answers_as"] == "dev"
        text = privlink("status", cwd=tmp_path).stdout
        assert f"dns: {status['dns']} (answers as dev's VPC resolver)" in text
        assert f"dns of dev's VPC: {status['consumers'][0]['dns']}" in text
        test = privlink("test", cwd=tmp_path)
        assert test.returncode == 0, test.stdout + test.stderr
        assert "Hello from provider" in test.stdout
        doctor = privlink("doctor", "--output", "json", cwd=tmp_path)
        assert doctor.returncode == 0
        assert {f["severity"] for f in json.loads(doctor.stdout)["findings"]} <= {"info"}
        inject = privlink("sandbox", "inject", "endpoint-sg-closed", cwd=tmp_path)
        assert inject.returncode == 0, inject.stderr
        failed = privlink("test", cwd=tmp_path)
        assert failed.returncode == 1
        assert "privlink doctor" in failed.stderr
        assert "FAIL connect" in failed.stdout and "timed out (on AWS: packets dropped" in failed.stdout
        doctor = privlink("doctor", "--output", "json", cwd=tmp_path)
        assert doctor.returncode == 1
        ids = {f["id"] for f in json.loads(doctor.stdout)["findings"] if f["severity"] == "error"}
        assert ids == {"endpoint-sg-blocks-clients"}
        assert privlink("sandbox", "clear", cwd=tmp_path).returncode == 0
        assert privlink("test", cwd=tmp_path).returncode == 0
    finally:
        down = privlink("down", "--yes", cwd=tmp_path)
        assert down.returncode == 0, down.stderr
    assert [p.name for p in (tmp_path / ".privlink").iterdir()] == ["lock"]  # down keeps the lock


def test_sandbox_commands_refuse_without_a_sandbox(tmp_path):
    assert privlink("init", cwd=tmp_path).returncode == 0
    result = privlink("sandbox", "inject", "targets-down", cwd=tmp_path)
    assert result.returncode == 2
    assert "privlink up" in result.stderr
    assert "Traceback" not in result.stderr
