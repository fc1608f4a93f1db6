"""Which commands change a project: they run holding `.privlink/lock` (`privlink.project_lock`).

`@mutating()` on a command is the one place the lock is applied: the spec is loaded first (a bad one
is exit 2 without waiting for anyone), then the lock is taken for the whole command. Read-only
commands (status, test, doctor, plan, render, cost, diagram, iam-policy, connections list, ...) carry
no decorator and never wait.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import typer

from privlink.cli.main import globals_of, stderr
from privlink.errors import BadInput
from privlink.project_lock import DEFAULT_WAIT, project_lock

WAIT_ENV = "PRIVLINK_LOCK_WAIT"  # seconds a mutating command waits for another to finish

F = TypeVar("F", bound=Callable[..., Any])


def lock_wait(environ: Mapping[str, str] | None = None) -> float:
    """How long to wait for the lock: `PRIVLINK_LOCK_WAIT` seconds, else the default."""
    value = (os.environ if environ is None else environ).get(WAIT_ENV)
    if value is None:
        return DEFAULT_WAIT
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds < float("inf"):
        raise BadInput(WAIT_ENV, f"{value!r} is not a number of seconds", "e.g. PRIVLINK_LOCK_WAIT=60")
    return seconds


def command_name(ctx: typer.Context) -> str:
    """`privlink sandbox inject`: the command's words, without how Python was started."""
    words = []
    while ctx.parent is not None:
        words.insert(0, ctx.info_name or "")
        ctx = ctx.parent
    return " ".join(["privlink", *words])


def mutating(unless: Callable[[dict[str, Any]], bool] | None = None) -> Callable[[F], F]:
    """The command changes the project's state: it runs holding the project's lock.

    `unless(arguments)` True makes one call read-only (`connections list`). Its first argument that
    is a word (`accept`) joins the command's name in the lock, which a waiting command shows.
    """

    def wrap(command: F) -> F:
        @functools.wraps(command)
        def run(*args: Any, **kwargs: Any) -> Any:
            if unless is not None and unless(kwargs):
                return command(*args, **kwargs)
            ctx = kwargs["ctx"]
            g = globals_of(ctx)
            g.spec()  # a bad spec is exit 2 before any lock or file
            name = command_name(ctx)
            if isinstance(kwargs.get("action"), str):
                name += f" {kwargs['action']}"
            with project_lock(g.state_dir, name, wait=lock_wait(), progress=stderr):
                return command(*args, **kwargs)

        run.mutates_state = True  # type: ignore[attr-defined]  # the CLI tests list these
        return run  # type: ignore[return-value]

    return wrap
