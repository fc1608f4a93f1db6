"""Projects side by side and commands at once: the project lock, copied project directories, loopback
blocks claimed for as long as a data plane runs, and `down` finding its data plane whatever became
of the runtime file. Real `privlink` processes in temp dirs; every data plane is stopped at the end."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import zlib
from pathlib import Path

import pytest

from privlink.spec.demo import demo_spec_text
from privlink.targets.local.dataplane import procfs
from privlink.targets.local.dataplane.config_model import CLAIM_PORT, claim_socket
from privlink_testing import SRC, run_privlink
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


def background(path: Path, *args: str, env: dict | None = None) -> tuple[subprocess.Popen, Path]:
    """`privlink ARGS` started in `path`, its stderr (and stdout) going to files the test can poll."""
    err = path.parent / f"{path.name}-{'-'.join(args)}.stderr"
    with open(err, "w") as handle, open(err.with_suffix(".stdout"), "w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "privlink", *args],
            cwd=path,
            stdout=out,
            stderr=handle,
            env={**os.environ, "PYTHONPATH": str(SRC), **FAST, **(env or {})},
        )
    return proc, err


def poll(cond, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def stopped(pid: int) -> bool:
    """True once the process is paused by SIGSTOP (state T)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] == "T"
    except OSError:
        return False


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


# -- copied projects and loopback blocks ------------------------------------------------------------


@pytest.mark.timeout(90)
def test_a_copied_project_neither_reports_nor_stops_the_originals_data_plane(project):
    p1 = project("p1")
    privlink(p1, "up")
    original = runtime_of(p1)
    p2 = project("p2", copy_of=p1)
    status = privlink(p2, "status")
    assert "data plane: not running; run `privlink up` to start it" in status.stdout.splitlines()
    assert status.stderr.splitlines() == [
        f"privlink: warning: {p2 / '.privlink' / 'dataplane-runtime.json'}: ignored (it was written for "
        f"another project ({p1 / '.privlink'}), e.g. a copied directory); no data plane of this project "
        "counts as running"
    ]
    privlink(p2, "test", rc=1)
    # `up` in the copy starts its own data plane, on a block of its own: p1 holds the recorded one
    up = privlink(p2, "up")
    assert (
        f"loopback block {original['loopback_block']} is taken (another sandbox or program holds it); "
        f"this sandbox moves to {block_of(p2)}" in up.stderr.splitlines()
    )
    assert block_of(p2) != original["loopback_block"]
    privlink(p2, "test")
    privlink(p2, "down", "--yes")
    assert dataplane_pids(p2 / ".privlink") == []
    # the original never noticed
    seen = procfs.observe(original["pid"])
    assert seen.exists and seen.start_time == original["start_time"]
    assert runtime_of(p1)["pid"] == original["pid"]
    privlink(p1, "test")


def colliding_names(root: Path) -> tuple[str, str]:
    """Two directory names under `root` whose state directories hash to the same first block."""
    seen: dict[int, str] = {}
    for i in range(1000):
        name = f"c{i}"
        slot = zlib.crc32(str((root / name / ".privlink").resolve()).encode()) % 200
        if slot in seen:
            return seen[slot], name
        seen[slot] = name
    raise AssertionError("no two names collide")


@pytest.mark.timeout(120)
def test_two_projects_hashing_to_one_block_come_up_together_on_two_blocks(project, tmp_path):
    a_name, b_name = colliding_names(tmp_path)
    a, b = project(a_name), project(b_name)
    ups = [background(p, "up") for p in (a, b)]
    for proc, err in ups:
        assert proc.wait(timeout=90) == 0, err.read_text()
    assert block_of(a) != block_of(b)
    for p in (a, b):
        runtime = runtime_of(p)
        assert runtime["loopback_block"] == block_of(p)
        # each data plane holds its block's claim for as long as it runs
        claim_ip = block_of(p).replace("0.0/16", "0.1")
        assert f"tcp {claim_ip}:{CLAIM_PORT}" in bound_in(block_of(p))
        privlink(p, "test")
    # and later `up`s keep working: the recorded blocks are each project's own
    privlink(a, "up")
    privlink(b, "up")


def test_a_block_claim_is_exclusive_until_closed():
    sock = claim_socket("127.251.0.0/16")
    assert sock is not None
    try:
        assert claim_socket("127.251.0.0/16") is None
    finally:
        sock.close()
    again = claim_socket("127.251.0.0/16")
    assert again is not None
    again.close()


# -- one mutating command per project at a time ----------------------------------------------------


def paused_up(path: Path) -> tuple[subprocess.Popen, Path]:
    """`privlink up --output json` paused (SIGSTOP) right after its producer stack, holding the
    project's lock; and the file its status report goes to."""
    env = {"PRIVLINK_TEST_STOP_AT": "deployed:privlink-hello-producer"}
    proc, err = background(path, "up", "--output", "json", env=env)
    poll(lambda: stopped(proc.pid) or proc.poll() is not None, "up to pause")
    assert proc.poll() is None, "up ended instead of pausing"
    return proc, err.with_suffix(".stdout")


def block_and_dns(report: dict) -> tuple[str, str]:
    """The loopback block and DNS address of a sandbox, from its status report."""
    address = report["consumers"][0]["addresses"][0]
    return ".".join(address.split(".")[:2]) + ".0.0/16", report["dns"]


@pytest.mark.timeout(90)
def test_a_second_up_waits_then_exits_1_naming_the_up_that_holds_the_lock(project):
    path = project()
    first, _ = paused_up(path)
    try:
        second = privlink(path, "up", rc=1, env={"PRIVLINK_LOCK_WAIT": "0.3"})
        # read-only commands do not wait for it
        for args in (["status"], ["plan"], ["connections", "list"], ["render", "--out", "r"], ["cost"]):
            done = privlink(path, *args, env={"PRIVLINK_LOCK_WAIT": "0"})
            assert "lock" not in done.stderr, done.stderr
    finally:
        os.kill(first.pid, signal.SIGCONT)
    assert second.stderr.splitlines() == [
        f"privlink: waiting for `privlink up` (pid {first.pid}) to finish (up to 0.3 s)",
        f"privlink: error: {path / '.privlink' / 'lock'}: held by `privlink up` (pid {first.pid}): one "
        "command changes a project at a time; hint: wait for it to finish, then run this command again",
    ]
    assert first.wait(timeout=60) == 0
    # the winner's data plane is the one that runs, and `down` stops it
    runtime = runtime_of(path)
    assert f"data plane: running (pid {runtime['pid']})" in privlink(path, "status").stdout
    assert dataplane_pids(path / ".privlink") == [runtime["pid"]]
    block = block_of(path)
    privlink(path, "down", "--yes")
    nothing_listens(path, block, runtime["dns"])
    assert [p.name for p in (path / ".privlink").iterdir()] == ["lock"]  # `down` keeps the lock


@pytest.mark.timeout(90)
def test_down_during_up_waits_for_it_then_removes_everything(project):
    path = project()
    first, report = paused_up(path)
    down, err = background(path, "down", "--yes", env={"PRIVLINK_LOCK_WAIT": "60"})
    try:
        waiting = f"privlink: waiting for `privlink up` (pid {first.pid}) to finish (up to 60 s)"
        poll(lambda: waiting in err.read_text(), "down to wait for up")
        assert down.poll() is None
    finally:
        os.kill(first.pid, signal.SIGCONT)
    assert first.wait(timeout=60) == 0
    block, dns = block_and_dns(json.loads(report.read_text()))
    assert down.wait(timeout=60) == 0, err.read_text()
    assert err.read_text().splitlines()[-1] == "down: done"
    nothing_listens(path, block, dns)


# -- what `down` deletes ---------------------------------------------------------------------------


def test_down_deletes_only_the_certificate_files_privlink_wrote(tmp_path):
    from privlink.spec import parse_spec
    from privlink.targets.local.target import LocalTarget

    target = LocalTarget(parse_spec(demo_spec_text()), tmp_path / ".privlink")
    target.apply_dataplane = lambda world, progress=None: None  # type: ignore[method-assign]
    target.wait_until_serving = lambda progress=None: None  # type: ignore[method-assign]
    target.up()
    certs = tmp_path / ".privlink" / "certs"
    assert sorted(p.name for p in (certs / "dev").iterdir()) == sorted(
        ["ca.crt", "ca.key", "server.crt", "server.key", "client.crt", "client.key"]
    )
    (certs / "dev" / ".client.key.999.tmp").write_text("a crash's leftover")
    (certs / "dev" / "notes.txt").write_text("mine")
    (certs / "mine").mkdir()
    (certs / "mine" / "ca.crt").write_text("mine too")  # a name privlink uses, in a folder it did not make
    (certs / "empty").mkdir()
    lines: list[str] = []
    target.down(progress=lines.append)
    left = ["dev", "dev/notes.txt", "empty", "mine", "mine/ca.crt"]
    assert sorted(str(p.relative_to(certs)) for p in certs.rglob("*")) == left
    assert lines[-1] == (
        f"left in {tmp_path / '.privlink'}: certs/dev/notes.txt, certs/empty, certs/mine/ca.crt "
        "(not created by privlink)"
    )
