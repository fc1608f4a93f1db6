"""vpn-not-authorized (and vpn-missing): a declared Client VPN exists, has an associated subnet and an
active rule authorizing the VPC CIDR and the endpoint's addresses (10.10.1.25, 10.10.2.25)."""

from __future__ import annotations

import pytest

from privlink.doctor.findings import Finding

VPN = "consumers/dev/vpn"
FIX_RULE = (
    "authorize 10.10.0.0/16 again (`privlink up` does not undo a change made outside CloudFormation): "
    "`aws ec2 authorize-client-vpn-ingress --client-vpn-endpoint-id cvpn-endpoint-0ccc00000000000001 "
    "--target-network-cidr 10.10.0.0/16 --authorize-all-groups`"
)


def unauthorized(blocked: str, rules: str) -> Finding:
    return Finding(
        "vpn-not-authorized",
        "error",
        "cvpn-endpoint-0ccc00000000000001",
        f"Client VPN cvpn-endpoint-0ccc00000000000001 authorizes no access to {blocked}; rules: {rules}",
        FIX_RULE,
    )


def test_healthy(run_check):
    assert run_check("vpn-not-authorized") == []


@pytest.mark.parametrize(
    ("patch", "rules"),
    [
        pytest.param(
            {f"{VPN}/authorization_rules/0/destination_cidr": "10.99.0.0/16"},
            "10.99.0.0/16 (active)",
            id="another-range",
        ),
        pytest.param(
            {f"{VPN}/authorization_rules/0/state": "revoking"},
            "10.10.0.0/16 (revoking)",
            id="rule-not-active",
        ),
        pytest.param({f"{VPN}/authorization_rules": []}, "none", id="no-rule"),
    ],
)
def test_nothing_authorized(run_check, patch, rules):
    assert run_check("vpn-not-authorized", patch) == [
        unauthorized("10.10.0.0/16, 10.10.1.25, 10.10.2.25", rules)
    ]


def test_rules_for_the_endpoint_subnets_only(run_check):
    patch = {
        f"{VPN}/authorization_rules/0/destination_cidr": "10.10.2.0/24",
        f"{VPN}/authorization_rules/-": {"destination_cidr": "10.10.1.0/24", "state": "active"},
    }
    assert run_check("vpn-not-authorized", patch) == [
        unauthorized("10.10.0.0/16", "10.10.2.0/24 (active), 10.10.1.0/24 (active)")
    ]


def test_no_associated_subnet(run_check):
    assert run_check("vpn-not-authorized", {f"{VPN}/associations/0/state": "disassociated"}) == [
        Finding(
            "vpn-not-authorized",
            "error",
            "cvpn-endpoint-0ccc00000000000001",
            "Client VPN cvpn-endpoint-0ccc00000000000001 has no associated subnet, so clients reach nothing",
            "associate a subnet again (`privlink up` does not undo a change made outside CloudFormation): "
            "`aws ec2 associate-client-vpn-target-network --client-vpn-endpoint-id "
            "cvpn-endpoint-0ccc00000000000001 --subnet-id subnet-0bbb00000000001c1`",
        )
    ]


def test_declared_but_missing(run_check):
    assert run_check("vpn-not-authorized", {VPN: None}) == [
        Finding(
            "vpn-missing",
            "error",
            "privlink-hello-vpn-dev",
            "consumer dev declares a Client VPN but none was found",
            "run `privlink up`",
        )
    ]


def test_none_declared_none_found(run_check):
    assert run_check("vpn-not-authorized", {VPN: None, "consumers/dev/vpn_expected": False}) == []
