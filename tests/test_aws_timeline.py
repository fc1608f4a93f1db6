"""bench/aws_timeline.py: `up` on the fake AWS on a virtual clock, with the plan's latencies."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

SPEC = importlib.util.spec_from_file_location(
    "aws_timeline", Path(__file__).resolve().parents[1] / "bench" / "aws_timeline.py"
)
timeline = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(timeline)


def test_the_baseline_is_the_seed_demos_order_with_the_same_table():
    assert (
        timeline.baseline_seconds() == 5 + (30 + 180 + 10 + 20) + 30 + max(90 + 10, 60 + 2 * 300 + 10) == 945
    )


@pytest.mark.timeout(120)
def test_the_demo_meets_its_target_and_matches_the_plans_expectation(monkeypatch, capsys):
    monkeypatch.setattr(timeline, "isolate_from_aws", lambda: None)  # the aws conftest's env is not here
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
    assert timeline.main(["--spec", "demo"]) == 0
    figures = {f["figure"]: f for f in map(json.loads, capsys.readouterr().out.splitlines())}
    wall = figures["aws.up.simulated_seconds"]["value"]
    expected = figures["aws.up.expected_seconds"]["value"]
    assert expected == 700  # the network (30 s) and the Client VPN chain (670 s)
    assert expected <= wall <= expected + 5  # the deployer's 5 s polls are the only slack
    ratio = figures["aws.up.critical_path_ratio"]
    assert ratio["value"] == round(wall / 945, 3) <= 0.78
    assert figures["aws.up.expected_seconds"]["critical_path"][:2] == [
        "deploy:privlink-hello-network-dev",
        "deploy:privlink-hello-vpn-dev",
    ]
