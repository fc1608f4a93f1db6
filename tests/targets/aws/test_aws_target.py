from __future__ import annotations

import json
from dataclasses import dataclass

import boto3
import pytest
from moto import mock_aws

from privlink import deploy as binding
from privlink.errors import BadInput, StateError
from privlink.lifecycle.execute import RunContext
from privlink.lifecycle.model import Step, StepKind
from privlink.spec import parse_spec
from privlink.spec.demo import demo_spec_text
from privlink.targets.aws.handlers import AwsHandlers
from privlink.targets.aws.target import AwsTarget
from privlink.templates import naming
from privlink.templates.naming import consumer_stack, producer_stack, vpn_stack
from privlink.templates.stacks import FromStep, Literal, RenderedStack


@dataclass(frozen=True)
class FromAccount:  # the templates' account-id binding, matched by name like the real one
    label: str


def topic(name, params=()):
    template = {"Resources": {"Topic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": name}}}}
    if params:
        template["Parameters"] = {p: {"Type": "String"} for p in params}
    return template


def render(spec):
    """Small stand-ins for the real templates, with the real stack names and binding kinds."""
    link = spec.name
    producer = RenderedStack(
        producer_stack(link),
        spec.producer.account,
        spec.producer.region,
        topic("p", ["Label"]),
        {"Label": Literal("x")},
    )
    stacks = [producer]
    for c in spec.consumers:
        cons = RenderedStack(
            consumer_stack(link, c.name),
            c.account,
            c.region,
            topic(f"c-{c.name}", ["Owner"]),
            {"Owner": FromAccount(spec.producer.account)},
            (producer.stack_name,),
        )
        stacks.append(cons)
        if c.vpn:
            stacks.append(
                RenderedStack(
                    vpn_stack(link, c.name),
                    c.account,
                    c.region,
                    topic(f"v-{c.name}", ["ServerCertificateArn", "ClientRootCertificateChainArn"]),
                    {
                        "ServerCertificateArn": FromStep(
                            f"import-certificates:{c.name}", "server_certificate_arn"
                        ),
                        "ClientRootCertificateChainArn": FromStep(
                            f"import-certificates:{c.name}", "client_ca_arn"
                        ),
                    },
                    (cons.stack_name,),
                )
            )
    return stacks


def session_factory(**kwargs):
    kwargs.pop("profile_name", None)
    return boto3.session.Session(**kwargs)


@pytest.fixture
def spec():
    return parse_spec(demo_spec_text().replace("target: local", "target: aws"))


@pytest.fixture
def target(spec, tmp_path, clock):
    with mock_aws():
        yield AwsTarget(
            spec,
            tmp_path / ".privlink",
            session_factory=session_factory,
            render=render,
            sleep=clock.sleep,
            clock=clock.now,
            poll_delay=1,
        )


def test_plan_up_rerun_and_down_converge(target, tmp_path):
    before = target.plan().lines()
    assert ("privlink-hello-producer", "Create stack") in [(c.stack, c.action) for c in before]
    assert any(c.action == "Step" and c.detail == "import-certificates:dev" for c in before)
    assert all(s["status"] == "NOT_DEPLOYED" for s in target.status()["stacks"])  # plan created nothing

    lines = []
    report = target.up(lines.append)
    assert [s["status"] for s in report["stacks"]] == ["CREATE_COMPLETE"] * 3
    assert any("acm: importing the server certificate of dev" in line for line in lines)
    state = json.loads((tmp_path / ".privlink" / "aws.json").read_text())
    arns = state["steps"]["import-certificates:dev"]
    assert arns["server_certificate_arn"].startswith("arn:aws:acm:eu-central-1:")
    assert state["account_ids"] == {"prod": "123456789012", "dev": "123456789012"}
    cfn = target.gateway.client("cloudformation", "dev", "eu-central-1").raw
    params = {
        p["ParameterKey"]: p["ParameterValue"]
        for p in cfn.describe_stacks(StackName="privlink-hello-vpn-dev")["Stacks"][0]["Parameters"]
    }
    assert params == {
        "ServerCertificateArn": arns["server_certificate_arn"],
        "ClientRootCertificateChainArn": arns["client_ca_arn"],
    }

    lines.clear()
    target.up(lines.append)  # converges: nothing to change, nothing re-imported
    assert sum("no changes" in line for line in lines) == 3
    assert not any("importing" in line for line in lines)
    assert [c.action for c in target.plan().lines()] == ["No change"] * 3

    target.down(lines.append)
    assert all(s["status"] == "NOT_DEPLOYED" for s in target.status()["stacks"])
    acm = target.gateway.client("acm", "dev", "eu-central-1").raw
    assert acm.list_certificates()["CertificateSummaryList"] == []
    target.down(lines.append)  # already gone: tolerated


def test_stacks_no_longer_in_the_spec_are_planned_for_deletion(target, spec, tmp_path, clock):
    target.up()
    fewer = parse_spec(
        demo_spec_text()
        .replace("target: local", "target: aws")
        .replace("    vpn: {client_cidr: 172.16.0.0/22, split_tunnel: true}\n", "")
    )
    smaller = AwsTarget(
        fewer,
        tmp_path / ".privlink",
        session_factory=session_factory,
        render=render,
        sleep=clock.sleep,
        clock=clock.now,
        poll_delay=1,
    )
    lines = smaller.plan().lines()
    assert ("privlink-hello-vpn-dev", "Delete stack") in [(c.stack, c.action) for c in lines]
    # the removed VPN's certificates are deleted too, from what the state recorded
    assert ("", "Step", "delete-certificates:dev") in [(c.stack, c.action, c.detail) for c in lines]
    arns = json.loads((tmp_path / ".privlink" / "aws.json").read_text())["certificates"]["dev"]["arns"]
    smaller.up()
    assert smaller.deployer_for("dev", "eu-central-1").describe_stack("privlink-hello-vpn-dev") is None
    acm = smaller.gateway.client("acm", "dev", "eu-central-1").raw
    left = {c["CertificateArn"] for c in acm.list_certificates()["CertificateSummaryList"]}
    assert len(arns) == 2 and not left & set(arns)
    assert "dev" not in json.loads((tmp_path / ".privlink" / "aws.json").read_text())["certificates"]


def test_address_targets_are_rejected_naming_the_field(tmp_path):
    text = (
        demo_spec_text()
        .replace("app: demo ", "app: none ")
        .replace("targets: []", "targets: [{address: 127.0.0.1:9000}]")
    )
    spec = parse_spec(text)
    with pytest.raises(BadInput) as info:
        AwsTarget(spec, tmp_path, session_factory=session_factory, render=render).plan()
    assert info.value.where == "producer.service.targets[0].address" and info.value.exit_code == 2


def test_vpn_config_and_connections_before_up_are_state_errors(target):
    with pytest.raises(StateError, match="privlink-hello-vpn-dev: not deployed") as info:
        target.vpn_config("dev")
    assert info.value.hint == "run privlink up first"
    with pytest.raises(StateError, match="ServiceId"):
        target.connections()
    with pytest.raises(BadInput, match="no consumer named 'nope'"):
        target.vpn_config("nope")


class StubSession:
    """Hands out pre-built stubbed clients by service name (what a boto3 Session would build)."""

    def __init__(self, raws):
        self.raws = raws

    def client(self, service, region_name=None, config=None):
        return self.raws[service]


def stubbed_target(spec, tmp_path, clock, raws):
    from privlink.spec.models import Account
    from privlink.targets.aws.gateway import Gateway

    accounts = {"prod": Account(account_id="111111111111"), "dev": Account(account_id="222222222222")}
    gateway = Gateway(accounts, lambda **kw: StubSession(raws))
    return AwsTarget(
        spec, tmp_path, gateway=gateway, render=render, sleep=clock.sleep, clock=clock.now, poll_delay=2
    )


SERVICE_ID = "vpce-svc-0a1b2c3d4e5f60718"


def connection(endpoint_id, owner, state):
    import datetime as dt

    return {
        "ServiceId": SERVICE_ID,
        "VpcEndpointId": endpoint_id,
        "VpcEndpointOwner": owner,
        "VpcEndpointState": state,
        "CreationTimestamp": dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc),
    }


def test_up_accepts_declared_consumers_and_waits_for_available(spec, tmp_path, clock, stubbed):
    ec2, stub = stubbed("ec2")
    endpoint = "vpce-0aaaaaaaaaaaaaaa1"
    stub.add_response(
        "describe_vpc_endpoint_connections",
        {
            "VpcEndpointConnections": [
                connection(endpoint, "222222222222", "pendingAcceptance"),
                connection("vpce-0ccccccccccccccc3", "333333333333", "pendingAcceptance"),
            ]
        },
    )
    stub.add_response(
        "accept_vpc_endpoint_connections",
        {"Unsuccessful": []},
        {"ServiceId": SERVICE_ID, "VpcEndpointIds": [endpoint]},
    )
    stub.add_response(
        "describe_vpc_endpoint_connections",
        {"VpcEndpointConnections": [connection(endpoint, "222222222222", "available")]},
    )
    target = stubbed_target(spec, tmp_path, clock, {"ec2": ec2.raw})
    consumer = render(spec)[1]
    lines = []
    step = Step(
        "accept-connections:dev",
        StepKind.ACCEPT_CONNECTIONS,
        "prod",
        "eu-central-1",
        consumer="dev",
        arguments=(("accept", "true"), ("wait", "true")),
    )
    context = RunContext(
        {"privlink-hello-producer": {"ServiceId": SERVICE_ID}, consumer.stack_name: {"EndpointId": endpoint}}
    )
    AwsHandlers(target, lines.append).accept_connections(step, context)
    assert lines == [f"accepted endpoint connection {endpoint}"]


def test_down_rejects_leftover_connections_before_deleting_the_producer(spec, tmp_path, clock, stubbed):
    import datetime as dt

    cfn, cstub = stubbed("cloudformation")
    ec2, stub = stubbed("ec2")
    cstub.add_response(
        "describe_stacks",
        {
            "Stacks": [
                {
                    "StackName": "privlink-hello-producer",
                    "CreationTime": dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc),
                    "StackStatus": "CREATE_COMPLETE",
                    "Outputs": [{"OutputKey": "ServiceId", "OutputValue": SERVICE_ID}],
                }
            ]
        },
    )
    stub.add_response(
        "describe_vpc_endpoint_connections",
        {
            "VpcEndpointConnections": [
                connection("vpce-0ccccccccccccccc3", "333333333333", "available"),
                connection("vpce-0aaaaaaaaaaaaaaa1", "222222222222", "rejected"),
            ]
        },
    )
    stub.add_response(
        "reject_vpc_endpoint_connections",
        {"Unsuccessful": []},
        {"ServiceId": SERVICE_ID, "VpcEndpointIds": ["vpce-0ccccccccccccccc3"]},
    )
    target = stubbed_target(spec, tmp_path, clock, {"ec2": ec2.raw, "cloudformation": cfn.raw})
    lines = []
    target.reject_remaining(lines.append)
    assert lines == ["rejecting 1 remaining endpoint connection(s) so the service can be deleted"]


def test_reused_vpc_parameters_are_looked_up_with_describe_calls(tmp_path, clock):
    import yaml

    from privlink.templates.render import render_stacks

    with mock_aws():
        ec2 = boto3.client("ec2", region_name="eu-central-1")
        vpc = ec2.create_vpc(CidrBlock="10.30.0.0/16")["Vpc"]["VpcId"]
        subnets = [
            ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.30.{i}.0/24", AvailabilityZone=f"eu-central-1{z}")[
                "Subnet"
            ]
            for i, z in ((1, "a"), (2, "b"))
        ]
        data = yaml.safe_load(demo_spec_text().replace("target: local", "target: aws"))
        data["consumers"][0]["vpc"] = {"id": vpc, "subnet_ids": [s["SubnetId"] for s in subnets]}
        data["consumers"][0].pop("vpn")
        spec = parse_spec(yaml.safe_dump(data))
        target = AwsTarget(
            spec,
            tmp_path / ".privlink",
            session_factory=session_factory,
            sleep=clock.sleep,
            clock=clock.now,
            poll_delay=1,
        )
        consumer = next(s for s in render_stacks(spec) if s.name.part == "consumer")
        values, missing = binding.resolve(consumer, {}, {}, lambda label: "111111111111", target.lookup)
        assert values[naming.PARAM_VPC_CIDR] == "10.30.0.0/16"
        assert {m.parameter for m in missing} <= {naming.PARAM_SERVICE_NAME}
        from privlink.templates.stacks import LOOKUP_SUBNET_AZ_IDS, LOOKUP_VPC_RESOLVER, FromLookup

        ids = tuple(s["SubnetId"] for s in subnets)
        assert target.lookup(consumer, FromLookup(LOOKUP_SUBNET_AZ_IDS, ids)) == ",".join(
            s["AvailabilityZoneId"] for s in subnets
        )
        assert target.lookup(consumer, FromLookup(LOOKUP_VPC_RESOLVER, (vpc,))) == "10.30.0.2"


def test_consumers_with_private_dns_wait_for_a_verified_name(tmp_path, clock, monkeypatch):
    import yaml

    from privlink.errors import DeployFailed
    from privlink.targets.aws import target as aws_target
    from privlink.targets.aws.steps import DnsVerification

    data = yaml.safe_load(demo_spec_text().replace("target: local", "target: aws"))
    data["producer"]["endpoint_service"]["private_dns_name"] = "hello.example.com"
    data["consumers"][0]["private_dns_enabled"] = True
    spec = parse_spec(yaml.safe_dump(data))
    pending = DnsVerification(
        "hello.example.com", "pendingVerification", "_abc.hello.example.com", "vpce:xyz"
    )
    monkeypatch.setattr(aws_target.steps, "verify_private_dns", lambda *a, **k: pending)
    with mock_aws():
        target = AwsTarget(
            spec,
            tmp_path / ".privlink",
            session_factory=session_factory,
            sleep=clock.sleep,
            clock=clock.now,
            poll_delay=1,
        )
        outputs = {producer_stack("hello").name: {naming.OUT_SERVICE_ID: "vpce-svc-0123456789abcdef0"}}
        verify = Step("verify-private-dns", StepKind.VERIFY_PRIVATE_DNS, "prod", "eu-central-1")
        with pytest.raises(DeployFailed) as info:
            AwsHandlers(target, lambda line: None).verify_private_dns(verify, RunContext(outputs))
    assert "dev" in info.value.what
    assert "_abc.hello.example.com" in info.value.hint and "vpce:xyz" in info.value.hint
    # without consumers that enable it, an unverified name is reported, not fatal
    data["consumers"][0]["private_dns_enabled"] = False
    with mock_aws():
        target = AwsTarget(
            parse_spec(yaml.safe_dump(data)),
            tmp_path / ".privlink2",
            session_factory=session_factory,
            sleep=clock.sleep,
            clock=clock.now,
            poll_delay=1,
        )
        AwsHandlers(target, lambda line: None).verify_private_dns(verify, RunContext(outputs))


@pytest.mark.parametrize(
    ("region", "route53_region"), [("eu-central-1", "us-east-1"), ("cn-north-1", "cn-northwest-1")]
)
def test_private_dns_verification_signs_route53_in_the_producers_partition(
    tmp_path, clock, monkeypatch, region, route53_region
):
    import yaml

    from privlink.targets.aws import target as aws_target
    from privlink.targets.aws.steps import DnsVerification

    data = yaml.safe_load(demo_spec_text().replace("target: local", "target: aws"))
    data["producer"]["region"] = region
    data["consumers"][0]["region"] = region
    data["producer"]["endpoint_service"]["private_dns_name"] = "hello.example.com"
    used = []

    def verify(ec2, route53, *args, **kwargs):
        return DnsVerification("hello.example.com", "verified", "", "")

    monkeypatch.setattr(aws_target.steps, "verify_private_dns", verify)
    with mock_aws():
        target = AwsTarget(
            parse_spec(yaml.safe_dump(data)),
            tmp_path / ".privlink",
            session_factory=session_factory,
            sleep=clock.sleep,
            clock=clock.now,
            poll_delay=1,
        )
        client = target.gateway.client

        def recording(service, account, where, *args, **kwargs):
            if service == "route53":
                used.append(where)
            return client(service, account, where, *args, **kwargs)

        monkeypatch.setattr(target.gateway, "client", recording)
        outputs = {producer_stack("hello").name: {naming.OUT_SERVICE_ID: "vpce-svc-0123456789abcdef0"}}
        verify_step = Step("verify-private-dns", StepKind.VERIFY_PRIVATE_DNS, "prod", region)
        AwsHandlers(target, lambda line: None).verify_private_dns(verify_step, RunContext(outputs))
    assert used == [route53_region]
