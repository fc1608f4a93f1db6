"""Helpers for tests (a unique module name: sub-folder conftest.py files would shadow `conftest`)."""

from __future__ import annotations

SRC = __import__("pathlib").Path(__file__).resolve().parents[1] / "src"


def run_privlink(*args: str, cwd, timeout: float = 60, env: dict | None = None, input=None):
    """Run `python -m privlink ARGS` from this checkout's sources, as a user would run it."""
    import os
    import subprocess
    import sys

    full_env = {**os.environ, "PYTHONPATH": str(SRC), **(env or {})}
    full_env.pop("PRIVLINK_DEBUG", None)
    return subprocess.run(
        [sys.executable, "-m", "privlink", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=full_env,
        input=input,
    )
