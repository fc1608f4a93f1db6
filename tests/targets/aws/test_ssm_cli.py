"""`privlink --target aws test --via ssm` as a user runs it, with the aws target's clients injected
(botocore Stubbers behind a gateway) and time injected: stack outputs -> SSM -> the printed report."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from ssm_fakes import COMMAND_ID, OTHER_INSTANCE, REGION, TEST_INSTANCE, VPC, Aws, healthy_report

from privlink.cli import main
from privlink.probe import ProbeReport, ProbeStep
from privlink.spec.demo import demo_spec_text
from privlink.targets.aws.gateway import Gateway
from privlink.targets.aws.target import AwsTarget

STACK = "privlink-hello-consumer-dev"
STACK_ID = f"arn:aws:cloudformation:{REGION}:111111111111:stack/{STACK}/0b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d"


class InjectedGateway(Gateway):
    """The gateway with its clients made already: (service, account label, region) -> client."""

    def __init__(self, spec, made):
        super().__init__(spec.accounts, default_region=spec.producer.region)
        self.made = made

    def client(self, service, label, region):
        return self.made[(service, label, region)]


@pytest.fixture
def aws():
    fake = Aws()
    yield fake
    fake.assert_done()


@pytest.fixture
def cli(tmp_path, monkeypatch, capsys, aws, clock):
    text = demo_spec_text().replace(
        "    vpn: {client_cidr: 172.16.0.0/22, split_tunnel: true}\n",
        "    vpn: {client_cidr: 172.16.0.0/22, split_tunnel: true}\n    test_instance: {enabled: true}\n",
    )
    assert "test_instance" in text
    (tmp_path / "privlink.yaml").write_text(text, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    cfn, cfn_stub = aws.client("cloudformation")
    made = {
        ("cloudformation", "dev", REGION): cfn,
        ("ssm", "dev", REGION): aws.ssm,
        ("ec2", "dev", REGION): aws.ec2,
    }
    built = []

    def make_target(spec, state_dir, kind=None):
        assert kind == "aws"
        built.append(
            AwsTarget(
                spec, state_dir, gateway=InjectedGateway(spec, made), sleep=clock.sleep, clock=clock.now
            )
        )
        return built[-1]

    monkeypatch.setattr("privlink.targets.base.make_target", make_target)

    def run(*args):
        with pytest.raises(SystemExit) as info:
            main.run(["--target", "aws", *args])
            raise SystemExit(0)
        out, err = capsys.readouterr()
        return info.value.code or 0, out, err

    run.cfn_stub = cfn_stub
    return run


def deployed(cfn_stub, outputs):
    cfn_stub.add_response(
        "describe_stacks",
        {
            "Stacks": [
                {
                    "StackName": STACK,
                    "StackId": STACK_ID,
                    "CreationTime": dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc),
                    "StackStatus": "CREATE_COMPLETE",
                    "Outputs": [{"OutputKey": k, "OutputValue": v} for k, v in outputs.items()],
                }
            ]
        },
        {"StackName": STACK},
    )


def test_text_report_with_the_ssm_step_first(cli, aws):
    deployed(
        cli.cfn_stub, {"VpcId": VPC, "TestInstanceId": TEST_INSTANCE, "EndpointId": "vpce-0123456789abcdef0"}
    )
    aws.agents([TEST_INSTANCE], online={TEST_INSTANCE})
    aws.send(TEST_INSTANCE)
    aws.not_yet(TEST_INSTANCE)
    aws.invocation(TEST_INSTANCE, "Success", stdout=healthy_report(), code=0)
    code, out, err = cli("test", "--via", "ssm")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "privlink test: hello.internal.company:8080 from consumer dev (via ssm)"
    assert lines[1].split()[:2] == ["ok", "ssm"]
    assert lines[1].endswith(f"command {COMMAND_ID} on {TEST_INSTANCE}: Success")
    assert [line.split()[1] for line in lines[2:5]] == ["resolve", "connect", "http"]
    assert lines[-1] == "test passed"
    assert err == ""


def test_json_report(cli, aws):
    deployed(cli.cfn_stub, {"VpcId": VPC, "TestInstanceId": TEST_INSTANCE})
    aws.agents([TEST_INSTANCE], online={TEST_INSTANCE})
    aws.send(TEST_INSTANCE)
    aws.invocation(TEST_INSTANCE, "Success", stdout=healthy_report(), code=0)
    code, out, _ = cli("test", "--via", "ssm", "--output", "json")
    assert code == 0
    data = json.loads(out)
    assert data["schema"] == "privlink/test/v1" and data["ok"] is True and data["failed"] == []
    [probe] = data["probes"]
    assert probe["consumer"] == "dev" and probe["ok"] is True and probe["via"] == "ssm"
    assert [s["name"] for s in probe["steps"]] == ["ssm", "resolve", "connect", "http"]
    assert probe["json"] == {"message": "Hello from provider"}


def test_a_failing_remote_probe_exits_1_and_names_the_step(cli, aws):
    remote = ProbeReport(name="hello.internal.company", port=8080, via="ssm")
    remote.steps = [
        ProbeStep("resolve", False, 3.0, "the system resolver cannot resolve hello.internal.company")
    ]
    deployed(cli.cfn_stub, {"VpcId": VPC, "TestInstanceId": TEST_INSTANCE})
    aws.agents([TEST_INSTANCE], online={TEST_INSTANCE})
    aws.send(TEST_INSTANCE)
    aws.invocation(TEST_INSTANCE, "Success", stdout=json.dumps(remote.to_dict()), code=0)
    code, out, err = cli("test", "--via", "ssm")
    assert code == 1
    assert "FAIL resolve" in out and "test failed at step: resolve" in out
    assert "test failed at step resolve; run `privlink doctor`" in err


def test_no_instance_exits_1_with_the_fix(cli, aws):
    deployed(cli.cfn_stub, {"VpcId": VPC})  # deployed before test_instance was enabled
    aws.running([])
    code, out, _ = cli("test", "--via", "ssm")
    assert code == 1
    assert "FAIL ssm" in out and "test_instance: {enabled: true}" in out


def test_consumer_not_deployed_is_one_line_exit_2(cli):
    cli.cfn_stub.add_client_error(
        "describe_stacks",
        service_error_code="ValidationError",
        service_message=f"Stack with id {STACK} does not exist",
        http_status_code=400,
        expected_params={"StackName": STACK},
    )
    code, out, err = cli("test", "--via", "ssm")
    assert code == 2 and out == ""
    assert err.splitlines() == [
        f"privlink: error: {STACK}: not deployed (no VpcId output); hint: run `privlink --target aws up` first"
    ]
    assert "Traceback" not in err


def test_a_named_instance_serves_instead_of_the_test_instance(cli, aws):
    deployed(cli.cfn_stub, {"VpcId": VPC, "TestInstanceId": TEST_INSTANCE})
    aws.described(OTHER_INSTANCE)
    aws.agents([OTHER_INSTANCE], online={OTHER_INSTANCE})
    aws.send(OTHER_INSTANCE)
    aws.invocation(OTHER_INSTANCE, "Success", stdout=healthy_report(), code=0)
    code, out, err = cli("test", "--via", "ssm", "--instance", OTHER_INSTANCE)
    assert code == 0, err
    assert out.splitlines()[1].endswith(f"command {COMMAND_ID} on {OTHER_INSTANCE}: Success")


def test_an_offline_test_instance_is_not_swapped_for_another_unasked(cli, aws):
    deployed(cli.cfn_stub, {"VpcId": VPC, "TestInstanceId": TEST_INSTANCE})
    aws.agents([TEST_INSTANCE], online=set())
    aws.running([TEST_INSTANCE, OTHER_INSTANCE])
    aws.agents([OTHER_INSTANCE], online={OTHER_INSTANCE})
    code, out, err = cli("test", "--via", "ssm")
    assert code == 1 and aws.sent == []
    [line] = err.splitlines()
    assert line.startswith(
        f"privlink: test failed at step ssm: the test instance {TEST_INSTANCE} is not online"
    )
    assert f"--instance {OTHER_INSTANCE}" in line


def test_send_command_denied_is_one_line_naming_the_action_instance_and_fix(cli, aws):
    deployed(cli.cfn_stub, {"VpcId": VPC, "TestInstanceId": TEST_INSTANCE})
    aws.agents([TEST_INSTANCE], online={TEST_INSTANCE})
    aws.denied(TEST_INSTANCE)
    code, out, err = cli("test", "--via", "ssm")
    assert code == 1
    assert "FAIL ssm" in out and "test failed at step: ssm" in out
    assert err.splitlines() == [
        f"privlink: test failed at step ssm: ssm:SendCommand on {TEST_INSTANCE} denied (dev, {REGION}): "
        "attach the consumer policy `privlink iam-policy --side consumer` prints (statements "
        "SsmProbeDocument and SsmProbeTestInstances) to the identity of accounts.dev (AWS: "
        "AccessDeniedException: User is not authorized to perform: ssm:SendCommand)"
    ]
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("argv", "line"),
    [
        (
            ["--via", "ssm", "--instance", "i-12345"],
            "privlink: error: --instance: 'i-12345' is not an EC2 instance ID; "
            "hint: give one like i-0123456789abcdef0",
        ),
        (
            ["--instance", OTHER_INSTANCE],
            "privlink: error: --instance: only --via ssm runs the probe on an instance; "
            "hint: add --via ssm, or drop --instance",
        ),
    ],
)
def test_a_bad_instance_flag_is_one_line_exit_2_before_any_call(cli, argv, line):
    code, out, err = cli("test", *argv)
    assert (code, out) == (2, "")
    assert err.splitlines() == [line]
