"""End to end: a runtime file naming -1, 0, 1, an unrelated process, a recycled pid or another project's
data plane makes no privlink command signal anything but this project's own data plane.

Run inside a PID namespace (`pidns_runner.py` is its pid 1), so a regression that signals every
process (-1) or a process group (0) can only reach the namespace's own processes.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from privlink.spec import parse_spec
from privlink.spec.demo import demo_spec_text
from privlink.targets.local.target import LocalTarget
from privlink_testing import SRC

RUNNER = Path(__file__).with_name("pidns_runner.py")
UNSHARE = ["unshare", "--pid", "--fork", "--mount-proc", "--kill-child"]


def unshare_unavailable() -> str | None:
    """Why a PID namespace cannot be made here, or None when it can."""
    if shutil.which("unshare") is None:
        return "no unshare(1) on this machine"
    try:
        done = subprocess.run([*UNSHARE, "true"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"unshare failed: {exc}"
    if done.returncode != 0:
        return f"cannot make a PID namespace (needs root or user namespaces): {done.stderr.strip()}"
    return None


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> Path:
    """A deployed project (the world, certificates, no data plane yet), copied for each case."""
    root = tmp_path_factory.mktemp("prepared")
    (root / "privlink.yaml").write_text(demo_spec_text(), encoding="utf-8")
    target = LocalTarget(parse_spec(demo_spec_text()), root / ".privlink")
    target.apply_dataplane = lambda world, progress=None: None  # type: ignore[method-assign]
    target.wait_until_serving = lambda progress=None: None  # type: ignore[method-assign]
    target.up()
    # as `up` leaves it: a recorded loopback block (outside the allocator's range: no other sandbox's)
    target.save_meta({**target.meta(), "loopback_block": "127.250.0.0/16"})
    return root


@pytest.mark.timeout(180)
def test_no_command_signals_what_a_forged_runtime_file_names(prepared, tmp_path):
    why = unshare_unavailable()
    if why:
        pytest.skip(why)
    env = {
        "PYTHONPATH": f"{SRC}:{Path(__file__).parents[2]}",
        "PRIVLINK_SANDBOX_TIME_SCALE": "0.1",
        "PATH": "/usr/bin:/bin",
    }
    done = subprocess.run(
        [*UNSHARE, sys.executable, str(RUNNER), str(prepared), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=170,
        env=env,
        start_new_session=True,  # never in pytest's process group, whatever the runner does
    )
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout)
    assert results["runner_signals"] == [], "pid 1 of the namespace got a signal"
    for case in ("-1", "0", "1", "unrelated", "recycled", "other-project"):
        assert "error" not in results[case], results[case]
        steps = [s for s in results[case]["steps"] if "code" in s]
        assert len(steps) == 7
        for step in steps:
            where = f"case {case}: privlink {' '.join(step['argv'])}\n{step['stderr']}"
            assert step["sleep_alive"], f"the unrelated sleep died: {where}"
            assert step["other_alive"], f"another project's data plane died: {where}"
            assert step["signals"] == [], f"the case's worker got {step['signals']}: {where}"
            assert step["code"] in (0, 1, 2), where
            assert "Traceback" not in step["stderr"] and "internal" not in step["stderr"], where
        status, *_, up, down = steps
        assert status["code"] == 0 and up["code"] == 0 and down["code"] == 0, (status, up, down)
        assert (
            "privlink: warning: " in status["stderr"]
            and "dataplane-runtime.json: ignored" in status["stderr"]
        )
        assert "stopped the data plane" in down["stderr"]  # its own, found by its command line
        assert results[case]["dataplanes_left"] == []
    assert "(it names pid -1," in results["-1"]["steps"][0]["stderr"]
    assert "pid was reused" in results["recycled"]["steps"][0]["stderr"]
    assert "written for another project" in results["other-project"]["steps"][0]["stderr"]
    assert results["other-down"]["code"] == 0, results["other-down"]
