from __future__ import annotations

from privlink.spec import load_spec
from privlink_testing import run_privlink as privlink


def test_init_writes_demo_and_refuses_to_overwrite(tmp_path):
    first = privlink("init", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    spec = load_spec(tmp_path / "privlink.yaml")
    assert spec.name == "hello"
    again = privlink("init", cwd=tmp_path)
    assert again.returncode == 2
    assert again.stderr.count("\n") <= 2
    assert "--force" in again.stderr
    assert "Traceback" not in again.stderr
    assert privlink("init", "--force", "--cross-region", cwd=tmp_path).returncode == 0
    assert load_spec(tmp_path / "privlink.yaml").producer.region == "us-east-1"


def test_bad_flag_is_exit_2_without_traceback(tmp_path):
    result = privlink("--target", "moon", "init", cwd=tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
