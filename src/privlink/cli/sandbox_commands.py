"""`privlink sandbox inject FAULT | clear`: break the local sandbox on purpose, to practise the runbook."""

from __future__ import annotations

import typer

from privlink.cli.locking import mutating
from privlink.cli.main import OutputFormat, emit_json, globals_of, stderr
from privlink.errors import BadInput

sandbox = typer.Typer(
    help="Local target only: inject faults to practise `privlink doctor`.", no_args_is_help=True
)


def _local_target(ctx: typer.Context):
    glob = globals_of(ctx)
    spec = glob.spec()
    if (glob.target or spec.target) != "local":
        raise BadInput("--target", "sandbox commands work on the local target only", "use --target local")
    return glob.target_for(spec)


@sandbox.command()
@mutating(unless=lambda args: args["list_faults"])
def inject(
    ctx: typer.Context,
    fault: str = typer.Argument(None, help="The fault to inject; see --list."),
    list_faults: bool = typer.Option(False, "--list", help="List the faults and the finding each causes."),
    output: OutputFormat = typer.Option(OutputFormat.text, "--output", "-o", help="text or json."),
) -> None:
    """Break one thing the way it breaks on AWS (see --list)."""
    from privlink.targets.local.faults import FAULTS

    if list_faults:
        rows = [{"fault": f.name, "finding": f.finding, "what": f.description} for f in FAULTS.values()]
        if output == OutputFormat.json:
            emit_json(rows)
        else:
            for row in rows:
                print(f"{row['fault']:<24} -> {row['finding']:<32} {row['what']}")
        return
    if not fault:
        raise BadInput("FAULT", "name a fault to inject", "see `privlink sandbox inject --list`")
    if fault not in FAULTS:
        raise BadInput("FAULT", f"unknown fault {fault!r}", "see `privlink sandbox inject --list`")
    result = _local_target(ctx).inject_fault(fault)
    if output == OutputFormat.json:
        emit_json(result)
    else:
        stderr(f"injected {result['injected']}: {result['what']}")
        stderr(f"now run `privlink test` and `privlink doctor` (expect {result['expect']})")
        stderr("undo: privlink sandbox clear")


@sandbox.command()
@mutating()
def clear(
    ctx: typer.Context,
    output: OutputFormat = typer.Option(OutputFormat.text, "--output", "-o", help="text or json."),
) -> None:
    """Undo every injected fault."""
    result = _local_target(ctx).clear_faults()
    if output == OutputFormat.json:
        emit_json(result)
    else:
        stderr(f"cleared {', '.join(result['cleared']) or 'nothing (no fault was injected)'}")


def register(app: typer.Typer) -> None:
    app.add_typer(sandbox, name="sandbox")
