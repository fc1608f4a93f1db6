"""PrivateLink rules exercised through the handlers directly (the engine wraps these)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from privlink.targets.local.engine.handlers import HANDLERS, Op
from privlink.targets.local.world import SimulatedAwsError, World


def op(world, account, region, logical="R"):
    return Op(world, account, region, "stack", logical)


def make(world, account, region, rtype, props):
    return HANDLERS[rtype].create(op(world, account, region), props)


def network(world, account, region, cidr, az_ids=None):
    vpc = make(
        world,
        account,
        region,
        "AWS::EC2::VPC",
        {"CidrBlock": cidr, "EnableDnsSupport": True, "EnableDnsHostnames": True},
    )
    mapping = world.az_mapping(account, region)
    ids = az_ids or list(mapping.values())[:2]
    base = ".".join(cidr.split(".")[:2])
    subnets = [
        make(
            world,
            account,
            region,
            "AWS::EC2::Subnet",
            {"VpcId": vpc.id, "CidrBlock": f"{base}.{i + 1}.0/24", "AvailabilityZoneId": z},
        )
        for i, z in enumerate(ids)
    ]
    return vpc, subnets


def producer(world, region="eu-central-1", acceptance=True, principals=(), regions=()):
    vpc, subnets = network(world, "prod", region, "10.20.0.0/16")
    lb = make(
        world,
        "prod",
        region,
        "AWS::ElasticLoadBalancingV2::LoadBalancer",
        {"Type": "network", "Scheme": "internal", "Subnets": [s.id for s in subnets]},
    )
    svc = make(
        world,
        "prod",
        region,
        "AWS::EC2::VPCEndpointService",
        {
            "NetworkLoadBalancerArns": [lb.id],
            "AcceptanceRequired": acceptance,
            "SupportedRegions": list(regions),
        },
    )
    make(
        world,
        "prod",
        region,
        "AWS::EC2::VPCEndpointServicePermissions",
        {"ServiceId": svc.id, "AllowedPrincipals": list(principals)},
    )
    return world.endpoint_services[svc.id], subnets


def consumer_endpoint(world, service, region="eu-central-1", az_ids=None, extra=None):
    vpc, subnets = network(
        world, "dev", region, "10.10.0.0/16", az_ids or (service.az_ids if region == service.region else None)
    )
    props = {
        "VpcId": vpc.id,
        "VpcEndpointType": "Interface",
        "ServiceName": service.name,
        "SubnetIds": [s.id for s in subnets],
        **(extra or {}),
    }
    return make(world, "dev", region, "AWS::EC2::VPCEndpoint", props)


@pytest.fixture
def world():
    w = World(id_seed="t")
    w.set_clock(lambda: datetime(2026, 1, 1, tzinfo=timezone.utc))
    return w


def test_unlisted_principal_gets_invalid_service_name(world):
    service, _ = producer(world)
    with pytest.raises(SimulatedAwsError) as err:
        consumer_endpoint(world, service)
    assert err.value.code == "InvalidServiceName"
    assert err.value.message == f"The Vpc Endpoint Service '{service.name}' does not exist"


def test_role_principal_is_narrower_than_root(world):
    dev = world.account("dev", role_arn=None)
    service, _ = producer(world, principals=[f"arn:aws:iam::{dev.id}:role/other"])
    with pytest.raises(SimulatedAwsError, match="InvalidServiceName"):
        consumer_endpoint(world, service)
    world.account("dev", role_arn=f"arn:aws:iam::{dev.id}:role/other")
    assert consumer_endpoint(world, service).id.startswith("vpce-")


def test_acceptance_flow_and_notifications(world):
    dev = world.account("dev")
    service, _ = producer(world, principals=[dev.root_arn])
    res = consumer_endpoint(world, service)
    endpoint = world.endpoints[res.id]
    assert endpoint.state == "pendingAcceptance"
    assert world.connections(service.id)[0]["VpcEndpointState"] == "pendingAcceptance"
    assert (
        world.accept(service.id, [res.id, "vpce-00000000000000000"])[0]["ResourceId"]
        == "vpce-00000000000000000"
    )
    assert endpoint.state == "available"
    assert endpoint.history == ["pendingAcceptance", "pending", "available"]
    assert world.reject(service.id, [res.id]) == []
    assert endpoint.state == "rejected"
    assert res.attributes["DnsEntries"][0].split(":", 1)[1] == endpoint.dns_names[0]


def test_no_acceptance_goes_available(world):
    service, _ = producer(world, acceptance=False, principals=["*"])
    res = consumer_endpoint(world, service)
    assert world.endpoints[res.id].state == "available"


def test_az_id_mismatch(world):
    service, _ = producer(world, principals=["*"])
    other = [z for z in world.az_mapping("dev", "eu-central-1").values() if z not in service.az_ids]
    with pytest.raises(SimulatedAwsError, match="does not support the availability zone"):
        consumer_endpoint(world, service, az_ids=other[:1])


def test_cross_region_needs_supported_region(world):
    service, _ = producer(world, region="us-east-1", principals=["*"])
    with pytest.raises(SimulatedAwsError, match="InvalidServiceName"):
        consumer_endpoint(world, service, region="eu-west-2", extra={"ServiceRegion": "us-east-1"})
    service2_world = World(id_seed="u")
    s2, _ = producer(service2_world, region="us-east-1", principals=["*"], regions=["eu-west-2"])
    res = consumer_endpoint(service2_world, s2, region="eu-west-2", extra={"ServiceRegion": "us-east-1"})
    assert ".us-east-1.vpce.amazonaws.com" in service2_world.endpoints[res.id].dns_names[0]
    with pytest.raises(SimulatedAwsError, match="InvalidServiceName"):
        consumer_endpoint(World(id_seed="v"), s2, region="eu-west-2")  # no ServiceRegion


def test_service_delete_blocked_by_active_endpoint(world):
    service, _ = producer(world, principals=["*"], acceptance=False)
    consumer_endpoint(world, service)
    res = next(r for r in world.resources.values() if r.id == service.id)
    with pytest.raises(SimulatedAwsError, match="ExistingVpcEndpointConnections"):
        HANDLERS["AWS::EC2::VPCEndpointService"].delete(op(world, "prod", "eu-central-1"), res)


def test_world_save_load_roundtrip(world, tmp_path):
    service, _ = producer(world, principals=["*"])
    path = tmp_path / "sandbox.json"
    world.save(path)
    again = World.load(path)
    assert again.endpoint_services[service.id] == service
    assert again.ids.counter == world.ids.counter
