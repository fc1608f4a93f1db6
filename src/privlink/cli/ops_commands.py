"""Commands for operating a published service: `cost`, `diagram`, `iam-policy`."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Any

import typer

from privlink.cli.main import OutputFormat, emit_json, globals_of, stderr


class Side(str, Enum):
    producer = "producer"
    consumer = "consumer"
    all = "all"


def cost(
    ctx: typer.Context,
    gb_per_month: float = typer.Option(
        100.0, "--gb-per-month", help="GB through the link per month, all consumers together."
    ),
    vpn_users: int = typer.Option(2, "--vpn-users", help="Users of each consumer's Client VPN."),
    vpn_hours: float = typer.Option(160.0, "--vpn-hours", help="Connected hours per VPN user per month."),
    new_connections: float = typer.Option(
        1.0, "--new-connections-per-second", help="New connections per second at the NLB (for NLCUs)."
    ),
    active_connections: int = typer.Option(
        100, "--active-connections", help="Concurrent connections at the NLB (for NLCUs)."
    ),
    output: OutputFormat = typer.Option(OutputFormat.text, "--output", help="text or json."),
) -> None:
    """Estimate the monthly bill, line by line (us-east-1 prices from a dated table)."""
    from privlink.cost import Usage, estimate, format_text

    spec = globals_of(ctx).spec()
    usage = Usage(
        gb_per_month=gb_per_month,
        vpn_users=vpn_users,
        vpn_hours=vpn_hours,
        new_connections_per_second=new_connections,
        active_connections=active_connections,
    )
    result = estimate(spec, usage)
    if output == OutputFormat.json:
        emit_json(result.to_dict())
    else:
        print(format_text(result))


def diagram(
    ctx: typer.Context,
    out: Path = typer.Option(..., "--out", help="The picture to write: FILE.png or FILE.svg."),
    deployed: bool | None = typer.Option(
        None,
        "--deployed/--spec-only",
        help="Label deployed IDs from the target's status (default: only when the local sandbox is up).",
    ),
) -> None:
    """Draw the topology: accounts, VPCs, the NLB, the endpoint service and each consumer."""
    from privlink.diagram import draw, ids_from_status, output_format

    output_format(out)  # a bad extension is exit 2 before anything else
    g = globals_of(ctx)
    spec = g.spec()
    ids: dict[str, Any] = {}
    target = g.target or spec.target
    if deployed or (deployed is None and target == "local" and g.state_dir.is_dir()):
        ids = ids_from_status(cheap_status(g, spec))
    draw(spec, out, ids)
    stderr(f"wrote {out}")


def cheap_status(g: Any, spec: Any) -> dict[str, Any] | None:
    """The target's status, or None when it cannot be had (nothing deployed, no target module)."""
    try:
        return g.target_for(spec).status()
    except Exception as exc:  # the IDs only label the picture: any failure means spec only
        stderr(f"diagram: no deployed IDs ({exc}); drawing the spec only")
        return None


def iam_policy(
    ctx: typer.Context,
    side: Side = typer.Option(Side.all, "--side", help="producer, consumer or all."),
    output: OutputFormat = typer.Option(OutputFormat.json, "--output", help="json or text."),
) -> None:
    """Print the least-privilege IAM policies privlink needs in each account.

    JSON: with --side all, `{"producer": policy, "consumer": policy}`; with one side, its policy.
    A side whose statements pass IAM's size limit for one managed policy comes as several
    (`producer`, `producer-2`, ...; with one side, that object too), each within it.
    """
    from privlink.iam_policy import format_text, policies

    spec = globals_of(ctx).spec()
    if output == OutputFormat.text:
        print(format_text(spec, side.value), end="")
        return
    found = policies(spec, side.value)
    if side == Side.all or len(found) > 1:
        emit_json(found)
    else:
        emit_json(found[side.value])


def register(app: typer.Typer) -> None:
    app.command("cost")(cost)
    app.command("diagram")(diagram)
    app.command("iam-policy")(iam_policy)
