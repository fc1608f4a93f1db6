from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from botocore.stub import Stubber

from approval.conftest import SERVICE_ID, TABLE
from privlink.approval import handler
from privlink.approval.registry import DynamoRegistry, HandlerLookup

OWNER_OK = "222222222222"
OWNER_UNKNOWN = "333333333333"
EID = "vpce-0aaaaaaaaaaaaaaa1"
EID2 = "vpce-0bbbbbbbbbbbbbbb2"


def connection(eid: str, owner: str, state: str = "pendingAcceptance") -> dict:
    return {
        "ServiceId": SERVICE_ID,
        "VpcEndpointId": eid,
        "VpcEndpointOwner": owner,
        "VpcEndpointState": state,
        "CreationTimestamp": datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc),
        "DnsEntries": [
            {
                "DnsName": f"{eid}-abcd1234.{SERVICE_ID}.eu-central-1.vpce.amazonaws.com",
                "HostedZoneId": "Z273ZU8SZ5RJPC",
            }
        ],
        "NetworkLoadBalancerArns": [
            "arn:aws:elasticloadbalancing:eu-central-1:111111111111:loadbalancer/net/privlink-hello/0123456789abcdef"
        ],
        "IpAddressType": "ipv4",
        "VpcEndpointRegion": "eu-central-1",
    }


def filters(eid: str | None = None) -> list[dict]:
    """One endpoint by ID (any state), or a sweep of the service's pendingAcceptance connections."""
    if eid:
        return [{"Name": "service-id", "Values": [SERVICE_ID]}, {"Name": "vpc-endpoint-id", "Values": [eid]}]
    return [
        {"Name": "service-id", "Values": [SERVICE_ID]},
        {"Name": "vpc-endpoint-state", "Values": ["pendingAcceptance"]},
    ]


def sns_event(*messages) -> dict:
    """The Lambda event SNS delivers (Records[].Sns.Message is a string)."""
    return {
        "Records": [
            {
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "EventSubscriptionArn": "arn:aws:sns:eu-central-1:111111111111:privlink-hello:1f2e",
                "Sns": {
                    "Type": "Notification",
                    "MessageId": f"m-{i}",
                    "TopicArn": "arn:aws:sns:eu-central-1:111111111111:privlink-hello",
                    "Subject": None,
                    "Message": m if isinstance(m, str) else json.dumps(m),
                    "Timestamp": "2026-01-02T03:04:05.000Z",
                    "MessageAttributes": {},
                },
            }
            for i, m in enumerate(messages)
        ]
    }


@pytest.fixture
def registry(dynamodb):
    reg = DynamoRegistry(dynamodb, TABLE, added_by="tester")
    reg.add(OWNER_OK, name="dev")
    return reg


def test_connect_from_registered_owner_is_accepted(ec2, registry, capsys):
    with Stubber(ec2) as stub:
        stub.add_response(
            "describe_vpc_endpoint_connections",
            {"VpcEndpointConnections": [connection(EID, OWNER_OK)]},
            {"Filters": filters(EID), "MaxResults": 1000},
        )
        stub.add_response(
            "accept_vpc_endpoint_connections",
            {"Unsuccessful": []},
            {"ServiceId": SERVICE_ID, "VpcEndpointIds": [EID]},
        )
        event = sns_event({"eventType": "Connect", "serviceId": SERVICE_ID, "vpcEndpointId": EID})
        decisions = handler.handle(event, ec2, HandlerLookup(registry), SERVICE_ID)
        stub.assert_no_pending_responses()
    assert decisions == {EID: "accepted"}
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert {"level": "info", "msg": "accepted", "endpoint": EID, "service": SERVICE_ID, "code": None} in lines


def test_unregistered_owner_is_left_pending_and_nothing_is_accepted(ec2, registry, capsys):
    with Stubber(ec2) as stub:
        stub.add_response(
            "describe_vpc_endpoint_connections",
            {"VpcEndpointConnections": [connection(EID, OWNER_UNKNOWN)]},
            {"Filters": filters(EID), "MaxResults": 1000},
        )
        # No accept response queued: an accept call would raise in the Stubber.
        decisions = handler.handle(
            sns_event({"VpcEndpointId": EID, "ServiceId": SERVICE_ID}),
            ec2,
            HandlerLookup(registry),
            SERVICE_ID,
        )
        stub.assert_no_pending_responses()
    assert decisions == {EID: "unregistered"}
    assert '"msg": "unregistered"' in capsys.readouterr().out


def test_already_accepted_connection_is_a_no_op(ec2, registry):
    """Idempotent: a second delivery of the same Connect finds the connection no longer pending."""
    with Stubber(ec2) as stub:
        stub.add_response(
            "describe_vpc_endpoint_connections",
            {"VpcEndpointConnections": [connection(EID, OWNER_OK, "available")]},
            {"Filters": filters(EID), "MaxResults": 1000},
        )
        decisions = handler.handle(sns_event({"endpointId": EID}), ec2, HandlerLookup(registry), SERVICE_ID)
        stub.assert_no_pending_responses()
    assert decisions == {EID: "not-pending"}


def test_endpoint_not_listed_yet_makes_the_lambda_fail_for_a_retry(ec2, registry, dynamodb, monkeypatch):
    """Eventual consistency: the core reports not-found, the entry point raises so Lambda retries."""
    import boto3

    monkeypatch.setattr(boto3, "client", lambda service, *a, **k: {"ec2": ec2, "dynamodb": dynamodb}[service])
    monkeypatch.setenv("REGISTRY_TABLE", TABLE)
    monkeypatch.setenv("SERVICE_ID", SERVICE_ID)
    with Stubber(ec2) as stub:
        for _ in range(2):
            stub.add_response(
                "describe_vpc_endpoint_connections",
                {"VpcEndpointConnections": []},
                {"Filters": filters(EID), "MaxResults": 1000},
            )
        event = sns_event({"vpcEndpointId": EID})
        assert handler.handle(event, ec2, HandlerLookup(registry), SERVICE_ID) == {EID: "not-found"}
        with pytest.raises(RuntimeError, match="retries"):
            handler.lambda_handler(event, None)


def test_accept_reject_delete_events_only_log(ec2, registry, capsys):
    with Stubber(ec2) as stub:  # no calls expected
        event = sns_event(
            *({"eventType": kind, "vpcEndpointId": EID} for kind in ("Accept", "Reject", "Delete"))
        )
        assert handler.handle(event, ec2, HandlerLookup(registry), SERVICE_ID) == {}
        stub.assert_no_pending_responses()
    assert capsys.readouterr().out.count('"msg": "event"') == 3


def test_notification_for_another_service_is_skipped(ec2, registry):
    with Stubber(ec2):
        event = sns_event({"serviceId": "vpce-svc-0ffffffffffffffff", "vpcEndpointId": EID})
        assert handler.handle(event, ec2, HandlerLookup(registry), SERVICE_ID) == {}


@pytest.mark.parametrize("message", ["not json", "[1, 2]", "null", {"hello": "world"}, {"vpcEndpointId": 7}])
def test_unknown_shapes_never_crash_and_sweep_pending(ec2, registry, message, capsys):
    """An unrecognised body is logged and triggers a sweep that reads states from the API only."""
    with Stubber(ec2) as stub:
        stub.add_response(
            "describe_vpc_endpoint_connections",
            {
                "VpcEndpointConnections": [connection(EID, OWNER_OK), connection(EID2, OWNER_UNKNOWN)],
                "NextToken": "page-2",
            },
            {"Filters": filters(), "MaxResults": 1000},
        )
        stub.add_response(
            "describe_vpc_endpoint_connections",
            {"VpcEndpointConnections": [connection("vpce-0ccccccccccccccc3", OWNER_OK, "available")]},
            {"Filters": filters(), "MaxResults": 1000, "NextToken": "page-2"},
        )
        stub.add_response(
            "accept_vpc_endpoint_connections",
            {"Unsuccessful": []},
            {"ServiceId": SERVICE_ID, "VpcEndpointIds": [EID]},
        )
        decisions = handler.handle(sns_event(message), ec2, HandlerLookup(registry), SERVICE_ID)
        stub.assert_no_pending_responses()
    assert decisions == {EID: "accepted", EID2: "unregistered", "vpce-0ccccccccccccccc3": "not-pending"}
    assert "unrecognised notification" in capsys.readouterr().out


@pytest.mark.parametrize("event", [None, [], "x", {}, {"Records": "nope"}])
def test_non_sns_events_are_logged_and_skipped(ec2, registry, event):
    with Stubber(ec2):
        assert handler.handle(event, ec2, HandlerLookup(registry), SERVICE_ID) == {}


def test_unsuccessful_accept_is_reported_not_raised(ec2, registry, capsys):
    with Stubber(ec2) as stub:
        stub.add_response(
            "describe_vpc_endpoint_connections",
            {"VpcEndpointConnections": [connection(EID, OWNER_OK)]},
            {"Filters": filters(EID), "MaxResults": 1000},
        )
        stub.add_response(
            "accept_vpc_endpoint_connections",
            {
                "Unsuccessful": [
                    {
                        "ResourceId": EID,
                        "Error": {"Code": "InvalidState", "Message": "Endpoint is not in pendingAcceptance"},
                    }
                ]
            },
            {"ServiceId": SERVICE_ID, "VpcEndpointIds": [EID]},
        )
        decisions = handler.handle(
            sns_event({"vpcEndpointId": EID}), ec2, HandlerLookup(registry), SERVICE_ID
        )
    assert decisions == {EID: "failed"}
    line = [json.loads(x) for x in capsys.readouterr().out.splitlines() if '"failed"' in x][0]
    assert line["level"] == "error" and line["code"] == "InvalidState"


def test_principal_must_match_when_the_notification_names_one(ec2, dynamodb):
    reg = DynamoRegistry(dynamodb, TABLE)
    reg.add(OWNER_OK, principal=f"arn:aws:iam::{OWNER_OK}:role/consumer")
    with Stubber(ec2) as stub:
        stub.add_response(
            "describe_vpc_endpoint_connections",
            {"VpcEndpointConnections": [connection(EID, OWNER_OK)]},
            {"Filters": filters(EID), "MaxResults": 1000},
        )
        event = sns_event({"vpcEndpointId": EID, "principal": f"arn:aws:iam::{OWNER_OK}:role/other"})
        assert handler.handle(event, ec2, HandlerLookup(reg), SERVICE_ID) == {EID: "principal-mismatch"}


def test_table_registry_reads_the_registry_written_by_the_cli_side(dynamodb):
    """The Lambda's own GetItem reader and DynamoRegistry agree on the item layout."""
    DynamoRegistry(dynamodb, TABLE, added_by="tester").add(
        OWNER_OK, principal=f"arn:aws:iam::{OWNER_OK}:root", name="dev"
    )
    lookup = handler.TableRegistry(dynamodb, TABLE)
    entry = lookup.get(OWNER_OK)
    assert entry["principal"] == f"arn:aws:iam::{OWNER_OK}:root"
    assert entry["consumer_name"] == "dev"
    assert lookup.get(OWNER_UNKNOWN) is None


def test_lambda_handler_builds_clients_from_the_environment(ec2, registry, dynamodb, monkeypatch):
    """The entry point reads the table and service from its environment and creates its clients."""
    import boto3

    made = []

    def client(service, *args, **kwargs):
        made.append(service)
        return {"ec2": ec2, "dynamodb": dynamodb}[service]

    monkeypatch.setattr(boto3, "client", client)
    monkeypatch.setenv("REGISTRY_TABLE", TABLE)
    monkeypatch.setenv("SERVICE_ID", SERVICE_ID)
    with Stubber(ec2) as stub:
        stub.add_response(
            "describe_vpc_endpoint_connections",
            {"VpcEndpointConnections": [connection(EID, OWNER_OK)]},
            {"Filters": filters(), "MaxResults": 1000},
        )
        stub.add_response(
            "accept_vpc_endpoint_connections",
            {"Unsuccessful": []},
            {"ServiceId": SERVICE_ID, "VpcEndpointIds": [EID]},
        )
        assert handler.lambda_handler({"sweep": True}, None) == {EID: "accepted"}
    assert sorted(made) == ["dynamodb", "ec2"]


def test_handler_has_no_privlink_imports():
    import ast
    from pathlib import Path

    tree = ast.parse(Path(handler.__file__).read_text())
    modules = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    modules |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert modules <= {"json", "os", "boto3"}
