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
NETWORK = "privlink-hello-network-dev"
DEPLOY_OPS = ("ExecuteChangeSet", "ImportCertificate", "CreateStackSet", "CreateStackInstances")
DELETE_OPS = ("DeleteStack", "DeleteCertificate", "DeleteStackInstances", "DeleteStackSet")
IMPORT = ("ImportCertificate", "dev", "")


def before(ops, first, then):
    """Every `first` op comes before every `then` op (the steps ran in threads: only the plan's
    dependencies fix an order)."""
    assert first in ops and then in ops, (first, then, ops)
    last_first = max(i for i, op in enumerate(ops) if op == first)
    first_then = min(i for i, op in enumerate(ops) if op == then)
    assert last_first < first_then, (first, then, ops)


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
    report = target.plan()
    by_stack = {}
    for line in report.lines():
        by_stack.setdefault(line.stack, []).append(line)
    assert list(by_stack) == [PRODUCER, NETWORK, CONSUMER, VPN]
    assert by_stack[PRODUCER][0].action == "Create stack"
    added = {line.logical_id for line in by_stack[PRODUCER][1:]}
    assert {"EndpointService", "LoadBalancer", "EndpointServicePermissions"} <= added
    assert by_stack[CONSUMER][0].detail == (
        f"after output ServiceName of {PRODUCER}, output VpcId of {NETWORK}, output SubnetIds of {NETWORK}"
    )
    assert [line.detail for line in by_stack[VPN] if line.action == "Step"] == ["import-certificates:dev"]
    # the producer and the network could get a change set (nothing they need is missing); both are
    # discarded with the empty stacks they made
    params = world.params_of(PRODUCER)
    assert params["AccountIdDev"] == DEV and params["DemoImageId"].startswith("ami-")
    assert params["AvailabilityZoneIds"] == world.params_of(NETWORK)["AvailabilityZoneIds"]
    ops = world.ops("CreateChangeSet", "DeleteChangeSet", "DeleteStack", "ExecuteChangeSet")
    assert sorted(ops) == sorted(
        [
            (op, account, stack)
            for account, stack in (("prod", PRODUCER), ("dev", NETWORK))
            for op in ("CreateChangeSet", "DeleteChangeSet", "DeleteStack")
        ]
    )
    plan = report.to_json()
    assert plan["schema"] == "privlink/plan/v1" and plan["action"] == "up"
    assert plan["critical_path"] == [f"deploy:{NETWORK}", f"deploy:{VPN}", "wait-healthy"]
    assert plan["expected_seconds"] == 700  # the network (30 s), then the VPN: 60 + 2 x 300 + 10


def test_up_deploys_in_order_with_bound_parameters_then_converges_and_down_reverses(world, tmp_path, clock):
    target = make_target(demo(), world, tmp_path, clock)
    lines = []
    report = target.up(lines.append)

    assert [(s["name"], s["status"]) for s in report["stacks"]] == [
        (PRODUCER, "CREATE_COMPLETE"),
        (NETWORK, "CREATE_COMPLETE"),
        (CONSUMER, "CREATE_COMPLETE"),
        (VPN, "CREATE_COMPLETE"),
    ]
    ops = world.ops(*DEPLOY_OPS, "AcceptVpcEndpointConnections")
    assert sorted(ops) == sorted(
        [
            ("ExecuteChangeSet", "prod", PRODUCER),
            ("ExecuteChangeSet", "dev", NETWORK),
            ("ExecuteChangeSet", "dev", CONSUMER),
            IMPORT,  # server
            IMPORT,  # client
            ("ExecuteChangeSet", "dev", VPN),
            ("AcceptVpcEndpointConnections", "prod", ""),
        ]
    )
    before(ops, ("ExecuteChangeSet", "prod", PRODUCER), ("ExecuteChangeSet", "dev", CONSUMER))
    before(ops, ("ExecuteChangeSet", "dev", NETWORK), ("ExecuteChangeSet", "dev", CONSUMER))
    before(ops, ("ExecuteChangeSet", "dev", NETWORK), ("ExecuteChangeSet", "dev", VPN))
    before(ops, IMPORT, ("ExecuteChangeSet", "dev", VPN))
    before(ops, ("ExecuteChangeSet", "dev", CONSUMER), ("AcceptVpcEndpointConnections", "prod", ""))
    producer = world.find("prod", "eu-central-1", PRODUCER).outputs
    network = world.find("dev", "eu-central-1", NETWORK).outputs
    consumer = world.find("dev", "eu-central-1", CONSUMER).outputs
    images = json.loads((tmp_path / ".privlink" / "aws.json").read_text())["images"]
    assert world.params_of(PRODUCER) == {
        "AccountIdDev": DEV,
        "AvailabilityZoneIds": producer["AvailabilityZoneIds"],
        "DemoImageId": images["eu-central-1"][
            "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
        ],
    }
    # the consumer's subnets go in the producer's AZ IDs, decided before either was deployed
    assert world.params_of(NETWORK) == {"AvailabilityZoneIds": producer["AvailabilityZoneIds"]}
    assert world.params_of(CONSUMER) == {
        "ServiceName": producer["ServiceName"],
        "VpcId": network["VpcId"],
        "SubnetIds": network["SubnetIds"],
    }
    assert consumer["VpcId"] == network["VpcId"]  # re-exported for status and doctor
    arns = json.loads((tmp_path / ".privlink" / "aws.json").read_text())["steps"]["import-certificates:dev"]
    assert world.params_of(VPN) == {
        "VpcId": network["VpcId"],
        "SubnetIds": network["SubnetIds"],
        "VpcCidr": "10.10.0.0/16",
        "ServerCertificateArn": arns["server_certificate_arn"],
        "ClientRootCertificateChainArn": arns["client_ca_arn"],
    }
    assert arns["server_certificate_arn"] != arns["client_ca_arn"]
    # the declared consumer's connection was accepted and is available
    assert report["consumers"][0]["endpoint_state"] == "available"
    assert f"accepted endpoint connection {consumer['EndpointId']}" in lines
    assert any(line.startswith("targets: 2 of 2 healthy") for line in lines)
    change_set = next(c for c in world.calls if c.operation == "CreateChangeSet")
    assert {"Key": "privlink:link", "Value": "hello"} in change_set.params["Tags"]

    world.calls.clear()
    lines.clear()
    world.ami_release += 1  # a new Amazon Linux AMI is out: nothing is replaced
    target.up(lines.append)  # converges
    assert world.ops(*DEPLOY_OPS) == []
    assert sum("no changes" in line for line in lines) == 4
    assert [c.action for c in target.plan().lines()] == ["No change"] * 4

    world.calls.clear()
    target.down(lines.append)
    ops = world.ops(*DELETE_OPS)
    assert sorted(ops) == sorted(
        [
            ("DeleteStack", "dev", VPN),
            ("DeleteStack", "dev", CONSUMER),
            ("DeleteStack", "dev", NETWORK),
            ("DeleteStack", "prod", PRODUCER),
            ("DeleteCertificate", "dev", ""),
            ("DeleteCertificate", "dev", ""),
        ]
    )
    before(ops, ("DeleteStack", "dev", VPN), ("DeleteStack", "dev", NETWORK))
    before(ops, ("DeleteStack", "dev", CONSUMER), ("DeleteStack", "dev", NETWORK))
    before(ops, ("DeleteStack", "dev", CONSUMER), ("DeleteStack", "prod", PRODUCER))
    before(ops, ("DeleteStack", "dev", VPN), ("DeleteCertificate", "dev", ""))
    assert all(s["status"] == "NOT_DEPLOYED" for s in target.status()["stacks"])


def test_cross_region_stacks_go_to_the_consumer_region_and_avoid_az_ids_without_cross_region(
    world, tmp_path, clock
):
    # in this producer account us-east-1a is use1-az3, where cross-region PrivateLink is not offered
    world.zones[("prod", "us-east-1")] = {
        "us-east-1a": "use1-az3",
        "us-east-1b": "use1-az5",
        "us-east-1c": "use1-az1",
        "us-east-1d": "use1-az2",
    }
    world.offerings["us-east-1"] = {"t3.micro": {"use1-az5"}}  # and the demo's t3 not in use1-az5
    target = make_target(demo(cross_region=True), world, tmp_path, clock)
    report = target.up()
    assert [(s["region"], s["status"]) for s in report["stacks"]] == [
        ("us-east-1", "CREATE_COMPLETE"),
        ("eu-west-2", "CREATE_COMPLETE"),
        ("eu-west-2", "CREATE_COMPLETE"),
        ("eu-west-2", "CREATE_COMPLETE"),
    ]
    assert world.params_of(PRODUCER)["AvailabilityZoneIds"] == "use1-az1,use1-az2"
    network_azs = world.params_of(NETWORK)["AvailabilityZoneIds"].split(",")
    assert len(network_azs) == 2 and all(a.startswith("euw2-") for a in network_azs)
    service_name = world.find("prod", "us-east-1", PRODUCER).outputs["ServiceName"]
    assert service_name.startswith("com.amazonaws.vpce.us-east-1.")
    assert world.params_of(CONSUMER)["ServiceName"] == service_name
    assert world.params_of(VPN)["ServerCertificateArn"].startswith("arn:aws:acm:eu-west-2:")
    assert report["consumers"][0]["endpoint_state"] == "available"
    # SupportedRegions lists the host region as AWS reports it
    body = json.loads(
        next(
            c for c in world.calls if c.operation == "CreateChangeSet" and c.params["StackName"] == PRODUCER
        ).params["TemplateBody"]
    )
    assert body["Resources"]["EndpointService"]["Properties"]["SupportedRegions"] == [
        "us-east-1",
        "eu-west-2",
    ]
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
    ops = world.ops(*DEPLOY_OPS)
    assert sorted(ops) == sorted(
        [
            ("ExecuteChangeSet", "prod", PRODUCER),
            ("CreateStackSet", "prod", "privlink-hello-fleet"),
            ("CreateStackInstances", "prod", "privlink-hello-fleet"),
            ("ExecuteChangeSet", "dev", NETWORK),
            ("ExecuteChangeSet", "dev", CONSUMER),
            IMPORT,
            IMPORT,
            ("ExecuteChangeSet", "dev", VPN),
        ]
    )
    before(ops, ("ExecuteChangeSet", "prod", PRODUCER), ("CreateStackSet", "prod", "privlink-hello-fleet"))
    before(
        ops,
        ("CreateStackSet", "prod", "privlink-hello-fleet"),
        ("CreateStackInstances", "prod", "privlink-hello-fleet"),
    )
    producer = world.find("prod", "eu-central-1", PRODUCER).outputs
    create = next(c for c in world.calls if c.operation == "CreateStackSet")
    assert {p["ParameterKey"]: p["ParameterValue"] for p in create.params["Parameters"]} == {
        "ServiceName": producer["ServiceName"],
        "ServiceAvailabilityZoneIds": producer["AvailabilityZoneIds"],
    }
    template = json.loads(create.params["TemplateBody"])
    assert "Vpc" in template["Resources"]  # one StackSet instance is one stack: the VPC is inside
    instances = next(c for c in world.calls if c.operation == "CreateStackInstances")
    assert instances.params["Accounts"] == FLEET and instances.params["Regions"] == ["eu-central-1"]
    # the fleet accounts are allowed by the producer template and count as declared consumers
    assert world.params_of(PRODUCER)["AccountIdDev"] == DEV
    principals = world.find("prod", "eu-central-1", PRODUCER).template["Resources"][
        "EndpointServicePermissions"
    ]
    assert principals["Properties"]["AllowedPrincipals"][1:] == [f"arn:aws:iam::{a}:root" for a in FLEET]
    states = {c.owner: c.state for c in target.connections()}
    assert states == {DEV: "available", FLEET[0]: "available", FLEET[1]: "available"}
    assert {c.consumer for c in target.connections()} == {"dev", "fleet"}
    plan = {line.stack: line.action for line in target.plan().lines()}
    assert plan["privlink-hello-fleet"] == "Update StackSet"
    [stack_set] = target.status()["stack_sets"]
    assert stack_set["name"] == "privlink-hello-fleet" and stack_set["status"] == "ACTIVE"
    assert stack_set["instances"] == [
        {"account": a, "region": "eu-central-1", "status": "CURRENT"} for a in FLEET
    ]

    world.calls.clear()
    target.down(lines.append)
    ops = world.ops(*DELETE_OPS)
    assert sorted(ops) == sorted(
        [
            ("DeleteStack", "dev", VPN),
            ("DeleteStack", "dev", CONSUMER),
            ("DeleteStack", "dev", NETWORK),
            ("DeleteStackInstances", "prod", "privlink-hello-fleet"),
            ("DeleteStackSet", "prod", "privlink-hello-fleet"),
            ("DeleteStack", "prod", PRODUCER),
            ("DeleteCertificate", "dev", ""),
            ("DeleteCertificate", "dev", ""),
        ]
    )
    before(ops, ("DeleteStackSet", "prod", "privlink-hello-fleet"), ("DeleteStack", "prod", PRODUCER))
    before(ops, ("DeleteStack", "dev", CONSUMER), ("DeleteStack", "prod", PRODUCER))
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
    fleet = [line for line in target.plan().lines() if line.stack == "privlink-hello-fleet"]
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


def test_up_with_a_test_instance_passes_the_ami_resolved_once(world, tmp_path, clock):
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
    # a plain AMI ID from the public parameter of the instance type's architecture, recorded
    path = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64"
    recorded = json.loads((tmp_path / ".privlink" / "aws.json").read_text())["images"]["eu-central-1"][path]
    assert world.params_of(CONSUMER)["TestInstanceImageId"] == recorded
    gets = [c.params["Name"] for c in world.calls if c.operation == "GetParameter"]
    assert sorted(gets) == sorted(
        [path, "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"]
    )

    world.calls.clear()
    world.ami_release += 1  # a new AMI: neither the demo targets nor the test instance change
    assert [c.action for c in target.plan().lines()] == ["No change"] * 4
    assert [c for c in world.calls if c.operation == "GetParameter"] == []  # the recorded ones
