"""The local target's step handlers: one per `StepKind`, run by `privlink.lifecycle.execute` in the
calling thread (one at a time, in the plan's order: the same plan the aws target runs in threads).

They act on the simulated world through the engine and the world's own operations (import a
certificate, accept or reject connections, verify a private DNS name). What AWS refuses belongs in
the world and the engine's resource handlers (`privlink.targets.local.world`,
`privlink.targets.local.engine.handlers`), not here: a handler only calls what AWS's API would be
called with, so a refusal there fails the step the way AWS would.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from privlink import deploy as binding
from privlink.certs import ensure_certificates
from privlink.errors import DeployFailed
from privlink.lifecycle.execute import Handler, RunContext
from privlink.lifecycle.model import Step, StepKind
from privlink.targets.base import Progress
from privlink.targets.local.interrupt import interrupt_point
from privlink.templates import naming

if TYPE_CHECKING:
    from privlink.targets.local.engine.engine import Engine
    from privlink.targets.local.target import LocalTarget
    from privlink.targets.local.world import World


class LocalHandlers:
    """Handlers bound to one `LocalTarget`, its loaded world and engine."""

    def __init__(self, target: LocalTarget, world: World, engine: Engine, progress: Progress) -> None:
        self.target = target
        self.spec = target.spec
        self.world = world
        self.engine = engine
        self.progress = progress

    def table(self) -> dict[StepKind, Handler]:
        return {
            StepKind.DEPLOY: self.deploy,
            StepKind.IMPORT_CERTIFICATES: self.import_certificates,
            StepKind.VERIFY_PRIVATE_DNS: self.verify_private_dns,
            StepKind.ACCEPT_CONNECTIONS: self.accept_connections,
            StepKind.ENABLE_PRIVATE_DNS: self.deploy,
            StepKind.DEPLOY_STACKSET: self.stack_sets,
            StepKind.WAIT_HEALTHY: self.wait_healthy,
            StepKind.DELETE: self.delete,
            StepKind.DELETE_STACKSET: self.stack_sets,
            StepKind.REJECT_CONNECTIONS: self.reject_connections,
            StepKind.DELETE_CERTIFICATES: self.delete_certificates,
        }

    def _account_id(self, label: str) -> str:
        return self.world.account(label).id

    # -- up ---------------------------------------------------------------------------------------
    def deploy(self, step: Step, ctx: RunContext) -> None:
        stack = step.stack
        assert stack is not None
        params = binding.bind_parameters(
            stack, ctx.outputs, ctx.steps, self._account_id, overrides=step.override_values
        )
        verb = "enabling private DNS" if step.kind is StepKind.ENABLE_PRIVATE_DNS else "deploying"
        self.progress(f"{stack.stack_name}: {verb} ({stack.account}, {stack.region})")
        ctx.set_outputs(stack.stack_name, self.engine.deploy(stack, params))
        interrupt_point(f"deployed:{stack.stack_name}" if step.kind is StepKind.DEPLOY else step.id)
        self.target.save_world(self.world)  # after each whole stack, never half-way through one

    def import_certificates(self, step: Step, ctx: RunContext) -> None:
        consumer = step.consumer or ""
        bundle = ensure_certificates(self.target.cert_dir(consumer), self.spec.name, consumer)
        tags = {naming.TAG_LINK: self.spec.name, "privlink:consumer": consumer}
        known = ctx.steps.get(step.id, {})

        def existing(key: str) -> str | None:
            arn = known.get(key)
            return arn if arn in self.world.certificates else None

        server = self.world.import_certificate(
            step.account,
            step.region,
            "server",
            bundle.server_cert + bundle.ca_cert,
            tags,
            arn=existing(naming.STEP_SERVER_CERT_ARN),
        )
        client = self.world.import_certificate(
            step.account,
            step.region,
            "client",
            bundle.client_cert + bundle.ca_cert,
            tags,
            arn=existing(naming.STEP_CLIENT_CA_ARN),
        )
        ctx.set_step(step.id, {naming.STEP_SERVER_CERT_ARN: server, naming.STEP_CLIENT_CA_ARN: client})
        interrupt_point(step.id)

    def verify_private_dns(self, step: Step, ctx: RunContext) -> None:
        service_id = self._service_id()
        if service_id is None:
            return
        service = self.world.endpoint_services[service_id]
        if service.private_dns_state != "verified":
            self.progress(f"verifying private DNS name {service.private_dns_name} (sandbox: TXT found)")
            self.world.verify_private_dns(service_id)

    def accept_connections(self, step: Step, ctx: RunContext) -> None:
        args = step.argument_values
        accept, wait = args.get("accept") == "true", args.get("wait") == "true"
        consumer = step.consumer or ""
        stack = naming.consumer_stack(self.spec.name, consumer).name
        endpoint_id = ctx.output(stack, naming.OUT_ENDPOINT_ID)
        service_id = self._service_id()
        if not endpoint_id or service_id is None:
            return
        connection = next(
            (c for c in self.world.connections(service_id) if c["VpcEndpointId"] == endpoint_id), None
        )
        owners = {self.world.account(c.account).id for c in self.spec.consumers}
        if (
            accept
            and connection is not None
            and connection["VpcEndpointState"] == "pendingAcceptance"
            and connection["VpcEndpointOwner"] in owners
        ):
            self.progress(f"accepting {endpoint_id} (declared consumer {consumer})")
            self.world.accept(service_id, [endpoint_id])
        if not accept:
            self.progress(
                f"auto_accept is off: accept {consumer}'s connection {endpoint_id} with "
                "privlink connections accept ID"
            )
        endpoint = self.world.endpoints.get(endpoint_id)
        if wait and (endpoint is None or endpoint.state != "available"):
            raise DeployFailed(
                f"endpoint {endpoint_id}",
                f"connection is {endpoint.state if endpoint else 'gone'}; private DNS waits for it",
                f"privlink connections accept {endpoint_id}, then privlink up",
            )
        # not saved here: the next stack's save (or wait-healthy's) keeps it, and an interrupted run
        # accepts again
        interrupt_point(step.id)

    def stack_sets(self, step: Step, ctx: RunContext) -> None:
        self.progress("consumers_from: the sandbox deploys no StackSets (privlink fleet plan shows them)")

    def wait_healthy(self, step: Step, ctx: RunContext) -> None:
        """The sandbox's data plane serves what the world holds: start or reload it, then wait."""
        self.target.save_world(self.world)
        self.target.apply_dataplane(self.world, self.progress)
        self.target.wait_until_serving(self.progress)

    # -- down -------------------------------------------------------------------------------------
    def delete(self, step: Step, ctx: RunContext) -> None:
        if self.world.find_stack(step.stack_name, step.account, step.region) is None:
            return
        self.progress(f"{step.stack_name}: deleting")
        try:
            self.engine.delete(step.stack_name, step.account, step.region)
        except DeployFailed as exc:
            producer = step.stack_name == naming.producer_stack(self.spec.name).name
            if not producer or "ExistingVpcEndpointConnections" not in exc.what:
                self.target.save_world(self.world)
                raise
            self.progress(f"{step.stack_name}: DELETE_FAILED; rejecting connections again and retrying once")
            self._reject_live()
            self.engine.delete(step.stack_name, step.account, step.region)
        self.target.save_world(self.world)
        interrupt_point(f"deleted:{step.stack_name}")

    def reject_connections(self, step: Step, ctx: RunContext) -> None:
        self._reject_live()

    def delete_certificates(self, step: Step, ctx: RunContext) -> None:
        from privlink.targets.local.world import SimulatedAwsError

        consumer = step.consumer or ""
        arns = {arn for key, arn in step.arguments if key == "arn"}
        arns.update(
            arn
            for arn, cert in self.world.certificates.items()
            if cert.tags.get(naming.TAG_LINK) == self.spec.name
            and cert.tags.get("privlink:consumer") == consumer
        )
        for arn in sorted(arns):
            try:
                self.world.delete_certificate(arn)
            except SimulatedAwsError as exc:
                raise DeployFailed(f"certificate {arn}", f"{exc.code}: {exc.message}") from exc
        self.target.save_world(self.world)

    # -- helpers ----------------------------------------------------------------------------------
    def _service_id(self) -> str | None:
        record = self.world.find_stack(naming.producer_stack(self.spec.name).name)
        service_id = record.outputs.get(naming.OUT_SERVICE_ID) if record else None
        return service_id if service_id in self.world.endpoint_services else None

    def _reject_live(self) -> Any:
        """Endpoints that outlive their consumer stack (or undeclared ones) would block the service."""
        service_id = self._service_id()
        if service_id is None:
            return None
        live = [
            c["VpcEndpointId"]
            for c in self.world.connections(service_id)
            if c["VpcEndpointState"] in ("pendingAcceptance", "pending", "available")
        ]
        if live:
            self.world.reject(service_id, live)
        return live
