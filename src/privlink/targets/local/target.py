"""The local target: deploys the rendered templates into the sandbox world and runs the data plane.

State in `.privlink/` (files 0600, directories 0700): `sandbox.json` (the world), `local.json` (the
loopback block, the loopback address of each ENI and consumer VPC resolver, injected faults),
`dataplane.json` (what the data plane serves), `dataplane-runtime.json` (what it publishes, with its
identity), `dataplane.log`, `certs/<consumer>/`.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from privlink.certs import ensure_certificates
from privlink.errors import BadInput, DeployFailed, PrivlinkError, StateError
from privlink.lifecycle.facts import CertificateFact, Facts, StackFact, Zones, wanted
from privlink.lifecycle.model import LifecyclePlan, PlannedChange, StepKind
from privlink.spec.models import Spec
from privlink.statefile import check_state_dir, corrupt, ensure_private_dir, read_state_json
from privlink.targets.base import ActionResult, Connection, PlanReport, Progress, Target, no_progress
from privlink.templates import naming
from privlink.templates.stacks import RenderedStack

# A user-facing speed-up of the sandbox's health checks (0.1: ten times faster), read by the command
# that writes the data plane's config and carried to the process in it (`DataPlaneConfig.time_scale`).
TIME_SCALE_ENV = "PRIVLINK_SANDBOX_TIME_SCALE"


def time_scale_from_env(environ: Mapping[str, str]) -> float | None:
    """PRIVLINK_SANDBOX_TIME_SCALE as a positive number, or None when it is unset or empty."""
    raw = environ.get(TIME_SCALE_ENV, "").strip()
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise BadInput(TIME_SCALE_ENV, f"{raw!r} is not a positive number", "unset it or use e.g. 0.1")
    return value


class LocalMeta(BaseModel):
    """The shape of `local.json` (checked when read; the target keeps working on the dict)."""

    model_config = ConfigDict(extra="allow", strict=True)

    loopback_block: str | None = None
    addresses: dict[str, str] = {}  # ENI id / consumer VPC id -> its loopback IP, kept for its life
    faults: list[str] = []
    steps: dict[str, dict[str, str]] = {}
    images: dict[str, dict[str, str]] = {}  # region -> SSM path -> the AMI resolved once


class LocalTarget(Target):
    """The embedded sandbox: same templates, simulated control plane, real data plane on loopback."""

    name = "local"

    def __init__(
        self,
        spec: Spec,
        state_dir: Path,
        clock: Callable[[], float] = time.monotonic,
        time_scale: float | None = None,
        warn: Progress = no_progress,
    ) -> None:
        """`time_scale` multiplies the data plane's health-check timings (tests pass e.g. 0.05);
        None: PRIVLINK_SANDBOX_TIME_SCALE, see `data_plane_time_scale`."""
        super().__init__(spec, state_dir, warn)
        self.clock = clock
        self.time_scale = time_scale
        self._warned: set[str] = set()
        check_state_dir(state_dir)

    def _warn_once(self, message: str) -> None:
        if message not in self._warned:
            self._warned.add(message)
            self.warn(message)

    # -- paths and state --------------------------------------------------------------------------
    @property
    def world_path(self) -> Path:
        return self.state_dir / "sandbox.json"

    @property
    def meta_path(self) -> Path:
        return self.state_dir / "local.json"

    @property
    def config_path(self) -> Path:
        return self.state_dir / "dataplane.json"

    @property
    def runtime_path(self) -> Path:
        return self.state_dir / "dataplane-runtime.json"

    @property
    def log_path(self) -> Path:
        return self.state_dir / "dataplane.log"

    def cert_dir(self, consumer: str) -> Path:
        return self.state_dir / "certs" / consumer

    def load_world(self):  # -> World
        from privlink.targets.local.world import World

        return World.load(self.world_path)

    def save_world(self, world) -> None:
        world.save(self.world_path)

    def meta(self) -> dict[str, Any]:
        fix = "delete it and run `privlink up` (it is rebuilt; injected faults are forgotten)"
        data = read_state_json(self.meta_path, fix)
        if data is None:
            return {}
        try:
            LocalMeta.model_validate(data)
        except ValueError as exc:
            raise corrupt(self.meta_path, exc, fix) from None
        return data

    def save_meta(self, data: dict[str, Any]) -> None:
        from privlink.targets.local.dataplane.config_model import write_json_atomic

        write_json_atomic(self.meta_path, data)

    # -- rendering ----------------------------------------------------------------------------------
    def stacks(self) -> list[RenderedStack]:
        from privlink.templates.render import check_renderable, render_stacks

        for i, target in enumerate(self.spec.producer.service.targets):
            if target.instance:
                raise BadInput(
                    f"producer.service.targets[{i}].instance",
                    "the local sandbox cannot run an EC2 instance you bring",
                    "use app: demo, or {address: 127.0.0.1:PORT} for a local service",
                )
        for field, vpc in [("producer.vpc", self.spec.producer.vpc)] + [
            (f"consumers[{i}].vpc", c.vpc) for i, c in enumerate(self.spec.consumers)
        ]:
            if vpc.id is not None:
                raise BadInput(
                    f"{field}.id",
                    "the local sandbox has no existing VPC to reuse",
                    "give the VPC a cidr for the local target",
                )
        check_renderable(self.spec)
        return render_stacks(self.spec)

    def _prepare_accounts(self, world) -> None:
        """Simulated accounts; a consumer's principal is its role when the spec names one."""
        for label, account in self.spec.accounts.items():
            world.account(label, account.role_arn)
        for consumer in self.spec.consumers:
            role = consumer.principal if consumer.principal and ":role/" in consumer.principal else None
            world.account(consumer.account, role or self._account_role(consumer.account))

    def _account_role(self, label: str) -> str | None:
        account = self.spec.accounts.get(label)
        return account.role_arn if account else None

    # -- facts and plans --------------------------------------------------------------------------
    def facts(self, world, for_down: bool = False) -> Facts:  # world: World
        """What the lifecycle plan needs, read from the simulated world and `local.json`."""
        from privlink.targets.local.engine.engine import ssm_parameter

        stacks = []
        for record in world.stacks.values():
            if naming.parse_stack_name(self.spec.name, record.name) is not None:
                stacks.append(
                    StackFact(
                        name=record.name,
                        account=record.account,
                        region=record.region,
                        status=record.status,
                        outputs=dict(record.outputs),
                        parameters=dict(record.parameters),
                    )
                )
        by_consumer: dict[str, list] = {}
        for arn, cert in world.certificates.items():
            if cert.tags.get(naming.TAG_LINK) == self.spec.name:
                by_consumer.setdefault(cert.tags.get("privlink:consumer", ""), []).append((arn, cert))
        certificates = tuple(
            CertificateFact(
                name, certs[0][1].account, certs[0][1].region, tuple(sorted(a for a, _c in certs))
            )
            for name, certs in sorted(by_consumer.items())
        )
        meta = self.meta()
        steps = {k: dict(v) for k, v in meta.get("steps", {}).items()}
        if for_down:
            return Facts(stacks=tuple(stacks), steps=steps, certificates=certificates)
        want = wanted(self.spec)
        zones = {
            (account, region): Zones(
                world.az_mapping(account, region), world.instance_type_offerings(account, region, types)
            )
            for (account, region), types in want.zones.items()
        }
        recorded = meta.get("images", {})
        images = {
            (region, path): recorded.get(region, {}).get(path) or ssm_parameter(region, path)
            for _account, region, path in want.images
        }
        return Facts(stacks=tuple(stacks), steps=steps, certificates=certificates, zones=zones, images=images)

    def lifecycle(self, world, action: str = "up") -> LifecyclePlan:
        from privlink.lifecycle.build import plan_down, plan_up

        if action == "down":
            try:
                stacks = self.stacks()
            except BadInput:
                stacks = []  # what exists is still deleted: every stack of the link is an orphan
            return plan_down(self.spec, stacks, self.facts(world, for_down=True))
        return plan_up(self.spec, self.stacks(), self.facts(world))

    def run(self, plan: LifecyclePlan, world, progress: Progress):  # -> Execution
        """Run the plan's steps one at a time, in its order, with the sandbox's handlers; the effect log."""
        from privlink.lifecycle.execute import RunContext, execute
        from privlink.targets.local.engine.engine import Engine
        from privlink.targets.local.handlers import LocalHandlers

        context = RunContext(
            outputs={r.name: r.outputs for r in world.stacks.values()},
            steps=self.meta().get("steps", {}),
            progress=progress,
        )
        for note in plan.notes:
            progress(note)
        # On anything but a PrivlinkError (Ctrl-C mid-stack) the last save after a whole stack
        # stands: no resource outlives its stack record, and the next run does the rest.
        try:
            return execute(plan, LocalHandlers(self, world, Engine(world), progress).table(), context)
        except PrivlinkError:
            self.save_world(world)  # the engine rolled the failed stack back: the world is consistent
            raise
        finally:
            if plan.action == "up" or self.meta_path.exists():
                self.save_meta({**self.meta(), "steps": context.steps})

    # -- plan -------------------------------------------------------------------------------------
    def plan(self, progress: Progress = no_progress) -> PlanReport:
        world = self.load_world()
        plan = self.lifecycle(world)
        changes: dict[str, list[PlannedChange]] = {}
        outputs = {r.name: r.outputs for r in world.stacks.values()}
        steps = self.meta().get("steps", {})
        for step in plan.order():
            if step.kind is StepKind.DEPLOY:
                assert step.stack is not None
                changes[step.id] = self._stack_changes(
                    world, step.stack, step.override_values, outputs, steps
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
            elif step.kind is StepKind.DELETE:
                changes[step.id] = [PlannedChange(step.stack_name, "Delete stack")]
        return PlanReport(plan, changes)

    def _stack_changes(
        self,
        world,
        stack: RenderedStack,
        overrides: dict[str, str],
        outputs: dict[str, dict[str, str]],
        steps: dict[str, dict[str, str]],
    ) -> list[PlannedChange]:
        from privlink.deploy import resolve

        record = world.find_stack(stack.stack_name, stack.account, stack.region)
        if record is None:
            return [
                PlannedChange(stack.stack_name, "Add", logical_id, resource["Type"])
                for logical_id, resource in stack.template.get("Resources", {}).items()
            ]
        changes = []
        old = record.template.get("Resources", {})
        new = stack.template.get("Resources", {})
        for logical_id in new:
            if logical_id not in old:
                changes.append(PlannedChange(stack.stack_name, "Add", logical_id, new[logical_id]["Type"]))
            elif old[logical_id] != new[logical_id]:
                changes.append(PlannedChange(stack.stack_name, "Modify", logical_id, new[logical_id]["Type"]))
        for logical_id in old:
            if logical_id not in new:
                changes.append(PlannedChange(stack.stack_name, "Remove", logical_id, old[logical_id]["Type"]))
        values, missing = resolve(
            stack, outputs, steps, lambda label: world.account(label).id, overrides=overrides
        )
        changed = sorted(k for k, v in values.items() if record.parameters.get(k) != v)
        if not missing and changed and not changes:
            changes.append(
                PlannedChange(stack.stack_name, "Modify", detail="parameters " + ", ".join(changed))
            )
        return changes or [PlannedChange(stack.stack_name, "No change")]

    # -- up -------------------------------------------------------------------------------------------
    def up(self, progress: Progress = no_progress) -> dict[str, Any]:
        self.stacks()  # bad input is found before anything is created
        world = self.load_world()  # and a corrupt state before anything changes
        self.meta()
        self.runtime()
        if self.spec.producer.endpoint_service.auto_approval.registry:
            from privlink.approval.registry import LocalRegistry

            LocalRegistry(self.state_dir).list()
        ensure_private_dir(self.state_dir)
        self._prepare_accounts(world)
        plan = self.lifecycle(world)
        images: dict[str, dict[str, str]] = {}
        for step in plan.steps:
            if step.stack is not None:
                for name, binding in step.stack.parameters.items():
                    key = getattr(binding, "key", "")
                    if key.startswith("image:") and name in step.override_values:
                        images.setdefault(step.region, {})[key[len("image:") :]] = step.override_values[name]
        self.save_meta({**self.meta(), "images": images})
        self._run_auto_approval(world)
        self.run(plan, world, progress)
        return self.status()

    def _run_auto_approval(self, world) -> None:
        """With `auto_approval.registry`, the approval Lambda's own handler runs on each event."""
        if not self.spec.producer.endpoint_service.auto_approval.registry:
            return
        from privlink.approval.registry import LocalRegistry
        from privlink.approval.sandbox import SandboxEc2, approve_in_sandbox

        def on_event(event) -> None:
            service_id = event.service_id
            sns = {
                "Records": [
                    {
                        "EventSource": "aws:sns",
                        "Sns": {"TopicArn": event.topic_arn, "Message": json.dumps(event.message)},
                    }
                ]
            }
            ec2 = SandboxEc2(lambda: world.connections(service_id), world.accept)
            approve_in_sandbox(sns, ec2, LocalRegistry(self.state_dir), service_id)

        world.on_notification(on_event)

    def _service_id(self, world) -> str | None:
        record = world.find_stack(naming.producer_stack(self.spec.name).name)
        return record.outputs.get(naming.OUT_SERVICE_ID) if record else None

    def _declared_owners(self, world) -> dict[str, str]:
        return {world.account(c.account).id: c.name for c in self.spec.consumers}

    # -- data plane -------------------------------------------------------------------------------
    def consumer_vpcs(self, world) -> dict[str, str]:
        found = {}
        for consumer in self.spec.consumers:
            record = world.find_stack(naming.consumer_stack(self.spec.name, consumer.name).name)
            if record and record.outputs.get(naming.OUT_VPC_ID):
                found[record.outputs[naming.OUT_VPC_ID]] = consumer.name
        return found

    def _save_dataplane_config(self, world, block: str, running: bool) -> None:
        from privlink.targets.local import faults
        from privlink.targets.local.dataplane.config_model import save_config
        from privlink.targets.local.world_to_dataplane import build_config, loopback_addresses

        consumers = self.consumer_vpcs(world)
        meta = self.meta()
        addresses = loopback_addresses(world, block, consumers, meta.get("addresses", {}))
        if addresses != meta.get("addresses"):
            self.save_meta({**meta, "addresses": addresses})
        config = build_config(
            world,
            block,
            consumers,
            self.spec.producer.service.backend_port,
            time_scale=self.data_plane_time_scale(running),
            addresses=addresses,
        )
        save_config(self.config_path, faults.apply_to_dataplane(config, self.meta().get("faults", [])))

    def apply_dataplane(self, world, progress: Progress = no_progress) -> None:
        """Write the data plane's config from the world; reload it when running, else start it.

        A start first stops any data plane of this project its runtime file does not name, then
        claims the loopback block (the recorded one when free, else another, saying so) and hands the
        claim to the new process, which holds it for as long as it runs.
        """
        from privlink.targets.local.dataplane import control
        from privlink.targets.local.dataplane.config_model import claim_loopback_block

        meta = self.meta()
        recorded = meta.get("loopback_block")
        running = self.runtime()
        if running is not None:
            block = recorded or running.get("loopback_block")
            if not isinstance(block, str):
                raise StateError(
                    str(self.meta_path),
                    "records no loopback block",
                    "run `privlink down`, then `privlink up`",
                )
            if block != recorded:
                self.save_meta({**meta, "loopback_block": block})
            self._save_dataplane_config(world, block, running=True)
            control.reload(self.runtime_path)
            return
        strays = control.stop(self.runtime_path, warn=self._warn_once)
        if strays:
            pids = ", ".join(str(p) for p in strays)
            progress(f"stopped a data plane of this project that its runtime file did not name (pid {pids})")
        ports = {self.spec.producer.service.port}
        with claim_loopback_block(str(self.state_dir.resolve()), ports, prefer=recorded) as claim:
            if claim.block != recorded:
                if recorded:
                    progress(
                        f"loopback block {recorded} is taken (another sandbox or program holds it); "
                        f"this sandbox moves to {claim.block}"
                    )
                self.save_meta({**self.meta(), "loopback_block": claim.block})
            self._save_dataplane_config(world, claim.block, running=False)
            progress("starting the data plane")
            control.start(self.config_path, self.runtime_path, self.log_path, claim=claim.socket)

    def data_plane_time_scale(self, running: bool) -> float:
        """The time scale of the config written next: this target's, else PRIVLINK_SANDBOX_TIME_SCALE,
        else the running data plane's (a later command's reload keeps the speed-up it started with),
        else 1."""
        from privlink.targets.local.dataplane import control

        if self.time_scale is not None:
            return self.time_scale
        from_env = time_scale_from_env(os.environ)
        if from_env is not None:
            return from_env
        current = (control.read_runtime(self.runtime_path) or {}).get("time_scale") if running else None
        if isinstance(current, (int, float)) and current > 0:
            return float(current)
        return 1.0

    def runtime(self) -> dict[str, Any] | None:
        """The runtime file when it names this project's live data plane; else None (warning once
        when the file names something else: another project's or a reused pid)."""
        from privlink.targets.local.dataplane import control

        runtime, verdict = control.running(self.runtime_path)
        if runtime is None and verdict is not None and not verdict.stale:
            self._warn_once(control.ignored(self.runtime_path, verdict))
        return runtime

    def wait_until_serving(self, progress: Progress = no_progress, timeout: float = 10.0) -> None:
        """Until every available endpoint's ENIs listen (or drop, as the config says: a security
        group or VPN authorization that admits nothing) and the DNS server answers."""
        deadline = self.clock() + timeout
        while True:
            runtime = self.runtime()
            if runtime is not None and runtime.get("dns"):
                enis = [
                    eni
                    for endpoint in runtime.get("endpoints", {}).values()
                    if endpoint.get("state") == "available"
                    for eni in endpoint.get("enis", [])
                ]
                if all(eni.get("listening") or eni.get("drops") for eni in enis):
                    return
            if self.clock() >= deadline:
                raise DeployFailed("data plane", f"not serving after {timeout:g} s", f"see {self.log_path}")
            time.sleep(0.02)

    # -- status ---------------------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        world = self.load_world()
        world.settle()
        runtime = self.runtime()
        report: dict[str, Any] = {"target": "local", "link": self.spec.name, "stacks": [], "consumers": []}
        for stack in self.stacks():
            record = world.find_stack(stack.stack_name, stack.account, stack.region)
            report["stacks"].append(
                {
                    "name": stack.stack_name,
                    "part": stack.name.part,
                    "account": stack.account,
                    "account_id": world.account(stack.account).id,
                    "region": stack.region,
                    "status": record.status if record else "NOT_DEPLOYED",
                    "outputs": dict(record.outputs) if record else {},
                }
            )
        service_id = self._service_id(world) or ""
        service = world.endpoint_services.get(service_id)
        report["service_id"] = service_id
        report["service_name"] = service.name if service else ""
        if service is not None and service.private_dns_name:
            report["private_dns"] = {
                "name": service.private_dns_name,
                "state": service.private_dns_state,
                "record": service.private_dns_txt_name,
                "value": service.private_dns_txt_value,
            }
        report["connections"] = [c.__dict__ for c in self.connections()] if service else []
        report["dataplane"] = (
            {"running": True, "pid": runtime["pid"], "log": str(self.log_path)}
            if runtime
            else {"running": False, "hint": "run `privlink up` to start it"}
        )
        report["dns"] = runtime.get("dns", "") if runtime else ""
        # no VPC resolves every consumer's names: the shared address answers as one VPC's resolver
        report["dns_answers_as"] = runtime.get("dns_answers_as", "") if runtime else ""
        endpoints_rt = runtime.get("endpoints", {}) if runtime else {}
        faults = self.meta().get("faults", [])
        if faults:
            report["faults"] = faults
        for consumer in self.spec.consumers:
            record = world.find_stack(naming.consumer_stack(self.spec.name, consumer.name).name)
            outputs = record.outputs if record else {}
            endpoint_id = outputs.get(naming.OUT_ENDPOINT_ID, "")
            endpoint = world.endpoints.get(endpoint_id)
            vpn = world.find_stack(naming.vpn_stack(self.spec.name, consumer.name).name)
            enis = endpoints_rt.get(endpoint_id, {}).get("enis", [])
            report["consumers"].append(
                {
                    "name": consumer.name,
                    "account": consumer.account,
                    "region": consumer.region,
                    "endpoint_id": endpoint_id,
                    "endpoint_state": endpoint.state if endpoint else "",
                    "dns_entries": endpoint.dns_entries if endpoint else [],
                    "private_name": outputs.get(naming.OUT_PRIVATE_NAME, ""),
                    "vpn_endpoint_id": vpn.outputs.get(naming.OUT_CLIENT_VPN_ENDPOINT_ID, "") if vpn else "",
                    "addresses": [e["address"] for e in enis],
                    "dns": (runtime or {}).get("dns_views", {}).get(consumer.name, ""),
                }
            )
        return report

    # -- connections ----------------------------------------------------------------------------------
    def connections(self) -> list[Connection]:
        world = self.load_world()
        service_id = self._service_id(world)
        if not service_id or service_id not in world.endpoint_services:
            return []
        owners = self._declared_owners(world)
        return [
            Connection(
                endpoint_id=c["VpcEndpointId"],
                owner=c["VpcEndpointOwner"],
                state=c["VpcEndpointState"],
                created=c["CreationTimestamp"],
                region=c.get("VpcEndpointRegion", ""),
                consumer=owners.get(c["VpcEndpointOwner"]),
            )
            for c in world.connections(service_id)
        ]

    def _decide(self, endpoint_ids: list[str], accept: bool) -> ActionResult:
        world = self.load_world()
        service_id = self._service_id(world)
        if not service_id:
            raise StateError("connections", "the producer is not deployed", "run `privlink up` first")
        failed = (world.accept if accept else world.reject)(service_id, endpoint_ids)
        self.save_world(world)
        result = ActionResult(
            succeeded=[e for e in endpoint_ids if e not in {f["ResourceId"] for f in failed}],
            failed={f["ResourceId"]: f"{f['Error']['Code']}: {f['Error']['Message']}" for f in failed},
        )
        if self.runtime() is not None:
            self.apply_dataplane(world)
        return result

    def accept(self, endpoint_ids: list[str]) -> ActionResult:
        return self._decide(endpoint_ids, accept=True)

    def reject(self, endpoint_ids: list[str]) -> ActionResult:
        return self._decide(endpoint_ids, accept=False)

    # -- vpn ------------------------------------------------------------------------------------------
    def vpn_config(self, consumer: str) -> str:
        from privlink.ovpn import render_config

        try:
            spec_consumer = self.spec.consumer(consumer)
        except KeyError:
            raise BadInput(
                "--consumer", f"no consumer named {consumer!r}", "see `consumers:` in the spec"
            ) from None
        if spec_consumer.vpn is None:
            raise BadInput(f"consumers[{consumer}].vpn", "this consumer has no Client VPN", "add a vpn block")
        world = self.load_world()
        record = world.find_stack(naming.vpn_stack(self.spec.name, consumer).name)
        if record is None:
            raise StateError(
                "vpn-config", f"the Client VPN of {consumer} is not deployed", "run `privlink up`"
            )
        cvpn = world.get_any(record.outputs[naming.OUT_CLIENT_VPN_ENDPOINT_ID])
        bundle = ensure_certificates(self.cert_dir(consumer), self.spec.name, consumer)
        return render_config(
            cvpn.data["dns_name"],
            spec_consumer.vpn.port,
            spec_consumer.vpn.protocol,
            bundle.ca_cert,
            bundle.client_cert,
            bundle.client_key_path.read_text(encoding="utf-8"),
        )

    # -- test and doctor -----------------------------------------------------------------------------
    def observe(self):  # -> privlink.observe.model.Observation
        from privlink.observe.local import observe_sandbox

        return observe_sandbox(self.spec, self.load_world(), self.runtime())

    def probe_plan(self, consumer: str) -> tuple[str | None, list[str], int]:
        """(the DNS server of `consumer`'s VPC in the sandbox, every name its clients resolve, the
        service port)."""
        from privlink.observe.expect import probe_names

        names = probe_names(self.spec, consumer, self.status)
        runtime = self.runtime()
        if runtime is None:
            # a failed test (exit 1), not bad input: the deployed path does not answer
            raise PrivlinkError("sandbox", "the data plane is not running", "run `privlink up` to restart it")
        resolver = runtime.get("dns_views", {}).get(consumer) or runtime["dns"]  # its VPC's view
        return resolver, names, self.spec.producer.service.port

    # -- faults ---------------------------------------------------------------------------------------
    @property
    def before_faults_path(self) -> Path:
        return self.state_dir / "sandbox.before-faults.json"

    def inject_fault(self, name: str) -> dict[str, Any]:
        """Break one thing on purpose; the world before the first fault is kept for `clear`."""
        from privlink.targets.local import faults

        deployed = self.world_path.exists()
        world = self.load_world()
        meta = self.meta()
        if not deployed or self.runtime() is None:
            raise StateError("sandbox", "the sandbox is not running", "run `privlink up` first")
        chosen = faults.inject(world, self.spec, name)  # raises BadInput before anything changes
        if not self.before_faults_path.exists():
            self.load_world().save(self.before_faults_path)
        meta["faults"] = [*meta.get("faults", []), name]
        self.save_world(world)
        self.save_meta(meta)
        self.apply_dataplane(world)
        return {"injected": chosen.name, "expect": chosen.finding, "what": chosen.description}

    def clear_faults(self) -> dict[str, Any]:
        """Undo every injected fault: the world as it was before the first one."""
        from privlink.targets.local.world import World

        meta = self.meta()
        before = self.before_faults_path.exists()
        if before:
            World.load(self.before_faults_path)  # a corrupt copy must not replace the world
        running = self.runtime() is not None
        cleared = meta.pop("faults", [])
        if before:
            os.replace(self.before_faults_path, self.world_path)
        self.save_meta(meta)
        if running:
            self.apply_dataplane(self.load_world())
        return {"cleared": cleared}

    # -- down -----------------------------------------------------------------------------------------
    def down(self, progress: Progress = no_progress) -> None:
        from privlink.targets.local.dataplane import control

        # The data plane goes first, found even when the runtime file is gone, corrupt or stale
        if control.stop(self.runtime_path, warn=self._warn_once):
            progress("stopped the data plane")
        deployed = self.world_path.exists()
        cert_owners = {c.name for c in self.spec.consumers}  # whose certs/<consumer>/ privlink made
        try:
            world = self.load_world()
        except StateError as exc:
            exc.what += "; down stopped the data plane but removed none of the stacks the file records"
            raise
        if deployed:
            cert_owners.update(
                cert.tags.get("privlink:consumer", "")
                for cert in world.certificates.values()
                if cert.tags.get(naming.TAG_LINK) == self.spec.name
            )
            self.run(self.lifecycle(world, "down"), world, progress)
            self.save_world(world)
            mine = [s.name for s in world.stacks.values() if naming.parse_stack_name(self.spec.name, s.name)]
            certs = [c for c in world.certificates.values() if c.tags.get(naming.TAG_LINK) == self.spec.name]
            if mine or certs:
                raise DeployFailed(
                    "down", f"the sandbox still holds {', '.join(sorted(mine)) or 'certificates'}"
                )
        for path in (
            self.world_path,
            self.meta_path,
            self.config_path,
            self.runtime_path,
            self.log_path,
            self.before_faults_path,
            self.state_dir / "registry.json",  # on AWS the registry table goes with the producer stack
        ):
            path.unlink(missing_ok=True)
        left = _remove_certificates(self.state_dir / "certs", cert_owners)
        if left:
            names = ", ".join(str(p.relative_to(self.state_dir)) for p in left)
            progress(f"left in {self.state_dir}: {names} (not created by privlink)")
        if self.state_dir.exists() and not any(self.state_dir.iterdir()):
            self.state_dir.rmdir()


def _remove_certificates(root: Path, consumers: set[str]) -> list[Path]:
    """Delete the certificate files privlink wrote under `root` (`certs/<consumer>/<known name>`, for
    the `consumers` it made them for) and the directories they empty; return what is left there, which
    privlink did not create (files, links, empty directories)."""
    from privlink.certs import written_here

    if root.is_symlink() or not root.is_dir():
        return [root] if root.exists() or root.is_symlink() else []
    for directory in sorted(root.iterdir()):
        if directory.name in consumers and directory.is_dir() and not directory.is_symlink():
            for path in sorted(directory.iterdir()):
                if written_here(path.name) and path.is_file() and not path.is_symlink():
                    path.unlink()
            with contextlib.suppress(OSError):
                directory.rmdir()  # only when empty
    with contextlib.suppress(OSError):
        root.rmdir()
    if not root.exists():
        return []
    return sorted(p for p in root.rglob("*") if p.is_symlink() or not p.is_dir() or not any(p.iterdir()))
