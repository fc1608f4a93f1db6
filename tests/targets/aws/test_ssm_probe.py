"""`privlink test --via ssm` against botocore Stubbers (every response checked against the service
model): which instance (the test instance, or one the user names, never another on its own), the
command SSM runs, polling the invocation, and every way it can fail."""

from __future__ import annotations

import json
import subprocess

import pytest
from loopback_http import loopback_http
from ssm_fakes import (
    COMMAND_ID,
    NAME,
    OTHER_INSTANCE,
    PORT,
    REGION,
    TEST_INSTANCE,
    VPC,
    Aws,
    healthy_report,
)

from privlink.probe import ProbeReport, ProbeStep
from privlink.targets.aws.ssm_probe import remote_commands, run_probe_ssm


@pytest.fixture
def aws():
    fake = Aws()
    yield fake
    fake.assert_done()


def probe(aws, clock, preferred=TEST_INSTANCE, name=NAME, port=PORT, **kw):
    return run_probe_ssm(
        aws.clients,
        "dev",
        REGION,
        VPC,
        name,
        port,
        preferred=preferred,
        sleep=clock.sleep,
        clock=clock.now,
        **kw,
    )


def test_end_to_end_on_the_test_instance_with_the_real_script_output(aws, clock):
    # What the instance would print: the very command SSM gets, run here against a loopback service.
    with loopback_http() as port:
        [command] = remote_commands("127.0.0.1", port)
        stdout = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=30).stdout
    aws.agents([TEST_INSTANCE], online={TEST_INSTANCE})
    aws.send(TEST_INSTANCE, "127.0.0.1", port)
    aws.not_yet(TEST_INSTANCE)  # SSM says so for a moment right after SendCommand
    aws.invocation(TEST_INSTANCE, "InProgress")
    aws.invocation(TEST_INSTANCE, "Success", stdout=stdout, code=0)

    report = probe(aws, clock, name="127.0.0.1", port=port)

    assert report.ok, report.steps
    assert report.via == "ssm"
    assert [s.name for s in report.steps] == ["ssm", "resolve", "connect", "http"]
    assert report.steps[0].detail == f"command {COMMAND_ID} on {TEST_INSTANCE}: Success"
    assert report.json == {"message": "Hello from provider"}
    assert clock.sleeps == [2.0, 2.0, 2.0]
    [sent] = aws.sent
    assert sent["InstanceIds"] == [TEST_INSTANCE] and sent["DocumentName"] == "AWS-RunShellScript"
    [text] = sent["Parameters"]["commands"]
    assert text == command and text.startswith(f"python3 - 127.0.0.1 {port} / 5.0 ")
    assert {service for _, _, service in aws.asked} == {"ssm"}  # an online test instance needs no EC2 look-up
    assert {(a, r) for a, r, _ in aws.asked} == {("dev", REGION)}


def test_steps_are_rendered_with_ssm_first(aws, clock):
    from privlink.cli.check_commands import render_probe

    aws.agents([TEST_INSTANCE], online={TEST_INSTANCE})
    aws.send(TEST_INSTANCE)
    aws.invocation(TEST_INSTANCE, "Success", stdout="some agent noise\n" + healthy_report(), code=0)
    report = probe(aws, clock)
    lines = render_probe(report, "dev").splitlines()
    assert lines[0] == f"privlink test: {NAME}:{PORT} from consumer dev (via ssm)"
    assert lines[1].split()[:2] == ["ok", "ssm"] and TEST_INSTANCE in lines[1]
    assert [line.split()[1] for line in lines[2:5]] == ["resolve", "connect", "http"]
    assert lines[-1] == "test passed"


def test_an_offline_test_instance_is_not_replaced_by_an_unnamed_one(aws, clock):
    aws.agents([TEST_INSTANCE], online=set())
    aws.running([TEST_INSTANCE, OTHER_INSTANCE])
    aws.agents([OTHER_INSTANCE], online={OTHER_INSTANCE})
    report = probe(aws, clock)
    [step] = report.steps
    assert (step.name, step.ok) == ("ssm", False)
    assert step.detail.startswith(f"the test instance {TEST_INSTANCE} is not online in SSM yet")
    assert (
        f"online in SSM in {VPC}: {OTHER_INSTANCE}, not used unless named: --instance {OTHER_INSTANCE} "
        "(it needs an ssm:SendCommand grant of yours: `privlink iam-policy` grants it on the test "
        "instances only)" in step.detail
    )
    assert aws.sent == []


def test_without_a_test_instance_an_online_instance_is_only_offered(aws, clock):
    aws.running([OTHER_INSTANCE, TEST_INSTANCE])
    aws.agents([OTHER_INSTANCE, TEST_INSTANCE], online={TEST_INSTANCE, OTHER_INSTANCE})
    report = probe(aws, clock, preferred=None)
    [step] = report.steps
    assert not step.ok
    assert step.detail.startswith("the consumer stack has no test instance; set consumers[].test_instance")
    assert f"{OTHER_INSTANCE}, {TEST_INSTANCE}, not used unless named" in step.detail
    assert aws.sent == []


def test_no_instance_at_all_names_the_fix(aws, clock):
    aws.running([])
    report = probe(aws, clock, preferred=None)
    assert not report.ok and report.failed_step == "ssm"
    [step] = report.steps
    assert (
        VPC in step.detail
        and "test_instance: {enabled: true}" in step.detail
        and "privlink up" in step.detail
        and "with --instance" in step.detail
    )
    assert "online in SSM" not in step.detail
    assert aws.sent == []


def test_instances_that_cannot_be_listed_leave_the_hint_out_not_the_failure(aws, clock):
    aws.agents([TEST_INSTANCE], online=set())
    aws.ec2_stub.add_client_error("describe_instances", "UnauthorizedOperation", http_status_code=403)
    report = probe(aws, clock)
    [step] = report.steps
    assert step.detail.startswith(f"the test instance {TEST_INSTANCE} is not online in SSM yet")
    assert "UnauthorizedOperation" not in step.detail and aws.sent == []


def test_a_test_instance_not_yet_online_says_to_wait(aws, clock):
    aws.agents([TEST_INSTANCE], online=set())
    aws.running([TEST_INSTANCE])
    report = probe(aws, clock)
    [step] = report.steps
    assert not step.ok
    assert f"the test instance {TEST_INSTANCE} is not online in SSM yet" in step.detail
    assert aws.sent == []


@pytest.mark.parametrize("status", ["Failed", "TimedOut", "Cancelled"])
def test_a_command_that_ends_without_a_report_shows_its_status_and_stderr(aws, clock, status):
    aws.agents([TEST_INSTANCE], online={TEST_INSTANCE})
    aws.send(TEST_INSTANCE)
    aws.invocation(TEST_INSTANCE, "InProgress")
    aws.invocation(TEST_INSTANCE, status, stderr="bash: python3: command not found\n", code=127)
    report = probe(aws, clock)
    [step] = report.steps
    assert (step.name, step.ok) == ("ssm", False)
    assert (
        step.detail
        == f"command {COMMAND_ID} on {TEST_INSTANCE} ended {status}: bash: python3: command not found"
    )


def test_a_remote_probe_failure_is_reported_step_by_step(aws, clock):
    remote = ProbeReport(name=NAME, port=PORT, via="ssm")
    remote.steps = [
        ProbeStep("resolve", True, 1.0, f"{NAME} -> 10.10.1.20"),
        ProbeStep("connect", False, 5000.0, f"10.10.1.20:{PORT}: timed out"),
    ]
    aws.agents([TEST_INSTANCE], online={TEST_INSTANCE})
    aws.send(TEST_INSTANCE)
    aws.invocation(TEST_INSTANCE, "Success", stdout=json.dumps(remote.to_dict()), code=0)
    report = probe(aws, clock)
    assert not report.ok and report.failed_step == "connect"
    assert report.steps[0].ok and report.steps[2].detail.endswith("timed out")


def test_still_running_at_the_deadline_stops_waiting(aws, clock):
    aws.agents([TEST_INSTANCE], online={TEST_INSTANCE})
    aws.send(TEST_INSTANCE, timeout=30)  # SSM's minimum
    for _ in range(5):
        aws.invocation(TEST_INSTANCE, "InProgress")
    report = probe(aws, clock, wait=10.0)
    [step] = report.steps
    assert not step.ok
    assert step.detail.startswith(f"command {COMMAND_ID} on {TEST_INSTANCE} is still InProgress after 10 s")
    assert sum(clock.sleeps) == 10.0


def test_invocation_that_never_appears_fails_at_the_deadline(aws, clock):
    aws.agents([TEST_INSTANCE], online={TEST_INSTANCE})
    aws.send(TEST_INSTANCE, timeout=30)
    for _ in range(3):
        aws.not_yet(TEST_INSTANCE)
    report = probe(aws, clock, wait=6.0)
    assert "is still not started after 6 s" in report.steps[0].detail


def test_aws_errors_end_as_a_failed_ssm_step_not_an_exception(aws, clock):
    aws.agents([TEST_INSTANCE], online={TEST_INSTANCE})
    aws.ssm_stub.add_client_error(
        "send_command",
        service_error_code="InvalidDocument",
        service_message="Document AWS-RunShellScript does not exist",
        http_status_code=400,
    )
    report = probe(aws, clock)
    [step] = report.steps
    assert not step.ok
    assert step.detail == (
        "SSM failed: aws ssm:SendCommand (dev, eu-central-1): InvalidDocument: Document "
        "AWS-RunShellScript does not exist"
    )


DENIED_BY_AWS = (
    "User: arn:aws:sts::111111111111:assumed-role/privlink-deployer/privlink is not authorized to "
    "perform: ssm:SendCommand on resource: arn:aws:ec2:eu-central-1:111111111111:instance/{} because "
    "no identity-based policy allows the ssm:SendCommand action"
)


def test_send_command_denied_on_the_test_instance_names_the_action_and_the_policy(aws, clock):
    aws.agents([TEST_INSTANCE], online={TEST_INSTANCE})
    aws.denied(TEST_INSTANCE, DENIED_BY_AWS.format(TEST_INSTANCE))
    report = probe(aws, clock)
    [step] = report.steps
    assert (step.name, step.ok) == ("ssm", False)
    assert step.detail == (
        f"ssm:SendCommand on {TEST_INSTANCE} denied (dev, eu-central-1): attach the consumer policy "
        "`privlink iam-policy --side consumer` prints (statements SsmProbeDocument and "
        "SsmProbeTestInstances) to the identity of accounts.dev (AWS: AccessDeniedException: "
        + DENIED_BY_AWS.format(TEST_INSTANCE)
        + ")"
    )
    assert "\n" not in step.detail


def test_send_command_denied_on_a_named_instance_says_grant_it(aws, clock):
    aws.described(OTHER_INSTANCE)
    aws.agents([OTHER_INSTANCE], online={OTHER_INSTANCE})
    aws.denied(OTHER_INSTANCE)
    report = probe(aws, clock, instance_id=OTHER_INSTANCE)
    [step] = report.steps
    assert step.detail.startswith(
        f"ssm:SendCommand on {OTHER_INSTANCE} denied (dev, eu-central-1): privlink's policy grants it on "
        "the test instances of the consumer stacks only: grant "
        f"ssm:SendCommand on arn:aws:ec2:eu-central-1:*:instance/{OTHER_INSTANCE} and "
        "arn:aws:ssm:eu-central-1::document/AWS-RunShellScript to the identity of accounts.dev"
    )


def test_other_invocation_errors_are_not_retried(aws, clock):
    aws.agents([TEST_INSTANCE], online={TEST_INSTANCE})
    aws.send(TEST_INSTANCE)
    aws.ssm_stub.add_client_error(
        "get_command_invocation", service_error_code="InvalidInstanceId", http_status_code=400
    )
    report = probe(aws, clock)
    assert "InvalidInstanceId" in report.steps[0].detail
    assert clock.sleeps == [2.0]


def test_a_named_instance_in_the_vpc_runs_the_probe_instead_of_the_test_instance(aws, clock):
    aws.described(OTHER_INSTANCE, tags={"Name": "bastion"})
    aws.agents([OTHER_INSTANCE], online={OTHER_INSTANCE})
    aws.send(OTHER_INSTANCE)
    aws.invocation(OTHER_INSTANCE, "Success", stdout=healthy_report(), code=0)
    report = probe(aws, clock, instance_id=OTHER_INSTANCE)  # the test instance is not even asked about
    assert report.ok
    assert report.steps[0].detail == f"command {COMMAND_ID} on {OTHER_INSTANCE}: Success"
    assert [s["InstanceIds"] for s in aws.sent] == [[OTHER_INSTANCE]]


@pytest.mark.parametrize(
    ("found", "online", "expected"),
    [
        (
            {"vpc": None},
            False,
            f"--instance {OTHER_INSTANCE}: no such instance in account dev, eu-central-1; name one in {VPC}",
        ),
        (
            {"vpc": "vpc-0fedcba9876543210"},
            False,
            f"--instance {OTHER_INSTANCE} is in vpc-0fedcba9876543210, not in the consumer VPC {VPC}: "
            "the probe must run inside it; name an instance there",
        ),
        (
            {"state": "stopped"},
            False,
            f"--instance {OTHER_INSTANCE} is stopped: start it, or name a running instance in {VPC}",
        ),
        (
            {},
            True,
            f"--instance {OTHER_INSTANCE}: its SSM agent is not online; it needs the agent",
        ),
    ],
    ids=["no-such-instance", "another-vpc", "stopped", "agent-offline"],
)
def test_a_named_instance_that_cannot_serve_is_refused_before_any_command(
    aws, clock, found, online, expected
):
    aws.described(OTHER_INSTANCE, **found)
    if online:
        aws.agents([OTHER_INSTANCE], online=set())
    report = probe(aws, clock, instance_id=OTHER_INSTANCE)
    [step] = report.steps
    assert (step.name, step.ok) == ("ssm", False)
    assert step.detail.startswith(expected)
    assert aws.sent == []
