from __future__ import annotations

import json
import stat

import pytest

from privlink.cli import main
from privlink.errors import DeployFailed
from privlink.lifecycle.model import LifecyclePlan, Step, StepKind
from privlink.spec.demo import demo_spec_text
from privlink.targets.base import ActionResult, Connection, PlannedChange, PlanReport, Target
from privlink_testing import run_privlink


class RecordingTarget(Target):
    """A Target that records what the CLI asked of it (the CLI is target-agnostic)."""

    name = "recording"
    calls: list[tuple] = []
    fail_up = False

    def plan(self, progress=None):
        progress("comparing")
        deploy = "deploy:privlink-hello-producer"
        plan = LifecyclePlan(
            "up",
            (
                Step(
                    "import-certificates:dev",
                    StepKind.IMPORT_CERTIFICATES,
                    "dev",
                    "eu-central-1",
                    expected_seconds=5,
                ),
                Step(
                    deploy,
                    StepKind.DEPLOY,
                    "prod",
                    "eu-central-1",
                    stack_name="privlink-hello-producer",
                    expected_seconds=230,
                    why="the producer",
                ),
                Step(
                    "wait-healthy",
                    StepKind.WAIT_HEALTHY,
                    "prod",
                    "eu-central-1",
                    after=(deploy,),
                    expected_seconds=30,
                    measured_from=deploy,
                ),
            ),
        )
        change = PlannedChange("privlink-hello-producer", "Add", "Service", "AWS::EC2::VPCEndpointService")
        return PlanReport(plan, {deploy: [change]})

    def up(self, progress=None):
        self.calls.append(("up",))
        progress("privlink-hello-producer: creating")
        if self.fail_up:
            raise DeployFailed("privlink-hello-producer", "ROLLBACK_COMPLETE; Service: denied", "fix it")
        return self.status()

    def status(self):
        return {
            "target": "recording",
            "stacks": [
                {
                    "name": "privlink-hello-producer",
                    "account": "prod",
                    "region": "eu-central-1",
                    "status": "CREATE_COMPLETE",
                }
            ],
            "service_name": "com.amazonaws.vpce.eu-central-1.vpce-svc-0a1b2c3d4e5f60718",
            "consumers": [],
            "stack_sets": [
                {
                    "name": "privlink-hello-fleet",
                    "account": "prod",
                    "region": "eu-central-1",
                    "status": "ACTIVE",
                    "instances": [
                        {"account": "333333333333", "region": "eu-central-1", "status": "OUTDATED"}
                    ],
                }
            ],
        }

    def down(self, progress=None):
        self.calls.append(("down",))

    def connections(self):
        return [
            Connection(
                "vpce-0aaaaaaaaaaaaaaa1",
                "222222222222",
                "pendingAcceptance",
                "2026-01-01T00:00:00",
                "eu-central-1",
                "dev",
            )
        ]

    def accept(self, endpoint_ids):
        self.calls.append(("accept", tuple(endpoint_ids)))
        return ActionResult(
            succeeded=endpoint_ids[:1], failed={e: "InvalidState: rejected" for e in endpoint_ids[1:]}
        )

    def reject(self, endpoint_ids):
        self.calls.append(("reject", tuple(endpoint_ids)))
        return ActionResult(succeeded=list(endpoint_ids))

    def vpn_config(self, consumer):
        self.calls.append(("vpn", consumer))
        return "client\n<key>\nSECRET\n</key>\n"


@pytest.fixture
def cli(tmp_path, monkeypatch, capsys):
    (tmp_path / "privlink.yaml").write_text(demo_spec_text(), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    RecordingTarget.calls = []
    RecordingTarget.fail_up = False
    monkeypatch.setattr(
        "privlink.targets.base.make_target",
        lambda spec, state_dir, kind=None: RecordingTarget(spec, state_dir),
    )

    def run(*args):
        with pytest.raises(SystemExit) as info:
            main.run(list(args))
            raise SystemExit(0)
        out, err = capsys.readouterr()
        return info.value.code or 0, out, err

    return run


def test_plan_text_and_json(cli):
    code, out, err = cli("plan")
    assert code == 0 and "VPCEndpointService" in out and "comparing" in err
    assert "expected wall time of up: 260 s (4 min 20 s)" in out
    assert "critical path: deploy:privlink-hello-producer -> wait-healthy" in out
    code, out, _ = cli("plan", "--output", "json")
    plan = json.loads(out)
    assert plan["schema"] == "privlink/plan/v1"
    assert (plan["action"], plan["expected_seconds"]) == ("up", 260)
    assert plan["critical_path"] == ["deploy:privlink-hello-producer", "wait-healthy"]
    assert [s["id"] for s in plan["steps"]] == [
        "import-certificates:dev",
        "deploy:privlink-hello-producer",
        "wait-healthy",
    ]
    producer = plan["steps"][1]
    assert producer["after"] == [] and producer["expected_finish"] == 230
    assert producer["changes"] == [
        {
            "stack": "privlink-hello-producer",
            "action": "Add",
            "logical_id": "Service",
            "resource_type": "AWS::EC2::VPCEndpointService",
        }
    ]


def test_up_prints_status_and_progress_goes_to_stderr(cli):
    code, out, err = cli("up", "--output", "json")
    assert code == 0 and json.loads(out)["stacks"][0]["status"] == "CREATE_COMPLETE"
    assert "creating" in err and "creating" not in out
    RecordingTarget.fail_up = True
    code, out, err = cli("up")
    assert code == 1 and "privlink: error: privlink-hello-producer: ROLLBACK_COMPLETE" in err
    assert "Traceback" not in err


def test_status_text_has_tables(cli):
    code, out, _ = cli("status")
    assert code == 0 and "CREATE_COMPLETE" in out and "vpce-svc-0a1b2c3d4e5f60718" in out
    assert "privlink-hello-fleet" in out and "333333333333/eu-central-1 OUTDATED" in out


def test_connections_list_accept_reject_and_bad_input(cli):
    code, out, _ = cli("connections", "--output", "json")
    assert code == 0 and json.loads(out)[0]["consumer"] == "dev"
    code, out, err = cli("connections", "accept", "vpce-0aaaaaaaaaaaaaaa1", "vpce-0bbbbbbbbbbbbbbb2")
    assert code == 1 and "accepted vpce-0aaaaaaaaaaaaaaa1" in out and "InvalidState" in err
    code, out, _ = cli("connections", "reject", "vpce-0aaaaaaaaaaaaaaa1")
    assert code == 0 and ("reject", ("vpce-0aaaaaaaaaaaaaaa1",)) in RecordingTarget.calls
    code, _, err = cli("connections", "accept")
    assert code == 2 and "needs endpoint IDs" in err
    code, _, err = cli("connections", "accept", "vpce-svc-0a1b2c3d4e5f60718")
    assert code == 2 and "not an endpoint ID" in err
    code, _, err = cli("connections", "approve", "vpce-0aaaaaaaaaaaaaaa1")
    assert code == 2 and "not one of list, accept, reject" in err


def test_down_needs_yes_when_not_on_a_terminal(cli):
    code, _, err = cli("down")
    assert code == 2 and "--yes" in err and ("down",) not in RecordingTarget.calls
    code, _, _ = cli("down", "--yes")
    assert code == 0 and ("down",) in RecordingTarget.calls


def test_vpn_config_writes_0600_and_never_prints_the_key(cli, tmp_path):
    code, out, err = cli("vpn-config", "--out", str(tmp_path / "dev.ovpn"))
    assert code == 0 and ("vpn", "dev") in RecordingTarget.calls
    assert stat.S_IMODE((tmp_path / "dev.ovpn").stat().st_mode) == 0o600
    assert "SECRET" not in out + err
    code, _, err = cli("vpn-config", "--out", str(tmp_path / "missing" / "x.ovpn"))
    assert code == 2 and "does not exist" in err


def test_down_refusal_as_a_user_sees_it(tmp_path):
    (tmp_path / "privlink.yaml").write_text(demo_spec_text(), encoding="utf-8")
    result = run_privlink("down", cwd=tmp_path, input="")
    assert result.returncode == 2, result.stderr
    assert "privlink: error: --yes:" in result.stderr and "hint: pass --yes" in result.stderr
