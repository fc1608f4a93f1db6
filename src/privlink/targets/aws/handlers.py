"""The aws target's step handlers: one per `StepKind`, run by `privlink.lifecycle.execute`.

They decide nothing about order (the plan does); each does its one thing through the gateway with
injected time and puts what it produced (stack outputs, step values) into the run context.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from privlink import deploy as binding
from privlink.certs import ensure_certificates, fingerprint
from privlink.errors import AwsError, DeployFailed
from privlink.fleet import delete_fleet, deploy_fleet
from privlink.lifecycle.execute import Handler, RunContext
from privlink.lifecycle.model import Step, StepKind
from privlink.partitions import partition_of
from privlink.targets.aws import steps
from privlink.targets.base import Progress
from privlink.templates import naming

if TYPE_CHECKING:
    from privlink.targets.aws.target import AwsTarget

# How long `down` retries a certificate ACM still counts as in use after its Client VPN went:
# InUseBy empties asynchronously ("ResourceInUseException: Certificate ... is in use", e.g.
# terraform-provider-aws #3866, whose fix #3868 retries for up to 10 minutes).
CERTIFICATE_IN_USE_TIMEOUT = 600.0
CERTIFICATE_BACKOFF = (5.0, 10.0, 20.0, 40.0, 60.0)
TARGET_HEALTH_TIMEOUT = 900.0


class AwsHandlers:
    """Handlers bound to one `AwsTarget` (its gateway, state, clock and spec)."""

    def __init__(self, target: AwsTarget, progress: Progress) -> None:
        self.target = target
        self.spec = target.spec
        self.progress = progress

    def table(self) -> dict[StepKind, Handler]:
        return {
            StepKind.DEPLOY: self.deploy,
            StepKind.IMPORT_CERTIFICATES: self.import_certificates,
            StepKind.VERIFY_PRIVATE_DNS: self.verify_private_dns,
            StepKind.ACCEPT_CONNECTIONS: self.accept_connections,
            StepKind.ENABLE_PRIVATE_DNS: self.deploy,
            StepKind.DEPLOY_STACKSET: self.deploy_stackset,
            StepKind.WAIT_HEALTHY: self.wait_healthy,
            StepKind.DELETE: self.delete,
            StepKind.DELETE_STACKSET: self.delete_stackset,
            StepKind.REJECT_CONNECTIONS: self.reject_connections,
            StepKind.DELETE_CERTIFICATES: self.delete_certificates,
        }

    # -- up ---------------------------------------------------------------------------------------
    def deploy(self, step: Step, ctx: RunContext) -> None:
        stack = step.stack
        assert stack is not None
        target = self.target
        values = binding.bind_parameters(
            stack, ctx.outputs, ctx.steps, target.account_id, target.lookup, step.override_values
        )
        deployer = target.deployer(stack, self.progress)
        # CloudFormation may wait for a pendingAcceptance endpoint or may not (UNCONFIRMED, see
        # aws-facts): the plan says when declared consumers' connections are accepted meanwhile.
        with self._accepting(step.argument_values.get("accept_while_creating") == "true", ctx):
            outputs = deployer.deploy(stack.stack_name, stack.template, values, target.tags(stack))
        ctx.set_outputs(stack.stack_name, outputs)

    def import_certificates(self, step: Step, ctx: RunContext) -> None:
        consumer_name = step.consumer or ""
        target = self.target
        consumer = self.spec.consumer(consumer_name)
        bundle = ensure_certificates(target.cert_dir(consumer_name), self.spec.name, consumer_name)
        acm = target.gateway.client("acm", consumer.account, consumer.region)
        values = steps.import_certificates(
            acm, self.spec.name, consumer_name, bundle, target.state.steps.get(step.id), self.progress
        )
        target.state.update("steps", step.id, values)
        target.state.update(
            "certificates",
            consumer_name,
            {
                "account": consumer.account,
                "region": consumer.region,
                "ca_fingerprint": fingerprint(bundle.ca_cert),
                "arns": sorted(set(values.values())),
            },
        )
        ctx.set_step(step.id, values)

    def verify_private_dns(self, step: Step, ctx: RunContext) -> None:
        """Consumers that enable private DNS need a verified name (AWS refuses it until then), so
        stop with the record to create if it is not."""
        target = self.target
        dns_name = self.spec.producer.endpoint_service.private_dns_name
        assert dns_name
        service_id = self._service_id(ctx)
        # Route 53 is global: its API signs in one region per partition (us-east-1 in aws).
        route53_region = partition_of(self.spec.producer.region).route53_region
        route53 = target.gateway.client("route53", self.spec.producer.account, route53_region)
        result = steps.verify_private_dns(
            target.producer_ec2(),
            route53,
            service_id,
            dns_name,
            target.clock,
            target.dns_timeout,
            self.progress,
        )
        needing = [c.name for c in self.spec.consumers if c.private_dns_enabled]
        if needing and result.state != "verified":
            raise DeployFailed(
                f"producer.endpoint_service.private_dns_name ({dns_name})",
                f"not verified yet ({result.state or 'unknown'}); consumers {', '.join(needing)} "
                "enable private DNS and AWS refuses that until it is",
                f'create the public TXT record {result.record} = "{result.value}", '
                "then run privlink up again",
            )

    def accept_connections(self, step: Step, ctx: RunContext) -> None:
        """Accept the consumer's pending connection (declared owners only) and wait until it is
        available; with auto_accept off, only wait when private DNS must be enabled after it."""
        args = step.argument_values
        accept, wait = args.get("accept") == "true", args.get("wait") == "true"
        consumer = step.consumer or ""
        stack = naming.consumer_stack(self.spec.name, consumer).name
        endpoint = ctx.output(stack, naming.OUT_ENDPOINT_ID)
        if not accept:
            self.progress(
                f"auto_accept is off: accept {consumer}'s connection {endpoint or ''} with "
                "privlink connections accept ID" + ("; waiting for it" if wait else "")
            )
        if not wait or not endpoint:
            return
        target = self.target
        steps.wait_for_endpoints(
            target.producer_ec2(),
            self._service_id(ctx),
            target.consumer_owners(),
            [endpoint],
            target.clock,
            target.connection_timeout,
            accept=accept,
            progress=self.progress,
        )

    def deploy_stackset(self, step: Step, ctx: RunContext) -> None:
        """The `consumers_from` StackSets, accepting their endpoints' connections meanwhile and once
        after (their endpoint IDs live in the fleet accounts' stacks, so there is no wait for them)."""
        target = self.target
        with self._accepting(True, ctx):
            deploy_fleet(
                self.spec,
                ctx.outputs,
                target.client_factory,
                self.progress,
                target.fleet_render,
                **target.fleet_runner_options(),
            )
        if target.auto_accept():
            steps.accept_declared_once(
                target.producer_ec2(), self._service_id(ctx), target.consumer_owners(), self.progress
            )

    def wait_healthy(self, step: Step, ctx: RunContext) -> None:
        """Until at least one target of the producer's target group is healthy."""
        target = self.target
        producer = naming.producer_stack(self.spec.name).name
        group = ctx.output(producer, naming.OUT_TARGET_GROUP_ARN)
        if not group:
            return
        elb = target.gateway.client("elbv2", self.spec.producer.account, self.spec.producer.region)
        clock = target.clock
        deadline = clock.now() + TARGET_HEALTH_TIMEOUT
        while True:
            health = elb.describe_target_health(TargetGroupArn=group)["TargetHealthDescriptions"]
            states = [h.get("TargetHealth", {}).get("State", "") for h in health]
            if "healthy" in states:
                self.progress(f"targets: {states.count('healthy')} of {len(states)} healthy")
                return
            if clock.now() >= deadline:
                raise DeployFailed(
                    f"target group {group}",
                    f"no healthy target after {TARGET_HEALTH_TIMEOUT:.0f}s "
                    f"({', '.join(states) or 'no targets'})",
                    "privlink --target aws doctor names the cause",
                )
            clock.sleep(clock.poll)

    # -- down -------------------------------------------------------------------------------------
    def delete(self, step: Step, ctx: RunContext) -> None:
        target = self.target
        deployer = target.deployer_for(step.account, step.region, self.progress)
        producer = step.stack_name == naming.producer_stack(self.spec.name).name
        try:
            deployer.delete_stack(step.stack_name)
        except DeployFailed as exc:
            if not producer or "DELETE_FAILED" not in exc.what:
                raise
            # A connection that arrived after the rejections keeps the endpoint service: reject
            # again and retry once.
            self.progress(f"{step.stack_name}: DELETE_FAILED; rejecting connections again and retrying once")
            target.reject_remaining(self.progress)
            deployer.delete_stack(step.stack_name)

    def delete_stackset(self, step: Step, ctx: RunContext) -> None:
        target = self.target
        delete_fleet(
            self.spec,
            target.client_factory,
            self.progress,
            target.fleet_render,
            **target.fleet_runner_options(),
        )

    def reject_connections(self, step: Step, ctx: RunContext) -> None:
        self.target.reject_remaining(self.progress)

    def delete_certificates(self, step: Step, ctx: RunContext) -> None:
        """The recorded ARNs and any found by their tags, retried while ACM still sees them in use."""
        target = self.target
        consumer = step.consumer or ""
        acm = target.gateway.client("acm", step.account, step.region)
        arns = {arn for key, arn in step.arguments if key == "arn"}
        arns.update(target.state.data["certificates"].get(consumer, {}).get("arns", []))
        for role in ("server", "client"):
            found = steps.find_certificate(acm, self.spec.name, consumer, role)
            if found:
                arns.add(found)
        for arn in sorted(arns):
            if self._delete_certificate(acm, arn):
                self.progress(f"acm: deleted {arn}")
        target.state.remove("certificates", consumer)
        target.state.remove("steps", naming.import_certificates_step(consumer))

    def _delete_certificate(self, acm: Any, arn: str) -> bool:
        clock = self.target.clock
        deadline = clock.now() + CERTIFICATE_IN_USE_TIMEOUT
        attempt = 0
        while True:
            try:
                return steps.delete_certificate(acm, arn)
            except AwsError as exc:
                if exc.code != "ResourceInUseException" or clock.now() >= deadline:
                    raise
            wait = CERTIFICATE_BACKOFF[min(attempt, len(CERTIFICATE_BACKOFF) - 1)]
            attempt += 1
            self.progress(f"acm: {arn} is still in use; retrying in {wait:.0f}s")
            clock.sleep(wait)

    # -- helpers ----------------------------------------------------------------------------------
    def _service_id(self, ctx: RunContext) -> str:
        producer = naming.producer_stack(self.spec.name).name
        return ctx.output(producer, naming.OUT_SERVICE_ID) or self.target.service_id()

    @contextmanager
    def _accepting(self, active: bool, ctx: RunContext) -> Iterator[None]:
        """While the block runs, accept declared consumers' pending connections in a background
        thread (when `active`, auto_accept is on and the producer is deployed)."""
        target = self.target
        stop = threading.Event()
        acceptor = None
        service_id = ctx.output(naming.producer_stack(self.spec.name).name, naming.OUT_SERVICE_ID)
        if active and target.auto_accept() and service_id:
            acceptor = threading.Thread(
                target=self._accept_until, args=(service_id, stop), daemon=True, name="privlink-acceptor"
            )
            acceptor.start()
        try:
            yield
        finally:
            stop.set()
            if acceptor is not None:
                acceptor.join(timeout=60)

    def _accept_until(self, service_id: str, stop: threading.Event) -> None:
        owners = self.target.consumer_owners()
        while not stop.is_set():
            try:
                steps.accept_declared_once(self.target.producer_ec2(), service_id, owners, self.progress)
            except Exception as exc:  # the accept step's wait reports persistent failures
                self.progress(f"accepting connections: {exc}")
            stop.wait(self.target.clock.poll or 0.01)
