"""One mutating command per project at a time: an exclusive `flock` on `.privlink/lock`.

The holder writes what it is (`<pid> <command>`) into the file, so a command that waits for it can
name it; a lock the kernel holds dies with its process, so a crash never leaves the project locked.
`down` never deletes it. Only a command that created the file and then failed (bad input creates
nothing) removes it again, still holding it; a command that waited on the removed file notices, once
it gets the lock, that the file is no longer the one at the path, and opens that one instead.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from privlink.errors import PrivlinkError
from privlink.statefile import PRIVATE_FILE, check_state_dir, ensure_private_dir

LOCK_FILE = "lock"
DEFAULT_WAIT = 30.0  # seconds a second command waits for the first before it gives up
POLL = 0.05


def holder_text(text: str) -> str:
    """`privlink up (pid 1234)` from the lock file's `1234 privlink up`; what is known otherwise."""
    pid, _, command = text.strip().partition(" ")
    if not pid.isdigit() or not command:
        return "another privlink command"
    return f"`{command}` (pid {pid})"


def _read_holder(fd: int) -> str:
    with contextlib.suppress(OSError):
        return holder_text(os.pread(fd, 4096, 0).decode("utf-8", "replace"))
    return "another privlink command"


def _try_lock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _is_current(fd: int, path: Path) -> bool:
    """True when `fd` is still the file at `path` (a failed command may have removed it)."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return False
    mine = os.fstat(fd)
    return (st.st_dev, st.st_ino) == (mine.st_dev, mine.st_ino)


def _open(path: Path) -> tuple[int, bool]:
    """The lock file opened (created 0600 when missing), and whether this call created it."""
    ensure_private_dir(path.parent)
    try:
        return os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, PRIVATE_FILE), True
    except FileExistsError:
        return os.open(path, os.O_RDWR), False


@contextlib.contextmanager
def project_lock(
    state_dir: Path,
    command: str,
    wait: float = DEFAULT_WAIT,
    progress: Callable[[str], None] = lambda _line: None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> Iterator[None]:
    """Hold `state_dir/lock` exclusively while the block runs; wait up to `wait` s for a holder.

    A state directory that is a file is bad input (exit 2) before anything is created. When the
    holder keeps it longer, a `PrivlinkError` (exit 1) names the holder's command and pid. When the
    block fails, the lock file and state directory this call created are removed again (when nothing
    else is in them): bad input creates nothing.
    """
    check_state_dir(state_dir)
    made_dir = not state_dir.exists()
    path = state_dir / LOCK_FILE
    deadline = clock() + wait
    waiting = False
    made_file = False
    while True:
        fd, created = _open(path)
        made_file = made_file or created
        try:
            locked = _try_lock(fd)
            if locked and _is_current(fd, path):
                break
            holder = _read_holder(fd)
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)
        if locked:  # a file a failed command removed meanwhile: open the one at the path now
            continue
        if clock() >= deadline:
            raise PrivlinkError(
                str(path),
                f"held by {holder}: one command changes a project at a time",
                "wait for it to finish, then run this command again",
            )
        if not waiting:
            progress(f"privlink: waiting for {holder} to finish (up to {wait:g} s)")
            waiting = True
        sleep(POLL)
    ok = False
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()} {command}\n".encode(), 0)
        yield
        ok = True
    finally:
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)  # the holder's line goes with the holder
        if not ok and made_file:
            _remove_unused(state_dir, path, made_dir)
        os.close(fd)  # releases the lock


def _remove_unused(state_dir: Path, path: Path, made_dir: bool) -> None:
    """Remove the lock file (and `.privlink/`, when this command made it and nothing else is in it).

    Still holding the lock, so no command is inside; one that opened the file meanwhile finds it is
    no longer the file at the path once it gets the lock, and opens the new one (`_is_current`).
    """
    with contextlib.suppress(OSError):
        path.unlink()
        if made_dir and not any(state_dir.iterdir()):
            state_dir.rmdir()
