from __future__ import annotations

import json

from privlink.approval.registry import LocalRegistry
from privlink.approval.sandbox import SandboxEc2, approve_in_sandbox

SERVICE = "vpce-svc-0123456789abcdef0"


def world(states: dict[str, tuple[str, str]]):
    """A tiny stand-in for the engine's world: endpoint -> (owner, state); accept moves to pending."""

    def list_connections():
        return [
            {"ServiceId": SERVICE, "VpcEndpointId": eid, "VpcEndpointOwner": owner, "VpcEndpointState": state}
            for eid, (owner, state) in sorted(states.items())
        ]

    def accept(service_id, ids):
        failed = []
        for eid in ids:
            if service_id != SERVICE or states.get(eid, ("", ""))[1] != "pendingAcceptance":
                failed.append(
                    {"ResourceId": eid, "Error": {"Code": "InvalidState", "Message": "not pending"}}
                )
            else:
                states[eid] = (states[eid][0], "pending")
        return failed

    return SandboxEc2(list_connections, accept)


def test_sandbox_runs_the_same_handler_against_the_local_registry(tmp_path):
    registry = LocalRegistry(tmp_path)
    registry.add("222222222222", name="dev")
    states = {
        "vpce-0aaaaaaaaaaaaaaa1": ("222222222222", "pendingAcceptance"),
        "vpce-0bbbbbbbbbbbbbbb2": ("333333333333", "pendingAcceptance"),
        "vpce-0ccccccccccccccc3": ("222222222222", "available"),
    }
    ec2 = world(states)
    event = {"Records": [{"Sns": {"Message": json.dumps({"vpcEndpointId": "vpce-0aaaaaaaaaaaaaaa1"})}}]}
    assert approve_in_sandbox(event, ec2, registry, SERVICE) == {"vpce-0aaaaaaaaaaaaaaa1": "accepted"}
    assert states["vpce-0aaaaaaaaaaaaaaa1"][1] == "pending"
    # A sweep finds only the unregistered one still pending; running it again changes nothing.
    assert approve_in_sandbox({"sweep": True}, ec2, registry, SERVICE) == {
        "vpce-0bbbbbbbbbbbbbbb2": "unregistered"
    }
    registry.add("333333333333")
    assert approve_in_sandbox({"sweep": True}, ec2, registry, SERVICE) == {
        "vpce-0bbbbbbbbbbbbbbb2": "accepted"
    }
    assert approve_in_sandbox({"sweep": True}, ec2, registry, SERVICE) == {}


def test_sandbox_describe_filters_and_pages():
    states = {f"vpce-{i:017x}": ("222222222222", "pendingAcceptance") for i in range(7)}
    ec2 = world(states)
    first = ec2.describe_vpc_endpoint_connections(
        Filters=[{"Name": "vpc-endpoint-state", "Values": ["pendingAcceptance"]}], MaxResults=5
    )
    assert len(first["VpcEndpointConnections"]) == 5 and first["NextToken"] == "5"
    rest = ec2.describe_vpc_endpoint_connections(MaxResults=5, NextToken=first["NextToken"])
    assert len(rest["VpcEndpointConnections"]) == 2 and "NextToken" not in rest
    none = ec2.describe_vpc_endpoint_connections(
        Filters=[{"Name": "service-id", "Values": ["vpce-svc-other"]}]
    )
    assert none == {"VpcEndpointConnections": []}
