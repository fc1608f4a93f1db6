"""not-deployed: the producer stack and every consumer's stack exist and did not fail."""

from __future__ import annotations

from privlink.doctor.check import Check, FindingKind
from privlink.doctor.findings import Finding
from privlink.doctor.skips import CHECK_SKIPPED, skipped
from privlink.observe.model import Observation, producer_part
from privlink.templates.naming import consumer_stack, producer_stack

FIX_MISSING = "run `privlink up`"
FIX_FAILED = "see `privlink status`, fix the cause, then run `privlink up`"

NOT_DEPLOYED = FindingKind(
    "not-deployed",
    ("error",),
    "A stack of the link does not exist, or its last change failed.",
    "privlink deploys one CloudFormation stack for the producer (`privlink-<link>-producer`) and one "
    "per consumer (`privlink-<link>-consumer-<name>`). A stack that does not exist was never created "
    "or was deleted. A producer stack whose status ends in `FAILED` or `ROLLBACK_COMPLETE` (its last "
    "create or update failed) does not hold what the spec asks for: what it should hold may be "
    "missing or stale.",
    "aws cloudformation describe-stacks --stack-name privlink-<link>-producer "
    "--query 'Stacks[0].StackStatus'\n"
    "aws cloudformation describe-stack-events --stack-name privlink-<link>-producer "
    "--query \"StackEvents[?contains(ResourceStatus, 'FAILED')]\"",
    (FIX_MISSING, FIX_FAILED),
)


def not_deployed(obs: Observation) -> list[Finding]:
    found: list[Finding] = []
    producer = producer_stack(obs.expected.link).name
    if not obs.known(producer_part("stack")):
        found.append(skipped("not-deployed", "producer", [producer_part("stack")]))
    elif not obs.producer.deployed:
        found.append(
            NOT_DEPLOYED.finding("error", producer, "the producer stack does not exist", FIX_MISSING)
        )
    elif obs.producer.stack_status.endswith(("FAILED", "ROLLBACK_COMPLETE")):
        found.append(
            NOT_DEPLOYED.finding(
                "error", producer, f"the producer stack is {obs.producer.stack_status}", FIX_FAILED
            )
        )
    for consumer in obs.consumers:
        if not consumer.deployed:
            found.append(
                NOT_DEPLOYED.finding(
                    "error",
                    consumer_stack(obs.expected.link, consumer.name).name,
                    f"the stack of consumer {consumer.name} does not exist",
                    FIX_MISSING,
                )
            )
    return found


CHECKS = (Check("not-deployed", not_deployed, (NOT_DEPLOYED, CHECK_SKIPPED), ("consumer.stack",)),)
