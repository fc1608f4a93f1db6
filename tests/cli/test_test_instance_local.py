"""A spec with `test_instance` on the local target: `up` deploys it, `test --via ssm` says what to do
instead in one line (exit 2), `down` removes everything."""

from __future__ import annotations

import json

from privlink_testing import run_privlink as privlink

VPN_LINE = "    vpn: {client_cidr: 172.16.0.0/22, split_tunnel: true}\n"


def test_up_test_and_down_with_the_test_instance(tmp_path):
    env = {"PRIVLINK_SANDBOX_TIME_SCALE": "0.05"}
    assert privlink("init", cwd=tmp_path).returncode == 0
    spec = tmp_path / "privlink.yaml"
    text = spec.read_text()
    assert VPN_LINE in text
    spec.write_text(
        text.replace(VPN_LINE, VPN_LINE + "    test_instance: {enabled: true, instance_type: t3.nano}\n")
    )
    try:
        up = privlink("up", cwd=tmp_path, env=env)
        assert up.returncode == 0, up.stderr
        world = json.loads((tmp_path / ".privlink" / "sandbox.json").read_text())
        [instance] = [r for r in world["resources"].values() if r["logical_id"] == "TestInstance"]
        assert instance["properties"]["InstanceType"] == "t3.nano"
        ssm = sorted(
            r["data"]["aws_service"] for r in world["resources"].values() if r["data"].get("aws_service")
        )
        assert ssm == ["ec2messages", "ssm", "ssmmessages"]

        test = privlink("test", cwd=tmp_path)
        assert test.returncode == 0, test.stdout + test.stderr
        via_ssm = privlink("test", "--via", "ssm", cwd=tmp_path)
        assert via_ssm.returncode == 2
        assert via_ssm.stdout == ""
        assert via_ssm.stderr.splitlines() == [
            "privlink: error: --via: ssm needs the aws target; hint: use --via local, or --target aws",
        ]
        doctor = privlink("doctor", "--output", "json", cwd=tmp_path)
        assert doctor.returncode == 0, doctor.stdout
    finally:
        down = privlink("down", "--yes", cwd=tmp_path)
        assert down.returncode == 0, down.stderr
    assert [p.name for p in (tmp_path / ".privlink").iterdir()] == ["lock"]  # down keeps the lock
