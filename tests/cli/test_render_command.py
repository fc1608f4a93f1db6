from __future__ import annotations

import json

from privlink_testing import run_privlink as privlink


def test_render_writes_every_stack_without_credentials(tmp_path):
    assert privlink("init", cwd=tmp_path).returncode == 0
    env = {"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_PROFILE": "privlink-no-such-profile"}
    result = privlink("render", "--out", "out/templates", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    out = tmp_path / "out" / "templates"
    names = sorted(p.name for p in out.iterdir())
    assert names == [
        "privlink-hello-consumer-dev.json",
        "privlink-hello-network-dev.json",
        "privlink-hello-producer.json",
        "privlink-hello-vpn-dev.json",
    ]
    producer = json.loads((out / "privlink-hello-producer.json").read_text())
    assert producer["Resources"]["EndpointService"]["Type"] == "AWS::EC2::VPCEndpointService"
    assert sorted(result.stdout.split()) == sorted(str(p.relative_to(tmp_path)) for p in out.iterdir())


def test_render_bad_spec_is_exit_2_and_writes_nothing(tmp_path):
    assert privlink("init", cwd=tmp_path).returncode == 0
    spec = tmp_path / "privlink.yaml"
    spec.write_text(
        spec.read_text().replace("vpc: {cidr: 10.10.0.0/16, azs: 2}", "vpc: {cidr: 10.10.0.0/16, azs: 3}")
    )
    result = privlink("render", "--out", "out", cwd=tmp_path)
    assert result.returncode == 2
    assert "consumers[0].vpc.azs" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


def test_render_into_a_file_is_exit_2(tmp_path):
    assert privlink("init", cwd=tmp_path).returncode == 0
    (tmp_path / "taken").write_text("x")
    result = privlink("render", "--out", "taken", cwd=tmp_path)
    assert result.returncode == 2
    assert "--out" in result.stderr and "Traceback" not in result.stderr
    missing = privlink("--spec", "nope.yaml", "render", "--out", "o", cwd=tmp_path)
    assert missing.returncode == 2
