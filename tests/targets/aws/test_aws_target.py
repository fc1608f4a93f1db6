from __future__ import annotations

import json
from dataclasses import dataclass

import boto3
import pytest
from moto import mock_aws

from privlink.errors import BadInput, StateError
from privlink.spec import parse_spec
from privlink.spec.demo import demo_spec_text
from privlink.targets.aws.target import AwsTarget
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
    before = target.plan()
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
    assert [c.action for c in target.plan()] == ["No change"] * 3

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
    assert ("privlink-hello-vpn-dev", "Delete stack") in [(c.stack, c.action) for c in smaller.plan()]
    smaller.up()
    assert smaller.deployer_for("dev", "eu-central-1").describe_stack("privlink-hello-vpn-dev") is None


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
