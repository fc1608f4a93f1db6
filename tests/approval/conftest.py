from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

REGION = "eu-central-1"
SERVICE_ID = "vpce-svc-0123456789abcdef0"
TABLE = "privlink-hello-consumers"


@pytest.fixture
def aws_env(monkeypatch):
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@pytest.fixture
def dynamodb(aws_env):
    """A moto DynamoDB client with the registry table created as the template declares it."""
    with mock_aws():
        client = boto3.client("dynamodb", region_name=REGION)
        client.create_table(
            TableName=TABLE,
            AttributeDefinitions=[{"AttributeName": "account_id", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "account_id", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        )
        yield client


@pytest.fixture
def ec2(aws_env):
    """A real botocore EC2 client; tests stub its calls with botocore's Stubber (no network)."""
    return boto3.client("ec2", region_name=REGION)
