"""What a sandbox leaves behind: data-plane processes and loopback sockets, read from /proc (Linux).

A unique module name (not a conftest) so any test folder can import it.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import signal
import socket
import struct
import time
from pathlib import Path

DATAPLANE_MODULE = "privlink.targets.local.dataplane"
TCP_LISTEN = "0A"


def dataplane_pids(state_dir: Path) -> list[int]:
    """Live data-plane processes started for `state_dir` (their --config lies inside it)."""
    needle = str(Path(state_dir).resolve() / "dataplane.json").encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            state = (entry / "stat").read_text().rpartition(")")[2].split()[0]
        except OSError:
            continue
        if DATAPLANE_MODULE.encode() in cmdline and needle in cmdline.split(b"\0") and state != "Z":
            found.append(int(entry.name))
    return sorted(found)


def kill_dataplanes(state_dir: Path) -> list[int]:
    """SIGKILL the data planes of `state_dir` (a finalizer's last resort); the pids it killed."""
    pids = dataplane_pids(state_dir)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    for pid in pids:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)  # reap it when it is our child
    return pids


def wait_until_dead(pid: int, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
        except OSError:
            return
        if state == "Z":
            return
        assert time.monotonic() < deadline, f"process {pid} is still alive"
        time.sleep(0.02)


def _sockets(table: str) -> list[tuple[str, int, str]]:
    """(ip, port, state) of every IPv4 socket in /proc/net/<table>."""
    rows = []
    with open(f"/proc/net/{table}", encoding="ascii") as handle:
        next(handle)
        for line in handle:
            fields = line.split()
            address, port = fields[1].split(":")
            ip = socket.inet_ntoa(struct.pack("<I", int(address, 16)))
            rows.append((ip, int(port, 16), fields[3]))
    return rows


def bound_in(block: str | None, extra: set[tuple[str, int]] = frozenset()) -> list[str]:
    """Listening TCP and bound UDP sockets in the loopback `block`, or at one of the `extra` addresses."""
    net = ipaddress.IPv4Network(block) if block else None

    def wanted(ip: str, port: int) -> bool:
        return (net is not None and ipaddress.IPv4Address(ip) in net) or (ip, port) in extra

    found = [
        f"tcp {ip}:{port}" for ip, port, state in _sockets("tcp") if state == TCP_LISTEN and wanted(ip, port)
    ]
    found += [f"udp {ip}:{port}" for ip, port, _ in _sockets("udp") if wanted(ip, port)]
    return found


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def soft_nofile_limit(pid: int) -> int:
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max open files"):
            value = line.split()[3]
            return -1 if value == "unlimited" else int(value)
    raise AssertionError(f"no open-file limit for {pid}")
