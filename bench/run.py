"""privlink benchmark: prints one JSON line per figure. Loopback only; everything it starts is stopped.

    python bench/run.py [--quick] [--only NAME]

Paths measured side by side against the same fast HTTP target (bench/target_server.py):
  direct   client -> target
  sandbox  client -> endpoint ENI listener -> NLB node -> target (the local target's data plane)
  haproxy  client -> haproxy frontend -> haproxy frontend -> target (the same two TCP hops), if installed
  haproxy_one_hop  client -> haproxy frontend -> target: one proxy hop in C, the reference for what
           any proxy in the path costs against direct on this machine (the sandbox proxies once:
           the ENI listener's flow goes straight to the target the NLB node chose)
Load comes from wrk (keep-alive, new connection per request, bulk transfer; per mode the paths run
back to back, same wrk settings); lines say "skipped" when a tool is missing. After the load runs,
each proxy's peak resident memory (VmHWM of the data-plane process and of the HAProxy process);
per request mode, each proxy process's CPU time per request.
Also: `privlink --help` time, local `up`/`down` wall time, render + plan for 200 consumers. Targets
from the issue are printed beside the figures; nothing here asserts them.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
sys.path.insert(0, str(SRC))
ENV = {**os.environ, "PYTHONPATH": str(SRC)}


def emit(figure: str, value=None, unit: str = "", **extra) -> None:
    line = {"figure": figure, "value": value, "unit": unit, **extra}
    print(json.dumps(line), flush=True)


@contextmanager
def process(args: list[str], **kwargs) -> Iterator[subprocess.Popen]:
    proc = subprocess.Popen(args, start_new_session=True, **kwargs)  # noqa: S603
    try:
        yield proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


@contextmanager
def target_server() -> Iterator[int]:
    with process(
        [sys.executable, str(ROOT / "bench" / "target_server.py")], stdout=subprocess.PIPE, text=True, env=ENV
    ) as proc:
        yield int(proc.stdout.readline())


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def peak_rss_mib(pid: int) -> float | None:
    """VmHWM (peak resident set) of a live process in MiB, from /proc (None elsewhere)."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return None


@contextmanager
def haproxy_chain(target_port: int) -> Iterator[tuple[int, int, int] | None]:
    """Two chained `mode tcp` frontends, and a one-hop frontend, in one HAProxy.

    Yields (two-hop entry port, one-hop entry port, pid).
    """
    if shutil.which("haproxy") is None:
        yield None
        return
    entry, middle, one_hop = free_port(), free_port(), free_port()
    config = f"""
global
    maxconn 4000
    nbthread 1
defaults
    mode tcp
    timeout connect 5s
    timeout client 60s
    timeout server 60s
frontend hop1
    bind 127.0.0.1:{entry}
    default_backend to_hop2
backend to_hop2
    server s1 127.0.0.1:{middle}
frontend hop2
    bind 127.0.0.1:{middle}
    default_backend to_target
backend to_target
    server t1 127.0.0.1:{target_port}
frontend one_hop
    bind 127.0.0.1:{one_hop}
    default_backend to_target
"""
    with tempfile.NamedTemporaryFile("w", suffix=".cfg", delete=False) as handle:
        handle.write(config)
    try:
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
        with process(["haproxy", "-f", handle.name, "-db"], **quiet) as proc:
            wait_listening(entry)
            wait_listening(one_hop)
            yield entry, one_hop, proc.pid
    finally:
        os.unlink(handle.name)


def wait_listening(port: int, host: str = "127.0.0.1", timeout: float = 10) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection((host, port), timeout=0.5).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


@contextmanager
def sandbox_path(target_port: int) -> Iterator[tuple[str, int, int]]:
    """The local target with the benchmark server as its target; yields an ENI address, data-plane pid."""
    import yaml

    from privlink.spec import parse_spec
    from privlink.spec.demo import demo_spec_text
    from privlink.targets.local.target import LocalTarget

    data = yaml.safe_load(demo_spec_text())
    data["producer"]["service"].update(app="none", targets=[{"address": f"127.0.0.1:{target_port}"}])
    data["consumers"][0].pop("vpn")
    with tempfile.TemporaryDirectory() as tmp:
        target = LocalTarget(parse_spec(yaml.safe_dump(data)), Path(tmp) / ".privlink")
        try:
            status = target.up()
            host, port = status["consumers"][0]["addresses"][0].split(":")
            yield host, int(port), target.runtime()["pid"]
        finally:
            target.down()


WRK_RPS = re.compile(r"Requests/sec:\s+([\d.]+)")
WRK_COUNT = re.compile(r"(\d+) requests in")
WRK_TRANSFER = re.compile(r"Transfer/sec:\s+([\d.]+)([KMG]?B)")
WRK_PCT = re.compile(r"^\s+(50|99)(?:\.000)?%\s+([\d.]+)(us|ms|s)", re.M)
UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}
BYTES = {"B": 1 / 2**20, "KB": 1 / 1024, "MB": 1.0, "GB": 1024.0}


def parse_wrk(text: str) -> dict[str, float]:
    """Requests/s, requests, MiB/s and p50/p99 latency (ms) from `wrk --latency` output."""
    out: dict[str, float] = {}
    if m := WRK_RPS.search(text):
        out["rps"] = float(m.group(1))
    if m := WRK_COUNT.search(text):
        out["requests"] = float(m.group(1))
    if m := WRK_TRANSFER.search(text):
        out["mib_s"] = float(m.group(1)) * BYTES[m.group(2)]
    for pct, value, unit in WRK_PCT.findall(text):
        out[f"p{pct}_ms"] = float(value) * UNITS[unit]
    return out


def wrk(host: str, port: int, seconds: int, connections: int, path: str = "/", close: bool = False) -> dict:
    """One wrk run (2 threads) against http://host:port/path; `close` sends `Connection: close`."""
    args = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency"]
    if close:
        args += ["-H", "Connection: close"]
    args.append(f"http://{host}:{port}{path}")
    result = subprocess.run(args, capture_output=True, text=True, timeout=seconds + 30)  # noqa: S603
    return parse_wrk(result.stdout)


# mode -> wrk arguments; every path gets the same
MODES = {
    "keepalive": {"connections": 50},
    "newconn": {"connections": 50, "close": True},
    "bulk": {"connections": 4, "path": "/bulk"},
}


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a live process, from /proc (None elsewhere)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rpartition(")")[2].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def load_figures(
    paths: dict[str, tuple[str, int]], seconds: int, pids: dict[str, int]
) -> dict[str, dict[str, dict]]:
    """wrk per mode over every path, the paths of one mode back to back.

    On a small shared machine the load from other processes drifts within seconds; measuring the
    paths of a mode one after the other (rather than all modes of one path, then the next path)
    puts the two sides of each ratio in the same conditions. For the proxies (`pids`) also the CPU
    time the proxy process spent per request, which that drift hardly moves.
    """
    results: dict[str, dict[str, dict]] = {name: {} for name in paths}
    for mode, args in MODES.items():
        for name, (host, port) in paths.items():
            before = cpu_seconds(pids[name]) if name in pids else None
            r = results[name][mode] = wrk(host, port, seconds, **args)
            after = cpu_seconds(pids[name]) if name in pids else None
            if before is not None and after is not None and r.get("requests"):
                r["cpu_us"] = (after - before) / r["requests"] * 1e6
    for name, r in results.items():
        for mode in ("keepalive", "newconn"):
            emit(f"{name}.{mode}.rps", round(r[mode].get("rps", 0.0)), "req/s")
            emit(f"{name}.{mode}.p50", r[mode].get("p50_ms"), "ms")
            emit(f"{name}.{mode}.p99", r[mode].get("p99_ms"), "ms")
            if "cpu_us" in r[mode]:
                emit(f"{name}.{mode}.cpu_per_request", round(r[mode]["cpu_us"], 1), "us")
        emit(f"{name}.bulk.throughput", round(r["bulk"].get("mib_s", 0.0), 1), "MiB/s")
    return results


def ratio(a: dict, b: dict, key: str) -> float | None:
    return round(a[key] / b[key], 2) if a.get(key) and b.get(key) else None


def timed(fn: Callable[[], object], runs: int) -> float:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def cli(*args: str, cwd: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "privlink", *args],
        cwd=cwd,
        env=ENV,
        check=True,  # noqa: S603
        capture_output=True,
        timeout=120,
    )


def bench_cli(quick: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        help_s = timed(lambda: cli("--help", cwd=tmp), 3 if quick else 7)
        emit("cli.help", round(help_s, 3), "s", target="< 0.3")
        cli("init", cwd=tmp)
        ups, downs = [], []
        for _ in range(2 if quick else 3):
            ups.append(timed(lambda: cli("up", cwd=tmp), 1))
            downs.append(timed(lambda: cli("down", "--yes", cwd=tmp), 1))
        emit("local.up", round(statistics.median(ups), 3), "s", target="< 2")
        emit("local.down", round(statistics.median(downs), 3), "s")


def bench_render_plan() -> None:
    import yaml

    from privlink.spec import parse_spec
    from privlink.spec.demo import demo_spec_text
    from privlink.targets.local.target import LocalTarget
    from privlink.templates.render import render_stacks

    data = yaml.safe_load(demo_spec_text())
    base = data["consumers"][0]
    base.pop("vpn")
    # 200 consumer accounts, each allowed by its role ARN (principal); accounts without one take a
    # template parameter each, and CloudFormation caps those (see check_renderable)
    data["consumers"] = [
        dict(base, name=f"c{i}", account=f"acct{i}", principal=f"arn:aws:iam::{10**11 + i}:role/consumer")
        for i in range(200)
    ]
    start = time.perf_counter()
    spec = parse_spec(yaml.safe_dump(data))
    stacks = render_stacks(spec)
    rendered = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as tmp:
        plan = LocalTarget(spec, Path(tmp) / ".privlink").plan()
    total = time.perf_counter() - start
    emit("render.200_consumers", round(rendered, 3), "s", stacks=len(stacks))
    emit("render_plan.200_consumers", round(total, 3), "s", plan_lines=len(plan), target="< 2")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="2 s load runs instead of 5 s")
    parser.add_argument("--only", choices=["load", "cli", "render"], help="one group of figures")
    args = parser.parse_args()
    seconds = 2 if args.quick else 5
    if args.only in (None, "render"):
        bench_render_plan()
    if args.only in (None, "cli"):
        bench_cli(args.quick)
    if args.only not in (None, "load"):
        return
    if shutil.which("wrk") is None:
        emit("load", skipped="wrk is not installed (apt-get install wrk)")
        return
    with target_server() as port, sandbox_path(port) as (host, entry, pid), haproxy_chain(port) as chain:
        paths = {"direct": ("127.0.0.1", port), "sandbox": (host, entry)}
        pids = {"sandbox": pid}
        if chain:
            paths["haproxy"] = ("127.0.0.1", chain[0])
            paths["haproxy_one_hop"] = ("127.0.0.1", chain[1])
            pids["haproxy"] = pids["haproxy_one_hop"] = chain[2]
        results = load_figures(paths, seconds, pids)
        emit("sandbox.peak_rss", peak_rss_mib(pid), "MiB")
        if chain:
            emit("haproxy.peak_rss", peak_rss_mib(chain[2]), "MiB")
    direct, sandbox, haproxy = results["direct"], results["sandbox"], results.get("haproxy")
    emit(
        "ratio.sandbox_vs_direct.keepalive_rps",
        ratio(sandbox["keepalive"], direct["keepalive"], "rps"),
        target=">= 0.5",
    )
    if haproxy is None:
        emit("ratio.sandbox_vs_haproxy", skipped="haproxy is not installed (apt-get install haproxy)")
        return
    for mode, key in (("keepalive", "rps"), ("newconn", "rps"), ("bulk", "mib_s")):
        emit(f"ratio.sandbox_vs_haproxy.{mode}", ratio(sandbox[mode], haproxy[mode], key), target=">= 1.0")
    # context for the sandbox/direct target: what one proxy hop written in C gets here
    one_hop = results["haproxy_one_hop"]["keepalive"]
    emit("ratio.haproxy_one_hop_vs_direct.keepalive_rps", ratio(one_hop, direct["keepalive"], "rps"))
    emit("ratio.sandbox_vs_haproxy_one_hop.keepalive_rps", ratio(sandbox["keepalive"], one_hop, "rps"))


if __name__ == "__main__":
    main()
