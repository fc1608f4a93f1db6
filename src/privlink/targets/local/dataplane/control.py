"""Start, reload and stop the data-plane process; read what it publishes. Used by the local target.

Every signal privlink sends goes through `_send`, which signals only a process that `identity.judge`
proves to be this project's data plane (pid above 1, command line and start time as recorded, the
runtime file's project this one), through a pidfd where the kernel has them, so the pid cannot be
reused between the check and the signal.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from privlink.errors import DeployFailed, StateError
from privlink.statefile import open_private_append, read_state_json
from privlink.targets.local.dataplane import procfs
from privlink.targets.local.dataplane.identity import MODULE, Verdict, judge, scanned_identity, valid_pid
from privlink.targets.local.interrupt import interrupt_point

__all__ = ["MODULE", "is_running", "read_runtime", "reload", "running", "start", "stop"]

_SRC = Path(__file__).resolve().parents[4]  # the directory holding the `privlink` package

RUNTIME_FIX = "delete it, stop any data plane of this sandbox still running, then `privlink up`"

Warn = Callable[[str], None]


def _no_warning(_message: str) -> None:
    pass


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


def _paths(runtime_path: str | os.PathLike[str]) -> tuple[str, str]:
    """(the runtime file, its project's state directory), absolute: what a data plane records."""
    path = Path(runtime_path).resolve()
    return str(path), str(path.parent)


def ignored(runtime_path: str | os.PathLike[str], verdict: Verdict) -> str:
    """The warning for a runtime file that does not name this project's data plane."""
    return f"{runtime_path}: ignored ({verdict.reason}); no data plane of this project counts as running"


def check(runtime_path: str | os.PathLike[str], runtime: Mapping[str, Any]) -> Verdict:
    """Is the process `runtime` names this project's live data plane (see `identity.judge`)?"""
    path, project = _paths(runtime_path)
    return judge(runtime, procfs.observe(runtime.get("pid")), path, project)  # type: ignore[arg-type]


def running(runtime_path: str | os.PathLike[str]) -> tuple[dict[str, Any] | None, Verdict | None]:
    """(the runtime, when it names this project's live data plane; why not, when a file says otherwise)."""
    runtime = read_runtime(runtime_path)
    if runtime is None:
        return None, None
    verdict = check(runtime_path, runtime)
    return (runtime if verdict.ours else None), verdict


def is_running(runtime_path: str | os.PathLike[str]) -> bool:
    """True when the runtime file names this project's live data plane."""
    return running(runtime_path)[0] is not None


@contextlib.contextmanager
def _pidfd(pid: int) -> Iterator[int | None]:
    """A pidfd for `pid` (None where the kernel or Python has none): signals through it reach that
    process only, never one that got its pid later."""
    try:
        fd = os.pidfd_open(pid)
    except (AttributeError, OSError) as exc:
        if isinstance(exc, ProcessLookupError):
            raise
        yield None
        return
    try:
        yield fd
    finally:
        os.close(fd)


def _send(runtime_path: str | os.PathLike[str], record: Mapping[str, Any], sig: int) -> Verdict:
    """Signal the process `record` names when, and only when, it is this project's data plane.

    The one place privlink signals a process: `record` is the runtime file (or what a scan found).
    """
    pid = record.get("pid")
    if not valid_pid(pid):
        return check(runtime_path, record)
    try:
        with _pidfd(pid) as fd:  # type: ignore[arg-type]
            verdict = check(runtime_path, record)  # after the pidfd: the process it names is this one
            if verdict.ours:
                if fd is not None:
                    signal.pidfd_send_signal(fd, sig)
                else:
                    os.kill(pid, sig)  # type: ignore[arg-type]
    except ProcessLookupError:
        return Verdict(False, f"its data plane (pid {pid}) is not running", stale=True)
    return verdict


def _gone(record: Mapping[str, Any]) -> bool:
    """True once the recorded process has exited (or its pid names another process by now)."""
    pid = record["pid"]
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)  # reap it when it is our exited child
    seen = procfs.observe(pid)
    return not seen.exists or seen.zombie or seen.start_time != record.get("start_time")


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
    claim: socket.socket | None = None,
) -> int:
    """Start the data plane detached; return its pid once its runtime file says it listens.

    `claim` is the listening socket that claims the sandbox's loopback block: the process inherits
    it and holds it until it exits, so the block is never free between choosing it and serving it.
    """
    runtime = Path(_paths(runtime_path)[0])
    if is_running(runtime):
        raise StateError(str(runtime), "a data plane is already running", "stop it first (`privlink down`)")
    runtime.unlink(missing_ok=True)
    log = Path(log_path)
    full_env = {**os.environ, **(env or {})}
    full_env["PYTHONPATH"] = os.pathsep.join(p for p in (str(_SRC), full_env.get("PYTHONPATH", "")) if p)
    args = [
        sys.executable,
        "-m",
        MODULE,
        "--config",
        str(Path(config_path).resolve()),
        "--runtime",
        str(runtime),
    ]
    if claim is not None:
        args += ["--claim-fd", str(claim.fileno())]
    with open_private_append(log) as log_file:
        proc = subprocess.Popen(  # noqa: S603 - our own module, no shell
            args,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=log_file,
            env=full_env,
            start_new_session=True,
            close_fds=True,
            pass_fds=(claim.fileno(),) if claim is not None else (),
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
    rt, _ = running(runtime_path)
    if rt is None or not _send(runtime_path, rt, signal.SIGHUP).ours:
        raise StateError(str(runtime_path), "no data plane is running", "run `privlink up --target local`")
    generation = rt.get("generation", 0)
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
    warn: Warn = _no_warning,
) -> list[int]:
    """Stop this project's data planes: SIGTERM, wait, SIGKILL if one lingers; the pids stopped.

    The one the runtime file names when it proves to be ours, and any other whose command line names
    this project's runtime file exactly (the runtime file deleted, corrupt or naming a dead process:
    the start time cannot be checked then, so only that exact path counts). The runtime file goes.
    """
    path, project = _paths(runtime_path)
    records: dict[int, Mapping[str, Any]] = {}
    try:
        runtime = read_runtime(path)
    except StateError as exc:
        warn(f"{exc.one_line()}; looking for this project's data plane by its command line instead")
        runtime = None
    if runtime is not None:
        verdict = check(path, runtime)
        if verdict.ours:
            records[runtime["pid"]] = runtime
        elif not verdict.stale:
            warn(ignored(runtime_path, verdict))
    for pid, seen in procfs.dataplanes_naming(path):
        records.setdefault(pid, scanned_identity(pid, seen, project))
    signalled = [r for r in records.values() if _send(path, r, signal.SIGTERM).ours]
    if not _wait(lambda: all(_gone(r) for r in signalled), timeout, sleep, clock):
        for record in signalled:
            if not _gone(record):
                _send(path, record, signal.SIGKILL)
        _wait(lambda: all(_gone(r) for r in signalled), 5.0, sleep, clock)
    Path(path).unlink(missing_ok=True)
    return sorted(r["pid"] for r in signalled)
