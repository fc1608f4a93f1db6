"""Projects whose runtime file is gone or damaged: `down` still finds and stops their data plane.
Real `privlink` processes in temp dirs; every data plane is stopped at the end."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from privlink.spec.demo import demo_spec_text
from privlink_testing import run_privlink
from sandbox_leaks import bound_in, dataplane_pids, kill_dataplanes

FAST = {"PRIVLINK_SANDBOX_TIME_SCALE": "0.1"}


@pytest.fixture
def project(tmp_path):
    """`project(name)`: a directory with the demo spec (or `cp -a` of `copy_of`); each is brought down
    at the end, and no data plane of any outlives the test."""
    made: list[Path] = []

    def make(name: str = "p", copy_of: Path | None = None) -> Path:
        path = tmp_path / name
        if copy_of is not None:
            subprocess.run(["cp", "-a", str(copy_of), str(path)], check=True)
        else:
            path.mkdir()
            (path / "privlink.yaml").write_text(demo_spec_text(), encoding="utf-8")
        made.append(path)
        return path

    yield make
    try:
        for path in made:
            if (path / ".privlink").is_dir():
                run_privlink("down", "--yes", cwd=path, env=FAST)
    finally:
        assert not [kill_dataplanes(p / ".privlink") for p in made if dataplane_pids(p / ".privlink")]


def privlink(path: Path, *args: str, rc: int = 0, env: dict | None = None) -> subprocess.CompletedProcess:
    done = run_privlink(*args, cwd=path, env={**FAST, **(env or {})})
    assert done.returncode == rc, f"privlink {' '.join(args)}: exit {done.returncode}\n{done.stderr}"
    assert "Traceback" not in done.stderr, done.stderr
    return done


def runtime_of(path: Path) -> dict:
    return json.loads((path / ".privlink" / "dataplane-runtime.json").read_text())


def block_of(path: Path) -> str:
    return json.loads((path / ".privlink" / "local.json").read_text())["loopback_block"]


def nothing_listens(path: Path, block: str, dns: str) -> None:
    host, port = dns.split(":")
    assert dataplane_pids(path / ".privlink") == []
    assert bound_in(block, {(host, int(port))}) == []


# -- `down` finds its data plane whatever became of the runtime file -------------------------------


def forget_runtime(path: Path) -> None:
    (path / ".privlink" / "dataplane-runtime.json").unlink()


def dead_pid_runtime(path: Path) -> None:
    gone = subprocess.Popen(["true"])
    gone.wait()
    runtime = runtime_of(path)
    (path / ".privlink" / "dataplane-runtime.json").write_text(json.dumps({**runtime, "pid": gone.pid}))


def corrupt_runtime(path: Path) -> None:
    (path / ".privlink" / "dataplane-runtime.json").write_text('{"pid": 12')


@pytest.mark.timeout(60)
@pytest.mark.parametrize("damage", [forget_runtime, dead_pid_runtime, corrupt_runtime])
def test_down_stops_the_data_plane_its_runtime_file_does_not_name(project, damage):
    path = project()
    privlink(path, "up")
    runtime, block = runtime_of(path), block_of(path)
    damage(path)
    down = privlink(path, "down", "--yes")
    assert "stopped the data plane" in down.stderr.splitlines()
    if damage is corrupt_runtime:
        assert down.stderr.splitlines()[0].startswith(
            f"privlink: warning: {path / '.privlink' / 'dataplane-runtime.json'}: is corrupt"
        )
    nothing_listens(path, block, runtime["dns"])


@pytest.mark.timeout(60)
def test_down_with_a_corrupt_world_stops_the_data_plane_and_says_what_it_left(project):
    path = project()
    privlink(path, "up")
    runtime, block = runtime_of(path), block_of(path)
    (path / ".privlink" / "sandbox.json").write_text("{")
    down = privlink(path, "down", "--yes", rc=2)
    assert down.stderr.splitlines()[0] == "stopped the data plane"
    error = down.stderr.splitlines()[-1]
    assert error.startswith(f"privlink: error: {path / '.privlink' / 'sandbox.json'}: is corrupt")
    assert "down stopped the data plane but removed none of the stacks the file records" in error
    nothing_listens(path, block, runtime["dns"])
    (path / ".privlink" / "sandbox.json").unlink()
    privlink(path, "down", "--yes")


def test_up_stops_a_data_plane_of_its_own_that_the_runtime_file_lost(project):
    path = project()
    privlink(path, "up")
    lost, block = runtime_of(path)["pid"], block_of(path)
    forget_runtime(path)
    up = privlink(path, "up")
    assert (
        f"stopped a data plane of this project that its runtime file did not name (pid {lost})" in up.stderr
    )
    assert "moves to" not in up.stderr  # the block it held was this project's own
    assert block_of(path) == block
    assert dataplane_pids(path / ".privlink") == [runtime_of(path)["pid"]]
