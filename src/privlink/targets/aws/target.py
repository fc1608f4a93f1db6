"""The aws target: gathers facts, plans `up`/`down` (`privlink.lifecycle`) and runs the plan's steps
with its handlers (`privlink.targets.aws.handlers`) in threads.

Order is the plan's, not this module's. Non-secret state (account IDs, imported certificate ARNs,
the AMIs resolved once) is kept in `<state_dir>/aws.json` so a re-run converges and an interrupted
run can finish.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from privlink import deploy as binding
from privlink.certs import CertBundle, ensure_certificates, fingerprint
from privlink.errors import BadInput, DeployFailed, StateError
from privlink.fleet import (
    FLEET_CONSUMER,
    ConsumerRenderer,
    StackSetRunner,
    plan_fleet,
    render_with_templates,
)
from privlink.lifecycle.build import plan_down, plan_up
from privlink.lifecycle.execute import Execution, NoHooks, RunContext, WorkerHooks, execute
from privlink.lifecycle.facts import Facts
from privlink.lifecycle.model import LifecyclePlan, PlannedChange, StepKind
from privlink.spec.models import Spec
from privlink.statefile import write_private_text
from privlink.targets.aws import facts as aws_facts
from privlink.targets.aws import steps
from privlink.targets.aws.deployer import Deployer, template_changes
from privlink.targets.aws.facts import LIVE_STATUSES  # noqa: F401  (re-exported for older imports)
from privlink.targets.aws.gateway import Gateway, SessionFactory, boto3_session
from privlink.targets.base import ActionResult, Connection, PlanReport, Progress, Target, no_progress
from privlink.templates import naming
from privlink.templates.stacks import RenderedStack

STATE_FILE = "aws.json"
MAX_WORKERS = 8


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
        self.data: dict[str, Any] = {"account_ids": {}, "steps": {}, "certificates": {}, "images": {}}
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
        hooks: WorkerHooks | None = None,
        max_workers: int = MAX_WORKERS,
    ) -> None:
        super().__init__(spec, state_dir)
        self.hooks = hooks or NoHooks()
        self.max_workers = max_workers
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

    def auto_accept(self) -> bool:
        service = self.spec.producer.endpoint_service
        return service.acceptance_required and service.auto_accept

    # -- facts and plans --------------------------------------------------------------------------
    def facts(self, stacks: list[RenderedStack], for_down: bool = False) -> Facts:
        places = {(s.account, s.region) for s in stacks}
        places.add((self.spec.producer.account, self.spec.producer.region))
        places.update((c.account, c.region) for c in self.spec.consumers)
        owners = {s.stack_name: (s.account, s.region) for s in stacks}
        return aws_facts.gather(
            self.spec, self.client_factory, places, self.state.data, owners=owners, for_down=for_down
        )

    def lifecycle(self, action: str = "up") -> tuple[LifecyclePlan, Facts]:
        """The plan of `up` (or `down`) over the facts read now."""
        if action == "down":
            try:
                stacks = self.stacks()
            except BadInput:
                stacks = []  # what exists is still deleted: every stack of the link is an orphan
            facts = self.facts(stacks, for_down=True)
            return plan_down(self.spec, stacks, facts), facts
        stacks = self.stacks()
        facts = self.facts(stacks)
        return plan_up(self.spec, stacks, facts), facts

    def run(self, plan: LifecyclePlan, facts: Facts, progress: Progress) -> Execution:
        """Run the plan's steps with the aws handlers, in threads; the effect log."""
        from privlink.targets.aws.handlers import AwsHandlers

        context = RunContext(
            outputs={f.name: f.outputs for f in facts.stacks}, steps=self.state.steps, progress=progress
        )
        for note in plan.notes:
            progress(note)
        return execute(
            plan,
            AwsHandlers(self, progress).table(),
            context,
            max_workers=self.max_workers,
            clock=self.clock.now,
            hooks=self.hooks,
        )

    # -- plan -------------------------------------------------------------------------------------
    def plan(self, progress: Progress = no_progress) -> PlanReport:
        plan, facts = self.lifecycle()
        outputs = {f.name: dict(f.outputs) for f in facts.stacks}
        changes: dict[str, list[PlannedChange]] = {}
        for step in plan.order():
            if step.kind is StepKind.DEPLOY:
                assert step.stack is not None
                changes[step.id] = self._stack_changes(
                    step.stack, step.override_values, facts, outputs, progress
                )
            elif step.kind is StepKind.ENABLE_PRIVATE_DNS:
                changes[step.id] = [
                    PlannedChange(
                        step.stack_name,
                        "Modify",
                        "Endpoint",
                        "AWS::EC2::VPCEndpoint",
                        detail="PrivateDnsEnabled=true once the connection is available",
                    )
                ]
            elif step.kind is StepKind.IMPORT_CERTIFICATES and step.id not in self.state.steps:
                vpn = naming.vpn_stack(self.spec.name, step.consumer or "").name
                changes[step.id] = [PlannedChange(vpn, "Step", detail=step.id)]
            elif step.kind is StepKind.DELETE:
                changes[step.id] = [
                    PlannedChange(step.stack_name, "Delete stack", detail="no longer in the spec")
                ]
            elif step.kind is StepKind.DELETE_CERTIFICATES:
                changes[step.id] = [PlannedChange("", "Step", detail=step.id)]
            elif step.kind is StepKind.DEPLOY_STACKSET:
                changes[step.id] = self._plan_fleet()
        return PlanReport(plan, changes)

    def _stack_changes(
        self,
        stack: RenderedStack,
        overrides: dict[str, str],
        facts: Facts,
        outputs: dict[str, dict[str, str]],
        progress: Progress,
    ) -> list[PlannedChange]:
        """The change set's lines, or the template's when its inputs do not exist yet."""
        deployer = self.deployer(stack)
        values, missing = binding.resolve(
            stack, outputs, self.state.steps, self.account_id, self.lookup, overrides
        )
        exists = facts.stack(stack.stack_name, stack.account, stack.region) is not None
        if missing:
            waits = ", ".join(m.source for m in missing)
            if exists:
                return [PlannedChange(stack.stack_name, "Modify", detail=f"after {waits}")]
            return template_changes(stack.stack_name, stack.template, f"after {waits}")
        progress(f"{stack.stack_name}: creating a change set to compare")
        result = deployer.create_change_set(stack.stack_name, stack.template, values, self.tags(stack))
        try:
            if result.no_changes:
                return [PlannedChange(stack.stack_name, "No change")]
            return list(result.changes)
        finally:
            deployer.discard(result)

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
        plan, facts = self.lifecycle()
        for (region, path), image in sorted(facts.images.items()):
            recorded = self.state.data.setdefault("images", {}).get(region, {})
            if recorded.get(path) != image:
                self.state.update("images", region, {**recorded, path: image})
        self.run(plan, facts, progress)
        return self.status()

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
        plan, facts = self.lifecycle("down")
        self.run(plan, facts, progress)

    def reject_remaining(self, progress: Progress) -> None:
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

    # `privlink test` asks the consumer VPC's resolver (VPC base + 2) directly: the Client VPN pushes it
    # as the DNS server, but the Linux OpenVPN client does not apply pushed DNS without
    # update-resolv-conf or systemd-resolved hooks (the seed articles' first curl fails so). The
    # split tunnel routes the VPC, so the resolver answers over the VPN; without, the probe falls
    # back to the system resolver and says so.
    resolver_falls_back = True

    def probe_plan(self, consumer: str) -> tuple[str | None, list[str], int]:
        """(the consumer VPC's resolver, every name the consumer's clients resolve, the service port)."""
        from privlink.observe.expect import probe_names
        from privlink.spec.models import vpc_resolver

        declared = self.spec.consumer(consumer)
        cidr = declared.vpc.cidr
        if cidr is None:
            stack = naming.consumer_stack(self.spec.name, consumer).name
            cidr = (
                self.deployer_for(declared.account, declared.region).outputs(stack).get(naming.OUT_VPC_CIDR)
            )
        resolver = vpc_resolver(cidr) if cidr else None
        return resolver, probe_names(self.spec, consumer, self.status), self.spec.producer.service.port

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
