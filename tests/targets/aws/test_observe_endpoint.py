"""The aws observation finds the link's endpoint by tag when the stack output is missing, and never
mistakes the test instance's SSM endpoints (same tags, same VPC) for it."""

from __future__ import annotations

from privlink.observe.aws import Recorder, observe_endpoint
from privlink.observe.model import Consumer

REGION = "eu-central-1"
VPC = "vpc-0123456789abcdef0"
LINK_ENDPOINT = "vpce-0aaaaaaaaaaaaaaa1"
SERVICE = "com.amazonaws.vpce.eu-central-1.vpce-svc-0123456789abcdef0"


def endpoint(endpoint_id, service_name):
    return {
        "VpcEndpointId": endpoint_id,
        "VpcEndpointType": "Interface",
        "VpcId": VPC,
        "ServiceName": service_name,
        "State": "available",
        "SubnetIds": ["subnet-0123456789abcdef0"],
        "Groups": [{"GroupId": "sg-0123456789abcdef0", "GroupName": "x"}],
        "PrivateDnsEnabled": service_name != SERVICE,
        "NetworkInterfaceIds": [],
        "DnsEntries": [],
    }


def test_ssm_endpoints_are_not_the_links_endpoint(stubbed):
    ec2, stub = stubbed("ec2", REGION, "dev")
    stub.add_response(
        "describe_vpc_endpoints",
        {
            "VpcEndpoints": [
                endpoint("vpce-0bbbbbbbbbbbbbbb1", f"com.amazonaws.{REGION}.ssm"),
                endpoint("vpce-0bbbbbbbbbbbbbbb2", f"com.amazonaws.{REGION}.ec2messages"),
                endpoint(LINK_ENDPOINT, SERVICE),
            ]
        },
        {
            "Filters": [
                {"Name": "vpc-id", "Values": [VPC]},
                {"Name": "tag:privlink:link", "Values": ["hello"]},
            ]
        },
    )
    rec = Recorder("consumer", lambda account, region, service: ec2, "dev", REGION)
    found = observe_endpoint(rec, Consumer(name="dev", vpc_id=VPC), "hello")
    assert found is not None and (found.id, found.service_name) == (LINK_ENDPOINT, SERVICE)
    assert rec.errors == []


def test_only_ssm_endpoints_means_no_link_endpoint(stubbed):
    ec2, stub = stubbed("ec2", REGION, "dev")
    stub.add_response(
        "describe_vpc_endpoints",
        {"VpcEndpoints": [endpoint("vpce-0bbbbbbbbbbbbbbb1", f"com.amazonaws.{REGION}.ssm")]},
    )
    rec = Recorder("consumer", lambda account, region, service: ec2, "dev", REGION)
    assert observe_endpoint(rec, Consumer(name="dev", vpc_id=VPC), "hello") is None
