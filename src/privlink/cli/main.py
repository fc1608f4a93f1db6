"""The `privlink` command: parses arguments, calls the core, prints. No logic of its own.

Heavy modules (boto3, troposphere, the sandbox) are imported inside commands so that
`privlink --help` stays fast.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
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
    _spec: Any = field(default=None, repr=False)

    @property
    def state_dir(self) -> Path:
        return self.spec_path.resolve().parent / ".privlink"

    def spec(self):  # -> Spec, imported lazily; loaded once per command
        from privlink.spec import load_spec

        if self._spec is None:
            self._spec = load_spec(self.spec_path)
        return self._spec

    def target_for(self, spec=None):  # -> Target
        from privlink.targets.base import make_target

        spec = spec if spec is not None else self.spec()
        target = make_target(spec, self.state_dir, self.target)
        target.warn = warning  # e.g. a stale state file ignored: one line on stderr
        return target


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


def warning(line: str) -> None:
    stderr(f"privlink: warning: {line}")


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
    try:
        path.write_text(demo_spec_text(cross_region=cross_region), encoding="utf-8")
    except OSError as exc:
        why = exc.strerror or str(exc)
        raise BadInput(f"--spec {path}", f"cannot write it ({why})", "pass a writable file path") from None
    stderr(f"wrote {path}; next: privlink up && privlink test")


_registered = False


def register_commands() -> None:
    """Attach the command modules (once); each owns one group of commands."""
    global _registered
    if _registered:
        return
    from privlink.cli import commands

    commands.register(app)
    _registered = True


def run(argv: list[str] | None = None) -> None:
    """Entry point: runs the app and turns every error into ONE line on stderr and an exit code."""
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
        # typer vendors click, so its exception classes are matched by name.
        kinds = {cls.__name__ for cls in type(exc).__mro__}
        if "Exit" in kinds:
            sys.exit(getattr(exc, "exit_code", 0))
        if "UsageError" in kinds:
            stderr(usage_error_line(exc, sys.argv[1:] if argv is None else argv))
            sys.exit(EXIT_BAD_INPUT)
        if "ClickException" in kinds:
            message = exc.format_message().replace("Value error, ", "")  # type: ignore[attr-defined]
            stderr(one_line(f"privlink: error: {message}; hint: see privlink --help"))
            sys.exit(1)
        if "Abort" in kinds:
            stderr("privlink: aborted")
            sys.exit(1)
        if debug or os.environ.get("PRIVLINK_DEBUG"):
            raise
        stderr(
            one_line(
                f"privlink: error: internal: {type(exc).__name__}: {exc}; "
                "hint: run again with --debug for the traceback, and report it"
            )
        )
        sys.exit(1)


def one_line(text: str) -> str:
    """`text` with its line breaks folded: every error is exactly one line."""
    return " ".join(part.strip() for part in str(text).splitlines() if part.strip())


def usage_error_line(exc: Any, argv: list[str]) -> str:
    """click's multi-line usage block as `privlink: error: <command>: <message>; hint: ...`."""
    ctx = getattr(exc, "ctx", None)
    if ctx is None:  # errors from click's option parser carry no context
        names = command_words(argv)
    else:
        names = []
        while ctx.parent is not None:  # the root's own name is how python was started
            names.insert(0, ctx.info_name or "")
            ctx = ctx.parent
    command = " ".join(["privlink", *names])
    if type(exc).__name__ == "NoArgsIsHelpError":  # the help is already printed (on stdout)
        where = f"{' '.join(names)}: " if names else ""
        return f"privlink: error: {where}needs a command; hint: pick one of the commands above"
    message = exc.format_message().replace("Value error, ", "").rstrip(".")
    where = f"{' '.join(names)}: " if names else ""
    return one_line(f"privlink: error: {where}{message}; hint: see {command} --help")


def command_words(argv: list[str]) -> list[str]:
    """The (sub)command names in `argv`, e.g. ['sandbox', 'inject'] (click's errors do not always say)."""
    group: Any = typer.main.get_command(app)
    words: list[str] = []
    tokens = iter(argv)
    for token in tokens:
        commands = getattr(group, "commands", None)
        if not commands:
            break
        if token.startswith("-"):
            option = next((p for p in group.params if token in getattr(p, "opts", ())), None)
            if option is not None and not getattr(option, "is_flag", False):
                next(tokens, None)  # its value, e.g. `--spec PATH`
            continue
        if token not in commands:
            break
        words.append(token)
        group = commands[token]
    return words


def report_error(exc: PrivlinkError, debug: bool) -> None:
    if debug:
        import traceback

        traceback.print_exception(exc, file=sys.stderr)
    hint = f"; hint: {exc.hint}" if exc.hint else ""
    stderr(one_line(f"privlink: error: {exc.one_line()}{hint}"))
