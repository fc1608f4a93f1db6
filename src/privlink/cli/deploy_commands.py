"""`plan`, `up`, `status`, `down`, `connections`, `vpn-config`: target-agnostic deploy commands.

Each command parses its options, calls the `Target` from `globals_of(ctx).target_for(spec)` and
prints: data on stdout (rich tables or JSON), progress on stderr.
"""

from __future__ import annotations

import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

import typer

from privlink.cli.locking import mutating
from privlink.cli.main import OutputFormat, emit_json, globals_of, stderr
from privlink.errors import BadInput, PrivlinkError


def _console():
    from rich.console import Console

    # Piped output is not cut to 80 columns: tables stay complete for scripts and logs.
    return Console(file=sys.stdout, width=None if sys.stdout.isatty() else 240)


def _table(title: str, columns: list[str], rows: list[list[str]]):
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*row)
    return table


def plan(
    ctx: typer.Context,
    output: OutputFormat = typer.Option(OutputFormat.text, "--output", "-o", help="text or json."),
) -> None:
    """What `up` would create, change or delete."""
    target = globals_of(ctx).target_for()
    changes = target.plan(progress=stderr)
    if output == OutputFormat.json:
        emit_json([asdict(c) for c in changes])
        return
    rows = [[c.stack, c.action, c.logical_id, c.resource_type, c.replacement, c.detail] for c in changes]
    _console().print(_table("plan", ["stack", "action", "resource", "type", "replacement", "detail"], rows))


def up(
    ctx: typer.Context,
    output: OutputFormat = typer.Option(OutputFormat.text, "--output", "-o", help="text or json."),
) -> None:
    """Deploy to the target and wait until the path works."""
    target = globals_of(ctx).target_for()
    report = target.up(progress=stderr)
    _print_status(report, output)
    stderr("up: done; next: privlink test")


def status(
    ctx: typer.Context,
    output: OutputFormat = typer.Option(OutputFormat.text, "--output", "-o", help="text or json."),
) -> None:
    """Stacks, service name, endpoints and their states, connections."""
    _print_status(globals_of(ctx).target_for().status(), output)


def _print_status(report: dict[str, Any], output: OutputFormat) -> None:
    if output == OutputFormat.json:
        emit_json(report)
        return
    console = _console()
    stacks = report.get("stacks", [])
    if stacks:
        rows = [[str(s.get(k, "")) for k in ("name", "account", "region", "status")] for s in stacks]
        console.print(_table("stacks", ["stack", "account", "region", "status"], rows))
    stack_sets = report.get("stack_sets", [])
    if stack_sets:
        rows = [
            [
                str(s.get("name", "")),
                str(s.get("status", "")),
                ", ".join(f"{i['account']}/{i['region']} {i['status']}" for i in s.get("instances", []))
                or "-",
            ]
            for s in stack_sets
        ]
        console.print(_table("stack sets", ["stack set", "status", "instances"], rows))
    for key in ("service_name", "service_id"):
        if report.get(key):
            console.print(f"{key.replace('_', ' ')}: {report[key]}")
    if report.get("dns"):  # local: the shared address, answering as one consumer VPC's resolver
        who = report.get("dns_answers_as")
        console.print(f"dns: {report['dns']}" + (f" (answers as {who}'s VPC resolver)" if who else ""))
    for c in report.get("consumers", []):  # local: each consumer VPC's resolver (what `test` asks)
        if c.get("dns"):
            console.print(f"dns of {c.get('name')}'s VPC: {c['dns']}")
    dataplane = report.get("dataplane")  # the local target's data-plane process
    if dataplane:
        if dataplane.get("running"):
            console.print(f"data plane: running (pid {dataplane.get('pid')})")
        else:
            console.print(f"data plane: not running; {dataplane.get('hint', 'run `privlink up`')}")
    consumers = report.get("consumers", [])
    if consumers:
        rows = [
            [
                str(c.get("name", "")),
                str(c.get("endpoint_id", "")),
                str(c.get("endpoint_state", "")),
                str(c.get("private_name", "")),
                str(c.get("vpn_endpoint_id", "")),
            ]
            for c in consumers
        ]
        console.print(_table("consumers", ["consumer", "endpoint", "state", "private name", "vpn"], rows))
    connections = report.get("connections", [])
    if connections:
        console.print(_connections_table(connections))
    if report.get("private_dns"):
        dns = report["private_dns"]
        console.print(f"private dns: {dns.get('name')} {dns.get('state')}")


def _connections_table(connections: list[dict[str, Any]]):
    rows = [
        [
            str(c.get("endpoint_id", "")),
            str(c.get("consumer") or ""),
            str(c.get("owner", "")),
            str(c.get("region", "")),
            str(c.get("state", "")),
            str(c.get("created", "")),
        ]
        for c in connections
    ]
    return _table("connections", ["endpoint", "consumer", "owner", "region", "state", "created"], rows)


def down(
    ctx: typer.Context,
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
) -> None:
    """Remove everything `up` created, consumers first."""
    spec = globals_of(ctx).spec()
    if not yes:
        if not sys.stdin.isatty():
            raise BadInput(
                "--yes", "down deletes every stack of this link and needs confirmation", "pass --yes"
            )
        if not typer.confirm(f"delete every stack of link {spec.name!r}?", default=False, err=True):
            stderr("down: nothing deleted")
            raise typer.Abort()
    globals_of(ctx).target_for(spec).down(progress=stderr)
    stderr("down: done")


ACTIONS = ("list", "accept", "reject")


def connections(
    ctx: typer.Context,
    action: str = typer.Argument("list", help="list, accept or reject."),
    endpoint_ids: list[str] = typer.Argument(None, help="Endpoint IDs (vpce-...) to accept or reject."),
    output: OutputFormat = typer.Option(OutputFormat.text, "--output", "-o", help="text or json."),
) -> None:
    """The producer's view of endpoint connections; accept or reject them."""
    if action not in ACTIONS:
        raise BadInput(
            "connections ACTION",
            f"{action!r} is not one of list, accept, reject",
            "e.g. privlink connections accept vpce-...",
        )
    ids = list(endpoint_ids or [])
    if action == "list" and ids:
        raise BadInput("connections list", "takes no endpoint IDs", "use accept ID... or reject ID...")
    if action != "list" and not ids:
        raise BadInput(
            f"connections {action}", "needs endpoint IDs", f"privlink connections {action} vpce-..."
        )
    for endpoint_id in ids:
        if not endpoint_id.startswith("vpce-") or endpoint_id.startswith("vpce-svc-"):
            raise BadInput(f"connections {action}", f"{endpoint_id!r} is not an endpoint ID", "use vpce-...")
    target = globals_of(ctx).target_for()
    if action == "list":
        found = [asdict(c) for c in target.connections()]
        if output == OutputFormat.json:
            emit_json(found)
        else:
            _console().print(_connections_table(found))
        return
    result = target.accept(ids) if action == "accept" else target.reject(ids)
    if output == OutputFormat.json:
        emit_json(asdict(result))
    else:
        for endpoint_id in result.succeeded:
            print(f"{action}ed {endpoint_id}")
        for endpoint_id, why in result.failed.items():
            stderr(f"privlink: error: {endpoint_id}: {why}")
    if result.failed:
        # An error (not typer.Exit, whose code is lost when click runs with standalone_mode=False).
        raise PrivlinkError(
            f"connections {action}",
            f"{len(result.failed)} of {len(ids)} endpoint(s) failed",
            "see the lines above; privlink connections list shows their states",
        )


def vpn_config(
    ctx: typer.Context,
    out: Path = typer.Option(..., "--out", help="Where to write the .ovpn file (mode 0600)."),
    consumer: str | None = typer.Option(
        None, "--consumer", help="Which consumer's VPN (default: the only one)."
    ),
) -> None:
    """Write a `.ovpn` with the client certificate and key inside."""
    from privlink.certs import write_private

    spec = globals_of(ctx).spec()
    # --out is checked before the target makes certificates: bad input creates nothing.
    if out.is_dir():
        raise BadInput("--out", f"{out} is a directory", "pass a file path, e.g. --out dev.ovpn")
    if not out.parent.is_dir():
        raise BadInput("--out", f"directory {out.parent} does not exist", "create it or pick another path")
    with_vpn = [c.name for c in spec.consumers if c.vpn is not None]
    if consumer is None:
        if len(with_vpn) != 1:
            raise BadInput(
                "--consumer",
                "no consumer has a vpn"
                if not with_vpn
                else f"several consumers have a vpn: {', '.join(with_vpn)}",
                "pass --consumer NAME" if with_vpn else "add vpn: {} to a consumer and run privlink up",
            )
        consumer = with_vpn[0]
    text = globals_of(ctx).target_for(spec).vpn_config(consumer)
    write_private(out, text.encode())
    stderr(f"wrote {out} (contains a private key; keep it 0600)")


def register(app: typer.Typer) -> None:
    app.command()(plan)
    app.command()(mutating()(up))
    app.command()(status)
    app.command()(mutating()(down))
    app.command()(mutating(unless=lambda args: args["action"] == "list")(connections))
    app.command("vpn-config")(mutating()(vpn_config))  # makes the certificates when missing
