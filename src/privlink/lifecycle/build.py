"""Planning `up` and `down`: pure functions of the spec, its rendered stacks and the gathered facts.

`plan_up(spec, stacks, facts)`:
- `import-certificates:<c>` and each consumer's network stack start at once; the Client VPN stack
  needs only those two (and the VPN stack before it in the same account and region: AWS creates
  one Client VPN endpoint at a time there);
- the producer starts at once too, with AZ IDs decided up front (`privlink.lifecycle.placement`);
  `verify-private-dns` follows it when the service has a private DNS name, and the
  `consumers_from` StackSets follow both;
- a consumer stack (endpoint, private zone) needs the producer and its network; then
  `accept-connections:<c>`, then `enable-private-dns:<c>` (a stack update with
  `PrivateDnsEnabled=true`: AWS refuses private DNS before the connection is accepted);
- stacks and certificates of this link that the spec no longer has are deleted after that;
- `wait-healthy` ends the plan.
`plan_down(spec, stacks, facts)` walks the same graph backwards over what exists, with
`reject-connections` before the producer and `delete-certificates:<c>` after each VPN stack,
for every consumer in the spec or in the recorded state.
"""

from __future__ import annotations

from collections.abc import Iterable

from privlink.errors import DeployFailed, StateError
from privlink.lifecycle import latency
from privlink.lifecycle.facts import Facts, StackFact
from privlink.lifecycle.model import LifecyclePlan, Step, StepKind
from privlink.lifecycle.placement import Placement, place
from privlink.spec.models import Consumer, Spec
from privlink.templates import naming
from privlink.templates.stacks import (
    PLAN_AZ_IDS,
    PLAN_IMAGE,
    FromOutput,
    FromPlan,
    FromStep,
    RenderedStack,
)

VERIFY_PRIVATE_DNS = "verify-private-dns"
REJECT_CONNECTIONS = "reject-connections"
WAIT_HEALTHY = "wait-healthy"
DEPLOY_STACKSET = "deploy-stackset"
DELETE_STACKSET = "delete-stackset"


def deploy_id(stack_name: str) -> str:
    return f"deploy:{stack_name}"


def delete_id(stack_name: str) -> str:
    return f"delete:{stack_name}"


def accept_id(consumer: str) -> str:
    return f"accept-connections:{consumer}"


def enable_dns_id(consumer: str) -> str:
    return f"enable-private-dns:{consumer}"


def import_id(consumer: str) -> str:
    return naming.import_certificates_step(consumer)


def delete_certificates_id(consumer: str) -> str:
    return f"delete-certificates:{consumer}"


# -- stacks that need a hand ------------------------------------------------------------------------
def recovery(status: str, stack: str, account: str, region: str) -> str | None:
    """The command that gets a stack out of a state CloudFormation cannot update from, or None.

    UPDATE_ROLLBACK_FAILED: only ContinueUpdateRollback returns it to UPDATE_ROLLBACK_COMPLETE
    (CloudFormation API reference, ContinueUpdateRollback). ROLLBACK_FAILED: a failed create can only
    be deleted. DELETE_FAILED: delete again; resources that cannot be deleted can be retained.
    """
    where = f"--stack-name {stack} --region {region}"
    creds = f"with account {account}'s credentials"
    if status == "UPDATE_ROLLBACK_FAILED":
        return (
            f"aws cloudformation continue-update-rollback {where} ({creds}; --resources-to-skip "
            "names a resource that cannot roll back), then privlink up"
        )
    if status == "ROLLBACK_FAILED":
        return f"privlink down, or aws cloudformation delete-stack {where} ({creds}), then privlink up"
    if status == "DELETE_FAILED":
        return (
            f"privlink down (it deletes it again), or aws cloudformation delete-stack {where} "
            f"--retain-resources LOGICAL_ID ({creds}) for a resource that cannot be deleted"
        )
    return None


def _check_states(stacks: Iterable[RenderedStack], facts: Facts) -> None:
    for stack in stacks:
        fact = facts.stack(stack.stack_name, stack.account, stack.region)
        hint = recovery(fact.status, fact.name, fact.account, fact.region) if fact else None
        if fact is not None and hint is not None:
            raise DeployFailed(fact.name, f"{fact.status}: CloudFormation cannot update it", hint)


def _check_layout(stacks: Iterable[RenderedStack], facts: Facts) -> None:
    """Deployments made before the network stacks and the decided AZ IDs: `down` first.

    A producer whose subnets follow AZ names cannot move to AZ IDs without replacing its subnets,
    load balancer and endpoint service (a new service name); a consumer stack holding its VPC cannot
    hand it to a network stack. Both show as a deployed stack without the parameter it now takes.
    """
    for stack in stacks:
        fact = facts.stack(stack.stack_name, stack.account, stack.region)
        if fact is None or not _exists(fact):
            continue
        old_producer = naming.PARAM_AZ_IDS in stack.parameters and naming.PARAM_AZ_IDS not in fact.parameters
        if stack.name.part == naming.PRODUCER and old_producer:
            raise StateError(
                stack.stack_name,
                "deployed by an earlier privlink: its subnets follow AZ names, and moving them to "
                "the AZ IDs decided up front would replace the load balancer and the service",
                "run privlink down, then privlink up",
            )
        binding = stack.parameters.get(naming.PARAM_VPC_ID)
        old_consumer = isinstance(binding, FromOutput) and naming.PARAM_VPC_ID not in fact.parameters
        if stack.name.part == naming.CONSUMER and old_consumer:
            assert isinstance(binding, FromOutput)
            raise StateError(
                stack.stack_name,
                f"deployed by an earlier privlink: it holds the VPC that {binding.stack} now holds",
                "run privlink down, then privlink up",
            )


# -- up ---------------------------------------------------------------------------------------------
def _resolved(
    stack: RenderedStack, placement: Placement, facts: Facts, spec: Spec
) -> tuple[tuple[str, str], ...]:
    """The stack's `FromPlan` parameters, decided."""
    values: dict[str, str] = {}
    for name, binding in stack.parameters.items():
        if not isinstance(binding, FromPlan):
            continue
        if binding.key == PLAN_AZ_IDS:
            if stack.name.part == naming.PRODUCER:
                values[name] = ",".join(placement.producer)
            else:
                values[name] = ",".join(placement.consumers[stack.name.consumer or ""])
        elif binding.key.startswith(PLAN_IMAGE):
            path = binding.key[len(PLAN_IMAGE) :]
            image = facts.images.get((stack.region, path))
            if image is None:
                raise ValueError(f"{stack.stack_name}: no image fact for {path} in {stack.region}")
            values[name] = image
        else:
            raise ValueError(f"{stack.stack_name}.{name}: unknown plan value {binding.key!r}")
    return tuple(values.items())


def _needs(stack: RenderedStack, deployed: set[str]) -> list[str]:
    """Deploy steps and certificate imports the stack's parameters wait for (in parameter order)."""
    after: list[str] = []
    for dep in stack.depends_on:
        if deploy_id(dep) not in after:
            after.append(deploy_id(dep))
    for binding in stack.parameters.values():
        if isinstance(binding, FromOutput) and binding.stack in deployed:
            step = deploy_id(binding.stack)
        elif isinstance(binding, FromStep):
            step = binding.step
        else:
            continue
        if step not in after:
            after.append(step)
    return after


def _describe(stack: RenderedStack, overrides: dict[str, str]) -> str:
    part = stack.name.part
    where = f"{stack.account}, {stack.region}"
    if part == naming.PRODUCER:
        return f"the producer: VPC, load balancer, endpoint service ({where})"
    if part == naming.NETWORK:
        return (
            f"{stack.name.consumer}'s VPC and subnets in {overrides.get(naming.PARAM_AZ_IDS, '')} ({where})"
        )
    if part == naming.CONSUMER:
        return f"{stack.name.consumer}'s endpoint, security group and private zone ({where})"
    return f"{stack.name.consumer}'s Client VPN: endpoint, subnet associations one at a time ({where})"


def _private_dns_override(stack: RenderedStack, fact: StackFact | None) -> dict[str, str]:
    """Keep private DNS on where a run already turned it on (no off-and-on again)."""
    if naming.PARAM_PRIVATE_DNS_ENABLED not in stack.parameters or fact is None:
        return {}
    if fact.parameters.get(naming.PARAM_PRIVATE_DNS_ENABLED) == "true":
        return {naming.PARAM_PRIVATE_DNS_ENABLED: "true"}
    return {}


def plan_up(spec: Spec, stacks: list[RenderedStack], facts: Facts) -> LifecyclePlan:
    """The steps of `up`: see the module docstring."""
    from privlink.templates.consumer import private_dns_at_creation

    _check_states(stacks, facts)
    _check_layout(stacks, facts)
    placement = place(spec, facts)
    link = spec.name
    service = spec.producer.endpoint_service
    by_name = {s.stack_name: s for s in stacks}
    producer = naming.producer_stack(link).name
    steps: list[Step] = []
    notes: list[str] = []

    verify = bool(service.private_dns_name)
    vpn_before: dict[tuple[str, str], str] = {}
    for stack in stacks:
        fact = facts.stack(stack.stack_name, stack.account, stack.region)
        overrides = dict(_resolved(stack, placement, facts, spec))
        overrides.update(_private_dns_override(stack, fact))
        after = _needs(stack, set(by_name))
        consumer = spec.consumer(stack.name.consumer) if stack.name.consumer else None
        if (
            stack.name.part == naming.CONSUMER
            and consumer
            and private_dns_at_creation(spec, consumer)
            and verify
        ):
            after.append(VERIFY_PRIVATE_DNS)
        if stack.name.part == naming.VPN and consumer is not None:
            steps.append(_import_step(consumer, facts))
            # One Client VPN endpoint created at a time per account and region: "OperationNotPermitted:
            # Endpoint cannot be created while another endpoint is being created" (terraform-provider-aws
            # PR #9558).
            key = (stack.account, stack.region)
            if key in vpn_before:
                after.append(deploy_id(vpn_before[key]))
            vpn_before[key] = stack.stack_name
        steps.append(
            Step(
                deploy_id(stack.stack_name),
                StepKind.DEPLOY,
                stack.account,
                stack.region,
                after=tuple(after),
                stack=stack,
                stack_name=stack.stack_name,
                consumer=stack.name.consumer,
                overrides=tuple(sorted(overrides.items())),
                arguments=_accept_while_creating(spec, stack),
                expected_seconds=0.0 if _exists(fact) else latency.stack_seconds(stack.template),
                why=_describe(stack, overrides)
                + (" (exists: its change set decides)" if _exists(fact) else ""),
            )
        )
        if stack.stack_name == producer and verify:
            steps.append(
                Step(
                    VERIFY_PRIVATE_DNS,
                    StepKind.VERIFY_PRIVATE_DNS,
                    spec.producer.account,
                    spec.producer.region,
                    after=(deploy_id(producer),),
                    expected_seconds=latency.STEP_LATENCY["verify-private-dns"].seconds,
                    why=f"the service's private DNS name {service.private_dns_name} (public TXT record)",
                )
            )
        if stack.stack_name == producer and spec.consumers_from is not None:
            steps.append(_stackset_step(spec, verify))

    for consumer in spec.consumers:
        stack = by_name.get(naming.consumer_stack(link, consumer.name).name)
        if stack is None or not service.acceptance_required:
            continue
        enable = (
            consumer.private_dns_enabled
            and _private_dns_override(stack, facts.stack(stack.stack_name, stack.account, stack.region)) == {}
        )
        wait = service.auto_accept or enable
        if not service.auto_accept:
            notes.append(
                f"auto_accept is off: accept {consumer.name}'s connection with privlink connections accept ID"
                + (" (up waits for it, then enables private DNS)" if enable else "")
            )
        steps.append(
            Step(
                accept_id(consumer.name),
                StepKind.ACCEPT_CONNECTIONS,
                spec.producer.account,
                spec.producer.region,
                after=(deploy_id(stack.stack_name),),
                consumer=consumer.name,
                arguments=(("accept", str(service.auto_accept).lower()), ("wait", str(wait).lower())),
                expected_seconds=latency.STEP_LATENCY["accept-connections"].seconds if wait else 0.0,
                why=(
                    f"accept {consumer.name}'s endpoint connection and wait until it is available"
                    if service.auto_accept
                    else f"wait until {consumer.name}'s endpoint connection is accepted by hand"
                    if wait
                    else f"{consumer.name}'s endpoint connection waits for a manual acceptance"
                ),
            )
        )
        if enable:
            updated = naming.PARAM_PRIVATE_DNS_ENABLED
            step = next(s for s in steps if s.id == deploy_id(stack.stack_name))
            steps.append(
                Step(
                    enable_dns_id(consumer.name),
                    StepKind.ENABLE_PRIVATE_DNS,
                    stack.account,
                    stack.region,
                    after=(accept_id(consumer.name), *((VERIFY_PRIVATE_DNS,) if verify else ())),
                    stack=stack,
                    stack_name=stack.stack_name,
                    consumer=consumer.name,
                    overrides=tuple(sorted({**step.override_values, updated: "true"}.items())),
                    expected_seconds=latency.stack_seconds(
                        stack.template, only=latency.dependents(stack.template, [updated])
                    ),
                    why=f"{consumer.name}'s endpoint: private DNS on, now that its connection is accepted",
                )
            )

    work = [s.id for s in steps]
    steps.extend(_orphans(spec, stacks, facts, after=tuple(work)))
    producer_stack = by_name[producer]
    healthy = _exists(facts.stack(producer, spec.producer.account, spec.producer.region))
    steps.append(
        Step(
            WAIT_HEALTHY,
            StepKind.WAIT_HEALTHY,
            spec.producer.account,
            spec.producer.region,
            after=tuple(s.id for s in steps),
            expected_seconds=0.0 if healthy else latency.health_seconds(producer_stack.template),
            measured_from=deploy_id(producer),
            why="until the service's targets pass their health checks and the path serves",
        )
    )
    return LifecyclePlan("up", tuple(steps), tuple(notes))


def _accept_while_creating(spec: Spec, stack: RenderedStack) -> tuple[tuple[str, str], ...]:
    """Whether CloudFormation may wait on the endpoint's acceptance while it creates the stack:
    whether it completes while the endpoint is pendingAcceptance is UNCONFIRMED (Terraform treats
    pendingAcceptance as done), so the handler accepts declared consumers' connections meanwhile."""
    service = spec.producer.endpoint_service
    if stack.name.part == naming.CONSUMER and service.acceptance_required and service.auto_accept:
        return (("accept_while_creating", "true"),)
    return ()


def _import_step(consumer: Consumer, facts: Facts) -> Step:
    done = import_id(consumer.name) in facts.steps
    return Step(
        import_id(consumer.name),
        StepKind.IMPORT_CERTIFICATES,
        consumer.account,
        consumer.region,
        consumer=consumer.name,
        expected_seconds=0.0 if done else latency.STEP_LATENCY["import-certificates"].seconds,
        why=f"{consumer.name}'s VPN server and client certificates into ACM"
        + (" (imported: again only when they changed)" if done else ""),
    )


def _exists(fact: StackFact | None) -> bool:
    return fact is not None and fact.status not in ("REVIEW_IN_PROGRESS", "ROLLBACK_COMPLETE")


def _stackset_step(spec: Spec, verify: bool) -> Step:
    from privlink.fleet import plan_fleet

    plans = plan_fleet(spec)
    producer = naming.producer_stack(spec.name).name
    return Step(
        DEPLOY_STACKSET,
        StepKind.DEPLOY_STACKSET,
        spec.producer.account,
        spec.producer.region,
        after=(deploy_id(producer), *((VERIFY_PRIVATE_DNS,) if verify else ())),
        expected_seconds=max((latency.stack_seconds(p.template) for p in plans), default=0.0),
        why="the consumers_from StackSets: " + ", ".join(p.name for p in plans),
    )


def _link_facts(spec: Spec, facts: Facts) -> list[tuple[StackFact, naming.StackName]]:
    found = []
    for fact in facts.stacks:
        parsed = naming.parse_stack_name(spec.name, fact.name)
        if parsed is not None:
            found.append((fact, parsed))
    return found


_DELETE_RANK = {naming.VPN: 0, naming.CONSUMER: 0, naming.NETWORK: 1, naming.PRODUCER: 2}


def _orphans(spec: Spec, stacks: list[RenderedStack], facts: Facts, after: tuple[str, ...]) -> list[Step]:
    """Deleting this link's stacks the spec no longer renders, and certificates of consumers that no
    longer have a VPN: after everything else `up` does."""
    rendered = {(s.stack_name, s.account, s.region) for s in stacks}
    orphans = [
        (fact, parsed)
        for fact, parsed in _link_facts(spec, facts)
        if (fact.name, fact.account, fact.region) not in rendered
    ]
    orphans.sort(key=lambda item: (_DELETE_RANK[item[1].part], item[0].name))
    steps: list[Step] = []
    for fact, parsed in orphans:
        earlier = [
            delete_id(f.name)
            for f, p in orphans
            if _DELETE_RANK[p.part] < _DELETE_RANK[parsed.part] and p.consumer in (parsed.consumer, None)
        ]
        steps.append(
            Step(
                delete_id(fact.name),
                StepKind.DELETE,
                fact.account,
                fact.region,
                after=(*after, *earlier),
                stack_name=fact.name,
                consumer=parsed.consumer,
                why=f"{fact.name} is no longer in the spec",
            )
        )
    keep = {c.name for c in spec.consumers if c.vpn is not None}
    for cert in facts.certificates:
        if cert.consumer in keep:
            continue
        vpn = naming.vpn_stack(spec.name, cert.consumer).name
        steps.append(
            _delete_certificates(cert.consumer, cert.account, cert.region, cert.arns, after, steps, vpn)
        )
    return steps


def _delete_certificates(
    consumer: str,
    account: str,
    region: str,
    arns: tuple[str, ...],
    after: tuple[str, ...],
    steps: list[Step],
    vpn: str,
) -> Step:
    vpn_delete = [s.id for s in steps if s.id == delete_id(vpn)]
    return Step(
        delete_certificates_id(consumer),
        StepKind.DELETE_CERTIFICATES,
        account,
        region,
        after=(*after, *vpn_delete),
        consumer=consumer,
        arguments=tuple(("arn", arn) for arn in arns),
        expected_seconds=latency.STEP_LATENCY["delete-certificates"].seconds,
        why=f"{consumer}'s imported VPN certificates (retried while ACM still sees them in use)",
    )


# -- down -------------------------------------------------------------------------------------------
def plan_down(spec: Spec, stacks: list[RenderedStack], facts: Facts) -> LifecyclePlan:
    """The steps of `down`: what exists, deleted in the reverse of the `up` graph."""
    link = spec.name
    producer = naming.producer_stack(link).name
    existing = _link_facts(spec, facts)
    existing.sort(key=lambda item: (_DELETE_RANK[item[1].part], item[0].name))
    by_name = {s.stack_name: s for s in stacks}
    names = {fact.name for fact, _parsed in existing}
    steps: list[Step] = []
    fleet = spec.consumers_from is not None
    if fleet:
        steps.append(
            Step(
                DELETE_STACKSET,
                StepKind.DELETE_STACKSET,
                spec.producer.account,
                spec.producer.region,
                why="the consumers_from StackSets and their stack instances",
            )
        )
    for fact, parsed in existing:
        if parsed.part == naming.PRODUCER:
            continue
        rendered = by_name.get(fact.name)
        if rendered is not None:
            # the stacks that depend on this one go first
            after = [
                delete_id(s.stack_name) for s in stacks if fact.name in s.depends_on and s.stack_name in names
            ]
        else:
            after = [
                delete_id(f.name)
                for f, p in existing
                if _DELETE_RANK[p.part] < _DELETE_RANK[parsed.part] and p.consumer == parsed.consumer
            ]
        steps.append(
            Step(
                delete_id(fact.name),
                StepKind.DELETE,
                fact.account,
                fact.region,
                after=tuple(after),
                stack_name=fact.name,
                consumer=parsed.consumer,
                why=f"{parsed.part} stack of {parsed.consumer}"
                + ("" if rendered else " (no longer in the spec)"),
            )
        )
    producer_fact = facts.stack(producer)
    if producer_fact is not None:
        before = [s.id for s in steps if s.kind is StepKind.DELETE_STACKSET]
        before += [s.id for s in steps if s.stack_name.startswith(f"privlink-{link}-consumer-")]
        steps.append(
            Step(
                REJECT_CONNECTIONS,
                StepKind.REJECT_CONNECTIONS,
                producer_fact.account,
                producer_fact.region,
                after=tuple(before),
                expected_seconds=latency.STEP_LATENCY["reject-connections"].seconds,
                why="every live endpoint connection, so the endpoint service can be deleted",
            )
        )
        steps.append(
            Step(
                delete_id(producer),
                StepKind.DELETE,
                producer_fact.account,
                producer_fact.region,
                after=(REJECT_CONNECTIONS,),
                stack_name=producer,
                why="the producer (a delete that fails on a new connection rejects again and retries once)",
            )
        )
    recorded = {c.consumer: c for c in facts.certificates}
    for consumer in spec.consumers:
        if consumer.vpn is not None and consumer.name not in recorded:
            recorded[consumer.name] = None  # type: ignore[assignment]
    for name, cert in recorded.items():
        if cert is not None:
            account, region, arns = cert.account, cert.region, cert.arns
        else:
            declared = spec.consumer(name)
            account, region, arns = declared.account, declared.region, ()
        steps.append(
            _delete_certificates(name, account, region, arns, (), steps, naming.vpn_stack(link, name).name)
        )
    return LifecyclePlan("down", tuple(steps))
