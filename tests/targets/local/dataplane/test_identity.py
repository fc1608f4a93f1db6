"""Which process privlink may signal: the identity rule as a pure function, and the one guarded place
that signals (it must never call kill for a process that is not this project's data plane)."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest

from privlink.targets.local.dataplane import control, procfs
from privlink.targets.local.dataplane.identity import (
    GONE,
    MODULE,
    Observed,
    judge,
    names_runtime,
    parse_cmdline,
    parse_stat,
)

PROJECT = "/home/u/p1/.privlink"
RUNTIME = f"{PROJECT}/dataplane-runtime.json"
CMDLINE = ["/usr/bin/python3", "-m", MODULE, "--config", f"{PROJECT}/dataplane.json", "--runtime", RUNTIME]
START = 4242


def recorded(**changes) -> dict:
    return {"pid": 4321, "start_time": START, "cmdline": CMDLINE, "project": PROJECT, **changes}


LIVE = Observed(exists=True, start_time=START, cmdline=tuple(CMDLINE))


def test_the_data_plane_it_records_is_ours():
    verdict = judge(recorded(), LIVE, RUNTIME, PROJECT)
    assert verdict.ours, verdict


@pytest.mark.parametrize("pid", [-1, 0, 1, -4321, True, "4321", None, 4321.0])
def test_a_pid_that_is_no_single_process_is_never_ours(pid):
    """-1 is every process, 0 the caller's process group, 1 init: even with /proc "agreeing"."""
    verdict = judge(recorded(pid=pid), LIVE, RUNTIME, PROJECT)
    assert not verdict.ours and not verdict.stale
    assert repr(pid) in verdict.reason


def test_an_unrelated_live_process_is_not_ours():
    sleep = Observed(exists=True, start_time=START + 100, cmdline=("sleep", "60"))
    verdict = judge(recorded(), sleep, RUNTIME, PROJECT)
    assert not verdict.ours and "another program" in verdict.reason


def test_a_recycled_pid_with_the_same_command_line_is_not_ours():
    """Same pid, same command line, another start time: the data plane died and its pid was reused."""
    verdict = judge(
        recorded(), Observed(exists=True, start_time=START + 1, cmdline=tuple(CMDLINE)), RUNTIME, PROJECT
    )
    assert not verdict.ours and "pid reused" in verdict.reason


def test_another_projects_data_plane_is_not_ours():
    """A copied directory's runtime file: everything matches /proc, but it names p1's project."""
    other = "/home/u/p2/.privlink"
    verdict = judge(recorded(), LIVE, f"{other}/dataplane-runtime.json", other)
    assert not verdict.ours and PROJECT in verdict.reason


def test_a_runtime_file_naming_this_project_but_another_runtime_path_in_its_command_line_is_not_ours():
    forged = recorded(cmdline=[*CMDLINE[:-1], "/home/u/p2/.privlink/dataplane-runtime.json"])
    observed = Observed(exists=True, start_time=START, cmdline=tuple(forged["cmdline"]))
    assert not judge(forged, observed, RUNTIME, PROJECT).ours


@pytest.mark.parametrize(
    "changes",
    [
        {"start_time": None},
        {"start_time": "4242"},
        {"cmdline": None},
        {"cmdline": "python"},
        {"cmdline": [1]},
    ],
)
def test_a_record_without_identity_is_not_ours(changes):
    """An older privlink's file, or an edited one: nothing to prove the process is ours with."""
    assert not judge(recorded(**changes), LIVE, RUNTIME, PROJECT).ours


def test_no_project_is_not_ours():
    data = recorded()
    del data["project"]
    assert not judge(data, LIVE, RUNTIME, PROJECT).ours


@pytest.mark.parametrize("observed", [GONE, Observed(exists=True, zombie=True, start_time=START, cmdline=())])
def test_a_gone_or_zombie_process_is_stale_not_ours(observed):
    verdict = judge(recorded(), observed, RUNTIME, PROJECT)
    assert not verdict.ours and verdict.stale


def test_stat_is_parsed_after_the_last_parenthesis():
    fields = ["S"] + ["0"] * 18 + ["98765"] + ["0"] * 30  # field 3 (state) .. field 22 (starttime) ..
    assert parse_stat(f"77 (a) b) (c) {' '.join(fields)}") == ("S", 98765)
    assert parse_stat("77 (short) S 1 2") is None
    assert parse_stat("") is None


def test_cmdline_and_the_runtime_it_names():
    raw = b"\0".join(a.encode() for a in CMDLINE) + b"\0"
    assert parse_cmdline(raw) == tuple(CMDLINE)
    assert parse_cmdline(b"") == ()
    assert names_runtime(CMDLINE, RUNTIME)
    assert not names_runtime(CMDLINE, RUNTIME + ".old")
    assert not names_runtime(["sh", "-c", MODULE, "--runtime", RUNTIME], RUNTIME)
    assert not names_runtime([*CMDLINE[:-1]], RUNTIME)


# -- the one place that signals ---------------------------------------------------------------------


@pytest.fixture
def sleeper():
    proc = subprocess.Popen(["sleep", "60"])
    yield proc
    proc.kill()
    proc.wait()


@pytest.fixture
def no_signals(monkeypatch):
    """Every way to signal a process, recorded instead of done."""
    sent: list[tuple] = []
    monkeypatch.setattr(control.os, "kill", lambda *a: sent.append(("kill", *a)))
    monkeypatch.setattr(control.signal, "pidfd_send_signal", lambda *a: sent.append(("pidfd", *a)))
    return sent


def test_the_guard_sends_nothing_to_anything_but_this_projects_data_plane(tmp_path, sleeper, no_signals):
    runtime = tmp_path / "dataplane-runtime.json"
    project = str(tmp_path.resolve())
    live = procfs.observe(sleeper.pid)
    assert live.exists and live.cmdline == ("sleep", "60")
    ours_but_for_start = {
        "pid": sleeper.pid,
        "start_time": live.start_time + 1,
        "cmdline": [sys.executable, "-m", MODULE, "--runtime", str(runtime.resolve())],
        "project": project,
    }
    cases = [
        {"pid": -1, "project": project},
        {"pid": 0, "project": project},
        {"pid": 1, "project": project},
        {
            "pid": sleeper.pid,
            "start_time": live.start_time,
            "cmdline": list(live.cmdline),
            "project": project,
        },
        ours_but_for_start,
        {**ours_but_for_start, "start_time": live.start_time, "project": "/elsewhere/.privlink"},
    ]
    for record in cases:
        for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGKILL):
            assert not control._send(runtime, record, sig).ours
    assert no_signals == []
    assert sleeper.poll() is None
