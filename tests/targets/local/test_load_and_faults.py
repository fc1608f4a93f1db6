"""The sandbox under load and faults: many concurrent flows, a target dying mid-load, the data plane
killed, `up` interrupted at each step. Real processes and sockets on loopback; each test is bounded
and its finalizer removes every process and port it started, even when it fails."""

from __future__ import annotations

import asyncio
import contextlib
import json
import resource
import time

import pytest
from test_local_target import resolve

from privlink.spec import parse_spec
from privlink.spec.demo import demo_spec_text
from privlink.targets.local.target import LocalTarget
from sandbox_leaks import kill_dataplanes, open_fds, soft_nofile_limit

CONNECTIONS = 1000
REQUEST = b"GET / HTTP/1.1\r\nHost: hello.internal.company:8080\r\n\r\n"


@pytest.fixture
def local_target(tmp_path):
    """A factory of LocalTargets in a temp dir; down and no data plane left afterwards, even on failure."""
    made: list[LocalTarget] = []

    def make(spec) -> LocalTarget:
        target = LocalTarget(spec, tmp_path / ".privlink")
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

