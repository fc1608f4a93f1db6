"""The probe's steps with injected resolver and connector (no sockets): connects run at once, each
within the connect timeout, and a connect that times out says which AWS symptom it stands for."""

from __future__ import annotations

import socket
import threading

from privlink.probe import CONNECT_TIMEOUT, DROPPED, run_probe


def resolver(*addresses: str):
    return lambda name, timeout: list(addresses)


def test_every_address_is_connected_at_once_within_the_connect_timeout():
    both = threading.Barrier(2, timeout=2)  # broken unless the two connects overlap
    seen: list[tuple[str, float]] = []

    def dropped(address: str, port: int, timeout: float) -> socket.socket:
        seen.append((address, timeout))
        both.wait()
        raise TimeoutError("timed out")

    report = run_probe(
        "hello.internal.company", 8080, resolver=resolver("10.0.0.1", "10.0.0.2"), connector=dropped
    )
    assert sorted(seen) == [("10.0.0.1", CONNECT_TIMEOUT), ("10.0.0.2", CONNECT_TIMEOUT)]
    assert report.failed_step == "connect"
    assert report.steps[1].detail == (f"10.0.0.1:8080: timed out; 10.0.0.2:8080: timed out ({DROPPED})")
    assert DROPPED.startswith("on AWS: packets dropped")
    assert "security group" in DROPPED and "not accepted" in DROPPED and "authorization" in DROPPED


def test_a_refused_connect_is_not_called_dropped_and_its_socket_is_not_leaked():
    opened: list[socket.socket] = []

    def half(address: str, port: int, timeout: float) -> socket.socket:
        if address == "10.0.0.2":
            raise ConnectionRefusedError
        opened.append(socket.socket())
        return opened[-1]

    report = run_probe(
        "hello.internal.company",
        8080,
        resolver=resolver("10.0.0.1", "10.0.0.2"),
        connector=half,
        connect_timeout=0.5,
    )
    assert report.steps[1].detail == "10.0.0.2:8080: connection refused"
    assert [s.fileno() for s in opened] == [-1]  # closed
