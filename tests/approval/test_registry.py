from __future__ import annotations

import json
from datetime import datetime, timezone

import boto3
import pytest
from botocore.stub import Stubber

from approval.conftest import REGION, TABLE
from privlink.approval.registry import DynamoRegistry, LocalRegistry, RegistryEntry
from privlink.cli.fleet_commands import registry_for
from privlink.errors import AwsError, BadInput, StateError
from privlink.spec import parse_spec
from privlink.spec.demo import demo_spec_text

T0 = datetime(2026, 3, 4, 5, 6, 7, tzinfo=timezone.utc)


def clock():
    return T0


@pytest.fixture(params=["dynamodb", "local"])
def registry(request, tmp_path):
    if request.param == "local":
        yield LocalRegistry(tmp_path / ".privlink", added_by="tester", clock=clock)
    else:
        yield DynamoRegistry(request.getfixturevalue("dynamodb"), TABLE, added_by="tester", clock=clock)


def test_add_list_contains_remove(registry):
    assert registry.list() == []
    entry = registry.add("222222222222", principal="arn:aws:iam::222222222222:role/app", name="dev")
    assert entry == RegistryEntry(
        "222222222222", "arn:aws:iam::222222222222:role/app", "dev", "2026-03-04T05:06:07+00:00", "tester"
    )
    registry.add("111111111111")
    assert [e.account_id for e in registry.list()] == ["111111111111", "222222222222"]
    assert registry.get("222222222222") == entry
    assert registry.contains("111111111111") and not registry.contains("333333333333")
    assert registry.get("111111111111").principal is None
    assert registry.remove("111111111111") is True
    assert registry.remove("111111111111") is False
    assert [e.account_id for e in registry.list()] == ["222222222222"]


def test_add_is_idempotent_and_updates(registry):
    registry.add("222222222222", name="dev")
    registry.add("222222222222", name="dev")
    registry.add("222222222222", name="staging")
    assert [(e.account_id, e.consumer_name) for e in registry.list()] == [("222222222222", "staging")]


@pytest.mark.parametrize(
    "account, principal, name, where",
    [
        ("12345", None, None, "ACCOUNT_ID"),
        ("22222222222a", None, None, "ACCOUNT_ID"),
        ("222222222222", "arn:aws:iam::333333333333:root", None, "--principal"),
        ("222222222222", "not-an-arn", None, "--principal"),
        ("222222222222", None, "x" * 65, "--name"),
    ],
)
def test_bad_entries_are_bad_input_and_write_nothing(registry, account, principal, name, where):
    with pytest.raises(BadInput) as exc:
        registry.add(account, principal=principal, name=name)
    assert exc.value.where == where
    assert registry.list() == []


def test_local_file_layout_and_corruption(tmp_path):
    reg = LocalRegistry(tmp_path, added_by="tester", clock=clock)
    reg.add("222222222222", name="dev")
    data = json.loads((tmp_path / "registry.json").read_text())
    assert data["version"] == 1
    assert data["consumers"]["222222222222"]["consumer_name"] == "dev"
    (tmp_path / "registry.json").write_text("{not json")
    with pytest.raises(StateError):
        reg.list()


def test_missing_table_is_a_named_aws_error(dynamodb):
    reg = DynamoRegistry(dynamodb, "privlink-nope-consumers")
    with pytest.raises(AwsError) as exc:
        reg.list()
    assert exc.value.code == "ResourceNotFoundException"
    assert "auto_approval" in exc.value.hint


def test_dynamo_items_have_the_documented_schema(dynamodb):
    DynamoRegistry(dynamodb, TABLE, added_by="tester", clock=clock).add("222222222222", name="dev")
    item = dynamodb.get_item(TableName=TABLE, Key={"account_id": {"S": "222222222222"}})["Item"]
    assert item == {
        "account_id": {"S": "222222222222"},
        "consumer_name": {"S": "dev"},
        "added_at": {"S": "2026-03-04T05:06:07+00:00"},
        "added_by": {"S": "tester"},
    }


def test_list_follows_scan_pages(dynamodb):
    reg = DynamoRegistry(dynamodb, TABLE)
    with Stubber(dynamodb) as stub:
        stub.add_response(
            "scan",
            {
                "Items": [{"account_id": {"S": "222222222222"}}],
                "LastEvaluatedKey": {"account_id": {"S": "222222222222"}},
            },
            {"TableName": TABLE, "ConsistentRead": True},
        )
        stub.add_response(
            "scan",
            {"Items": [{"account_id": {"S": "111111111111"}}]},
            {
                "TableName": TABLE,
                "ConsistentRead": True,
                "ExclusiveStartKey": {"account_id": {"S": "222222222222"}},
            },
        )
        assert [e.account_id for e in reg.list()] == ["111111111111", "222222222222"]


APPROVAL = "auto_accept: true\n    auto_approval: {registry: true}"


def test_aws_registry_through_an_injected_client_factory(dynamodb, tmp_path):
    spec = parse_spec(demo_spec_text().replace("auto_accept: true", APPROVAL))
    made = []

    def factory(service, account, region):
        made.append((service, account, region))
        return boto3.client(service, region_name=region)

    registry = registry_for(spec, "aws", tmp_path, factory)
    assert isinstance(registry, DynamoRegistry) and registry.table == TABLE
    entry = registry.add("222222222222", name="dev")
    assert entry.added_by.startswith("arn:aws:")  # the caller identity (moto's)
    assert registry.contains("222222222222")
    assert made == [("sts", "prod", REGION), ("dynamodb", "prod", REGION)]
    assert isinstance(registry_for(spec, "local", tmp_path), LocalRegistry)
    with pytest.raises(BadInput):
        registry_for(parse_spec(demo_spec_text()), "aws", tmp_path, factory)
