"""Is a process privlink's data plane for this project? Pure: the caller reads `/proc`, this judges.

A data plane writes its identity into its runtime file: its pid, its start time (`/proc/<pid>/stat`
field 22, in clock ticks since boot, which a reused pid does not share), its command line and the
project (the state directory) it serves. privlink signals a process only when all of it matches what
`/proc` says now and the command line is this project's data plane (`--runtime` naming this
project's runtime file). Everything else is "not running", so a garbled, copied or forged runtime
file can never aim a signal at another process, a process group (0) or every process (-1).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

MODULE = "privlink.targets.local.dataplane"


@dataclass(frozen=True)
class Observed:
    """What `/proc/<pid>` says: nothing (`exists=False`) when the process is gone or unreadable."""

    exists: bool
    zombie: bool = False
    start_time: int | None = None
    cmdline: tuple[str, ...] | None = None


GONE = Observed(exists=False)


@dataclass(frozen=True)
class Verdict:
    """Whether privlink may signal the process, and why (the warning text when it may not).

    `stale` is True when the runtime file names a process that is simply gone (the data plane
    crashed or was killed): nothing to warn about beyond "not running".
    """

    ours: bool
    reason: str
    stale: bool = False


def valid_pid(pid: Any) -> bool:
    """A pid privlink could ever signal: an int above 1 (0 is a process group, -1 everyone, 1 init)."""
    return type(pid) is int and pid > 1


def parse_stat(text: str) -> tuple[str, int] | None:
    """(state, start time) from `/proc/<pid>/stat`; None when it does not parse.

    The command name (field 2) is in parentheses and may hold spaces or `)`, so fields are counted
    after its last `)`: field 3 (state) is the first there, field 22 (starttime) the twentieth.
    """
    head, sep, rest = text.rpartition(")")
    fields = rest.split()
    if not sep or not head or len(fields) < 20 or not fields[19].isdigit():
        return None
    return fields[0], int(fields[19])


def parse_cmdline(raw: bytes) -> tuple[str, ...]:
    """`/proc/<pid>/cmdline` (NUL-separated, NUL-terminated) as its arguments."""
    text = raw.decode("utf-8", "surrogateescape")
    if not text:
        return ()
    return tuple(text.removesuffix("\0").split("\0"))


def names_runtime(cmdline: Sequence[str], runtime_path: str) -> bool:
    """True for `PYTHON -m privlink.targets.local.dataplane ... --runtime RUNTIME_PATH ...` exactly."""
    args = list(cmdline)
    if len(args) < 3 or args[1:3] != ["-m", MODULE]:
        return False
    return any(a == "--runtime" and b == runtime_path for a, b in zip(args[3:], args[4:], strict=False))


def judge(recorded: Mapping[str, Any], observed: Observed, runtime_path: str, project: str) -> Verdict:
    """May privlink signal the process the runtime file `recorded` names, given what `/proc` says?

    `runtime_path` and `project` are this project's runtime file and state directory (absolute).
    `observed` is `/proc/<pid>` for the recorded pid (`GONE` when the pid is not valid: never read).
    """
    pid = recorded.get("pid")
    if not valid_pid(pid):
        return Verdict(
            False, f"it names pid {pid!r}, which is no data plane (privlink signals only pids above 1)"
        )
    if not observed.exists or observed.zombie:
        return Verdict(False, f"its data plane (pid {pid}) is not running", stale=True)
    owner = recorded.get("project")
    if owner != project:
        if isinstance(owner, str):
            return Verdict(False, f"it was written for another project ({owner}), e.g. a copied directory")
        return Verdict(False, "it does not name its project (written by an older privlink, or edited)")
    start_time, cmdline = recorded.get("start_time"), recorded.get("cmdline")
    if (
        type(start_time) is not int
        or not isinstance(cmdline, list)
        or not all(isinstance(a, str) for a in cmdline)
    ):
        return Verdict(False, "it records no process identity (start time and command line)")
    if not names_runtime(cmdline, runtime_path):
        return Verdict(False, f"the command line it records is not this project's data plane (pid {pid})")
    if observed.cmdline != tuple(cmdline):
        return Verdict(False, f"pid {pid} is another program now (its pid was reused)")
    if observed.start_time != start_time:
        return Verdict(
            False, f"pid {pid} started at another time than the data plane it records (pid reused)"
        )
    return Verdict(True, f"data plane pid {pid}")


def scanned_identity(pid: int, observed: Observed, project: str) -> dict[str, Any]:
    """The record a `/proc` scan found (the runtime file being gone), for `judge` at signal time:
    the start time seen when scanning guards against the pid being reused before the signal."""
    return {
        "pid": pid,
        "start_time": observed.start_time,
        "cmdline": list(observed.cmdline or ()),
        "project": project,
    }
