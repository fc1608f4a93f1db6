"""The sandbox under load and faults: many concurrent flows, a target dying mid-load, the data plane
killed, `up` interrupted at each step. Real processes and sockets on loopback; each test is bounded
and its finalizer removes every process and port it started, even when it fails."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import resource
import signal
import time
from collections import Counter
from pathlib import Path

import pytest
from test_data_plane_semantics import spec_with, stop_instance_in_first_az, target_health
from test_local_target import resolve

from privlink.spec import load_spec, parse_spec
from privlink.spec.demo import demo_spec_text
from privlink.targets.local.target import LocalTarget
from privlink_testing import run_privlink
from sandbox_leaks import (
    bound_in,
    dataplane_pids,
    kill_dataplanes,
    open_fds,
    soft_nofile_limit,
    wait_until_dead,
)

CONNECTIONS = 1000
REQUEST = b"GET / HTTP/1.1\r\nHost: hello.internal.company:8080\r\n\r\n"


@pytest.fixture
def local_target(tmp_path):
    """A factory of LocalTargets in a temp dir; down and no data plane left afterwards, even on failure."""
    made: list[LocalTarget] = []

    def make(spec, time_scale: float | None = None) -> LocalTarget:
        target = LocalTarget(spec, tmp_path / ".privlink", time_scale=time_scale)
        made.append(target)
        return target

    yield make
    for target in made:
        try:
            target.down()
        finally:
            assert not kill_dataplanes(target.state_dir), "a data plane outlived `down`"


@contextlib.contextmanager
def soft_open_file_limit(value: int):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(value, hard), hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


async def read_response(reader: asyncio.StreamReader) -> tuple[int, dict]:
    """One HTTP/1.1 response with a Content-Length body: (status, JSON body)."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    length = next(
        int(v) for n, _, v in (ln.partition(":") for ln in lines[1:]) if n.lower() == "content-length"
    )
    body = await reader.readexactly(length)
    return int(lines[0].split()[1]), json.loads(body)


# -- 1. a thousand concurrent connections ---------------------------------------------------------


@pytest.mark.timeout(60)
def test_a_thousand_concurrent_connections_all_answered_then_all_closed(local_target):
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = 4 * CONNECTIONS  # the data plane holds three sockets per flow; this test one
    if hard != resource.RLIM_INFINITY and hard < needed:
        pytest.skip(f"the hard open-file limit {hard} is below the {needed} this test needs")
    target = local_target(parse_spec(demo_spec_text()))
    with soft_open_file_limit(1024):  # a common default: the data plane must raise its own
        status = target.up()
    pid = target.runtime()["pid"]
    assert soft_nofile_limit(pid) == -1 or soft_nofile_limit(pid) >= needed
    addresses = resolve(status["dns"], "hello.internal.company")
    baseline = open_fds(pid)

    async def load() -> tuple[list, int]:
        async def connect(i: int):
            return await asyncio.open_connection(addresses[i % len(addresses)], 8080)

        # every connection is open at once before any request is sent
        streams = await asyncio.gather(*(connect(i) for i in range(CONNECTIONS)), return_exceptions=True)
        opened = [s for s in streams if not isinstance(s, BaseException)]

        async def request(reader, writer):
            writer.write(REQUEST)
            await writer.drain()
            return await read_response(reader)

        results = await asyncio.gather(*(request(r, w) for r, w in opened), return_exceptions=True)
        peak = open_fds(pid)  # every flow answered, none closed yet (keep-alive)
        for _, writer in opened:
            writer.close()
        await asyncio.gather(*(w.wait_closed() for _, w in opened), return_exceptions=True)
        return [*[s for s in streams if isinstance(s, BaseException)], *results], peak

    results, peak = asyncio.run(asyncio.wait_for(load(), timeout=30))
    errors = [r for r in results if isinstance(r, BaseException)]
    assert not errors, f"{len(errors)} errors, e.g. {errors[:3]!r}"
    assert [status for status, _ in results] == [200] * CONNECTIONS
    assert {body["message"] for _, body in results} == {"Hello from provider"}
    assert len({body["target"] for _, body in results}) == 2  # both targets served
    # all flows were open at once: client side, target side and the demo app's side of each
    assert peak - baseline >= 3 * CONNECTIONS
    deadline = time.monotonic() + 10
    while open_fds(pid) > baseline + 10:  # health checks may hold a socket or two
        assert time.monotonic() < deadline, f"{open_fds(pid) - baseline} sockets still open in the data plane"
        time.sleep(0.05)


# -- 2. a target killed mid-load ------------------------------------------------------------------

KEEP_ALIVE = 16
FAST_HEALTH = {"interval": 5, "timeout": 2, "healthy_threshold": 2, "unhealthy_threshold": 2}
TIME_SCALE = 0.05  # interval 5 s -> 0.25 s: the health window is 0.25 s x 2
CLOSE_REQUEST = b"GET / HTTP/1.1\r\nHost: hello.internal.company:8080\r\nConnection: close\r\n\r\n"
FAILURES = (OSError, asyncio.IncompleteReadError, asyncio.TimeoutError)


class Held:
    """A keep-alive connection and the target that answers on it."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, az: str):
        self.reader, self.writer, self.az = reader, writer, az
        self.answers_after_kill = 0
        self.failure: BaseException | None = None

    async def ask(self) -> dict:
        self.writer.write(REQUEST)
        await self.writer.drain()
        status, body = await asyncio.wait_for(read_response(self.reader), 2)
        assert status == 200
        return body


@pytest.mark.timeout(60)
def test_a_target_killed_mid_load_loses_only_its_connections(local_target):
    target = local_target(spec_with(cross_zone=True, health_check=FAST_HEALTH), time_scale=TIME_SCALE)
    addresses = resolve(target.up()["dns"], "hello.internal.company")
    killed = asyncio.Event()
    new_flows: list[tuple[float, float, bool, str]] = []  # (started, ended, answered, az or error)

    async def keep_asking(held: Held, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                body = await held.ask()
            except FAILURES as exc:
                held.failure = exc
                return
            assert body["az"] == held.az  # a flow stays with its target
            held.answers_after_kill += killed.is_set()
            await asyncio.sleep(0.01)

    async def keep_connecting(stop: asyncio.Event) -> None:
        i = 0
        while not stop.is_set():
            started = time.monotonic()
            try:
                reader, writer = await asyncio.open_connection(addresses[i % len(addresses)], 8080)
                try:
                    writer.write(CLOSE_REQUEST)
                    status, body = await asyncio.wait_for(read_response(reader), 2)
                finally:
                    writer.close()
                new_flows.append((started, time.monotonic(), status == 200, body["az"]))
            except FAILURES as exc:
                new_flows.append((started, time.monotonic(), False, repr(exc)))
            i += 1
            await asyncio.sleep(0.005)

    async def scenario() -> tuple[list[Held], str, float, float]:
        held = []
        for i in range(KEEP_ALIVE):  # spread over both ENIs; cross-zone round robin spreads the targets
            reader, writer = await asyncio.open_connection(addresses[i % len(addresses)], 8080)
            h = Held(reader, writer, "")
            h.az = (await h.ask())["az"]
            held.append(h)
        stop = asyncio.Event()
        load = [asyncio.create_task(keep_asking(h, stop)) for h in held]
        load.append(asyncio.create_task(keep_connecting(stop)))
        try:
            await asyncio.sleep(0.3)  # load before the kill
            kill_started = time.monotonic()
            killed.set()
            down_az = await asyncio.to_thread(stop_instance_in_first_az, target)
            deadline = time.monotonic() + 5  # bounded: the window is 0.5 s
            while "unused" not in (await asyncio.to_thread(target_health, target)).values():
                assert time.monotonic() < deadline, "the killed target never left rotation"
                await asyncio.sleep(0.02)
            unhealthy_at = time.monotonic()
            await asyncio.sleep(0.5)  # load after the target left rotation
        finally:
            stop.set()
            await asyncio.gather(*load, return_exceptions=True)
            for h in held:
                h.writer.close()
        for task in load:
            task.result()  # an assertion inside the load fails the test
        return held, down_az, kill_started, unhealthy_at

    held, down_az, kill_started, unhealthy_at = asyncio.run(asyncio.wait_for(scenario(), timeout=30))
    on_dead = [h for h in held if h.az == down_az]
    on_live = [h for h in held if h.az != down_az]
    assert on_dead and on_live, "the keep-alive connections did not spread over both targets"
    assert all(h.failure is not None for h in on_dead), "a connection held by the dead target survived"
    assert [h.failure for h in on_live] == [None] * len(on_live)
    assert all(h.answers_after_kill > 0 for h in on_live)
    # new connections fail only between the kill and the health check noticing it: one still in
    # flight when the target died was held by it, so a failure must overlap that window
    assert all(ok for _, ended, ok, _ in new_flows if ended < kill_started)
    failed = [(started, ended, why) for started, ended, ok, why in new_flows if not ok]
    assert all(ended >= kill_started and started <= unhealthy_at for started, ended, _ in failed), failed
    later = [(ok, az) for started, _, ok, az in new_flows if started >= unhealthy_at]
    assert len(later) >= 5
    assert all(ok and az != down_az for ok, az in later), later


# -- 3. an endpoint rejected under load ----------------------------------------------------------

REJECTED_UNDER = 256


@pytest.mark.timeout(60)
def test_a_rejected_endpoint_cuts_every_open_flow_and_drops_new_ones(local_target):
    """AWS removes the path of a rejected endpoint: every keep-alive flow open through it ends on its
    next request, and new connects time out (dropped), none is answered."""
    target = local_target(parse_spec(demo_spec_text()))
    addresses = resolve(target.up()["dns"], "hello.internal.company")

    async def scenario() -> tuple[list, list]:
        opened = [
            await asyncio.open_connection(addresses[i % len(addresses)], 8080) for i in range(REJECTED_UNDER)
        ]
        try:
            held = [Held(r, w, "") for r, w in opened]
            assert [(await h.ask())["message"] for h in held] == ["Hello from provider"] * REJECTED_UNDER
            await asyncio.to_thread(target.inject_fault, "connection-rejected")
            after = await asyncio.gather(*(h.ask() for h in held), return_exceptions=True)
            new = await asyncio.gather(
                *(asyncio.wait_for(asyncio.open_connection(a, 8080), 0.5) for a in addresses),
                return_exceptions=True,
            )
        finally:
            for _, writer in opened:
                writer.close()
        return after, new

    after, new = asyncio.run(asyncio.wait_for(scenario(), timeout=30))
    answered = [r for r in after if not isinstance(r, BaseException)]
    assert not answered, f"{len(answered)} of {REJECTED_UNDER} flows still answered after the rejection"
    assert all(isinstance(r, FAILURES) for r in after), {type(r) for r in after}
    assert [type(r) for r in new] == [asyncio.TimeoutError] * len(addresses)


# -- CLI runs in a temp dir -----------------------------------------------------------------------

INTERRUPTED = "privlink: interrupted; run the same command again to continue"


@pytest.fixture
def workdir(tmp_path):
    """A dir with the demo privlink.yaml; `down` and no data plane left afterwards, even on failure."""
    (tmp_path / "privlink.yaml").write_text(demo_spec_text(), encoding="utf-8")
    yield tmp_path
    try:
        if (tmp_path / ".privlink").exists():
            run_privlink("down", "--yes", cwd=tmp_path)
    finally:
        assert not kill_dataplanes(tmp_path / ".privlink"), "a data plane outlived `down`"


def privlink(workdir: Path, *args: str, rc: int = 0, env: dict | None = None):
    done = run_privlink(*args, cwd=workdir, env=env)
    assert done.returncode == rc, f"privlink {' '.join(args)}: exit {done.returncode}\n{done.stderr}"
    assert "Traceback" not in done.stderr, done.stderr
    return done


def runtime_of(workdir: Path) -> dict:
    return json.loads((workdir / ".privlink" / "dataplane-runtime.json").read_text())


def assert_converged(workdir: Path) -> None:
    """Everything `up` makes, once: every stack complete, no stray resource, one data plane serving."""
    status = LocalTarget(load_spec(workdir / "privlink.yaml"), workdir / ".privlink").status()
    assert {s["name"]: s["status"] for s in status["stacks"]} == {
        "privlink-hello-producer": "CREATE_COMPLETE",
        "privlink-hello-network-dev": "CREATE_COMPLETE",
        "privlink-hello-consumer-dev": "CREATE_COMPLETE",
        "privlink-hello-vpn-dev": "CREATE_COMPLETE",
    }
    assert [c["endpoint_state"] for c in status["consumers"]] == ["available"]
    assert dataplane_pids(workdir / ".privlink") == [status["dataplane"]["pid"]]
    world = json.loads((workdir / ".privlink" / "sandbox.json").read_text())
    stacks = {s["name"]: s for s in world["stacks"].values()}
    resources = list(world["resources"].values())
    assert not [r["id"] for r in resources if r["stack"] not in stacks], "resources of no stack"
    owners = Counter((r["stack"], r["logical_id"], r["type"]) for r in resources)
    assert not [k for k, n in owners.items() if n > 1], "duplicate resources"
    ids = {r["id"] for r in resources}
    assert all(r["physical_id"] in ids for s in stacks.values() for r in s["resources"].values())
    assert len(world["endpoint_services"]) == 1
    assert [e["state"] for e in world["endpoints"].values()] == ["available"]
    assert sorted(c["domain"] for c in world["certificates"].values()) == ["client", "server"]
    privlink(workdir, "test")


def assert_nothing_left(workdir: Path, block: str | None, dns: str | None) -> None:
    """After `down`: no process, no socket in the sandbox's loopback block or at its DNS address, no state
    but the project's lock (`down` never deletes it: another command may be waiting on it)."""
    assert dataplane_pids(workdir / ".privlink") == []
    extra = set()
    if dns:
        host, port = dns.split(":")
        extra.add((host, int(port)))
    assert bound_in(block, extra) == []
    assert sorted(p.name for p in workdir.iterdir()) == [".privlink", "privlink.yaml"]
    assert [p.name for p in (workdir / ".privlink").iterdir()] == ["lock"]


def sandbox_addresses(workdir: Path) -> tuple[str | None, str | None]:
    """(the loopback block, the DNS address) the sandbox in `workdir` uses, as far as it got."""
    state = workdir / ".privlink"
    block = (
        json.loads((state / "local.json").read_text()).get("loopback_block")
        if (state / "local.json").exists()
        else None
    )
    runtime = state / "dataplane-runtime.json"
    dns = json.loads(runtime.read_text()).get("dns") if runtime.exists() else None
    return block, dns


# -- 3. the data plane process killed -------------------------------------------------------------


@pytest.mark.timeout(60)
def test_killed_data_plane_status_says_so_and_up_restores_it(workdir):
    privlink(workdir, "up")
    pid = runtime_of(workdir)["pid"]
    os.kill(pid, signal.SIGKILL)
    wait_until_dead(pid)
    status = privlink(workdir, "status")  # the contract: status exits 0 and reports
    assert "data plane: not running; run `privlink up` to start it" in status.stdout.splitlines()
    failed = privlink(workdir, "test", rc=1)
    assert failed.stderr.splitlines() == [
        "privlink: error: sandbox: the data plane is not running; hint: run `privlink up` to restart it"
    ]
    restored = privlink(workdir, "up")
    assert "starting the data plane" in restored.stderr
    new_pid = runtime_of(workdir)["pid"]
    assert new_pid != pid
    lines = privlink(workdir, "status").stdout.splitlines()
    assert f"data plane: running (pid {new_pid})" in lines
    assert f"dns of dev's VPC: {runtime_of(workdir)['dns_views']['dev']}" in lines
    assert_converged(workdir)


# -- 4 and 5. `up` interrupted at each step -------------------------------------------------------

# step -> the last progress line before it (the sandbox runs the plan's steps one at a time, in the
# plan's order: producer, the consumer's network, its endpoint stack, certificates, VPN, acceptance)
STEPS = {
    # mid-stack: the VPC, subnets and NLB exist, the endpoint service not yet
    "privlink-hello-producer/LoadBalancer": "privlink-hello-producer: deploying",
    "deployed:privlink-hello-producer": "privlink-hello-producer: deploying",
    "deployed:privlink-hello-network-dev": "privlink-hello-network-dev: deploying",
    "deployed:privlink-hello-consumer-dev": "privlink-hello-consumer-dev: deploying",  # not accepted yet
    "import-certificates:dev": "privlink-hello-consumer-dev: deploying",
    "privlink-hello-vpn-dev/ClientVpnEndpoint": "privlink-hello-vpn-dev: deploying",
    "accept-connections:dev": "accepting vpce-",  # the endpoint accepted
    "dataplane-starting": "starting the data plane",  # the process spawned, not serving yet
}


def interrupted_up(workdir: Path, step: str) -> None:
    done = privlink(workdir, "up", rc=130, env={"PRIVLINK_TEST_INTERRUPT_AT": step})
    *progress, last = done.stderr.splitlines()
    assert last == INTERRUPTED
    assert progress[-1].startswith(STEPS[step])  # it stopped at that step, not before or after
    assert done.stdout == ""
    assert dataplane_pids(workdir / ".privlink") == []  # none of these steps leaves a data plane running


@pytest.mark.timeout(60)
@pytest.mark.parametrize("step", STEPS)
def test_up_interrupted_then_up_converges_and_down_removes_everything(workdir, step):
    interrupted_up(workdir, step)
    again = privlink(workdir, "up")
    assert "up: done" in again.stderr
    assert_converged(workdir)
    block, dns = sandbox_addresses(workdir)
    privlink(workdir, "down", "--yes")
    assert_nothing_left(workdir, block, dns)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("step", STEPS)
def test_down_after_an_interrupted_up_removes_everything(workdir, step):
    interrupted_up(workdir, step)
    block, dns = sandbox_addresses(workdir)
    privlink(workdir, "down", "--yes")
    assert_nothing_left(workdir, block, dns)


# `down` interrupted: mid-stack (the world on disk still holds the whole stack) or between stacks
DOWN_STEPS = [
    "delete:privlink-hello-vpn-dev/first",
    "deleted:privlink-hello-vpn-dev",
    "delete:privlink-hello-consumer-dev/first",
    "deleted:privlink-hello-consumer-dev",
    "delete:privlink-hello-network-dev/first",
    "deleted:privlink-hello-network-dev",
    "delete:privlink-hello-producer/first",
]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("step", DOWN_STEPS)
def test_down_interrupted_then_down_removes_everything(workdir, step):
    privlink(workdir, "up")
    block, dns = sandbox_addresses(workdir)
    if step.endswith("/first"):  # the first resource `down` deletes: the last one created
        world = json.loads((workdir / ".privlink" / "sandbox.json").read_text())
        stack = next(s for s in world["stacks"].values() if s["name"] == step.split(":")[1].split("/")[0])
        step = step.replace("/first", "/" + stack["order"][-1])
    done = privlink(workdir, "down", "--yes", rc=130, env={"PRIVLINK_TEST_INTERRUPT_AT": step})
    assert done.stderr.splitlines()[-1] == INTERRUPTED
    assert dataplane_pids(workdir / ".privlink") == []  # the data plane goes first
    assert (workdir / ".privlink" / "sandbox.json").exists()  # what is left is still recorded
    privlink(workdir, "down", "--yes")
    assert_nothing_left(workdir, block, dns)


def test_a_state_write_interrupted_before_its_rename_leaves_no_temp_file(tmp_path, monkeypatch):
    from privlink.targets.local.dataplane import config_model

    (tmp_path / "local.json").write_text('{"loopback_block": "127.9.0.0/16"}')

    def interrupted(src, dst):
        raise KeyboardInterrupt

    monkeypatch.setattr(config_model.os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        config_model.write_json_atomic(tmp_path / "local.json", {"steps": {}})
    assert [p.name for p in tmp_path.iterdir()] == ["local.json"]
    assert json.loads((tmp_path / "local.json").read_text()) == {"loopback_block": "127.9.0.0/16"}
