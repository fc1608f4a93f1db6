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


def skipped_checks(findings) -> dict[str, tuple[list[str], list[str]]]:
    """The doctor's `check-skipped` infos (findings or their JSON) by subject: (the checks they name,
    the unknown parts). Fails on a second info for one subject or one not in the summary form."""
    import re

    out: dict[str, tuple[list[str], list[str]]] = {}
    for finding in findings:
        f = finding if isinstance(finding, dict) else finding.to_dict()
        if f["id"] != "check-skipped":
            continue
        assert f["severity"] == "info" and f["resource"] not in out, f
        name = f["resource"].removeprefix("consumer:")
        who = re.escape("the producer" if f["resource"] == "producer" else f"consumer {name}")
        match = re.fullmatch(rf"(\d+) checks? skipped for {who}: (.+) unknown \((.+)\)", f["evidence"])
        assert match, f["evidence"]
        checks, parts = match[3].split(", "), match[2].split(", ")
        assert int(match[1]) == len(checks) == len(set(checks)), f["evidence"]
        out[f["resource"]] = (checks, parts)
    return out
