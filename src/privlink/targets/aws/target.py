"""The aws target: deploys the rendered stacks with change sets and runs the steps around them.

`up` order: producer -> private DNS verification (when the service has a private DNS name; consumers
that enable private DNS need it verified first) -> the `consumers_from` StackSets (`privlink.fleet`)
-> consumers in parallel (threads), both while accepting pending connections from declared
consumers (fleet accounts count as declared) -> wait until the consumers' endpoints are available
-> import certificates -> VPN stacks. `down`: VPN stacks, consumer stacks, the StackSets, the
producer stack, then the imported certificates. Re-running `up` converges; non-secret state (account IDs,
imported certificate ARNs) is kept in `<state_dir>/aws.json` so an interrupted run can finish.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from privlink import deploy as binding
from privlink.certs import CertBundle, ensure_certificates, fingerprint
from privlink.errors import BadInput, DeployFailed, StateError
from privlink.fleet import (
    FLEET_CONSUMER,
    ConsumerRenderer,
    StackSetRunner,
    delete_fleet,
    deploy_fleet,
    plan_fleet,
    render_with_templates,
)
from privlink.partitions import partition_of
from privlink.spec.models import Spec
from privlink.statefile import write_private_text
from privlink.targets.aws import steps
from privlink.targets.aws.deployer import Deployer, template_changes
from privlink.targets.aws.gateway import Gateway, SessionFactory, boto3_session
from privlink.targets.base import ActionResult, Connection, PlannedChange, Progress, Target, no_progress
from privlink.templates import naming
from privlink.templates.stacks import FromStep, RenderedStack, delete_batches, deploy_batches

STATE_FILE = "aws.json"
STEP_IMPORT = "import-certificates"
LIVE_STATUSES = [
    "CREATE_IN_PROGRESS",
    "CREATE_FAILED",
    "CREATE_COMPLETE",
    "ROLLBACK_IN_PROGRESS",
    "ROLLBACK_FAILED",
    "ROLLBACK_COMPLETE",
    "DELETE_IN_PROGRESS",
    "DELETE_FAILED",
    "UPDATE_IN_PROGRESS",
    "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS",
    "UPDATE_COMPLETE",
    "UPDATE_FAILED",
    "UPDATE_ROLLBACK_IN_PROGRESS",
    "UPDATE_ROLLBACK_FAILED",
    "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS",
    "UPDATE_ROLLBACK_COMPLETE",
    "REVIEW_IN_PROGRESS",
    "IMPORT_IN_PROGRESS",
    "IMPORT_COMPLETE",
    "IMPORT_ROLLBACK_IN_PROGRESS",
    "IMPORT_ROLLBACK_FAILED",
    "IMPORT_ROLLBACK_COMPLETE",
]


def check_aws_spec(spec: Spec) -> None:
    """Spec choices the aws target cannot deploy: BadInput naming the field."""
    for i, target in enumerate(spec.producer.service.targets):
        if target.address is not None:
            raise BadInput(
                f"producer.service.targets[{i}].address",
                f"{target.address} is a loopback address, which only the local target can reach",
                "use {ip: ...} or {instance: i-...} targets on the aws target",
            )


def locked(progress: Progress) -> Progress:
    """A progress callback safe to call from several threads."""
    lock = threading.Lock()

    def report(line: str) -> None:
        with lock:
            progress(line)

    return report


class AwsState:
    """Non-secret state in `<state_dir>/aws.json`: account IDs, step values (certificate ARNs)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self.data: dict[str, Any] = {"account_ids": {}, "steps": {}, "certificates": {}}
        if path.exists():
            try:
                loaded = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise StateError(
                    str(path), f"unreadable: {exc}", "delete the file; privlink up rebuilds it"
                ) from exc
            if not isinstance(loaded, dict):
                raise StateError(str(path), "not a JSON object", "delete the file; privlink up rebuilds it")
            self.data.update(loaded)

    @property
    def steps(self) -> dict[str, dict[str, str]]:
        return self.data["steps"]

    def update(self, section: str, key: str, value: Any) -> None:
        with self._lock:
            self.data.setdefault(section, {})[key] = value
            self._save()

    def remove(self, section: str, key: str) -> None:
        with self._lock:
            if key in self.data.get(section, {}):
                del self.data[section][key]
                self._save()

    def _save(self) -> None:
        write_private_text(self.path, json.dumps(self.data, indent=2, sort_keys=True))


class AwsTarget(Target):
    name = "aws"

    def __init__(
        self,
        spec: Spec,
        state_dir: Path,
        *,
        session_factory: SessionFactory = boto3_session,
        gateway: Gateway | None = None,
        render: Callable[[Spec], list[RenderedStack]] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        poll_delay: float = 5.0,
        connection_timeout: float = 900.0,
        dns_timeout: float = 900.0,
        fleet_render: ConsumerRenderer = render_with_templates,
    ) -> None:
        super().__init__(spec, state_dir)
        self.fleet_render = fleet_render
        self.gateway = gateway or Gateway(spec.accounts, session_factory, default_region=spec.producer.region)
        self._render = render
        self.clock = steps.Clock(sleep=sleep, now=clock, poll=poll_delay)
        self.connection_timeout = connection_timeout
        self.dns_timeout = dns_timeout
        self._state: AwsState | None = None

    # -- plumbing ---------------------------------------------------------------------------------
    @property
    def state(self) -> AwsState:
        if self._state is None:
            self._state = AwsState(self.state_dir / STATE_FILE)
        return self._state

    def stacks(self) -> list[RenderedStack]:
        check_aws_spec(self.spec)
        if self._render is None:
            from privlink.templates.render import render_stacks

            self._render = render_stacks
        return self._render(self.spec)

    def deployer(self, stack: RenderedStack, progress: Progress = no_progress) -> Deployer:
        return self.deployer_for(stack.account, stack.region, progress)

    def deployer_for(self, account: str, region: str, progress: Progress = no_progress) -> Deployer:
        cfn = self.gateway.client("cloudformation", account, region)
        return Deployer(
            cfn, progress, sleep=self.clock.sleep, clock=self.clock.now, poll_delay=self.clock.poll
        )

    def account_id(self, label: str) -> str:
        known = self.state.data["account_ids"].get(label)
        if known:
            return known
        found = self.gateway.account_id(label)
        self.state.update("account_ids", label, found)
        return found

    def tags(self, stack: RenderedStack) -> dict[str, str]:
        return {naming.TAG_LINK: self.spec.name, naming.TAG_PART: stack.name.part}

    def consumer_owners(self) -> dict[str, str]:
        """Declared consumer account IDs -> consumer names (joined when several share an account).

        The accounts of a `consumers_from: {accounts: [...]}` fleet are declared too (name `fleet`);
        an OU fleet's accounts are not known here: the approval registry's function accepts them.
        """
        owners: dict[str, str] = {}

        def add(account: str, name: str) -> None:
            owners[account] = f"{owners[account]},{name}" if account in owners else name

        for consumer in self.spec.consumers:
            add(self.account_id(consumer.account), consumer.name)
        if self.spec.consumers_from is not None:
            for account in self.spec.consumers_from.accounts:
                add(account, FLEET_CONSUMER)
        return owners

    def client_factory(self, service: str, label: str, region: str) -> Any:
        """The gateway's clients as `privlink.fleet` asks for them."""
        return self.gateway.client(service, label, region)

    def fleet_runner_options(self) -> dict[str, Any]:
        return {"sleep": self.clock.sleep, "clock": self.clock.now, "poll": self.clock.poll or 10.0}

    def producer_stack(self) -> str:
        return naming.producer_stack(self.spec.name).name

    def producer_outputs(self) -> dict[str, str]:
        producer = self.spec.producer
        return self.deployer_for(producer.account, producer.region).outputs(self.producer_stack())

    def service_id(self) -> str:
        service_id = self.producer_outputs().get(naming.OUT_SERVICE_ID)
        if not service_id:
            raise StateError(
                self.producer_stack(), "not deployed (no ServiceId output)", "run privlink up first"
            )
        return service_id

    def producer_ec2(self) -> Any:
        return self.gateway.client("ec2", self.spec.producer.account, self.spec.producer.region)

    def cert_dir(self, consumer: str) -> Path:
        return self.state_dir / "certs" / consumer

    def needed_steps(self, stack: RenderedStack) -> list[str]:
        return sorted({b.step for b in stack.parameters.values() if isinstance(b, FromStep)})

    def orphans(self, stacks: list[RenderedStack]) -> list[tuple[str, str, str]]:
        """(account, region, stack name) of this link's stacks that the spec no longer renders."""
        wanted = {s.stack_name for s in stacks}
        prefix = f"privlink-{self.spec.name}-"
        found = []
        for account, region in sorted({(s.account, s.region) for s in stacks}):
            cfn = self.gateway.client("cloudformation", account, region)
            for summary in cfn.paginate("list_stacks", "StackSummaries", StackStatusFilter=LIVE_STATUSES):
                name = summary["StackName"]
                if name.startswith(prefix) and name not in wanted:
                    found.append((account, region, name))
        return found

    # -- steps ------------------------------------------------------------------------------------
    def run_step(self, step: str, progress: Progress) -> dict[str, str]:
        kind, _, consumer_name = step.partition(":")
        if kind != STEP_IMPORT:
            raise DeployFailed(step, "unknown step", "the templates and the aws target disagree; report it")
        consumer = self.spec.consumer(consumer_name)
        bundle = ensure_certificates(self.cert_dir(consumer_name), self.spec.name, consumer_name)
        acm = self.gateway.client("acm", consumer.account, consumer.region)
        values = steps.import_certificates(
            acm, self.spec.name, consumer_name, bundle, self.state.steps.get(step), progress
        )
        self.state.update("steps", step, values)
        self.state.update(
            "certificates",
            consumer_name,
            {
                "account": consumer.account,
                "region": consumer.region,
                "ca_fingerprint": fingerprint(bundle.ca_cert),
                "arns": sorted(set(values.values())),
            },
        )
        return values

    # -- plan -------------------------------------------------------------------------------------
    def plan(self, progress: Progress = no_progress) -> list[PlannedChange]:
        stacks = self.stacks()
        outputs: dict[str, dict[str, str]] = {}
        lines: list[PlannedChange] = []
        for batch in deploy_batches(stacks):
            for stack in batch:
                deployer = self.deployer(stack)
                for step in self.needed_steps(stack):
                    if step not in self.state.steps:
                        lines.append(PlannedChange(stack.stack_name, "Step", detail=step))
                values, missing = binding.resolve(
                    stack, outputs, self.state.steps, self.account_id, self.lookup
                )
                if missing:
                    waits = ", ".join(m.source for m in missing)
                    exists = deployer.describe_stack(stack.stack_name) is not None
                    if exists:
                        lines.append(PlannedChange(stack.stack_name, "Modify", detail=f"after {waits}"))
                    else:
                        lines.extend(template_changes(stack.stack_name, stack.template, f"after {waits}"))
                    continue
                progress(f"{stack.stack_name}: creating a change set to compare")
                result = deployer.create_change_set(
                    stack.stack_name, stack.template, values, self.tags(stack)
                )
                try:
                    if result.no_changes:
                        lines.append(PlannedChange(stack.stack_name, "No change"))
                    else:
                        lines.extend(result.changes)
                finally:
                    deployer.discard(result)
                outputs[stack.stack_name] = deployer.outputs(stack.stack_name)
                if stack.name.part == "producer":
                    lines.extend(self._plan_fleet())
        for _account, _region, name in self.orphans(stacks):
            lines.append(PlannedChange(name, "Delete stack", detail="no longer in the spec"))
        return lines

    def _plan_fleet(self) -> list[PlannedChange]:
        """One line per StackSet of `consumers_from`: created or updated, its targets and regions."""
        lines = []
        for plan in plan_fleet(self.spec, self.fleet_render):
            cfn = self.client_factory("cloudformation", plan.account, plan.region)
            exists = StackSetRunner(cfn).exists(plan)
            targets = "; ".join(f"{k} {', '.join(v)}" for k, v in plan.deployment_targets.items())
            lines.append(
                PlannedChange(
                    plan.name,
                    "Update StackSet" if exists else "Create StackSet",
                    resource_type="AWS::CloudFormation::StackSet",
                    detail=f"{plan.permission_model}: {targets} in {', '.join(plan.regions)}",
                )
            )
        return lines

    # -- up ---------------------------------------------------------------------------------------
    def up(self, progress: Progress = no_progress) -> dict[str, Any]:
        progress = locked(progress)
        stacks = self.stacks()
        for label in sorted({s.account for s in stacks}):
            self.account_id(label)  # fail early on credentials, before anything is created
        outputs: dict[str, dict[str, str]] = {}
        for batch in deploy_batches(stacks):
            for stack in batch:
                for step in self.needed_steps(stack):
                    self.run_step(step, progress)
            self._deploy_batch(batch, outputs, progress)
            if any(s.name.part == "producer" for s in batch):
                self._verify_private_dns(outputs, progress)
            if any(s.name.part == "producer" for s in batch) and self.spec.consumers_from is not None:
                self._deploy_fleet(outputs, progress)
            if any(s.name.part == "consumer" for s in batch):
                self._settle_connections(batch, outputs, progress)
        for account, region, name in reversed(self.orphans(stacks)):
            progress(f"{name}: no longer in the spec; deleting")
            self.deployer_for(account, region, progress).delete_stack(name)
        return self.status()

    def _verify_private_dns(self, outputs: dict[str, dict[str, str]], progress: Progress) -> None:
        """Right after the producer: consumers with private_dns_enabled need a verified name
        (AWS refuses PrivateDnsEnabled until then), so stop with the record to create if it is not."""
        dns_name = self.spec.producer.endpoint_service.private_dns_name
        if not dns_name:
            return
        service_id = outputs.get(self.producer_stack(), {}).get(naming.OUT_SERVICE_ID) or self.service_id()
        # Route 53 is global: its API signs in one region per partition (us-east-1 in aws).
        route53_region = partition_of(self.spec.producer.region).route53_region
        route53 = self.gateway.client("route53", self.spec.producer.account, route53_region)
        result = steps.verify_private_dns(
            self.producer_ec2(), route53, service_id, dns_name, self.clock, self.dns_timeout, progress
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

    @contextmanager
    def _accepting(
        self, active: bool, outputs: dict[str, dict[str, str]], progress: Progress
    ) -> Iterator[None]:
        """While the block runs, accept declared consumers' pending connections (when `active`,
        auto_accept is on and the producer is deployed) in a background thread."""
        stop = threading.Event()
        acceptor = None
        service_id = outputs.get(self.producer_stack(), {}).get(naming.OUT_SERVICE_ID)
        if active and self._auto_accept() and service_id:
            acceptor = threading.Thread(
                target=self._accept_until, args=(service_id, stop, progress), daemon=True
            )
            acceptor.start()
        try:
            yield
        finally:
            stop.set()
            if acceptor is not None:
                acceptor.join(timeout=60)

    def _deploy_fleet(self, outputs: dict[str, dict[str, str]], progress: Progress) -> None:
        """The `consumers_from` StackSets, accepting their endpoints' connections meanwhile and once
        after (their endpoint IDs live in the fleet accounts' stacks, so there is no wait for them)."""
        with self._accepting(True, outputs, progress):
            deploy_fleet(
                self.spec,
                outputs,
                self.client_factory,
                progress,
                self.fleet_render,
                **self.fleet_runner_options(),
            )
        service_id = outputs.get(self.producer_stack(), {}).get(naming.OUT_SERVICE_ID)
        if self._auto_accept() and service_id:
            steps.accept_declared_once(self.producer_ec2(), service_id, self.consumer_owners(), progress)

    def _deploy_batch(
        self, batch: list[RenderedStack], outputs: dict[str, dict[str, str]], progress: Progress
    ) -> None:
        def deploy_one(stack: RenderedStack) -> tuple[str, dict[str, str]]:
            values = binding.bind_parameters(stack, outputs, self.state.steps, self.account_id, self.lookup)
            result = self.deployer(stack, progress).deploy(
                stack.stack_name, stack.template, values, self.tags(stack)
            )
            return stack.stack_name, result

        consumers = any(s.name.part == "consumer" for s in batch)
        with (
            self._accepting(consumers, outputs, progress),
            ThreadPoolExecutor(max_workers=max(1, min(8, len(batch)))) as pool,
        ):
            futures = [pool.submit(deploy_one, s) for s in batch]
            errors = []
            for future in futures:
                try:
                    name, result = future.result()
                    outputs[name] = result
                except Exception as exc:  # report every failed stack, raise the first
                    errors.append(exc)
            if errors:
                for extra in errors[1:]:
                    progress(f"also failed: {extra}")
                raise errors[0]

    def _auto_accept(self) -> bool:
        service = self.spec.producer.endpoint_service
        return service.acceptance_required and service.auto_accept

    def _accept_until(self, service_id: str, stop: threading.Event, progress: Progress) -> None:
        """Accept declared consumers' pending connections while their stacks are being created
        (CloudFormation may wait for the endpoint to leave pendingAcceptance, or may not)."""
        owners = self.consumer_owners()
        while not stop.is_set():
            try:
                steps.accept_declared_once(self.producer_ec2(), service_id, owners, progress)
            except Exception as exc:  # the main thread's wait reports persistent failures
                progress(f"accepting connections: {exc}")
            stop.wait(self.clock.poll or 0.01)

    def _settle_connections(
        self, batch: list[RenderedStack], outputs: dict[str, dict[str, str]], progress: Progress
    ) -> None:
        service_id = outputs.get(self.producer_stack(), {}).get(naming.OUT_SERVICE_ID)
        endpoint_ids = [
            outputs.get(s.stack_name, {}).get(naming.OUT_ENDPOINT_ID)
            for s in batch
            if s.name.part == "consumer"
        ]
        endpoint_ids = [e for e in endpoint_ids if e]
        if not service_id or not endpoint_ids:
            return
        if (
            self.spec.producer.endpoint_service.acceptance_required
            and not self.spec.producer.endpoint_service.auto_accept
        ):
            progress(
                "auto_accept is off: accept the consumers' connections with privlink connections accept ID"
            )
            return
        steps.wait_for_endpoints(
            self.producer_ec2(),
            service_id,
            self.consumer_owners(),
            endpoint_ids,
            self.clock,
            self.connection_timeout,
            accept=self._auto_accept(),
            progress=progress,
        )

    # -- status -----------------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        stacks = self.stacks()
        report: dict[str, Any] = {"target": "aws", "link": self.spec.name, "stacks": [], "consumers": []}
        outputs: dict[str, dict[str, str]] = {}
        for stack in stacks:
            found = self.deployer(stack).describe_stack(stack.stack_name)
            outputs[stack.stack_name] = (
                {o["OutputKey"]: o.get("OutputValue", "") for o in found.get("Outputs", [])} if found else {}
            )
            report["stacks"].append(
                {
                    "name": stack.stack_name,
                    "part": stack.name.part,
                    "account": stack.account,
                    "region": stack.region,
                    "status": found["StackStatus"] if found else "NOT_DEPLOYED",
                }
            )
        producer = outputs.get(self.producer_stack(), {})
        report["service_id"] = producer.get(naming.OUT_SERVICE_ID, "")
        report["service_name"] = producer.get(naming.OUT_SERVICE_NAME, "")
        connections: list[Connection] = []
        if report["service_id"]:
            connections = steps.list_connections(
                self.producer_ec2(), report["service_id"], self.consumer_owners()
            )
            dns = steps.dns_configuration(self.producer_ec2(), report["service_id"])
            if dns:
                report["private_dns"] = {
                    "name": self.spec.producer.endpoint_service.private_dns_name,
                    "state": dns.get("State", ""),
                    "record": dns.get("Name", ""),
                    "value": dns.get("Value", ""),
                }
        report["connections"] = [c.__dict__ for c in connections]
        report["stack_sets"] = self._stack_set_status()
        states = {c.endpoint_id: c.state for c in connections}
        for consumer in self.spec.consumers:
            out = outputs.get(naming.consumer_stack(self.spec.name, consumer.name).name, {})
            vpn = outputs.get(naming.vpn_stack(self.spec.name, consumer.name).name, {})
            endpoint_id = out.get(naming.OUT_ENDPOINT_ID, "")
            report["consumers"].append(
                {
                    "name": consumer.name,
                    "account": consumer.account,
                    "region": consumer.region,
                    "endpoint_id": endpoint_id,
                    "endpoint_state": states.get(endpoint_id, ""),
                    "dns_entries": [e for e in out.get(naming.OUT_ENDPOINT_DNS_ENTRIES, "").split(",") if e],
                    "private_name": out.get(naming.OUT_PRIVATE_NAME, ""),
                    "vpn_endpoint_id": vpn.get(naming.OUT_CLIENT_VPN_ENDPOINT_ID, ""),
                }
            )
        return report

    def _stack_set_status(self) -> list[dict[str, Any]]:
        """Each `consumers_from` StackSet and its stack instances (none when not deployed)."""
        found = []
        for plan in plan_fleet(self.spec, self.fleet_render):
            runner = StackSetRunner(self.client_factory("cloudformation", plan.account, plan.region))
            deployed = runner.exists(plan)
            instances = runner.instances(plan) if deployed else []
            found.append(
                {
                    "name": plan.name,
                    "account": plan.account,
                    "region": plan.region,
                    "status": "ACTIVE" if deployed else "NOT_DEPLOYED",
                    "instances": [
                        {"account": i.account, "region": i.region, "status": i.status} for i in instances
                    ],
                }
            )
        return found

    # -- down -------------------------------------------------------------------------------------
    def down(self, progress: Progress = no_progress) -> None:
        progress = locked(progress)
        stacks = self.stacks()
        for account, region, name in reversed(self.orphans(stacks)):
            self.deployer_for(account, region, progress).delete_stack(name)
        for batch in delete_batches(stacks):
            if any(s.name.part == "producer" for s in batch):
                if self.spec.consumers_from is not None:
                    delete_fleet(
                        self.spec,
                        self.client_factory,
                        progress,
                        self.fleet_render,
                        **self.fleet_runner_options(),
                    )
                self._reject_remaining(progress)
            with ThreadPoolExecutor(max_workers=max(1, min(8, len(batch)))) as pool:
                futures = [pool.submit(self.deployer(s, progress).delete_stack, s.stack_name) for s in batch]
                for future in futures:
                    future.result()
        self._delete_certificates(progress)

    def _reject_remaining(self, progress: Progress) -> None:
        """Endpoints from undeclared consumers keep the endpoint service alive: reject them first."""
        service_id = self.producer_outputs().get(naming.OUT_SERVICE_ID)
        if not service_id:
            return
        live = [
            c.endpoint_id
            for c in steps.list_connections(self.producer_ec2(), service_id)
            if c.state not in ("rejected", "deleted", "deleting", "failed", "expired")
        ]
        if live:
            progress(f"rejecting {len(live)} remaining endpoint connection(s) so the service can be deleted")
            steps.act_on_connections(self.producer_ec2(), service_id, live, accept=False)

    def _delete_certificates(self, progress: Progress) -> None:
        for consumer in self.spec.consumers:
            if consumer.vpn is None and consumer.name not in self.state.data["certificates"]:
                continue
            acm = self.gateway.client("acm", consumer.account, consumer.region)
            arns = set(self.state.data["certificates"].get(consumer.name, {}).get("arns", []))
            for role in ("server", "client"):
                found = steps.find_certificate(acm, self.spec.name, consumer.name, role)
                if found:
                    arns.add(found)
            for arn in sorted(arns):
                if steps.delete_certificate(acm, arn):
                    progress(f"acm: deleted {arn}")
            self.state.remove("certificates", consumer.name)
            self.state.remove("steps", f"{STEP_IMPORT}:{consumer.name}")

    # -- connections ------------------------------------------------------------------------------
    def connections(self) -> list[Connection]:
        return steps.list_connections(self.producer_ec2(), self.service_id(), self.consumer_owners())

    def accept(self, endpoint_ids: list[str]) -> ActionResult:
        return steps.act_on_connections(self.producer_ec2(), self.service_id(), endpoint_ids, accept=True)

    def reject(self, endpoint_ids: list[str]) -> ActionResult:
        return steps.act_on_connections(self.producer_ec2(), self.service_id(), endpoint_ids, accept=False)

    # -- vpn --------------------------------------------------------------------------------------
    def lookup(self, stack: RenderedStack, wanted) -> str:
        """A `FromLookup` value: describe the reused VPC or subnets in the stack's account and region."""
        from privlink.spec.models import vpc_resolver
        from privlink.templates.stacks import LOOKUP_SUBNET_AZ_IDS, LOOKUP_VPC_CIDR, LOOKUP_VPC_RESOLVER

        ec2 = self.gateway.client("ec2", stack.account, stack.region)
        if wanted.kind in (LOOKUP_VPC_CIDR, LOOKUP_VPC_RESOLVER):
            vpcs = ec2.describe_vpcs(VpcIds=list(wanted.ids[:1]))["Vpcs"]
            cidr = vpcs[0]["CidrBlock"]
            return cidr if wanted.kind == LOOKUP_VPC_CIDR else vpc_resolver(cidr)
        if wanted.kind == LOOKUP_SUBNET_AZ_IDS:
            found = {
                s["SubnetId"]: s["AvailabilityZoneId"]
                for s in ec2.describe_subnets(SubnetIds=list(wanted.ids))["Subnets"]
            }
            return ",".join(found[i] for i in wanted.ids)
        raise DeployFailed(stack.stack_name, f"unknown lookup {wanted.kind!r}")

    # -- test and doctor ----------------------------------------------------------------------------
    def clients(self, account_label: str, region: str, service: str):
        """An AWS client through the gateway (for observation and `test --via ssm`)."""
        return self.gateway.client(service, account_label, region)

    def observe(self):  # -> privlink.observe.model.Observation
        from privlink.observe.aws import observe_aws

        return observe_aws(self.spec, self.clients)

    def probe_plan(self, consumer: str) -> tuple[str | None, list[str], int]:
        """(None: the system resolver, every name the consumer's clients resolve, the service port)."""
        from privlink.observe.expect import probe_names

        return None, probe_names(self.spec, consumer, self.status), self.spec.producer.service.port

    def probe_ssm(
        self, consumer: str, name: str, port: int, instance: str | None = None
    ):  # -> privlink.probe.ProbeReport
        """The probe run on an SSM-managed instance in the consumer's VPC (`test --via ssm`): the
        `instance` the user named, else the consumer stack's test instance when its agent is online."""
        from privlink.targets.aws.ssm_probe import run_probe_ssm

        declared = self.spec.consumer(consumer)
        stack = naming.consumer_stack(self.spec.name, consumer).name
        outputs = self.deployer_for(declared.account, declared.region).outputs(stack)
        vpc_id = outputs.get(naming.OUT_VPC_ID)
        if not vpc_id:
            raise StateError(stack, "not deployed (no VpcId output)", "run `privlink --target aws up` first")
        return run_probe_ssm(
            self.clients,
            declared.account,
            declared.region,
            vpc_id,
            name,
            port,
            preferred=outputs.get(naming.OUT_TEST_INSTANCE_ID) or None,
            instance_id=instance,
            sleep=self.clock.sleep,
            clock=self.clock.now,
        )

    def vpn_config(self, consumer: str) -> str:
        try:
            declared = self.spec.consumer(consumer)
        except KeyError:
            names = ", ".join(c.name for c in self.spec.consumers) or "none"
            raise BadInput(
                "--consumer", f"no consumer named {consumer!r}", f"declared consumers: {names}"
            ) from None
        if declared.vpn is None:
            raise BadInput(
                f"consumers[{consumer}].vpn", "this consumer has no Client VPN", "add vpn: {} and run up"
            )
        vpn = self.deployer_for(declared.account, declared.region).outputs(
            naming.vpn_stack(self.spec.name, consumer).name
        )
        endpoint_id = vpn.get(naming.OUT_CLIENT_VPN_ENDPOINT_ID)
        if not endpoint_id:
            raise StateError(
                naming.vpn_stack(self.spec.name, consumer).name, "not deployed", "run privlink up first"
            )
        bundle = self._deployed_bundle(consumer)
        ec2 = self.gateway.client("ec2", declared.account, declared.region)
        return steps.export_vpn_config(ec2, endpoint_id, bundle)

    def _deployed_bundle(self, consumer: str) -> CertBundle:
        directory = self.cert_dir(consumer)
        expected = self.state.data["certificates"].get(consumer, {}).get("ca_fingerprint")
        if not (directory / "ca.crt").exists() or not expected:
            raise StateError(
                str(directory),
                "the certificates imported by up are missing here",
                "run privlink up from this directory (it re-imports new certificates)",
            )
        bundle = ensure_certificates(directory, self.spec.name, consumer)
        if fingerprint(bundle.ca_cert) != expected:
            raise StateError(
                str(directory),
                "the CA differs from the one imported into ACM",
                "run privlink up to import the current certificates",
            )
        return bundle
