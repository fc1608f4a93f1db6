"""The script SSM runs on the instance, run here by the shell exactly as AWS-RunShellScript gets it,
against a loopback server: it must report what `privlink.probe.run_probe` reports."""

from __future__ import annotations

import ast
import json
import shlex
import shutil
import socket
import subprocess
from contextlib import contextmanager

import pytest
from loopback_http import Answer, loopback_http

from privlink.probe import DROPPED, ProbeReport, run_probe
from privlink.targets.aws.ssm_probe import HEREDOC, REMOTE_BODY_LIMIT, REMOTE_SCRIPT, remote_commands

pytestmark = pytest.mark.skipif(
    shutil.which("bash") is None or shutil.which("python3") is None, reason="no bash/python3"
)


def run_remote(
    name: str, port: int, path: str = "/", timeout: float = 2.0, connect_timeout: float = 2.0
) -> tuple[dict, str]:
    [command] = remote_commands(name, port, path, timeout, connect_timeout)
    done = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1]), done.stdout


def comparable(report: ProbeReport) -> list[tuple[str, bool, str]]:
    return [(s.name, s.ok, s.detail) for s in report.steps]


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens once it is closed


@contextmanager
def dropping_port():
    """A loopback port whose accept queue is full: the kernel drops every SYN, connects time out."""
    listener = socket.socket()
    plugs = [socket.socket() for _ in range(2)]
    try:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)  # Linux queues backlog + 1, then drops
        for plug in plugs:
            plug.connect(listener.getsockname())
        yield listener.getsockname()[1]
    finally:
        for s in [listener, *plugs]:
            s.close()


def test_command_runs_python3_on_a_quoted_heredoc_with_the_name_and_port():
    [command] = remote_commands("hello.internal.company", 8080, "/", 5.0, 3.0)
    first, *body, last = command.splitlines()
    dropped = shlex.quote(DROPPED)
    assert first == (
        f"python3 - hello.internal.company 8080 / 5.0 {REMOTE_BODY_LIMIT} 3.0 {dropped} <<'{HEREDOC}'"
    )
    assert last == HEREDOC
    assert "\n".join(body) == REMOTE_SCRIPT.strip()
    assert HEREDOC not in REMOTE_SCRIPT  # the heredoc cannot end early


def test_arguments_are_shell_quoted():
    [command] = remote_commands("a b;$(reboot)", 8080, "/x y")
    assert command.splitlines()[0].startswith("python3 - 'a b;$(reboot)' 8080 '/x y' ")


def test_script_is_python_3_9():
    ast.parse(REMOTE_SCRIPT, feature_version=(3, 9))


def test_healthy_service_same_report_as_the_local_probe():
    with loopback_http() as port:
        remote, _ = run_remote("127.0.0.1", port)
        local = run_probe("127.0.0.1", port, timeout=2.0)
    report = ProbeReport.from_dict(remote)
    assert report.ok and report.via == "ssm"
    assert comparable(report) == comparable(local)
    assert (report.status, report.address, report.json) == (
        200,
        "127.0.0.1",
        {"message": "Hello from provider"},
    )


def test_error_status_same_report_as_the_local_probe():
    class Unavailable(Answer):
        status = 503
        body = b"down for maintenance"

    with loopback_http(Unavailable) as port:
        remote, _ = run_remote("127.0.0.1", port)
        local = run_probe("127.0.0.1", port, timeout=2.0)
    report = ProbeReport.from_dict(remote)
    assert not report.ok and report.failed_step == "http"
    assert comparable(report) == comparable(local)
    assert (report.status, report.body) == (503, "down for maintenance")


def test_refused_connection_same_report_as_the_local_probe():
    port = closed_port()
    remote, _ = run_remote("127.0.0.1", port)
    local = run_probe("127.0.0.1", port, timeout=2.0)
    report = ProbeReport.from_dict(remote)
    assert report.failed_step == "connect"
    assert comparable(report) == comparable(local)
    assert "connection refused" in report.steps[1].detail


def test_dropped_connection_same_report_as_the_local_probe():
    with dropping_port() as port:
        remote, _ = run_remote("127.0.0.1", port, connect_timeout=0.3)
        local = run_probe("127.0.0.1", port, connect_timeout=0.3)
    report = ProbeReport.from_dict(remote)
    assert report.failed_step == "connect"
    assert comparable(report) == comparable(local)
    assert report.steps[1].detail == f"127.0.0.1:{port}: timed out ({DROPPED})"


def test_large_body_is_cut_to_fit_ssm_output():
    class Large(Answer):
        body = json.dumps({"data": "é" * 50_000}).encode()

    with loopback_http(Large) as port:
        remote, stdout = run_remote("127.0.0.1", port)
    report = ProbeReport.from_dict(remote)
    assert report.ok
    assert len(report.body) == REMOTE_BODY_LIMIT and report.json is None
    assert len(stdout) < 24_000  # GetCommandInvocation returns the first 24,000 characters


def test_names_go_through_the_system_resolver_like_the_local_probe():
    with loopback_http() as port:
        remote, _ = run_remote("localhost", port)
        local = run_probe("localhost", port, timeout=2.0)  # /etc/hosts: never leaves the machine
    report = ProbeReport.from_dict(remote)
    assert report.ok
    assert comparable(report) == comparable(local)
    assert report.steps[0].detail.startswith("localhost -> 127.0.0.1")
