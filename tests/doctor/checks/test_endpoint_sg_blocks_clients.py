"""endpoint-sg-blocks-clients: a CIDR ingress rule of the endpoint's groups admits each expected client
range on TCP to the service port."""

from __future__ import annotations

import pytest

from privlink.doctor.findings import Finding

RULE = "consumers/dev/security_groups/0/ingress/0"  # tcp 8080 from 10.10.0.0/16 (dev's VPC)


def blocked(ingress: str) -> Finding:
    return Finding(
        "endpoint-sg-blocks-clients",
        "error",
        "sg-0bbb0000000000001",
        "security groups sg-0bbb0000000000001 of endpoint vpce-0123456789abcdef0 allow no TCP 8080 from "
        f"10.10.0.0/16 (consumer dev); ingress: {ingress}",
        "add 10.10.0.0/16 to consumers[dev].allowed_cidrs and run `privlink up`; a rule privlink made that was "
        "removed outside CloudFormation `privlink up` does not restore: `aws ec2 "
        "authorize-security-group-ingress --group-id sg-0bbb0000000000001 --ip-protocol tcp --from-port "
        "8080 --to-port 8080 --cidr-ip 10.10.0.0/16`",
    )


def test_healthy(run_check):
    assert run_check("endpoint-sg-blocks-clients") == []


@pytest.mark.parametrize(
    ("rule", "ingress"),
    [
        pytest.param(
            {"protocol": "tcp", "from_port": 443, "to_port": 443, "cidrs": ["10.10.0.0/16"]},
            "tcp 443-443 from 10.10.0.0/16; tcp 8080-8080 from 172.16.0.0/22",
            id="another-port",
        ),
        pytest.param(
            {"protocol": "tcp", "from_port": 8080, "to_port": 8080, "cidrs": ["10.10.1.0/24"]},
            "tcp 8080-8080 from 10.10.1.0/24; tcp 8080-8080 from 172.16.0.0/22",
            id="part-of-the-range",
        ),
        pytest.param(
            {"protocol": "udp", "from_port": 8080, "to_port": 8080, "cidrs": ["10.10.0.0/16"]},
            "udp 8080-8080 from 10.10.0.0/16; tcp 8080-8080 from 172.16.0.0/22",
            id="udp",
        ),
        pytest.param(
            {
                "protocol": "tcp",
                "from_port": 8080,
                "to_port": 8080,
                "source_security_group_ids": ["sg-0bbb0000000000009"],
            },
            "tcp 8080-8080 from sg-0bbb0000000000009; tcp 8080-8080 from 172.16.0.0/22",
            id="a-group-rule-is-not-evaluated",
        ),
    ],
)
def test_no_rule_admits_the_vpc(run_check, rule, ingress):
    assert run_check("endpoint-sg-blocks-clients", {RULE: rule}) == [blocked(ingress)]


@pytest.mark.parametrize(
    "rule",
    [
        pytest.param({"protocol": "-1", "cidrs": ["10.0.0.0/8"]}, id="all-traffic-from-a-wider-range"),
        pytest.param(
            {"protocol": "tcp", "from_port": 8000, "to_port": 9000, "cidrs": ["10.10.0.0/16"]},
            id="port-range",
        ),
    ],
)
def test_a_wider_rule_admits(run_check, rule):
    assert run_check("endpoint-sg-blocks-clients", {RULE: rule}) == []


def test_a_group_that_could_not_be_read_is_not_judged(run_check):
    assert run_check("endpoint-sg-blocks-clients", {"consumers/far/security_groups": []}) == []
