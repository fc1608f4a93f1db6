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
    patch = {**FIRST_UNHEALTHY, f"{GROUP}/targets/1/state": "unused"}
    assert run_check("targets-unhealthy", patch) == [
        Finding(
            "targets-unhealthy",
            "error",
            "10.20.1.10,10.20.2.10",
            f"2 of 2 targets of {TG} are not healthy: 10.20.1.10:8080 in eu-central-1a is unhealthy; "
            "10.20.2.10:8080 in eu-central-1b is unused",
            FIX,
        )
    ]


INVALID_STATE = {
    "state": "unused",
    "reason": "Target.InvalidState",
    "description": "The target is in the stopped or terminated state.",
}


def instance_targets(*states: dict) -> dict:
    """The group's targets as two demo instances, each with the given fields."""
    base = [
        {"id": "i-0aaa0000000000001", "port": 8080, "az": "eu-central-1a", "az_id": "euc1-az2"},
        {"id": "i-0aaa0000000000002", "port": 8080, "az": "eu-central-1b", "az_id": "euc1-az3"},
    ]
    return {
        f"{GROUP}/target_type": "instance",
        f"{GROUP}/targets": [{**b, **s} for b, s in zip(base, states)],
    }


def test_stopped_instances_are_an_error_at_once_with_the_aws_reason(run_check):
    """AWS reports a stopped instance `unused`, Target.InvalidState, as soon as it stops."""
    stopped = {**INVALID_STATE, "instance_state": "stopped"}
    assert run_check("targets-unhealthy", instance_targets(stopped, stopped)) == [
        Finding(
            "targets-unhealthy",
            "error",
            "i-0aaa0000000000001,i-0aaa0000000000002",
            f"2 of 2 targets of {TG} are stopped instances: i-0aaa0000000000001:8080 in eu-central-1a is "
            "unused (Target.InvalidState: The target is in the stopped or terminated state.), instance "
            "i-0aaa0000000000001 is stopped; i-0aaa0000000000002:8080 in eu-central-1b is unused "
            "(Target.InvalidState: The target is in the stopped or terminated state.), instance "
            "i-0aaa0000000000002 is stopped",
            "start the instances: `aws ec2 start-instances --instance-ids i-0aaa0000000000001 "
            "i-0aaa0000000000002`",
        )
    ]


def test_a_stopping_instance_whose_health_has_not_caught_up_is_not_in_service(run_check):
    stopping = {"state": "healthy", "instance_state": "stopping"}
    running = {"state": "healthy", "instance_state": "running"}
    assert run_check("targets-unhealthy", instance_targets(stopping, running)) == [
        Finding(
            "targets-unhealthy",
            "warning",
            "i-0aaa0000000000001",
            f"1 of 2 targets of {TG} are stopped instances: i-0aaa0000000000001:8080 in eu-central-1a is "
            "healthy, instance i-0aaa0000000000001 is stopping",
            "start the instances: `aws ec2 start-instances --instance-ids i-0aaa0000000000001`",
        )
    ]


def test_stopped_and_failing_targets_are_told_apart(run_check):
    failing = {"state": "unhealthy", "reason": "Target.Timeout", "instance_state": "running"}
    assert run_check("targets-unhealthy", instance_targets(INVALID_STATE, failing)) == [
        Finding(
            "targets-unhealthy",
            "error",
            "i-0aaa0000000000001",
            f"1 of 2 targets of {TG} are stopped instances: i-0aaa0000000000001:8080 in eu-central-1a is "
            "unused (Target.InvalidState: The target is in the stopped or terminated state.)",
            "start the instances: `aws ec2 start-instances --instance-ids i-0aaa0000000000001`",
        ),
        Finding(
            "targets-unhealthy",
            "error",
            "i-0aaa0000000000002",
            f"1 of 2 targets of {TG} are not healthy: i-0aaa0000000000002:8080 in eu-central-1b is "
            "unhealthy (Target.Timeout)",
            FIX,
        ),
    ]


def test_the_users_own_address_is_named_not_the_modelled_ip(run_check):
    """The sandbox models `targets: [{address: 127.0.0.1:9002}]` as a private IP in the subnet."""
    patch = {
        f"{GROUP}/targets/0/state": "unhealthy",
        f"{GROUP}/targets/0/reason": "Target.FailedHealthChecks",
        f"{GROUP}/targets/0/address": "127.0.0.1:9002",
        f"{GROUP}/targets/1/state": "unhealthy",
        f"{GROUP}/targets/1/address": "127.0.0.1:9003",
    }
    assert run_check("targets-unhealthy", patch) == [
        Finding(
            "targets-unhealthy",
            "error",
            "127.0.0.1:9002,127.0.0.1:9003",
            f"2 of 2 targets of {TG} are not healthy: 127.0.0.1:9002 in eu-central-1a is unhealthy "
            "(Target.FailedHealthChecks); 127.0.0.1:9003 in eu-central-1b is unhealthy",
            "make 127.0.0.1:9002, 127.0.0.1:9003 accept TCP connections (producer.service.targets), then "
            "run `privlink doctor` again",
        )
    ]


def test_unknown_fields_are_said_so_never_none(run_check):
    patch = {
        f"{GROUP}/targets/0/state": "",
        f"{GROUP}/targets/0/port": None,
        f"{GROUP}/targets/0/az": None,
    }
    assert run_check("targets-unhealthy", patch) == [
        Finding(
            "targets-unhealthy",
            "warning",
            "10.20.1.10",
            f"1 of 2 targets of {TG} are not healthy: 10.20.1.10 in an unknown AZ is of unknown health",
            FIX,
        )
    ]


INITIAL = {"state": "initial", "reason": "Elb.InitialHealthChecking"}


def test_targets_in_initial_health_checks_are_an_info_with_the_expected_time(run_check):
    """Right after targets (re)start: not healthy yet, not failed either."""
    patch = {
        f"{GROUP}/targets/0/state": "initial",
        f"{GROUP}/targets/0/reason": "Elb.InitialHealthChecking",
        f"{GROUP}/targets/1/state": "initial",
    }
    assert run_check("targets-unhealthy", patch) == [
        Finding(
            "targets-initial",
            "info",
            "10.20.1.10,10.20.2.10",
            f"2 of 2 targets of {TG} are in their initial health checks: 10.20.1.10:8080 in eu-central-1a "
            "is initial (Elb.InitialHealthChecking); 10.20.2.10:8080 in eu-central-1b is initial; the NLB "
            "marks a target healthy after 3 passing checks 10 s apart, about 30 s",
            "wait about 30 s, then run `privlink doctor` again (a target that fails its checks turns "
            "unhealthy, and targets-unhealthy says why)",
        )
    ]


def test_initial_without_the_health_check_timing(run_check):
    patch = {f"{GROUP}/targets/0/state": "initial", f"{GROUP}/health_check/interval": None}
    assert run_check("targets-unhealthy", patch) == [
        Finding(
            "targets-initial",
            "info",
            "10.20.1.10",
            f"1 of 2 targets of {TG} are in their initial health checks: 10.20.1.10:8080 in eu-central-1a "
            "is initial",
            "wait for the health checks, then run `privlink doctor` again (a target that fails its checks "
            "turns unhealthy, and targets-unhealthy says why)",
        )
    ]


def test_a_failed_target_beside_one_still_checking_is_a_warning(run_check):
    patch = {**FIRST_UNHEALTHY, f"{GROUP}/targets/1/state": "initial"}
    found = run_check("targets-unhealthy", patch)
    assert [(f.id, f.severity, f.resource) for f in found] == [
        ("targets-unhealthy", "warning", "10.20.1.10"),
        ("targets-initial", "info", "10.20.2.10"),
    ]


def test_a_stopped_instance_is_not_still_checking(run_check):
    patch = instance_targets({**INITIAL, "instance_state": "stopped"}, {"state": "healthy"})
    assert [(f.id, f.severity) for f in run_check("targets-unhealthy", patch)] == [
        ("targets-unhealthy", "warning")
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
