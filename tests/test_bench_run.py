"""bench/run.py's pure parts and /proc readers (the load runs themselves are not tests)."""

from __future__ import annotations

import importlib.util
import os
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "bench" / "run.py"
spec = importlib.util.spec_from_file_location("bench_run", BENCH)
bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench)

WRK_NEWCONN = """\
Running 2s test @ http://127.30.10.1:8080/
  2 threads and 50 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     4.31ms    3.02ms  31.84ms   71.26%
    Req/Sec     4.36k   512.11     5.61k    70.00%
  Latency Distribution
     50%    3.91ms
     75%    5.52ms
     90%    7.80ms
     99%   15.40ms
  17412 requests in 2.00s, 2.19MB read
Requests/sec:   8705.87
Transfer/sec:      1.09MB
"""


def test_parse_wrk_reads_rate_count_latency_and_transfer():
    assert bench.parse_wrk(WRK_NEWCONN) == {
        "rps": 8705.87,
        "requests": 17412.0,
        "mib_s": 1.09,
        "p50_ms": 3.91,
        "p99_ms": 15.40,
    }
    assert bench.parse_wrk("unable to connect to 127.0.0.1:1 Connection refused") == {}


def test_proc_readers_see_this_process_and_nothing_for_a_missing_one():
    before = bench.cpu_seconds(os.getpid())
    end = time.process_time() + 0.05
    while time.process_time() < end:  # burn 50 ms of CPU
        pass
    assert bench.cpu_seconds(os.getpid()) > before
    assert bench.peak_rss_mib(os.getpid()) > 1
    missing = 2**22 + 1  # above the default pid_max
    assert bench.cpu_seconds(missing) is None
    assert bench.peak_rss_mib(missing) is None
