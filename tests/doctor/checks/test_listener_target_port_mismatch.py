"""listener-target-port-mismatch: the NLB listens on the service port (8080) and forwards to the port
the targets listen on (8080)."""

from __future__ import annotations

from privlink.doctor.findings import Finding

LB = "arn:aws:elasticloadbalancing:eu-central-1:111111111111:loadbalancer/net/privlink-hello/0123456789abcdef"
TG = "arn:aws:elasticloadbalancing:eu-central-1:111111111111:targetgroup/privlink-hello/fedcba9876543210"
LISTENER_PORT = "producer/load_balancer/listeners/0/port"
GROUP = "producer/load_balancer/target_groups/0"
FIX_TARGET_PORT = "set producer.service.target_port to the port the targets listen on, then `privlink up`"
WRONG_LISTENER = Finding(
    "listener-target-port-mismatch",
    "error",
    LB,
    f"{LB} listens on 80, but clients call port 8080 (producer.service.port)",
    "run `privlink up` if producer.service.port changed since the last one; a listener changed outside "
    "CloudFormation it does not undo: `aws elbv2 modify-listener --listener-arn "
    "arn:aws:elasticloadbalancing:eu-central-1:111111111111:listener/net/privlink-hello/0123456789abcdef/"
    "aaaabbbbccccdddd --port 8080`",
)


def test_healthy(run_check):
    assert run_check("listener-target-port-mismatch") == []


def test_no_listener_on_the_service_port(run_check):
    assert run_check("listener-target-port-mismatch", {LISTENER_PORT: 80}) == [WRONG_LISTENER]


def test_the_target_group_on_another_port(run_check):
    assert run_check("listener-target-port-mismatch", {f"{GROUP}/port": 9090}) == [
        Finding(
            "listener-target-port-mismatch",
            "error",
            TG,
            f"listener 8080 forwards to {TG} on 9090; the service listens on 8080 (producer.service.target_port or port)",
            FIX_TARGET_PORT,
        )
    ]


def test_a_target_registered_on_another_port(run_check):
    assert run_check("listener-target-port-mismatch", {f"{GROUP}/targets/0/port": 9090}) == [
        Finding(
            "listener-target-port-mismatch",
            "error",
            TG,
            f"listener 8080 forwards to {TG} on 10.20.1.10:9090, 8080; the service listens on 8080 "
            "(producer.service.target_port or port)",
            FIX_TARGET_PORT,
        )
    ]


def test_both_wrong(run_check):
    assert run_check("listener-target-port-mismatch", {LISTENER_PORT: 80, f"{GROUP}/port": 9090}) == [
        WRONG_LISTENER,
        Finding(
            "listener-target-port-mismatch",
            "error",
            TG,
            f"listener 80 forwards to {TG} on 9090; the service listens on 8080 (producer.service.target_port or port)",
            FIX_TARGET_PORT,
        ),
    ]


def test_other_ports_the_spec_asks_for(run_check):
    patch = {
        LISTENER_PORT: 80,
        "expected/service_port": 80,
        f"{GROUP}/port": 9090,
        f"{GROUP}/targets/0/port": 9090,
        f"{GROUP}/targets/1/port": 9090,
        "expected/target_port": 9090,
    }
    assert run_check("listener-target-port-mismatch", patch) == []
