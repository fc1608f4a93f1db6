"""The benchmark's wrk output parsing and /proc readers (no load in tests)."""

from __future__ import annotations

import importlib.util
import os
import time
from pathlib import Path

SPEC = importlib.util.spec_from_file_location(
    "bench_run", Path(__file__).resolve().parents[1] / "bench" / "run.py"
)
bench = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(bench)

WRK = """Running 2s test @ http://127.0.0.1:8080/
  2 threads and 50 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   612.50us    1.10ms  21.62ms   95.12%
  Latency Distribution
     50%  333.00us
     75%  501.00us
     90%  900.00us
     99%    3.88ms
  287688 requests in 2.00s, 23.05MB read
Requests/sec: 143844.12
Transfer/sec:     11.52MB
"""


def test_parse_wrk_reads_rps_throughput_and_percentiles():
    figures = bench.parse_wrk(WRK)
    assert figures == {
        "rps": 143844.12,
        "requests": 287688.0,
        "mib_s": 11.52,
        "p50_ms": 0.333,
        "p99_ms": 3.88,
    }
    assert bench.parse_wrk("unable to connect to 127.0.0.1:1 Connection refused") == {}


def test_ratio_is_none_when_a_side_is_missing():
    assert bench.ratio({"rps": 10.0}, {"rps": 4.0}, "rps") == 2.5
    assert bench.ratio({}, {"rps": 4.0}, "rps") is None


def test_proc_readers_see_this_process_and_nothing_for_a_missing_one():
    before = bench.cpu_seconds(os.getpid())
    end = time.process_time() + 0.05
    while time.process_time() < end:  # burn 50 ms of CPU
        pass
    assert bench.cpu_seconds(os.getpid()) > before
    assert bench.peak_rss_mib(os.getpid()) > 1
    missing = 2**22 + 1  # above the largest pid_max
    assert bench.cpu_seconds(missing) is None
    assert bench.peak_rss_mib(missing) is None
