"""`privlink doctor --target aws` and `privlink test --target aws` as a user runs them, in process.

The aws target keeps its real gateway; only the gateway's session factory is replaced by the
moto/Stubber world of `aws_world`. `test` probes from this machine with the system resolver, which
is replaced by a table of names (nothing leaves 127.0.0.0/8); the service is a small HTTP server
on a loopback port, which is also the spec's service port.
"""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
import botocore.session
import pytest
from aws_world import AwsWorld, deployed, spec_text  # noqa: F401

from privlink.cli import main
from privlink.probe import ProbeFailed
from privlink.spec import parse_spec
from privlink.targets.aws.target import AwsTarget
from privlink_testing import skipped_checks


class Hello(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        body = json.dumps({"message": "Hello from provider"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def service():
    """The producer's service, as reached through the endpoint: HTTP on 127.0.0.1:<port>."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), Hello)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


class Cli:
    def __init__(self, world: AwsWorld, names: dict[str, list[str]], capsys) -> None:
        self.world, self.names, self.capsys = world, names, capsys

    def __call__(self, *args: str) -> tuple[int, str, str]:
        with pytest.raises(SystemExit) as info:
            main.run(["--target", "aws", *args])
            raise SystemExit(0)
        out, err = self.capsys.readouterr()
        return info.value.code or 0, out, err


@pytest.fixture
def cli(deployed, service, tmp_path, monkeypatch, capsys) -> Cli:  # noqa: F811
    text = spec_text(port=service)
    (tmp_path / "privlink.yaml").write_text(text, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    world = deployed(parse_spec(text))

    def make_target(spec, state_dir, kind=None):
        assert kind == "aws"
        return AwsTarget(spec, state_dir, session_factory=world.session_factory)

    monkeypatch.setattr("privlink.targets.base.make_target", make_target)
    names: dict[str, list[str]] = {}

    def system_resolver(name: str, timeout: float) -> list[str]:
        if name not in names:
            raise ProbeFailed(f"the system resolver cannot resolve {name}: Name or service not known")
        return names[name]

    monkeypatch.setattr("privlink.probe.system_resolver", system_resolver)
    return Cli(world, names, capsys)


def test_doctor_on_a_healthy_link_exits_0(cli):
    code, out, err = cli("doctor", "--output", "json")
    report = json.loads(out)
    assert code == 0, err
    assert report["ok"] is True and report["target"] == "aws"
    assert [(f["id"], f["severity"]) for f in report["findings"]] == [("nlb-idle-timeout", "info")]


def test_doctor_on_a_broken_link_exits_1_and_names_the_finding(cli):
    cli.world.set_connection("dev", "pendingAcceptance")
    cli.world.fail("prod", "eu-central-1", "DescribeListenerAttributes", "Throttling", "Rate exceeded")

    code, out, err = cli("doctor", "--output", "json")
    report = json.loads(out)
    assert code == 1 and "Traceback" not in err
    problems = {
        (f["id"], f["severity"], f["resource"]) for f in report["findings"] if f["severity"] != "info"
    }
    assert problems == {
        ("connection-pending-acceptance", "error", cli.world.endpoints["dev"].id),
        ("describe-failed", "warning", "producer"),
    }
    throttled = next(f for f in report["findings"] if f["id"] == "describe-failed")
    assert "elbv2.describe_listener_attributes failed: Throttling" in throttled["evidence"]
    assert f"privlink connections accept {cli.world.endpoints['dev'].id}" in out

    code, out, _ = cli("doctor")
    assert code == 1 and "connection-pending-acceptance" in out


def test_test_reaches_the_service_through_the_private_name(cli):
    cli.names["hello.internal.company"] = ["127.0.0.1"]
    code, out, err = cli("test", "--consumer", "dev")
    assert code == 0, out + err
    assert "hello.internal.company" in out and "test passed" in out and "Hello from provider" in out


def test_test_probes_every_consumer_and_every_name_it_uses(cli):
    """dev's private zone record, ops' use of the service's private DNS name, west's endpoint name."""
    west = cli.world.endpoints["west"].regional_name
    for name in ("hello.internal.company", "hello.example.com", west):
        cli.names[name] = ["127.0.0.1"]
    code, out, err = cli("test")
    assert code == 0, out + err
    headers = re.findall(r"^privlink test: (\S+):\d+ from consumer (\w+) ", out, flags=re.MULTILINE)
    assert headers == [("hello.internal.company", "dev"), ("hello.example.com", "ops"), (west, "west")]
    assert out.rstrip().splitlines()[-1] == "test passed: 3 names from 3 consumer(s)"

    del cli.names["hello.example.com"]  # e.g. the private DNS name is not verified: ops fails alone
    code, out, err = cli("test", "--output", "json")
    report = json.loads(out)
    assert code == 1 and report["ok"] is False
    assert report["failed"] == [{"consumer": "ops", "name": "hello.example.com", "step": "resolve"}]
    assert [(p["consumer"], p["name"], p["ok"]) for p in report["probes"]] == [
        ("dev", "hello.internal.company", True),
        ("ops", "hello.example.com", False),
        ("west", west, True),
    ]
    assert err.splitlines() == [
        "privlink: test failed at step resolve (consumer ops, hello.example.com); run `privlink doctor` "
        "to find out why"
    ]


def test_test_without_a_private_name_uses_the_endpoint_name_from_the_stack(cli):
    regional = cli.world.endpoints["west"].regional_name
    cli.names[regional] = ["127.0.0.1"]
    code, out, err = cli("test", "--consumer", "west")
    assert code == 0, out + err
    assert f"privlink test: {regional}:" in out


def test_test_fails_at_resolve_and_points_to_doctor(cli):
    code, out, err = cli("test", "--consumer", "ops")
    assert code == 1
    assert "FAIL resolve" in out and "cannot resolve hello.example.com" in out
    assert "test failed at step: resolve" in out
    assert "run `privlink doctor`" in err and "Traceback" not in err


def test_doctor_with_a_denied_call_warns_and_names_the_permission(cli):
    """Through the aws target's gateway: the unread target health is not "no registered targets"."""
    cli.world.fail(
        "prod",
        "eu-central-1",
        "DescribeTargetHealth",
        "AccessDenied",
        "User: arn:aws:sts::111111111111:assumed-role/privlink/privlink is not authorized to perform: "
        "elasticloadbalancing:DescribeTargetHealth",
        403,
    )

    code, out, err = cli("doctor", "--output", "json")
    report = json.loads(out)
    assert code == 3 and "Traceback" not in err  # no error found, but two checks could not judge
    assert report["ok"] is False
    assert report["checks"] == {"run": 18, "judged": 16, "skipped": 2, "failed_reads": 1}
    assert [(f["id"], f["severity"]) for f in report["findings"] if f["severity"] != "info"] == [
        ("describe-failed", "warning")
    ]
    denied = report["findings"][0]
    assert "grant IAM permission elasticloadbalancing:DescribeTargetHealth" in denied["fix"]
    assert "accounts.prod" in denied["fix"]
    assert skipped_checks(report["findings"]) == {
        "producer": (
            ["targets-unhealthy", "az-without-healthy-targets"],
            ["producer.target_health"],
        )
    }


def test_doctor_with_an_unreadable_producer_stack_says_so_once_per_subject(cli):
    """Nine checks need the producer stack: one info lists them all instead of nine rows, and ops
    (which resolves the service's private DNS name) gets its own."""
    cli.world.fail("prod", "eu-central-1", "DescribeStacks", "AccessDenied", "not authorized", 403)

    code, out, err = cli("doctor", "--output", "json")
    report = json.loads(out)
    assert code == 3 and "Traceback" not in err
    assert [(f["severity"], f["id"], f["resource"]) for f in report["findings"]] == [
        ("warning", "describe-failed", "producer"),
        ("info", "check-skipped", "producer"),
        ("info", "check-skipped", "consumer:ops"),
    ]
    skipped = skipped_checks(report["findings"])
    assert len(skipped["producer"][0]) == 9 and "not-deployed" in skipped["producer"][0]
    assert skipped["consumer:ops"] == (["private-name-unresolved"], ["producer.service"])

    code, out, err = cli("doctor")
    rows = [line for line in out.splitlines() if "│ check-skipped" in line]
    assert code == 3 and len(rows) == 2, out
    assert "9 checks skipped for the producer:" in rows[0]
    assert "1 check skipped for consumer ops:" in rows[1]
    assert out.rstrip().splitlines()[-1] == (
        "doctor: no error found, but 10 of 18 checks could not judge everything (see check-skipped): "
        "0 error(s), 1 warning(s), 2 info; 8 of 18 checks judged"
    )


def no_credentials(profile_name: str | None = None, region_name: str | None = None, **_):
    """A boto3 session that finds no credentials: every call fails while being signed, unsent."""
    core = botocore.session.get_session()
    core.get_component("credential_provider").providers = []
    return boto3.session.Session(botocore_session=core, region_name=region_name)


def test_doctor_without_credentials_could_not_judge_and_is_no_pass(cli, monkeypatch):
    """`privlink --target aws doctor` with no credentials at all: exit 3 and `ok` false, not a pass."""

    def make_target(spec, state_dir, kind=None):
        return AwsTarget(spec, state_dir, session_factory=no_credentials)

    monkeypatch.setattr("privlink.targets.base.make_target", make_target)
    code, out, err = cli("doctor", "--output", "json")
    report = json.loads(out)
    assert (code, report["ok"], report["exit_code"]) == (3, False, 3), err
    assert report["summary"]["error"] == 0
    assert report["checks"]["judged"] < report["checks"]["run"] == 18
    assert {f["id"] for f in report["findings"]} == {"describe-failed", "check-skipped"}
    assert all("NoCredentials" in f["evidence"] for f in report["findings"] if f["id"] == "describe-failed")
    assert "Traceback" not in err


def test_an_instance_needs_its_consumer_when_the_spec_has_several(cli):
    code, out, err = cli("test", "--via", "ssm", "--instance", "i-0123456789abcdef0")
    assert (code, out) == (2, "")
    assert err.splitlines() == [
        "privlink: error: --instance: an instance sits in one consumer's VPC; hint: name that consumer "
        "with --consumer"
    ]
