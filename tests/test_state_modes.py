"""What privlink writes in `.privlink/` is 0600 (directories 0700) whatever the umask: the state names
processes privlink signals and holds private keys, so no other user may change or read it."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from privlink.spec.demo import demo_spec_text
from privlink_testing import SRC, run_privlink
from sandbox_leaks import dataplane_pids, kill_dataplanes


@contextlib.contextmanager
def umask(mask: int):
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def modes(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_mode & 0o777 for p in [root, *root.rglob("*")]}


def not_private(root: Path) -> dict[str, str]:
    return {
        name: oct(mode)
        for name, mode in modes(root).items()
        if mode != (0o700 if (root / name).is_dir() else 0o600)
    }


def test_every_state_writer_makes_private_files_under_umask_0(tmp_path):
    from privlink.approval.registry import LocalRegistry
    from privlink.certs import ensure_certificates
    from privlink.statefile import ensure_private_dir, open_private_append, write_private_text
    from privlink.targets.aws.target import AwsState
    from privlink.targets.local.dataplane.config_model import write_json_atomic
    from privlink.targets.local.world import World

    state = tmp_path / ".privlink"
    with umask(0):
        ensure_private_dir(state / "a" / "b")
        write_private_text(state / "text", "x")
        write_json_atomic(state / "local.json", {"faults": []})
        with open_private_append(state / "dataplane.log") as log:
            log.write(b"line\n")
        World().save(state / "sandbox.json")
        LocalRegistry(state).add("111111111111", name="dev")
        AwsState(state / "aws.json").update("account_ids", "prod", "111111111111")
        ensure_certificates(state / "certs" / "dev", "hello", "dev")
    assert {"sandbox.json", "registry.json", "aws.json", "certs/dev/ca.key", "certs/dev/ca.crt"} <= set(
        modes(state)
    )
    assert not_private(state) == {}


def test_an_existing_log_is_made_private_when_written(tmp_path):
    from privlink.statefile import open_private_append

    log = tmp_path / "dataplane.log"
    log.write_text("older privlink\n")
    log.chmod(0o644)
    with open_private_append(log) as handle:
        handle.write(b"more\n")
    assert log.stat().st_mode & 0o777 == 0o600
    assert log.read_text() == "older privlink\nmore\n"


@pytest.mark.timeout(60)
def test_up_under_umask_0_leaves_only_private_state(tmp_path):
    (tmp_path / "privlink.yaml").write_text(demo_spec_text(), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(SRC), "PRIVLINK_SANDBOX_TIME_SCALE": "0.1"}
    try:
        done = subprocess.run(
            [sys.executable, "-m", "privlink", "up"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
            umask=0,
        )
        assert done.returncode == 0, done.stderr
        state = tmp_path / ".privlink"
        written = {"lock", "sandbox.json", "local.json", "dataplane.json", "dataplane-runtime.json"}
        assert written | {"dataplane.log", "certs/dev/ca.key", "certs/dev/client.crt"} <= set(modes(state))
        assert not_private(state) == {}
    finally:
        run_privlink("down", "--yes", cwd=tmp_path)
        assert not (dataplane_pids(tmp_path / ".privlink") and kill_dataplanes(tmp_path / ".privlink"))
