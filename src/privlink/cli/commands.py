"""Registers every command module on the app. Each module has `register(app)`."""

from __future__ import annotations

import importlib

import typer

# One module per group of commands; add a module here to add its commands (one per line).
COMMAND_MODULES: list[str] = [
    "check_commands",
    "deploy_commands",
    "fleet_commands",
    "ops_commands",
    "render_commands",
    "sandbox_commands",
]


def register(app: typer.Typer) -> None:
    for name in COMMAND_MODULES:
        importlib.import_module(f"privlink.cli.{name}").register(app)
