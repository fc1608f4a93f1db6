"""What `/proc` says about processes (Linux): the facts `identity.judge` decides on.

A system without `/proc` shows every process as gone, so privlink never signals there on trust.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from privlink.targets.local.dataplane.identity import GONE, Observed, names_runtime, parse_cmdline, parse_stat

PROC = Path("/proc")


def observe(pid: int, proc: Path = PROC) -> Observed:
    """`/proc/<pid>` now; `GONE` for a pid that is not above 1 (never read) or cannot be read."""
    if type(pid) is not int or pid <= 1:
        return GONE
    try:
        stat = parse_stat((proc / str(pid) / "stat").read_text(encoding="utf-8", errors="replace"))
        cmdline = parse_cmdline((proc / str(pid) / "cmdline").read_bytes())
    except OSError:
        return GONE
    if stat is None:
        return GONE
    state, start_time = stat
    return Observed(exists=True, zombie=state in ("Z", "X"), start_time=start_time, cmdline=cmdline)


def own_identity(runtime_path: str | os.PathLike[str], proc: Path = PROC) -> dict[str, Any]:
    """What a data plane writes about itself into its runtime file (see `identity`)."""
    me = observe(os.getpid(), proc)
    return {
        "pid": os.getpid(),
        "start_time": me.start_time,
        "cmdline": list(me.cmdline) if me.cmdline is not None else None,
        "project": str(Path(runtime_path).resolve().parent),
    }


def dataplanes_naming(runtime_path: str, proc: Path = PROC) -> Iterator[tuple[int, Observed]]:
    """Live processes whose command line is a data plane with `--runtime runtime_path` exactly."""
    try:
        entries = list(proc.iterdir())
    except OSError:
        return
    for entry in entries:
        if not entry.name.isdigit():
            continue
        seen = observe(int(entry.name), proc)
        if seen.exists and not seen.zombie and names_runtime(seen.cmdline or (), runtime_path):
            yield int(entry.name), seen
