from __future__ import annotations

import os

import boto3
import pytest
from botocore.stub import Stubber

from privlink.targets.aws.gateway import ClientProxy


@pytest.fixture(autouse=True)
def fake_credentials(monkeypatch):
    """No test may pick up real credentials or profiles from this machine."""
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture
def stubbed():
    """Factory: a real botocore client with a Stubber (it validates every response against the
    service model) wrapped like the gateway wraps clients. All stubs must be consumed."""
    stubbers = []

    def make(service: str, region: str = "eu-central-1", account: str = "prod"):
        raw = boto3.session.Session(region_name=region).client(service, region_name=region)
        stubber = Stubber(raw)
        stubber.activate()
        stubbers.append(stubber)
        return ClientProxy(raw, service, account, region), stubber

    yield make
    for stubber in stubbers:
        stubber.assert_no_pending_responses()


@pytest.fixture
def clock():
    return FakeClock()


class FakeClock:
    """Injected time: sleep advances the clock instead of waiting."""

    def __init__(self) -> None:
        self.t = 0.0
        self.sleeps: list[float] = []

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.t += max(seconds, 1.0)
