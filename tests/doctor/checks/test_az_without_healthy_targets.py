"""az-without-healthy-targets: with cross-zone load balancing off, each AZ of the NLB has a healthy
target."""

from __future__ import annotations

from privlink.doctor.findings import Finding

LB = "arn:aws:elasticloadbalancing:eu-central-1:111111111111:loadbalancer/net/privlink-hello/0123456789abcdef"
TG = "arn:aws:elasticloadbalancing:eu-central-1:111111111111:targetgroup/privlink-hello/fedcba9876543210"
TARGETS = "producer/load_balancer/target_groups/0/targets"
CROSS_ZONE_OFF = {"producer/load_balancer/cross_zone": False}


def test_healthy(run_check):
    assert run_check("az-without-healthy-targets") == []


def test_all_healthy_with_cross_zone_off(run_check):
    assert run_check("az-without-healthy-targets", CROSS_ZONE_OFF) == []


def test_an_az_down_with_cross_zone_off(run_check):
    assert run_check("az-without-healthy-targets", {**CROSS_ZONE_OFF, f"{TARGETS}/1/state": "unhealthy"}) == [
        Finding(
            "az-without-healthy-targets",
            "error",
            f"{LB} eu-central-1b",
            f"cross-zone load balancing is off on {LB} and eu-central-1b (euc1-az3) has no healthy target in "
            f"{TG}; connections entering that AZ fail",
            "set producer.service.cross_zone: true, or add a healthy target in that AZ, then `privlink up`",
        )
    ]


def test_an_az_down_with_cross_zone_on(run_check):
    assert run_check("az-without-healthy-targets", {f"{TARGETS}/1/state": "unhealthy"}) == []


def test_every_az_down_is_targets_unhealthy(run_check):
    patch = {**CROSS_ZONE_OFF, f"{TARGETS}/0/state": "unhealthy", f"{TARGETS}/1/state": "unhealthy"}
    assert run_check("az-without-healthy-targets", patch) == []


def test_a_target_in_all_zones_serves_every_az(run_check):
    patch = {**CROSS_ZONE_OFF, f"{TARGETS}/0/az": "all", f"{TARGETS}/1/state": "unhealthy"}
    assert run_check("az-without-healthy-targets", patch) == []
