"""Run inside a fresh PID namespace (`unshare --pid --fork --mount-proc --kill-child`) as its pid 1, by
`test_pid_namespace.py`: privlink commands against runtime files that name pids privlink must never
signal, while an unrelated `sleep` (and another project's data plane) stay alive. Prints JSON.

Usage: pidns_runner.py PREPARED_PROJECT WORK_DIR

Should a regression signal -1 or 0, only this namespace's processes can get it (the runner starts a
session of its own: a process group is not confined to a PID namespace): the `sleep`, the commands
and data planes started here, and this runner, which as pid 1 records the signals it has handlers
for instead of dying. When it exits, the kernel kills whatever is left in the namespace.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from privlink.cli import main
from privlink.targets.local.dataplane import identity, procfs
from privlink.targets.local.target import LocalTarget  # noqa: F401  (imported before the forks)

CASES = ("-1", "0", "1", "unrelated", "recycled", "other-project")
WATCHED = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT, signal.SIGUSR1)
received: list[str] = []


def on_signal(signum, _frame) -> None:
    received.append(signal.Signals(signum).name)


def run(project: Path, *argv: str) -> tuple[int, str]:
    """`privlink ARGV` in `project`, in a forked child (no start-up cost); (exit code, its stderr)."""
    err = project / f".stderr-{len(list(project.glob('.stderr-*')))}"
    pid = os.fork()
    if pid == 0:  # the child: a privlink command as a user runs it
        try:
            for signum in WATCHED:
                signal.signal(signum, signal.SIG_DFL)
            os.chdir(project)
            fd = os.open(err, os.O_WRONLY | os.O_CREAT, 0o600)
            os.dup2(fd, 2)
            os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
            try:
                main.run(list(argv))
                code = 0
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1
        except BaseException:  # noqa: BLE001 - whatever happens, the child must not return into the runner
            code = 99
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    return code, err.read_text(encoding="utf-8", errors="replace")


def alive(pid: int, start_time: int | None) -> bool:
    seen = procfs.observe(pid)
    return seen.exists and not seen.zombie and seen.start_time == start_time


def main_(prepared: Path, work: Path) -> dict:
    for signum in WATCHED:
        signal.signal(signum, on_signal)
    sleeper = subprocess.Popen(["sleep", "600"])  # unrelated, in this runner's process group
    sleeper_seen = procfs.observe(sleeper.pid)

    other = work / "other-project"  # another project with a live data plane of its own
    shutil.copytree(prepared, other)
    code, err = run(other, "up")
    assert code == 0, err
    other_runtime = json.loads((other / ".privlink" / "dataplane-runtime.json").read_text())

    def record_for(case: str, project: Path) -> dict:
        runtime = str((project / ".privlink" / "dataplane-runtime.json").resolve())
        mine = str((project / ".privlink").resolve())
        forged = {"ready": True, "generation": 1, "dns": "127.0.0.1:1", "project": mine}
        if case in ("-1", "0", "1"):
            return {**forged, "pid": int(case)}
        if case == "unrelated":  # the sleep, exactly as /proc shows it, claimed for this project
            cmdline = list(sleeper_seen.cmdline or ())
            return {**forged, "pid": sleeper.pid, "start_time": sleeper_seen.start_time, "cmdline": cmdline}
        if case == "recycled":  # this project's data plane command line, at a pid the sleep has now
            cmdline = [sys.executable, "-m", identity.MODULE, "--runtime", runtime]
            start = (sleeper_seen.start_time or 0) + 1
            return {**forged, "pid": sleeper.pid, "start_time": start, "cmdline": cmdline}
        if case == "other-project":
            return dict(other_runtime)
        raise AssertionError(case)

    def one_case(case: str) -> dict:
        project = work / f"case{case}"
        shutil.copytree(prepared, project)
        runtime_file = project / ".privlink" / "dataplane-runtime.json"
        steps = []
        for argv in (
            ["status"],
            ["sandbox", "inject", "targets-down"],
            ["sandbox", "clear"],
            ["connections", "accept", "vpce-00000000000000000"],
            ["connections", "reject", "vpce-00000000000000000"],
            ["up"],
            ["down", "--yes"],
        ):
            if argv[0] == "down":  # `up` replaced it with its own data plane's: forge it again
                mine = json.loads(runtime_file.read_text())
                steps.append({"argv": ["(up's own data plane)"], "pid": mine["pid"]})
            runtime_file.write_text(json.dumps(record_for(case, project)), encoding="utf-8")
            started = time.monotonic()
            code, err = run(project, *argv)
            steps.append(
                {
                    "argv": argv,
                    "code": code,
                    "stderr": err,
                    "sleep_alive": alive(sleeper.pid, sleeper_seen.start_time),
                    "other_alive": alive(other_runtime["pid"], other_runtime["start_time"]),
                    "signals": list(received),
                    "seconds": round(time.monotonic() - started, 2),
                }
            )
        left = [pid for pid, _ in procfs.dataplanes_naming(str(runtime_file.resolve()))]
        return {"steps": steps, "dataplanes_left": left}

    # the cases side by side, each in a forked worker (in this process group: kill(0) reaches them)
    workers = {}
    for case in CASES:
        pid = os.fork()
        if pid == 0:
            try:
                out = json.dumps(one_case(case))
            except BaseException as exc:  # noqa: BLE001 - reported, never returned into the runner
                out = json.dumps({"error": repr(exc)})
            (work / f"result{case}.json").write_text(out, encoding="utf-8")
            os._exit(0)
        workers[pid] = case
    for pid in workers:
        os.waitpid(pid, 0)
    results = {case: json.loads((work / f"result{case}.json").read_text()) for case in CASES}
    results["runner_signals"] = list(received)

    code, err = run(other, "down", "--yes")
    results["other-down"] = {"code": code, "stderr": err}
    with contextlib.suppress(OSError):
        sleeper.kill()
    return results


if __name__ == "__main__":
    assert os.getpid() == 1, "run me as pid 1 of a new PID namespace"
    # A process group spans PID namespaces: without a session of its own, kill(0) from a command here
    # would reach unshare and whatever started it outside. Now the group holds this namespace only.
    os.setsid()
    print(json.dumps(main_(Path(sys.argv[1]), Path(sys.argv[2]))))
