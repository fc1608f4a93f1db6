"""`privlink consumers add|remove|list` (the approval registry) and `privlink fleet plan` (StackSets).

On the local target the registry is `.privlink/registry.json`; on the aws target it is the
producer's DynamoDB table, reached through the aws gateway (imported only when used).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import typer

from privlink.cli.locking import mutating
from privlink.cli.main import OutputFormat, emit_json, globals_of, stderr
from privlink.errors import BadInput, PrivlinkError

consumers_app = typer.Typer(
    help="Accounts the auto-approval function accepts (the registry).", no_args_is_help=True
)
fleet_app = typer.Typer(
    help="Consumers deployed as CloudFormation StackSets (consumers_from).", no_args_is_help=True
)

ClientFactory = Callable[[str, str, str], Any]
"""(service, account label, region) -> a boto3 client for that account and region."""


def aws_client_factory(spec) -> ClientFactory:
    """The aws gateway's client factory (`privlink.targets.aws.gateway.client_factory(spec)`)."""
    try:
        from privlink.targets.aws import gateway
    except ImportError as exc:
        raise PrivlinkError(
            "--target aws", "the aws target is not available in this build", "use --target local"
        ) from exc
    return gateway.client_factory(spec)


def open_registry(ctx: typer.Context):
    """The registry of the spec's producer on the target the flag or the spec names."""
    g = globals_of(ctx)
    spec = g.spec()
    return registry_for(spec, g.target or spec.target, g.state_dir)


def registry_for(spec, kind: str, state_dir, factory: ClientFactory | None = None):
    """The registry on `kind` (local | aws); `factory` makes the aws clients (default: the gateway)."""
    if not spec.producer.endpoint_service.auto_approval.registry:
        raise BadInput(
            "producer.endpoint_service.auto_approval",
            "the approval registry is off for this link",
            "add auto_approval: {registry: true} under producer.endpoint_service, then privlink up",
        )
    if kind == "aws":
        from privlink.approval.registry import DynamoRegistry, registry_table_name

        make = factory or aws_client_factory(spec)
        region, account = spec.producer.region, spec.producer.account
        caller = make("sts", account, region).get_caller_identity().get("Arn", "")
        return DynamoRegistry(
            make("dynamodb", account, region), registry_table_name(spec.name), added_by=caller
        )
    import getpass

    from privlink.approval.registry import LocalRegistry

    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = ""
    return LocalRegistry(state_dir, added_by=user)


@consumers_app.command("add")
@mutating()
def consumers_add(
    ctx: typer.Context,
    account_id: str = typer.Argument(..., metavar="ACCOUNT_ID", help="The consumer's 12-digit account ID."),
    principal: str | None = typer.Option(None, "--principal", help="Only this principal ARN of the account."),
    name: str | None = typer.Option(None, "--name", help="A name for the consumer."),
) -> None:
    """Register an account: its pending connections are accepted from now on."""
    from privlink.approval.registry import check_entry

    check_entry(account_id, principal, name)  # before any file or AWS call
    entry = open_registry(ctx).add(account_id, principal=principal, name=name)
    stderr(f"registered {entry.account_id}" + (f" ({entry.consumer_name})" if entry.consumer_name else ""))


@consumers_app.command("remove")
@mutating()
def consumers_remove(
    ctx: typer.Context,
    account_id: str = typer.Argument(..., metavar="ACCOUNT_ID", help="The account ID to remove."),
) -> None:
    """Unregister an account (its existing connections stay; reject them with privlink connections)."""
    from privlink.approval.registry import check_entry

    check_entry(account_id, None, None)
    removed = open_registry(ctx).remove(account_id)
    stderr(f"removed {account_id}" if removed else f"{account_id} was not registered; nothing to do")


@consumers_app.command("list")
def consumers_list(
    ctx: typer.Context,
    output: OutputFormat = typer.Option(OutputFormat.text, "--output", help="text or json"),
) -> None:
    """The registered accounts."""
    entries = open_registry(ctx).list()
    if output == OutputFormat.json:
        emit_json([e.to_json() for e in entries])
        return
    if not entries:
        stderr("no registered consumers; add one with privlink consumers add ACCOUNT_ID")
        return
    rows = [("ACCOUNT", "NAME", "PRINCIPAL", "ADDED_AT", "ADDED_BY")]
    rows += [
        (e.account_id, e.consumer_name or "-", e.principal or "-", e.added_at, e.added_by or "-")
        for e in entries
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


@fleet_app.command("plan")
def fleet_plan(
    ctx: typer.Context,
    output: OutputFormat = typer.Option(OutputFormat.text, "--output", help="text or json"),
) -> None:
    """The StackSets `consumers_from` deploys: model, targets, regions, parameters."""
    from privlink.fleet import fleet_allowed_principals, plan_fleet

    spec = globals_of(ctx).spec()
    if spec.consumers_from is None:
        raise BadInput(
            "consumers_from",
            "is not set in the spec",
            "add consumers_from: {accounts: [...], regions: [...]}",
        )
    plans = plan_fleet(spec)
    data = [
        {
            "stack_set": p.name,
            "permission_model": p.permission_model,
            "call_as": p.call_as,
            "deployment_targets": p.deployment_targets,
            "regions": list(p.regions),
            "auto_deployment": p.auto_deployment,
            "parameters": {k: str(v) for k, v in p.parameters.items()},
            "operation_preferences": p.operation_preferences,
        }
        for p in plans
    ]
    if output == OutputFormat.json:
        emit_json({"stack_sets": data, "allowed_principals": fleet_allowed_principals(spec)})
        return
    for item in data:
        targets = ", ".join(f"{k}={','.join(v)}" for k, v in item["deployment_targets"].items())
        print(f"{item['stack_set']}: {item['permission_model']} -> {targets} in {', '.join(item['regions'])}")


def register(app: typer.Typer) -> None:
    app.add_typer(consumers_app, name="consumers")
    app.add_typer(fleet_app, name="fleet")
