"""Consumers as a CloudFormation StackSet (`consumers_from`): pure planning, then API calls.

`consumers_from: {organization_unit: ou-..., regions: [...], template_consumer: {...}}` deploys the
consumer stack as a service-managed StackSet with automatic deployment to the OU;
`consumers_from: {accounts: [...], regions: [...]}` deploys it as a self-managed StackSet to those
accounts. Same-region and cross-region instances need different templates (a cross-region
endpoint names its ServiceRegion), so there is one StackSet per kind that is in use:
`privlink-<name>-fleet` and `privlink-<name>-fleet-remote`.

Planning is data: `plan_fleet(spec, render)` -> `StackSetPlan`s; `deploy_calls` / `delete_calls`
turn a plan and what exists into `ApiCall`s; `StackSetRunner` runs them through an injected
CloudFormation client, waiting for each StackSet operation with an injected sleep and clock.
Everything is linear in the number of accounts and regions.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from privlink.errors import DeployFailed
from privlink.partitions import partition_of
from privlink.spec.models import Consumer, Spec
from privlink.templates.stacks import FromOutput, ParamBinding
from privlink.templates.stacks import Literal as LiteralValue

FLEET_CONSUMER = "fleet"
TAG_LINK, TAG_PART = "privlink:link", "privlink:part"
DONE, FAILED_STATES = "SUCCEEDED", ("FAILED", "STOPPED")

ConsumerRenderer = Callable[[Spec, Consumer], tuple[dict[str, Any], dict[str, ParamBinding]]]
"""Renders one consumer's stack: (template, parameter bindings)."""


@dataclass(frozen=True)
class StackSetPlan:
    """One StackSet: what `CreateStackSet` / `CreateStackInstances` would be called with."""

    name: str
    region: str  # the StackSet's home region (the producer's)
    account: str  # the spec's account label that administers it (the producer's)
    permission_model: str  # SERVICE_MANAGED | SELF_MANAGED
    template: dict[str, Any]
    parameters: dict[str, ParamBinding]
    regions: tuple[str, ...]
    organizational_units: tuple[str, ...] = ()
    accounts: tuple[str, ...] = ()
    auto_deployment: dict[str, bool] | None = None
    operation_preferences: dict[str, Any] = field(default_factory=dict)
    call_as: str = "SELF"
    tags: tuple[tuple[str, str], ...] = ()

    @property
    def deployment_targets(self) -> dict[str, list[str]]:
        if self.organizational_units:
            return {"OrganizationalUnitIds": list(self.organizational_units)}
        return {"Accounts": list(self.accounts)}


@dataclass(frozen=True)
class ApiCall:
    """One CloudFormation call; `wait` when it starts a StackSet operation to wait for."""

    method: str
    kwargs: dict[str, Any]
    wait: bool = False


@dataclass(frozen=True)
class Instance:
    """An existing stack instance (ListStackInstances summary)."""

    account: str
    region: str
    ou: str = ""
    status: str = ""  # CURRENT | OUTDATED | INOPERABLE (ListStackInstances)


def fleet_consumer(spec: Spec, region: str) -> Consumer:
    """The `template_consumer` block as a Consumer deployed in `region` (account label `fleet`)."""
    assert spec.consumers_from is not None
    base = spec.consumers_from.template_consumer
    return Consumer(
        name=FLEET_CONSUMER,
        account=FLEET_CONSUMER,
        region=region,
        vpc=base.vpc,
        allowed_cidrs=base.allowed_cidrs,
        private_dns=base.private_dns,
        private_dns_enabled=base.private_dns_enabled,
    )


def expand_fleet(spec: Spec) -> list[Consumer]:
    """An account-list fleet as explicit consumers, one per account and region (the local target).

    Names are `fleet-<n>` in account-then-region order; the account label is the account ID. The
    local sandbox has no AWS Organizations, so an OU fleet cannot be expanded.
    """
    from privlink.errors import BadInput

    fleet = spec.consumers_from
    if fleet is None:
        return []
    if fleet.organization_unit is not None:
        raise BadInput(
            "consumers_from.organization_unit",
            "the local target cannot list the accounts of an OU",
            "use consumers_from.accounts for local runs, or --target aws",
        )
    taken = {c.name for c in spec.consumers}
    pairs = [(account, region) for account in fleet.accounts for region in fleet.regions]
    consumers = []
    for i, (account, region) in enumerate(pairs):
        consumer = fleet_consumer(spec, region).model_copy(update={"name": f"fleet-{i}", "account": account})
        if consumer.name in taken:
            raise BadInput(
                "consumers",
                f"consumer name {consumer.name!r} is reserved for consumers_from",
                "rename that consumer",
            )
        consumers.append(consumer)
    return consumers


def render_with_templates(spec: Spec, consumer: Consumer) -> tuple[dict[str, Any], dict[str, ParamBinding]]:
    """The default renderer: the consumer template with its VPC inside (one StackSet instance is
    one stack, so the network cannot be a stack of its own)."""
    try:
        from privlink.templates.consumer import render_consumer
        from privlink.templates.render import check_renderable
    except ImportError as exc:
        from privlink.errors import PrivlinkError

        raise PrivlinkError("consumers_from", "the templates package is not available in this build") from exc

    one = spec.model_copy(update={"consumers": [consumer], "consumers_from": None})
    check_renderable(one)
    template, bindings = render_consumer(one, consumer, embedded_network=True)
    return template, dict(bindings)


def stack_set_name(link: str, remote: bool) -> str:
    return f"privlink-{link}-fleet" + ("-remote" if remote else "")


def fleet_allowed_principals(spec: Spec) -> list[str]:
    """The endpoint service principals a fleet needs: each listed account's root, or `*` for an OU.

    Endpoint service permissions take principal ARNs only (no OU or org condition), so an OU fleet
    allows `*` and relies on acceptance + the approval registry (the spec requires both).
    """
    fleet = spec.consumers_from
    if fleet is None:
        return []
    if fleet.organization_unit is not None:
        return ["*"]
    partition = partition_of(spec.producer.region)  # the accounts' roots are in the producer's partition
    return [partition.arn("iam", "", account, "root") for account in fleet.accounts]


def plan_fleet(spec: Spec, render: ConsumerRenderer = render_with_templates) -> list[StackSetPlan]:
    """The StackSets `consumers_from` asks for (none without it): same-region first, then remote."""
    fleet = spec.consumers_from
    if fleet is None:
        return []
    home = spec.producer.region
    groups = [
        (False, [r for r in fleet.regions if r == home]),
        (True, [r for r in fleet.regions if r != home]),
    ]
    service_managed = fleet.organization_unit is not None
    preferences = {
        "RegionConcurrencyType": "PARALLEL",
        "MaxConcurrentPercentage": fleet.max_concurrent_percentage,
        "FailureTolerancePercentage": fleet.failure_tolerance_percentage,
    }
    plans = []
    for remote, regions in groups:
        if not regions:
            continue
        template, parameters = render(spec, fleet_consumer(spec, regions[0]))
        plans.append(
            StackSetPlan(
                name=stack_set_name(spec.name, remote),
                region=home,
                account=spec.producer.account,
                permission_model="SERVICE_MANAGED" if service_managed else "SELF_MANAGED",
                template=template,
                parameters=parameters,
                regions=tuple(regions),
                organizational_units=(fleet.organization_unit,) if service_managed else (),
                accounts=() if service_managed else tuple(fleet.accounts),
                auto_deployment=(
                    {"Enabled": True, "RetainStacksOnAccountRemoval": fleet.retain_stacks_on_account_removal}
                    if service_managed
                    else None
                ),
                operation_preferences=preferences,
                call_as="DELEGATED_ADMIN" if fleet.delegated_admin else "SELF",
                tags=((TAG_LINK, spec.name), (TAG_PART, "consumer")),
            )
        )
    return plans


def resolve_parameters(plan: StackSetPlan, outputs: dict[str, dict[str, str]]) -> list[dict[str, str]]:
    """The StackSet's Parameters, each bound to a producer output (or a literal)."""
    params = []
    for key, binding in plan.parameters.items():
        if isinstance(binding, LiteralValue):
            value = binding.value
        elif isinstance(binding, FromOutput):
            try:
                value = outputs[binding.stack][binding.output]
            except KeyError as exc:
                raise DeployFailed(
                    plan.name,
                    f"parameter {key} needs output {binding.output} of {binding.stack}",
                    "deploy the producer stack first",
                ) from exc
        else:
            raise DeployFailed(
                plan.name,
                f"parameter {key} is bound to {type(binding).__name__} ({binding}); StackSets take "
                "only producer outputs and literals (one template serves every account)",
            )
        params.append({"ParameterKey": key, "ParameterValue": value})
    return params


def target_kwargs(targets: dict[str, list[str]]) -> dict[str, Any]:
    """Instances are addressed by `DeploymentTargets` (service-managed, OUs) or `Accounts` (self-managed)."""
    if "OrganizationalUnitIds" in targets:
        return {"DeploymentTargets": targets}
    return {"Accounts": targets["Accounts"]}


def _common(plan: StackSetPlan) -> dict[str, Any]:
    return {"StackSetName": plan.name, "CallAs": plan.call_as}


def deploy_calls(
    plan: StackSetPlan,
    parameters: list[dict[str, str]],
    exists: bool,
    instances: list[Instance],
    token: Callable[[], str] = lambda: str(uuid.uuid4()),
) -> list[ApiCall]:
    """The calls that make the StackSet and its instances match the plan (create or update)."""
    body = json.dumps(plan.template, sort_keys=True, separators=(",", ":"), default=str)
    tags = [{"Key": k, "Value": v} for k, v in plan.tags]
    stack_set: dict[str, Any] = {
        **_common(plan),
        "TemplateBody": body,
        "Parameters": parameters,
        "Tags": tags,
    }
    if plan.auto_deployment is not None:
        stack_set["AutoDeployment"] = plan.auto_deployment
    prefs = {"OperationPreferences": plan.operation_preferences}
    calls: list[ApiCall] = []
    if not exists:
        calls.append(
            ApiCall(
                "create_stack_set",
                {
                    **stack_set,
                    "PermissionModel": plan.permission_model,
                    "Description": f"privlink consumers of {plan.name}",
                },
            )
        )
    else:
        calls.append(ApiCall("update_stack_set", {**stack_set, **prefs, "OperationId": token()}, wait=True))
    wanted_regions = list(plan.regions)
    have_regions = sorted({i.region for i in instances})
    new_regions = [r for r in wanted_regions if r not in have_regions]
    gone_regions = [r for r in have_regions if r not in wanted_regions]
    kept_regions = [r for r in wanted_regions if r in have_regions]
    if plan.organizational_units:
        targets = plan.deployment_targets
        have_ous = sorted({i.ou for i in instances if i.ou})
        new_ous = [ou for ou in plan.organizational_units if ou not in have_ous]
        gone_ous = [ou for ou in have_ous if ou not in plan.organizational_units]
        creates = [(targets, new_regions)] + (
            [({"OrganizationalUnitIds": new_ous}, kept_regions)] if new_ous else []
        )
        deletes = [({"OrganizationalUnitIds": gone_ous}, have_regions)] if gone_ous else []
        deletes += [({"OrganizationalUnitIds": have_ous}, gone_regions)] if have_ous else []
    else:
        have_accounts = sorted({i.account for i in instances})
        new_accounts = [a for a in plan.accounts if a not in have_accounts]
        gone_accounts = [a for a in have_accounts if a not in plan.accounts]
        creates = [
            ({"Accounts": list(plan.accounts)}, new_regions),
            ({"Accounts": new_accounts}, kept_regions),
        ]
        deletes = [({"Accounts": gone_accounts}, have_regions), ({"Accounts": have_accounts}, gone_regions)]
    for targets, regions in creates:
        if regions and any(targets.values()):
            calls.append(
                ApiCall(
                    "create_stack_instances",
                    {
                        **_common(plan),
                        **target_kwargs(targets),
                        "Regions": regions,
                        **prefs,
                        "OperationId": token(),
                    },
                    wait=True,
                )
            )
    for targets, regions in deletes:
        if regions and any(targets.values()):
            calls.append(
                ApiCall(
                    "delete_stack_instances",
                    {
                        **_common(plan),
                        **target_kwargs(targets),
                        "Regions": regions,
                        **prefs,
                        "RetainStacks": False,
                        "OperationId": token(),
                    },
                    wait=True,
                )
            )
    return calls


def delete_calls(
    plan: StackSetPlan,
    instances: list[Instance],
    token: Callable[[], str] = lambda: str(uuid.uuid4()),
) -> list[ApiCall]:
    """Delete every instance (by OU or by account), then the StackSet."""
    calls = []
    regions = sorted({i.region for i in instances})
    if instances:
        ous = sorted({i.ou for i in instances if i.ou})
        targets = (
            {"OrganizationalUnitIds": ous} if ous else {"Accounts": sorted({i.account for i in instances})}
        )
        calls.append(
            ApiCall(
                "delete_stack_instances",
                {
                    **_common(plan),
                    **target_kwargs(targets),
                    "Regions": regions,
                    "RetainStacks": False,
                    "OperationPreferences": plan.operation_preferences,
                    "OperationId": token(),
                },
                wait=True,
            )
        )
    calls.append(ApiCall("delete_stack_set", _common(plan)))
    return calls


class StackSetRunner:
    """Runs `ApiCall`s on a CloudFormation client and waits for each StackSet operation."""

    def __init__(
        self,
        cfn: Any,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        poll: float = 10.0,
        timeout: float = 3600.0,
        progress: Callable[[str], None] = lambda _line: None,
    ) -> None:
        self.cfn, self.sleep, self.clock = cfn, sleep, clock
        self.poll, self.timeout, self.progress = poll, timeout, progress

    def exists(self, plan: StackSetPlan) -> bool:
        from botocore.exceptions import ClientError

        from privlink.errors import AwsError

        try:
            self.cfn.describe_stack_set(**_common(plan))
        except (ClientError, AwsError) as exc:
            # A raw botocore client raises ClientError; the aws gateway's clients raise AwsError.
            code = exc.code if isinstance(exc, AwsError) else exc.response.get("Error", {}).get("Code")
            if code == "StackSetNotFoundException":
                return False
            raise
        return True

    def instances(self, plan: StackSetPlan) -> list[Instance]:
        found, kwargs = [], _common(plan)
        while True:
            page = self.cfn.list_stack_instances(**kwargs)
            found += [
                Instance(s["Account"], s["Region"], s.get("OrganizationalUnitId", ""), s.get("Status", ""))
                for s in page.get("Summaries", [])
            ]
            if not page.get("NextToken"):
                return found
            kwargs = {**kwargs, "NextToken": page["NextToken"]}

    def run(self, plan: StackSetPlan, calls: list[ApiCall]) -> list[str]:
        """Run the calls in order; return the operation IDs waited for."""
        operations = []
        for call in calls:
            self.progress(f"{plan.name}: {call.method}")
            response = getattr(self.cfn, call.method)(**call.kwargs)
            if call.wait and response.get("OperationId"):
                self.wait(plan, response["OperationId"])
                operations.append(response["OperationId"])
        return operations

    def wait(self, plan: StackSetPlan, operation_id: str) -> None:
        deadline = self.clock() + self.timeout
        while True:
            op = self.cfn.describe_stack_set_operation(**_common(plan), OperationId=operation_id)[
                "StackSetOperation"
            ]
            status = op.get("Status", "")
            if status == DONE:
                return
            if status in FAILED_STATES:
                reason = op.get("StatusReason") or "see the StackSet's operation results"
                raise DeployFailed(
                    f"{plan.name} operation {operation_id}",
                    f"{op.get('Action', '')} {status}: {reason}",
                    "privlink status shows the failed stack instances",
                )
            if self.clock() >= deadline:
                raise DeployFailed(
                    f"{plan.name} operation {operation_id}",
                    f"still {status} after {self.timeout:.0f}s",
                    "run privlink up again to resume",
                )
            self.sleep(self.poll)

    def deploy(self, plan: StackSetPlan, parameters: list[dict[str, str]]) -> list[str]:
        exists = self.exists(plan)
        return self.run(plan, deploy_calls(plan, parameters, exists, self.instances(plan) if exists else []))

    def delete(self, plan: StackSetPlan) -> list[str]:
        if not self.exists(plan):
            return []
        return self.run(plan, delete_calls(plan, self.instances(plan)))


def deploy_fleet(
    spec: Spec,
    outputs: dict[str, dict[str, str]],
    client_factory: Callable[[str, str, str], Any],
    progress: Callable[[str], None] = lambda _line: None,
    render: ConsumerRenderer = render_with_templates,
    **runner: Any,
) -> list[str]:
    """Create or update every StackSet of the spec's fleet; `outputs` are the deployed stacks' outputs.

    `client_factory(service, account label, region)` gives the CloudFormation client of the
    administering account (the gateway's). Returns the operation IDs waited for.
    """
    operations = []
    for plan in plan_fleet(spec, render):
        cfn = client_factory("cloudformation", plan.account, plan.region)
        operations += StackSetRunner(cfn, progress=progress, **runner).deploy(
            plan, resolve_parameters(plan, outputs)
        )
    return operations


def delete_fleet(
    spec: Spec,
    client_factory: Callable[[str, str, str], Any],
    progress: Callable[[str], None] = lambda _line: None,
    render: ConsumerRenderer = render_with_templates,
    **runner: Any,
) -> list[str]:
    """Delete every StackSet of the spec's fleet (its instances first); missing ones are skipped."""
    operations = []
    for plan in reversed(plan_fleet(spec, render)):
        cfn = client_factory("cloudformation", plan.account, plan.region)
        operations += StackSetRunner(cfn, progress=progress, **runner).delete(plan)
    return operations


def synthetic_spec(n: int, fleet_accounts: int | None = None) -> Spec:
    """A spec with `n` explicit consumers and a `consumers_from` list of `fleet_accounts` accounts."""
    from privlink.spec.load import validate_spec

    consumers = [
        {
            "name": f"c{i}",
            "account": f"acct{i}",
            "region": "eu-central-1" if i % 2 else "eu-west-2",
            "vpc": {"cidr": f"10.{i // 256 % 256}.{i % 256}.0/24", "azs": 2},
        }
        for i in range(n)
    ]
    data = {
        "name": "bench",
        "target": "aws",
        "producer": {
            "account": "prod",
            "region": "eu-central-1",
            "vpc": {"cidr": "10.250.0.0/16"},
            "endpoint_service": {"auto_approval": {"registry": True}},
        },
        "consumers": consumers,
        "consumers_from": {
            "accounts": [
                f"{100000000000 + i}" for i in range(fleet_accounts if fleet_accounts is not None else n)
            ],
            "regions": ["eu-central-1", "eu-west-2"],
        },
    }
    return validate_spec(data)


def bench_render_plan(
    n: int = 200, render: ConsumerRenderer | None = None, clock: Callable[[], float] = time.perf_counter
) -> dict[str, float]:
    """Seconds to validate, render and plan `n` explicit consumers and an `n`-account fleet.

    Uses `privlink.templates.render.render_stacks` when it exists (the full render); without it
    only the fleet planning is timed, with a minimal consumer template.
    """
    timings: dict[str, float] = {}
    start = clock()
    spec = synthetic_spec(n)
    timings["validate"] = clock() - start
    try:
        from privlink.templates.render import render_stacks
    except ImportError:
        render_stacks = None
    if render_stacks is not None:
        t = clock()
        render_stacks(spec.model_copy(update={"consumers_from": None}))
        timings["render_explicit"] = clock() - t
    t = clock()
    plans = plan_fleet(spec, render or (render_with_templates if render_stacks else minimal_render))
    outputs = {
        "privlink-bench-producer": {
            "ServiceName": "com.amazonaws.vpce.eu-central-1.vpce-svc-0",
            "AvailabilityZoneIds": "euc1-az1,euc1-az2",
        }
    }
    for plan in plans:
        deploy_calls(plan, resolve_parameters(plan, outputs), exists=False, instances=[], token=lambda: "t")
        deploy_calls(
            plan,
            resolve_parameters(plan, outputs),
            exists=True,
            instances=[Instance(a, r) for a in plan.accounts for r in plan.regions[:1]],
            token=lambda: "t",
        )
    timings["plan_fleet"] = clock() - t
    timings["total"] = clock() - start
    return timings


def minimal_render(spec: Spec, consumer: Consumer) -> tuple[dict[str, Any], dict[str, ParamBinding]]:
    """A stand-in consumer template (parameters only) for planning without the templates package."""
    producer = f"privlink-{spec.name}-producer"
    template = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Parameters": {"ServiceName": {"Type": "String"}},
        "Resources": {"Wait": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
    }
    return template, {"ServiceName": FromOutput(producer, "ServiceName")}
