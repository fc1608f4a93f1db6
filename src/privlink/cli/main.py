"""The `privlink` command: parses arguments, calls the core, prints. No logic of its own.

Heavy modules (boto3, troposphere, the sandbox) are imported inside commands so that
`privlink --help` stays fast.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

import typer

from privlink.errors import EXIT_BAD_INPUT, BadInput, PrivlinkError

EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report it

app = typer.Typer(
    name="privlink",
    help="Publish a private service over AWS PrivateLink, across accounts and regions, "
    "and prove that it works.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


class TargetKind(str, Enum):
    local = "local"
    aws = "aws"


class OutputFormat(str, Enum):
    text = "text"
    json = "json"


@dataclass
class Globals:
    spec_path: Path
    target: str | None
    debug: bool

    @property
    def state_dir(self) -> Path:
        return self.spec_path.resolve().parent / ".privlink"

    def spec(self):  # -> Spec, imported lazily
        from privlink.spec import load_spec

        return load_spec(self.spec_path)

    def target_for(self, spec=None):  # -> Target
        from privlink.targets.base import make_target

        spec = spec if spec is not None else self.spec()
        return make_target(spec, self.state_dir, self.target)


@app.callback()
def main(
    ctx: typer.Context,
    spec: Path = typer.Option(Path("privlink.yaml"), "--spec", help="The spec file."),
    target: TargetKind | None = typer.Option(
        None, "--target", help="Where to deploy: local (sandbox) or aws; overrides the spec."
    ),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks on errors."),
) -> None:
    ctx.obj = Globals(spec_path=spec, target=target.value if target else None, debug=debug)


def globals_of(ctx: typer.Context) -> Globals:
    return ctx.find_root().obj


def stderr(line: str) -> None:
    """Progress and diagnostics go to stderr; data goes to stdout."""
    print(line, file=sys.stderr, flush=True)


def emit_json(data: Any) -> None:
    print(json.dumps(data, indent=2, sort_keys=False, default=str))


@app.command()
def init(
    ctx: typer.Context,
    cross_region: bool = typer.Option(
        False, "--cross-region", help="Producer in us-east-1, consumer in eu-west-2."
    ),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing spec."),
) -> None:
    """Write privlink.yaml with the demo topology."""
    from privlink.spec.demo import demo_spec_text

    path = globals_of(ctx).spec_path
    if path.exists() and not force:
        raise BadInput(str(path), "already exists", "pass --force to overwrite it")
    path.write_text(demo_spec_text(cross_region=cross_region), encoding="utf-8")
    stderr(f"wrote {path}; next: privlink up && privlink test")


def register_commands() -> None:
    """Attach the command modules; each owns one group of commands."""
    from privlink.cli import commands

    commands.register(app)


def run(argv: list[str] | None = None) -> None:
    """Entry point: runs the app and turns errors into one line and an exit code."""
    register_commands()
    debug = "--debug" in (argv if argv is not None else sys.argv)
    try:
        rc = app(args=argv, standalone_mode=False)
        if rc == EXIT_INTERRUPTED:  # typer turns Ctrl-C (KeyboardInterrupt) into this exit code
            raise KeyboardInterrupt
        if isinstance(rc, int) and rc:  # `typer.Exit(n)` is returned, not raised, outside standalone mode
            sys.exit(rc)
    except PrivlinkError as exc:
        report_error(exc, debug)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        stderr("privlink: interrupted; run the same command again to continue")
        sys.exit(EXIT_INTERRUPTED)
    except SystemExit:
        raise
    except Exception as exc:  # click's own usage errors and anything unexpected
        kinds = {cls.__name__ for cls in type(exc).__mro__}
        if "Exit" in kinds:
            sys.exit(getattr(exc, "exit_code", 0))
        if "ClickException" in kinds:
            message = exc.format_message().removeprefix("Value error, ")  # type: ignore[attr-defined]
            stderr(f"privlink: error: {message}")
            stderr("  hint: see privlink --help")
            sys.exit(EXIT_BAD_INPUT if "UsageError" in kinds else 1)
        if "Abort" in kinds:
            stderr("privlink: aborted")
            sys.exit(1)
        if debug or os.environ.get("PRIVLINK_DEBUG"):
            raise
        stderr(f"privlink: error: internal: {type(exc).__name__}: {exc}")
        stderr("  hint: run again with --debug for the traceback, and report it")
        sys.exit(1)


def report_error(exc: PrivlinkError, debug: bool) -> None:
    if debug:
        import traceback

        traceback.print_exception(exc, file=sys.stderr)
    stderr(f"privlink: error: {exc.one_line()}")
    if exc.hint:
        stderr(f"  hint: {exc.hint}")
