"""The sandbox deploys the test instance and its interface endpoints to AWS services (ssm, ...)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from test_engine import Deployer, consumers_of, stacks_of, with_test_instance
from test_privatelink_world import make, network, op

from privlink.errors import DeployFailed
from privlink.targets.local.engine.handlers import HANDLERS
from privlink.targets.local.world import SimulatedAwsError, World
from privlink.targets.local.world_to_dataplane import build_config
from privlink.templates import naming
from privlink.templates.test_instance import SSM_SERVICES

ENDPOINT = "AWS::EC2::VPCEndpoint"
REGION = "eu-central-1"


@pytest.fixture
def world():
    w = World(id_seed="ssm")
    w.set_clock(lambda: datetime(2026, 1, 1, tzinfo=timezone.utc))
    return w


def ssm_endpoint(world, vpc, subnets, service="ssm", region=REGION, **extra):
    props = {
        "VpcId": vpc.id,
        "VpcEndpointType": "Interface",
        "ServiceName": f"com.amazonaws.{region}.{service}",
        "SubnetIds": [s.id for s in subnets],
        "PrivateDnsEnabled": True,
        **extra,
    }
    return make(world, "dev", REGION, ENDPOINT, props)


def test_up_and_down_with_the_test_instance():
    stacks = stacks_of(with_test_instance())
    d = Deployer()
    d.deploy_all(stacks)
    world = d.world
    [consumer] = consumers_of(stacks)
    out = d.outputs[consumer.stack_name]

    instance = world.get_any(out[naming.OUT_TEST_INSTANCE_ID], "AWS::EC2::Instance")
    assert instance is not None and instance.data["state"] == "running"
    assert instance.data["vpc_id"] == out["VpcId"]
    assert instance.data["subnet_id"] == out["SubnetIds"].split(",")[0]
    assert instance.properties["InstanceType"] == "t4g.nano"
    assert instance.properties["ImageId"].startswith("ami-")  # the arm64 AL2023 parameter resolved
    [profile] = world.of_type("AWS::IAM::InstanceProfile")
    assert instance.data["iam_instance_profile"] == profile.id
    [role] = world.of_type("AWS::IAM::Role")
    assert profile.data["roles"] == [role.id]

    endpoints = [r for r in world.of_type(ENDPOINT) if r.data.get("aws_service")]
    assert sorted(e.data["aws_service"] for e in endpoints) == sorted(SSM_SERVICES.values())
    for endpoint in endpoints:
        assert endpoint.data["private_dns_name"] == f"{endpoint.data['aws_service']}.{REGION}.amazonaws.com"
        assert endpoint.data["subnet_ids"] == out["SubnetIds"].split(",")
        assert endpoint.data["state"] == "available"
        names = [entry.split(":", 1)[1] for entry in endpoint.attributes["DnsEntries"]]
        assert all(n.endswith(f".{endpoint.data['aws_service']}.{REGION}.vpce.amazonaws.com") for n in names)
    # Only the link's endpoint is a PrivateLink connection; the data plane serves only it.
    assert list(world.endpoints) == [out["EndpointId"]]
    config = build_config(world, "127.77.0.0/16", {out["VpcId"]: "dev"})
    assert [e.endpoint_id for e in config.endpoints] == [out["EndpointId"]]

    d.delete_all(stacks)
    assert world.resources == {}
    for subnet in world.of_type("AWS::EC2::Subnet"):
        assert subnet.data["allocated"] == {}


def test_endpoint_gets_an_address_per_subnet_and_blocks_its_subnet_and_group(world):
    vpc, subnets = network(world, "dev", REGION, "10.10.0.0/16")
    group = make(world, "dev", REGION, "AWS::EC2::SecurityGroup", {"GroupDescription": "x", "VpcId": vpc.id})
    endpoint = ssm_endpoint(world, vpc, subnets, SecurityGroupIds=[group.id])
    assert set(endpoint.data["private_ips"]) == {s.id for s in subnets}
    for subnet in subnets:
        assert subnet.data["allocated"][endpoint.data["private_ips"][subnet.id]] == endpoint.id
    with pytest.raises(SimulatedAwsError) as err:
        HANDLERS["AWS::EC2::Subnet"].delete(op(world, "dev", REGION), subnets[0])
    assert err.value.code == "DependencyViolation"
    with pytest.raises(SimulatedAwsError) as err:
        HANDLERS["AWS::EC2::SecurityGroup"].delete(op(world, "dev", REGION), group)
    assert err.value.code == "DependencyViolation"
    HANDLERS[ENDPOINT].delete(op(world, "dev", REGION), endpoint)
    assert all(s.data["allocated"] == {} for s in subnets)


def test_update_moves_subnets_and_keeps_the_remaining_enis(world):
    vpc, subnets = network(world, "dev", REGION, "10.10.0.0/16")
    endpoint = ssm_endpoint(world, vpc, subnets)
    enis = dict(endpoint.data["network_interfaces"])
    old = dict(endpoint.properties)
    new = {**old, "SubnetIds": [subnets[0].id]}
    HANDLERS[ENDPOINT].update(op(world, "dev", REGION), endpoint, old, new)
    assert endpoint.data["network_interfaces"] == {subnets[0].id: enis[subnets[0].id]}
    assert subnets[1].data["allocated"] == {}
    assert len(endpoint.attributes["DnsEntries"]) == 2


@pytest.mark.parametrize(
    ("service", "region"), [("s3", REGION), ("ssm", "eu-west-1"), ("not-a-service", REGION)]
)
def test_unknown_service_or_another_region_is_invalid_service_name(world, service, region):
    vpc, subnets = network(world, "dev", REGION, "10.10.0.0/16")
    with pytest.raises(SimulatedAwsError) as err:
        ssm_endpoint(world, vpc, subnets, service=service, region=region)
    assert err.value.code == "InvalidServiceName"
    assert all(s.data["allocated"] == {} for s in subnets)


def test_a_second_endpoint_with_private_dns_for_the_same_service_conflicts(world):
    vpc, subnets = network(world, "dev", REGION, "10.10.0.0/16")
    ssm_endpoint(world, vpc, subnets)
    with pytest.raises(SimulatedAwsError) as err:
        ssm_endpoint(world, vpc, subnets)
    assert "conflicting DNS domain for ssm.eu-central-1.amazonaws.com" in err.value.message
    # without private DNS, or for another service, it is fine
    ssm_endpoint(world, vpc, subnets, PrivateDnsEnabled=False)
    ssm_endpoint(world, vpc, subnets, service="ssmmessages")


def test_private_dns_needs_dns_hostnames_on_the_vpc(world):
    vpc = make(world, "dev", REGION, "AWS::EC2::VPC", {"CidrBlock": "10.10.0.0/16"})
    subnet = make(world, "dev", REGION, "AWS::EC2::Subnet", {"VpcId": vpc.id, "CidrBlock": "10.10.1.0/24"})
    with pytest.raises(SimulatedAwsError, match="enableDnsHostnames"):
        ssm_endpoint(world, vpc, [subnet])


def test_an_instance_needs_an_existing_instance_profile(world):
    vpc, subnets = network(world, "dev", REGION, "10.10.0.0/16")
    props = {"ImageId": "ami-0123456789abcdef0", "SubnetId": subnets[0].id, "IamInstanceProfile": "nope"}
    with pytest.raises(SimulatedAwsError) as err:
        make(world, "dev", REGION, "AWS::EC2::Instance", props)
    assert err.value.code == "InvalidParameterValue" and "iamInstanceProfile" in err.value.message
    assert subnets[0].data["allocated"] == {}


def test_instance_profile_of_another_account_is_not_found():
    d = Deployer()
    stacks = stacks_of(with_test_instance())
    d.deploy_all(stacks)
    [profile] = d.world.of_type("AWS::IAM::InstanceProfile")
    vpc, subnets = network(d.world, "other", REGION, "10.50.0.0/16")
    props = {"ImageId": "ami-0123456789abcdef0", "SubnetId": subnets[0].id, "IamInstanceProfile": profile.id}
    with pytest.raises(SimulatedAwsError, match="iamInstanceProfile"):
        make(d.world, "other", REGION, "AWS::EC2::Instance", props)


def test_a_failed_consumer_deploy_rolls_the_endpoints_and_the_instance_back():
    stacks = stacks_of(with_test_instance())
    d = Deployer()
    d.deploy(stacks[0])  # the producer
    d.deploy(stacks[1])  # the consumer's network
    [consumer] = consumers_of(stacks)
    consumer.template["Resources"]["Ec2MessagesEndpoint"]["Properties"]["ServiceName"] = {
        "Fn::Sub": "com.amazonaws.${AWS::Region}.no-such-service"
    }
    with pytest.raises(DeployFailed, match="Ec2MessagesEndpoint.*InvalidServiceName"):
        d.deploy(consumer)
    left = [r for r in d.world.resources.values() if r.stack == consumer.stack_name]
    assert left == []
