"""`AwsTarget` with the REAL rendered templates (`render_stacks`) against a scripted CloudFormation and
EC2 (botocore Stubber, see fake_aws.py) and moto's ACM: order, parameter bindings, `down` order,
and the `consumers_from` StackSets."""

from __future__ import annotations

import json

import pytest
import yaml
from fake_aws import FakeWorld
from moto import mock_aws

from privlink.errors import AwsError
from privlink.spec import validate_spec
from privlink.spec.demo import demo_spec_text
from privlink.targets.aws.target import AwsTarget

PROD, DEV = "111111111111", "222222222222"
FLEET = ["555555555555", "666666666666"]
PRODUCER, CONSUMER, VPN = "privlink-hello-producer", "privlink-hello-consumer-dev", "privlink-hello-vpn-dev"
DEPLOY_OPS = ("ExecuteChangeSet", "ImportCertificate", "CreateStackSet", "CreateStackInstances")
DELETE_OPS = ("DeleteStack", "DeleteCertificate", "DeleteStackInstances", "DeleteStackSet")


def demo(edit=None, cross_region=False):
    data = yaml.safe_load(demo_spec_text(cross_region=cross_region))
    data["target"] = "aws"
    data["accounts"] = {
        "prod": {"profile": "prod", "account_id": PROD},
        "dev": {"profile": "dev", "account_id": DEV},
    }
    if edit:
        edit(data)
    return validate_spec(data)


def with_fleet(data):
    data["consumers_from"] = {"accounts": FLEET, "regions": ["eu-central-1"]}


@pytest.fixture
def world():
    with mock_aws():  # ACM (certificate import and delete) is moto's
        yield FakeWorld({"prod": PROD, "dev": DEV})


def make_target(spec, world, tmp_path, clock):
    return AwsTarget(
        spec,
        tmp_path / ".privlink",
        session_factory=world.session_factory,
        sleep=clock.sleep,
        clock=clock.now,
        poll_delay=0.01,
    )


def test_plan_before_anything_exists_changes_nothing(world, tmp_path, clock):
    target = make_target(demo(), world, tmp_path, clock)
    lines = target.plan()
    by_stack = {}
    for line in lines:
        by_stack.setdefault(line.stack, []).append(line)
    assert list(by_stack) == [PRODUCER, CONSUMER, VPN]
    assert by_stack[PRODUCER][0].action == "Create stack"
    added = {line.logical_id for line in by_stack[PRODUCER][1:]}
    assert {"EndpointService", "LoadBalancer", "EndpointServicePermissions"} <= added
    assert by_stack[CONSUMER][0].detail == (
        "after output ServiceName of privlink-hello-producer, "
        "output AvailabilityZoneIds of privlink-hello-producer"
    )
    assert [line.detail for line in by_stack[VPN] if line.action == "Step"] == ["import-certificates:dev"]
    # only the producer could get a change set (its AccountIdDev is the dev account's ID); it is
    # discarded with the empty stack it made
    assert world.params_of(PRODUCER) == {"AccountIdDev": DEV}
    assert world.ops("CreateChangeSet", "DeleteChangeSet", "DeleteStack", "ExecuteChangeSet") == [
        ("CreateChangeSet", "prod", PRODUCER),
        ("DeleteChangeSet", "prod", PRODUCER),
        ("DeleteStack", "prod", PRODUCER),
    ]


def test_up_deploys_in_order_with_bound_parameters_then_converges_and_down_reverses(world, tmp_path, clock):
    target = make_target(demo(), world, tmp_path, clock)
    lines = []
    report = target.up(lines.append)

    assert [(s["name"], s["status"]) for s in report["stacks"]] == [
        (PRODUCER, "CREATE_COMPLETE"),
        (CONSUMER, "CREATE_COMPLETE"),
        (VPN, "CREATE_COMPLETE"),
    ]
    assert world.ops(*DEPLOY_OPS) == [
        ("ExecuteChangeSet", "prod", PRODUCER),
        ("ExecuteChangeSet", "dev", CONSUMER),
        ("ImportCertificate", "dev", ""),  # server
        ("ImportCertificate", "dev", ""),  # client
        ("ExecuteChangeSet", "dev", VPN),
    ]
    producer = {o: v for o, v in (world.find("prod", "eu-central-1", PRODUCER).outputs.items())}
    consumer = world.find("dev", "eu-central-1", CONSUMER).outputs
    assert world.params_of(PRODUCER) == {"AccountIdDev": DEV}
    assert world.params_of(CONSUMER) == {
        "ServiceName": producer["ServiceName"],
        "ServiceAvailabilityZoneIds": producer["AvailabilityZoneIds"],
    }
    arns = json.loads((tmp_path / ".privlink" / "aws.json").read_text())["steps"]["import-certificates:dev"]
    assert world.params_of(VPN) == {
        "VpcId": consumer["VpcId"],
        "SubnetIds": consumer["SubnetIds"],
        "VpcCidr": "10.10.0.0/16",
        "ServerCertificateArn": arns["server_certificate_arn"],
        "ClientRootCertificateChainArn": arns["client_ca_arn"],
    }
    assert arns["server_certificate_arn"] != arns["client_ca_arn"]
    # the declared consumer's connection was accepted (by the acceptor or the wait) and is available
    assert report["consumers"][0]["endpoint_state"] == "available"
    assert f"accepted endpoint connection {consumer['EndpointId']}" in lines
    change_set = next(c for c in world.calls if c.operation == "CreateChangeSet")
    assert {"Key": "privlink:link", "Value": "hello"} in change_set.params["Tags"]

    world.calls.clear()
    lines.clear()
    target.up(lines.append)  # converges
    assert world.ops(*DEPLOY_OPS) == []
    assert sum("no changes" in line for line in lines) == 3
    assert [c.action for c in target.plan()] == ["No change"] * 3

    world.calls.clear()
    target.down(lines.append)
    assert world.ops(*DELETE_OPS) == [
        ("DeleteStack", "dev", VPN),
        ("DeleteStack", "dev", CONSUMER),
        ("DeleteStack", "prod", PRODUCER),
        ("DeleteCertificate", "dev", ""),
        ("DeleteCertificate", "dev", ""),
    ]
    assert all(s["status"] == "NOT_DEPLOYED" for s in target.status()["stacks"])


def test_cross_region_consumer_and_vpn_go_to_the_consumer_region(world, tmp_path, clock):
    target = make_target(demo(cross_region=True), world, tmp_path, clock)
    report = target.up()
    assert [(s["region"], s["status"]) for s in report["stacks"]] == [
        ("us-east-1", "CREATE_COMPLETE"),
        ("eu-west-2", "CREATE_COMPLETE"),
        ("eu-west-2", "CREATE_COMPLETE"),
    ]
    service_name = world.find("prod", "us-east-1", PRODUCER).outputs["ServiceName"]
    assert service_name.startswith("com.amazonaws.vpce.us-east-1.")
    assert world.params_of(CONSUMER) == {"ServiceName": service_name}
    assert world.params_of(VPN)["ServerCertificateArn"].startswith("arn:aws:acm:eu-west-2:")
    assert report["consumers"][0]["endpoint_state"] == "available"
    regions = {
        (c.operation, c.region)
        for c in world.calls
        if c.operation in ("ExecuteChangeSet", "ImportCertificate")
    }
    assert regions == {
        ("ExecuteChangeSet", "us-east-1"),
        ("ExecuteChangeSet", "eu-west-2"),
        ("ImportCertificate", "eu-west-2"),
    }


def test_a_wrong_binding_is_refused_like_cloudformation_would(world, tmp_path, clock):
    """The fake checks parameters as CloudFormation does: an unknown one fails the change set."""
    from privlink.templates.render import render_stacks
    from privlink.templates.stacks import Literal

    def render(spec):
        stacks = render_stacks(spec)
        producer = stacks[0]
        return [
            type(producer)(
                **{**producer.__dict__, "parameters": {**producer.parameters, "Nope": Literal("x")}}
            )
        ]

    target = AwsTarget(
        demo(),
        tmp_path,
        session_factory=world.session_factory,
        render=render,
        sleep=clock.sleep,
        clock=clock.now,
    )
    with pytest.raises(AwsError, match=r"Parameters: \['Nope'\] do not exist"):
        target.up()


def test_fleet_stack_sets_follow_the_producer_and_go_before_it(world, tmp_path, clock):
    target = make_target(demo(with_fleet), world, tmp_path, clock)
    lines = []
    target.up(lines.append)
    assert world.ops(*DEPLOY_OPS) == [
        ("ExecuteChangeSet", "prod", PRODUCER),
        ("CreateStackSet", "prod", "privlink-hello-fleet"),
        ("CreateStackInstances", "prod", "privlink-hello-fleet"),
        ("ExecuteChangeSet", "dev", CONSUMER),
        ("ImportCertificate", "dev", ""),
        ("ImportCertificate", "dev", ""),
        ("ExecuteChangeSet", "dev", VPN),
    ]
    producer = world.find("prod", "eu-central-1", PRODUCER).outputs
    create = next(c for c in world.calls if c.operation == "CreateStackSet")
    assert {p["ParameterKey"]: p["ParameterValue"] for p in create.params["Parameters"]} == {
        "ServiceName": producer["ServiceName"],
        "ServiceAvailabilityZoneIds": producer["AvailabilityZoneIds"],
    }
    instances = next(c for c in world.calls if c.operation == "CreateStackInstances")
    assert instances.params["Accounts"] == FLEET and instances.params["Regions"] == ["eu-central-1"]
    # the fleet accounts are allowed by the producer template and count as declared consumers
    assert world.params_of(PRODUCER) == {"AccountIdDev": DEV}
    principals = world.find("prod", "eu-central-1", PRODUCER).template["Resources"][
        "EndpointServicePermissions"
    ]
    assert principals["Properties"]["AllowedPrincipals"][1:] == [f"arn:aws:iam::{a}:root" for a in FLEET]
    states = {c.owner: c.state for c in target.connections()}
    assert states == {DEV: "available", FLEET[0]: "available", FLEET[1]: "available"}
    assert {c.consumer for c in target.connections()} == {"dev", "fleet"}
    plan = {line.stack: line.action for line in target.plan()}
    assert plan["privlink-hello-fleet"] == "Update StackSet"
    [stack_set] = target.status()["stack_sets"]
    assert stack_set["name"] == "privlink-hello-fleet" and stack_set["status"] == "ACTIVE"
    assert stack_set["instances"] == [
        {"account": a, "region": "eu-central-1", "status": "CURRENT"} for a in FLEET
    ]

    world.calls.clear()
    target.down(lines.append)
    assert world.ops(*DELETE_OPS) == [
        ("DeleteStack", "dev", VPN),
        ("DeleteStack", "dev", CONSUMER),
        ("DeleteStackInstances", "prod", "privlink-hello-fleet"),
        ("DeleteStackSet", "prod", "privlink-hello-fleet"),
        ("DeleteStack", "prod", PRODUCER),
        ("DeleteCertificate", "dev", ""),
        ("DeleteCertificate", "dev", ""),
    ]
    assert world.stack_sets == {}
    assert target.status()["stack_sets"] == [
        {
            "name": "privlink-hello-fleet",
            "account": "prod",
            "region": "eu-central-1",
            "status": "NOT_DEPLOYED",
            "instances": [],
        }
    ]
    target.down(lines.append)  # nothing left: tolerated


def test_fleet_is_planned_as_a_stack_set_to_create(world, tmp_path, clock):
    target = make_target(demo(with_fleet), world, tmp_path, clock)
    fleet = [line for line in target.plan() if line.stack == "privlink-hello-fleet"]
    assert len(fleet) == 1
    assert fleet[0].action == "Create StackSet"
    assert fleet[0].detail == f"SELF_MANAGED: Accounts {', '.join(FLEET)} in eu-central-1"
    assert world.ops("CreateStackSet", "CreateStackInstances") == []


def test_gateway_client_factory_gives_error_wrapping_clients_the_registry_can_use(world, tmp_path):
    import boto3

    from privlink.approval.registry import registry_table_name
    from privlink.cli.fleet_commands import registry_for
    from privlink.targets.aws.gateway import ClientProxy, client_factory

    spec = demo(lambda d: d["producer"]["endpoint_service"].update(auto_approval={"registry": True}))
    factory = client_factory(spec, session_factory=world.session_factory)
    cfn = factory("cloudformation", "prod", "eu-central-1")
    assert isinstance(cfn, ClientProxy) and (cfn.account, cfn.region) == ("prod", "eu-central-1")
    with pytest.raises(AwsError, match="does not exist"):
        cfn.describe_stacks(StackName="nope")
    registry = registry_for(spec, "aws", tmp_path, factory)
    with pytest.raises(AwsError) as info:  # the table is not there yet: named, with a hint
        registry.list()
    assert info.value.code == "ResourceNotFoundException" and "privlink up" in info.value.hint
    boto3.client("dynamodb", region_name="eu-central-1").create_table(
        TableName=registry_table_name("hello"),
        AttributeDefinitions=[{"AttributeName": "account_id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "account_id", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    registry.add("333333333333", name="team")
    assert [e.account_id for e in registry.list()] == ["333333333333"]


def test_up_with_a_test_instance_leaves_its_ami_parameter_to_cloudformation(world, tmp_path, clock):
    def with_test_instance(data):
        data["consumers"][0]["test_instance"] = {"enabled": True}

    target = make_target(demo(with_test_instance), world, tmp_path, clock)
    target.up(lambda line: None)
    created = [
        c for c in world.calls if c.operation == "CreateChangeSet" and c.params["StackName"] == CONSUMER
    ]
    body = json.loads(created[-1].params["TemplateBody"])
    assert {"TestInstance", "TestInstanceRole", "SsmEndpoint"} <= set(body["Resources"])
    assert "CAPABILITY_IAM" in created[-1].params["Capabilities"]  # the template creates a role
    # CloudFormation resolves the public AMI parameter from its default; privlink binds nothing
    assert "TestInstanceImageId" not in world.params_of(CONSUMER)
    assert set(world.params_of(CONSUMER)) == {"ServiceName", "ServiceAvailabilityZoneIds"}
