"""vpn-cidr-overlap: a Client VPN's client CIDR lies outside its consumer VPC's CIDR (10.10.0.0/16)."""

from __future__ import annotations

import pytest

from privlink.doctor.findings import Finding

CLIENT_CIDR = "consumers/dev/vpn/client_cidr"


def test_healthy(run_check):
    assert run_check("vpn-cidr-overlap") == []


@pytest.mark.parametrize(
    ("client_cidr", "network"),
    [
        pytest.param("10.10.128.0/22", "10.10.128.0/22", id="inside"),
        pytest.param("10.0.0.0/8", "10.0.0.0/8", id="around"),
        pytest.param("10.10.130.1/22", "10.10.128.0/22", id="host-bits-set"),
    ],
)
def test_overlap(run_check, client_cidr, network):
    assert run_check("vpn-cidr-overlap", {CLIENT_CIDR: client_cidr}) == [
        Finding(
            "vpn-cidr-overlap",
            "error",
            "cvpn-endpoint-0ccc00000000000001",
            f"Client VPN cvpn-endpoint-0ccc00000000000001 client CIDR {network} overlaps VPC "
            "vpc-0bbb0000000000001 CIDR 10.10.0.0/16",
            "change consumers[dev].vpn.client_cidr to a range outside 10.10.0.0/16 and run `privlink up`: a "
            "client CIDR cannot change in place, so CloudFormation replaces the Client VPN endpoint, and "
            "clients need its new profile (`privlink vpn-config --consumer dev --out dev-new.ovpn`)",
        )
    ]


def test_adjacent_range(run_check):
    assert run_check("vpn-cidr-overlap", {CLIENT_CIDR: "10.11.0.0/22"}) == []
