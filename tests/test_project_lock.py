"""`privlink.project_lock`: one holder at a time, a bounded wait with the holder named, no leftovers
from a command that fails, and no two holders when a failed command removes the file."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

import pytest

from privlink import project_lock as pl
from privlink.errors import EXIT_BAD_INPUT, EXIT_FAILED, PrivlinkError, StateError


class FakeTime:
    """An injected clock that only moves when the lock sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def held_by_another(state: Path, line: str) -> int:
    """Hold `state/lock` through a second open file (flock excludes it even in this process)."""
    state.mkdir(exist_ok=True)
    fd = os.open(state / "lock", os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    os.write(fd, line.encode())
    return fd


def test_the_holder_writes_who_it_is_and_leaves_the_file_empty_when_done(tmp_path):
    state = tmp_path / ".privlink"
    with pl.project_lock(state, "privlink up"):
        assert (state / "lock").read_text() == f"{os.getpid()} privlink up\n"
        assert (state / "lock").stat().st_mode & 0o777 == 0o600
        assert state.stat().st_mode & 0o777 == 0o700
    assert (state / "lock").read_text() == ""
    with pl.project_lock(state, "privlink down"):  # released: the next one gets it at once
        pass


def test_a_second_command_waits_the_bounded_time_then_names_the_holder(tmp_path):
    state = tmp_path / ".privlink"
    fd = held_by_another(state, "4321 privlink up\n")
    time, lines = FakeTime(), []
    locked = pl.project_lock(state, "privlink down", wait=2.0, progress=lines.append, **vars_of(time))
    try:
        with pytest.raises(PrivlinkError) as info, locked:
            raise AssertionError("entered while another holds the lock")
    finally:
        os.close(fd)
    assert info.value.exit_code == EXIT_FAILED
    assert info.value.one_line() == (
        f"{state / 'lock'}: held by `privlink up` (pid 4321): one command changes a project at a time"
    )
    assert lines == ["privlink: waiting for `privlink up` (pid 4321) to finish (up to 2 s)"]
    assert sum(time.sleeps) >= 2.0 and time.now < 2.0 + 2 * pl.POLL
    assert (state / "lock").exists()  # never removed while another holds it


def test_a_waiter_gets_the_lock_once_the_holder_lets_go(tmp_path):
    state = tmp_path / ".privlink"
    fd = held_by_another(state, "4321 privlink up\n")
    time = FakeTime()

    def sleep(seconds: float) -> None:
        time.sleep(seconds)
        if len(time.sleeps) == 3:
            os.close(fd)  # the holder ends

    with pl.project_lock(state, "privlink down", wait=10.0, sleep=sleep, clock=time.clock):
        assert (state / "lock").read_text() == f"{os.getpid()} privlink down\n"
    assert len(time.sleeps) == 3


def vars_of(time: FakeTime) -> dict:
    return {"sleep": time.sleep, "clock": time.clock}


@pytest.mark.parametrize("text", ["", "garbage", "12", "x privlink up"])
def test_a_holder_that_has_not_said_who_it_is_yet(text):
    assert pl.holder_text(text) == "another privlink command"


def test_a_state_directory_that_is_a_file_is_bad_input_before_any_lock(tmp_path):
    (tmp_path / ".privlink").write_text("not a directory")
    with pytest.raises(StateError) as info, pl.project_lock(tmp_path / ".privlink", "privlink up"):
        raise AssertionError("entered")
    assert info.value.exit_code == EXIT_BAD_INPUT
    assert sorted(p.name for p in tmp_path.iterdir()) == [".privlink"]


def test_a_command_that_fails_leaves_nothing_it_made(tmp_path):
    state = tmp_path / ".privlink"
    with pytest.raises(ValueError), pl.project_lock(state, "privlink up"):
        raise ValueError("bad input")
    assert not state.exists()
    # a state directory that was there stays, and so does a lock file that was there
    state.mkdir()
    (state / "world").write_text("{}")
    with pytest.raises(ValueError), pl.project_lock(state, "privlink up"):
        raise ValueError("bad input")
    assert sorted(p.name for p in state.iterdir()) == ["world"]
    (state / "lock").touch()
    with pytest.raises(ValueError), pl.project_lock(state, "privlink up"):
        raise ValueError("bad input")
    assert sorted(p.name for p in state.iterdir()) == ["lock", "world"]


def test_a_waiter_on_a_lock_file_a_failed_command_removed_takes_the_new_one(tmp_path, monkeypatch):
    """The failed holder unlinks the file while a waiter has it open: the waiter then gets the lock
    of a file no other command can find, and must not enter with it."""
    state = tmp_path / ".privlink"
    fd = held_by_another(state, "4321 privlink up\n")
    real_try_lock = pl._try_lock
    tries: list[int] = []

    def try_lock(lock_fd: int) -> bool:
        if not tries:  # the holder fails right now: removes the file, then lets go
            os.unlink(state / "lock")
            os.close(fd)
        tries.append(lock_fd)
        return real_try_lock(lock_fd)

    monkeypatch.setattr(pl, "_try_lock", try_lock)
    with pl.project_lock(state, "privlink down", wait=0):
        current = os.stat(state / "lock")
        assert (state / "lock").read_text() == f"{os.getpid()} privlink down\n"
        # a third command finds that same file, and it is locked
        other = os.open(state / "lock", os.O_RDWR)
        try:
            assert os.fstat(other).st_ino == current.st_ino
            assert not real_try_lock(other)
        finally:
            os.close(other)
    assert len(tries) == 2
