"""nlb-idle-timeout: one info per listener with its TCP idle timeout, healthy or not."""

from __future__ import annotations

from privlink.doctor.findings import Finding

LB = "arn:aws:elasticloadbalancing:eu-central-1:111111111111:loadbalancer/net/privlink-hello/0123456789abcdef"
LISTENER = "arn:aws:elasticloadbalancing:eu-central-1:111111111111:listener/net/privlink-hello/0123456789abcdef/aaaabbbbccccdddd"


def idle_timeout(resource: str, seconds: int, source: str) -> Finding:
    return Finding(
        "nlb-idle-timeout",
        "info",
        resource,
        f"TCP idle timeout of listener 8080 is {seconds} s ({source}); idle connections through the endpoint "
        "are dropped silently after it",
        f"send TCP or application keepalives more often than every {seconds} s, or set "
        "producer.service.idle_timeout (not with cross-region consumers)",
    )


def test_healthy_the_nlb_default(run_check):
    assert run_check("nlb-idle-timeout") == [idle_timeout(LISTENER, 350, "the NLB default")]


def test_set_on_the_listener(run_check):
    patch = {"producer/load_balancer/listeners/0/idle_timeout": 600}
    assert run_check("nlb-idle-timeout", patch) == [idle_timeout(LISTENER, 600, "set on the listener")]


def test_a_listener_without_its_arn_is_named_by_the_load_balancer(run_check):
    patch = {"producer/load_balancer/listeners/0/arn": ""}
    assert run_check("nlb-idle-timeout", patch) == [idle_timeout(LB, 350, "the NLB default")]


def test_no_load_balancer(run_check):
    assert run_check("nlb-idle-timeout", {"producer/load_balancer": None}) == []
