"""not-deployed: the producer stack and each consumer's stack exist, the producer's did not fail."""

from __future__ import annotations

import pytest

from privlink.doctor.findings import Finding, Skipped


def test_healthy(run_check):
    assert run_check("not-deployed") == []


def test_producer_stack_missing(run_check):
    assert run_check("not-deployed", {"producer/deployed": False, "producer/stack_status": ""}) == [
        Finding(
            "not-deployed",
            "error",
            "privlink-hello-producer",
            "the producer stack does not exist",
            "run `privlink up`",
        )
    ]


@pytest.mark.parametrize(
    "status", ["UPDATE_ROLLBACK_FAILED", "ROLLBACK_COMPLETE", "UPDATE_ROLLBACK_COMPLETE"]
)
def test_producer_stack_failed(run_check, status):
    assert run_check("not-deployed", {"producer/stack_status": status}) == [
        Finding(
            "not-deployed",
            "error",
            "privlink-hello-producer",
            f"the producer stack is {status}",
            "see `privlink status`, fix the cause, then run `privlink up`",
        )
    ]


def test_consumer_stack_missing(run_check):
    assert run_check("not-deployed", {"consumers/far/deployed": False}) == [
        Finding(
            "not-deployed",
            "error",
            "privlink-hello-consumer-far",
            "the stack of consumer far does not exist",
            "run `privlink up`",
        )
    ]


def test_an_unread_producer_stack_is_skipped_not_missing(run_check):
    assert run_check("not-deployed", {"producer/deployed": False, "unknown": ["producer.stack"]}) == [
        Skipped(
            "check-skipped",
            "info",
            "producer",
            "check not-deployed skipped for producer: producer.stack unknown (a describe call failed)",
            "see the describe-failed warning: once that call is allowed, `privlink doctor` runs this check",
            "not-deployed",
            ("producer.stack",),
        )
    ]
