"""private-dns-unverified: the service's private DNS name is verified; an error when an endpoint
relies on it."""

from __future__ import annotations

import pytest

from privlink.doctor.findings import Finding

PRIVATE_DNS = {
    "producer/service/private_dns_name": "hello.example.com",
    "producer/service/private_dns_configuration": {
        "state": "pendingVerification",
        "type": "TXT",
        "name": "_privlink-verify",
        "value": "vpce:abc123",
    },
}
FIX = (
    "publish a TXT record _privlink-verify.hello.example.com = vpce:abc123 in public DNS, then run "
    "`privlink up` (it starts the verification)"
)


def test_healthy(run_check):
    assert run_check("private-dns-unverified") == []


def test_pending_and_relied_on(run_check):
    patch = {**PRIVATE_DNS, "consumers/dev/endpoint/private_dns_enabled": True}
    assert run_check("private-dns-unverified", patch) == [
        Finding(
            "private-dns-unverified",
            "error",
            "vpce-svc-0a1b2c3d4e5f60718",
            "private DNS name hello.example.com of vpce-svc-0a1b2c3d4e5f60718 is pendingVerification; "
            "consumers dev rely on it",
            FIX,
        )
    ]


def test_failed_and_relied_on_by_two(run_check):
    patch = {
        **PRIVATE_DNS,
        "producer/service/private_dns_configuration/state": "failed",
        "consumers/dev/endpoint/private_dns_enabled": True,
        "consumers/far/endpoint/private_dns_enabled": True,
    }
    assert run_check("private-dns-unverified", patch) == [
        Finding(
            "private-dns-unverified",
            "error",
            "vpce-svc-0a1b2c3d4e5f60718",
            "private DNS name hello.example.com of vpce-svc-0a1b2c3d4e5f60718 is failed; consumers dev, far rely on it",
            FIX,
        )
    ]


def test_pending_and_not_relied_on_is_a_warning(run_check):
    assert run_check("private-dns-unverified", PRIVATE_DNS) == [
        Finding(
            "private-dns-unverified",
            "warning",
            "vpce-svc-0a1b2c3d4e5f60718",
            "private DNS name hello.example.com of vpce-svc-0a1b2c3d4e5f60718 is pendingVerification",
            FIX,
        )
    ]


def test_without_a_configuration(run_check):
    assert run_check(
        "private-dns-unverified", {"producer/service/private_dns_name": "hello.example.com"}
    ) == [
        Finding(
            "private-dns-unverified",
            "warning",
            "vpce-svc-0a1b2c3d4e5f60718",
            "private DNS name hello.example.com of vpce-svc-0a1b2c3d4e5f60718 is unknown",
            "publish the TXT record in public DNS, then run `privlink up` (it starts the verification)",
        )
    ]


@pytest.mark.parametrize("relied_on", [True, False])
def test_verified(run_check, relied_on):
    patch = {
        **PRIVATE_DNS,
        "producer/service/private_dns_configuration/state": "verified",
        "consumers/dev/endpoint/private_dns_enabled": relied_on,
    }
    assert run_check("private-dns-unverified", patch) == []
