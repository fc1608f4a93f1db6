"""Start, reload and stop the data-plane process; read what it publishes. Used by the local target."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from privlink.errors import DeployFailed, StateError
from privlink.statefile import open_private_append, read_state_json
from privlink.targets.local.interrupt import interrupt_point

MODULE = "privlink.targets.local.dataplane"
_SRC = Path(__file__).resolve().parents[4]  # the directory holding the `privlink` package


RUNTIME_FIX = "delete it, stop any data plane of this sandbox still running, then `privlink up`"


def read_runtime(runtime_path: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The runtime file's content, or None when there is none.

    The data plane replaces the file atomically, so a file that is not a JSON mapping with an
    integer `pid` is corrupt: a `StateError` naming it.
    """
    path = Path(runtime_path)
    data = read_state_json(path, RUNTIME_FIX)
    if data is None:
        return None
    if not isinstance(data, dict) or type(data.get("pid")) is not int:
        raise StateError(str(path), "is corrupt (not a mapping with an integer pid)", RUNTIME_FIX)
    return data


def _alive(pid: int) -> bool:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # reap it when it is our exited child
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return True


def _is_dataplane(pid: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return _alive(pid)  # no /proc: trust the pid
    return MODULE.encode() in cmdline


def is_running(runtime_path: str | os.PathLike[str]) -> bool:
    """True when the runtime file names a live data-plane process."""
    rt = read_runtime(runtime_path)
    if not rt or not isinstance(rt.get("pid"), int):
        return False
    return _alive(rt["pid"]) and _is_dataplane(rt["pid"])


def _wait(
    cond: Callable[[], bool], timeout: float, sleep: Callable[[float], None], clock: Callable[[], float]
) -> bool:
    deadline = clock() + timeout
    while True:
        if cond():
            return True
        if clock() >= deadline:
            return False
        sleep(0.02)


def _log_tail(log_path: Path) -> str:
    try:
        lines = log_path.read_text(encoding="utf-8", errors="replace").strip().splitlines()
    except OSError:
        return ""
    return lines[-1] if lines else ""


def start(
    config_path: str | os.PathLike[str],
    runtime_path: str | os.PathLike[str],
    log_path: str | os.PathLike[str],
    timeout: float = 15.0,
    env: dict[str, str] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> int:
    """Start the data plane detached; return its pid once its runtime file says it listens."""
    runtime = Path(runtime_path)
    if is_running(runtime):
        raise StateError(str(runtime), "a data plane is already running", "stop it first (`privlink down`)")
    runtime.unlink(missing_ok=True)
    log = Path(log_path)
    full_env = {**os.environ, **(env or {})}
    full_env["PYTHONPATH"] = os.pathsep.join(p for p in (str(_SRC), full_env.get("PYTHONPATH", "")) if p)
    with open_private_append(log) as log_file:
        proc = subprocess.Popen(  # noqa: S603 - our own module, no shell
            [sys.executable, "-m", MODULE, "--config", str(config_path), "--runtime", str(runtime)],
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=log_file,
            env=full_env,
            start_new_session=True,
            close_fds=True,
        )

    def ready() -> bool:
        rt = read_runtime(runtime)
        return bool(rt and rt.get("pid") == proc.pid and rt.get("ready"))

    started = False
    try:
        interrupt_point("dataplane-starting")
        started = _wait(lambda: ready() or proc.poll() is not None, timeout, sleep, clock) and ready()
    finally:
        # not ready in time, or Ctrl-C while waiting: no process outlives a start that did not finish
        if not started and proc.poll() is None:
            proc.kill()
            proc.wait()
    if not started:
        raise DeployFailed("data plane", f"did not start: {_log_tail(log) or 'no output'}", f"see {log}")
    return proc.pid


def reload(
    runtime_path: str | os.PathLike[str],
    timeout: float = 10.0,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> dict[str, Any]:
    """SIGHUP the data plane and wait until it has applied the config again; return the new runtime."""
    rt = read_runtime(runtime_path)
    if not rt or not is_running(runtime_path):
        raise StateError(str(runtime_path), "no data plane is running", "run `privlink up --target local`")
    generation = rt.get("generation", 0)
    os.kill(rt["pid"], signal.SIGHUP)
    latest: dict[str, Any] = {}

    def applied() -> bool:
        nonlocal latest
        cur = read_runtime(runtime_path)
        if cur and cur.get("generation", 0) > generation:
            latest = cur
            return True
        return False

    if not _wait(applied, timeout, sleep, clock):
        raise DeployFailed("data plane", "did not reload in time", f"see the data plane log; pid {rt['pid']}")
    return latest


def stop(
    runtime_path: str | os.PathLike[str],
    timeout: float = 10.0,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> bool:
    """SIGTERM the data plane, wait, SIGKILL if it lingers. False when none was running."""
    rt = read_runtime(runtime_path)
    if not rt or not is_running(runtime_path):
        Path(runtime_path).unlink(missing_ok=True)
        return False
    pid = rt["pid"]
    os.kill(pid, signal.SIGTERM)
    if not _wait(lambda: not _alive(pid), timeout, sleep, clock):
        os.kill(pid, signal.SIGKILL)
        _wait(lambda: not _alive(pid), 5.0, sleep, clock)
    Path(runtime_path).unlink(missing_ok=True)
    return True
