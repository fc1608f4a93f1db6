"""targets-unhealthy: each target group has targets and they are healthy; a wrong port
(listener-target-port-mismatch) or whole AZs down with cross-zone off (az-without-healthy-targets)
are reported there instead."""

from __future__ import annotations

from privlink.doctor.findings import Finding

GROUP = "producer/load_balancer/target_groups/0"
TG = "arn:aws:elasticloadbalancing:eu-central-1:111111111111:targetgroup/privlink-hello/fedcba9876543210"
FIX = (
    "make the targets answer TCP on port 8080 (the health check port traffic-port) and allow the NLB "
    "subnets in their security group; check producer.service.targets / target_port"
)
FIRST_UNHEALTHY = {f"{GROUP}/targets/0/state": "unhealthy"}


def test_healthy(run_check):
    assert run_check("targets-unhealthy") == []


def test_some_unhealthy_is_a_warning(run_check):
    patch = {
        f"{GROUP}/targets/0/state": "unhealthy",
        f"{GROUP}/targets/0/reason": "Target.FailedHealthChecks",
        f"{GROUP}/targets/0/description": "Health checks failed",
    }
    assert run_check("targets-unhealthy", patch) == [
        Finding(
            "targets-unhealthy",
            "warning",
            "10.20.1.10",
            f"1 of 2 targets of {TG} are not healthy: 10.20.1.10:8080 in eu-central-1a is unhealthy "
            "(Target.FailedHealthChecks: Health checks failed)",
            FIX,
        )
    ]


def test_none_healthy_is_an_error(run_check):
    patch = {**FIRST_UNHEALTHY, f"{GROUP}/targets/1/state": "initial"}
    assert run_check("targets-unhealthy", patch) == [
        Finding(
            "targets-unhealthy",
            "error",
            "10.20.1.10,10.20.2.10",
            f"2 of 2 targets of {TG} are not healthy: 10.20.1.10:8080 in eu-central-1a is unhealthy; "
            "10.20.2.10:8080 in eu-central-1b is initial",
            FIX,
        )
    ]


def test_no_registered_targets(run_check):
    assert run_check("targets-unhealthy", {f"{GROUP}/targets": []}) == [
        Finding(
            "targets-unhealthy",
            "error",
            TG,
            f"target group {TG} has no registered targets",
            "set producer.service.app: demo or producer.service.targets, then `privlink up`",
        )
    ]


def test_a_wrong_target_port_is_the_cause_listener_target_port_mismatch_names(run_check):
    assert run_check("targets-unhealthy", {**FIRST_UNHEALTHY, f"{GROUP}/port": 9090}) == []


def test_a_whole_az_down_with_cross_zone_off_is_az_without_healthy_targets(run_check):
    assert (
        run_check("targets-unhealthy", {**FIRST_UNHEALTHY, "producer/load_balancer/cross_zone": False}) == []
    )


def test_part_of_an_az_down_with_cross_zone_off(run_check):
    healthy_in_same_az = {
        "id": "10.20.1.11",
        "port": 8080,
        "az": "eu-central-1a",
        "az_id": "euc1-az2",
        "state": "healthy",
    }
    patch = {
        **FIRST_UNHEALTHY,
        "producer/load_balancer/cross_zone": False,
        f"{GROUP}/targets/-": healthy_in_same_az,
    }
    assert run_check("targets-unhealthy", patch) == [
        Finding(
            "targets-unhealthy",
            "warning",
            "10.20.1.10",
            f"1 of 3 targets of {TG} are not healthy: 10.20.1.10:8080 in eu-central-1a is unhealthy",
            FIX,
        )
    ]
