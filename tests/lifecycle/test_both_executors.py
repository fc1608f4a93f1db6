"""One plan, two executors: the sandbox runs it one step at a time, the aws target in threads
against the fake AWS; both orders of effects are valid orders of the same plan, with the same
effects."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import yaml
from moto import mock_aws

from privlink.spec import validate_spec
from privlink.spec.demo import demo_spec_text
from privlink.targets.aws.target import AwsTarget
from privlink.targets.local.target import LocalTarget

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "targets" / "aws"))
from fake_aws import FakeWorld  # noqa: E402  (the one fake AWS the aws tests and the bench use)

PROD, DEV = "111111111111", "222222222222"


@pytest.fixture
def aws_env(monkeypatch):
    """No test may pick up real credentials or profiles from this machine."""
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def spec_with_two_vpns():
    data = yaml.safe_load(demo_spec_text())
    data["accounts"] = {
        "prod": {"profile": "prod", "account_id": PROD},
        "dev": {"profile": "dev", "account_id": DEV},
    }
    second = dict(data["consumers"][0], name="qa", vpc={"cidr": "10.30.0.0/16", "azs": 2})
    data["consumers"].append(second)  # same account and region: the two VPNs run one after the other
    return validate_spec(data)


class Clock:
    def __init__(self):
        self.t = 0.0

    def now(self):
        return self.t

    def sleep(self, seconds):
        self.t += max(seconds, 1.0)


# what each step's effect is, as the fake AWS records calls: (operation, the stack it names)
def aws_effects(world, plan):
    first_seen = {}
    for call in world.calls:
        stack = call.params.get("StackName", "")
        stack = stack.split("/")[1] if stack.startswith("arn:") else stack
        if call.operation == "ExecuteChangeSet":
            step = f"deploy:{stack}"
            if step not in first_seen and any(s.id == step for s in plan.steps):
                first_seen[step] = len(first_seen)
        elif call.operation == "ImportCertificate":
            # the import steps' certificates are tagged with their consumer
            tags = {t["Key"]: t["Value"] for t in call.params.get("Tags", [])}
            step = f"import-certificates:{tags.get('privlink:consumer')}"
            first_seen.setdefault(step, len(first_seen))
    return sorted(first_seen, key=first_seen.get)


@pytest.mark.timeout(60)
def test_one_plan_runs_through_both_executors_in_valid_orders(tmp_path, aws_env):
    spec = spec_with_two_vpns()
    local = LocalTarget(spec, tmp_path / "local" / ".privlink")
    world = local.load_world()
    local._prepare_accounts(world)
    plan = local.lifecycle(world)  # the plan, built once (from the sandbox's facts)
    try:
        local_log = local.run(plan, world, lambda line: None)
        status = local.status()
    finally:
        local.down()
    assert [c["endpoint_state"] for c in status["consumers"]] == ["available", "available"]

    with mock_aws():  # ACM (certificate import) is moto's; CloudFormation and EC2 the fake's
        fake = FakeWorld({"prod": PROD, "dev": DEV})
        clock = Clock()
        aws = AwsTarget(
            spec,
            tmp_path / "aws" / ".privlink",
            session_factory=fake.session_factory,
            sleep=clock.sleep,
            clock=clock.now,
            poll_delay=0.01,
        )
        aws_log = aws.run(plan, aws.facts(aws.stacks()), lambda line: None)
        report = aws.status()
    assert [c["endpoint_state"] for c in report["consumers"]] == ["available", "available"]

    ids = sorted(s.id for s in plan.steps)
    assert sorted(local_log.done()) == sorted(aws_log.done()) == ids  # the same effects
    assert local_log.done() == [s.id for s in plan.order()]  # one at a time, in the plan's order
    assert plan.is_valid_order(local_log.done())
    assert plan.is_valid_order(aws_log.done())
    # the aws effects as AWS saw them (API calls) also respect the plan, each after its dependencies
    seen = aws_effects(fake, plan)
    position = {step: i for i, step in enumerate(seen)}
    for step in plan.steps:
        for dep in step.after:
            if step.id in position and dep in position:
                assert position[dep] < position[step.id], (dep, step.id, seen)
    assert {"deploy:privlink-hello-vpn-dev", "deploy:privlink-hello-vpn-qa"} <= set(position)
    assert "deploy:privlink-hello-vpn-dev" in plan.step("deploy:privlink-hello-vpn-qa").after
