"""`privlink render --out DIR`: every stack's CloudFormation template as DIR/<stack>.json."""

from __future__ import annotations

from pathlib import Path

import typer

from privlink.cli.main import globals_of, stderr
from privlink.errors import BadInput


def render(
    ctx: typer.Context,
    out: Path = typer.Option(..., "--out", help="Directory to write <stack>.json files into."),
) -> None:
    """Write every stack's CloudFormation template as DIR/<stack>.json (no credentials needed)."""
    from privlink.templates.render import render_stacks, render_template_json

    spec = globals_of(ctx).spec()
    for warning in spec.warnings():
        stderr(f"privlink: warning: {warning}")
    # Render everything before writing anything, so a bad spec leaves no files behind.
    files = {f"{s.stack_name}.json": render_template_json(s) for s in render_stacks(spec)}
    if out.exists() and not out.is_dir():
        raise BadInput("--out", f"{out} exists and is not a directory", "pass a directory path")
    try:
        out.mkdir(parents=True, exist_ok=True)
        for name, text in files.items():
            (out / name).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise BadInput(
            "--out", f"cannot write to {out}: {exc.strerror or exc}", "pass a writable directory"
        ) from exc
    for name in files:
        print(out / name)
    stderr(f"wrote {len(files)} templates to {out}")


def register(app: typer.Typer) -> None:
    app.command("render")(render)
