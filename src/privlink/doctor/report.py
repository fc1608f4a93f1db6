"""Render findings as a rich table (text) or JSON-ready data."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from privlink.doctor.findings import Finding
from privlink.doctor.registry import Diagnosis

STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}


def summary(findings: Sequence[Finding]) -> dict[str, int]:
    counts = Counter(f.severity for f in findings)
    return {"error": counts["error"], "warning": counts["warning"], "info": counts["info"]}


def to_json(diagnosis: Diagnosis, target: str = "") -> dict[str, Any]:
    """`{"schema", "ok", "exit_code", "target", "summary", "checks", "findings": [{id, severity, resource,
    evidence, fix}]}`; `ok` only when every check judged and found no error (exit 0)."""
    return {
        "schema": "privlink/doctor/v1",
        "ok": diagnosis.exit_code == 0,
        "exit_code": diagnosis.exit_code,
        "target": target,
        "summary": summary(diagnosis.findings),
        "checks": {
            "run": len(diagnosis.checks),
            "judged": diagnosis.judged,
            "skipped": len(diagnosis.skipped),
            "failed_reads": diagnosis.unread,
        },
        "findings": [f.to_dict() for f in diagnosis.findings],
    }


def verdict(diagnosis: Diagnosis) -> str:
    """The summary line: what the exit code means, the counts, how many checks judged."""
    counts = summary(diagnosis.findings)
    if counts["error"]:
        said = "problems found"
    elif diagnosis.skipped:
        said = (
            f"no error found, but {len(diagnosis.skipped)} of {len(diagnosis.checks)} checks could not "
            "judge everything (see check-skipped)"
        )
    elif diagnosis.unread:
        said = f"no error found, but {diagnosis.unread} describe call(s) failed (see describe-failed)"
    elif counts["warning"]:
        said = "problems found"
    else:
        said = "no problems found"
    return (
        f"doctor: {said}: {counts['error']} error(s), {counts['warning']} warning(s), {counts['info']} info; "
        f"{diagnosis.judged} of {len(diagnosis.checks)} checks judged"
    )


def render_text(diagnosis: Diagnosis, width: int | None = None, color: bool = False) -> str:
    """A table of findings and a one-line verdict."""
    from rich.console import Console
    from rich.table import Table

    console = Console(width=width or 160, record=True, force_terminal=color, no_color=not color, file=_Null())
    findings = diagnosis.findings
    if findings:
        table = Table(show_lines=True, expand=True)
        table.add_column("severity", no_wrap=True)
        table.add_column("id", no_wrap=True)
        table.add_column("resource", overflow="fold", max_width=40)
        table.add_column("evidence", overflow="fold", ratio=3)
        table.add_column("fix", overflow="fold", ratio=2)
        for f in findings:
            table.add_row(f"[{STYLE[f.severity]}]{f.severity}[/]", f.id, f.resource, f.evidence, f.fix)
        console.print(table)
    console.print(verdict(diagnosis), soft_wrap=True)
    return console.export_text(styles=color)


class _Null:
    def write(self, _text: str) -> int:
        return 0

    def flush(self) -> None:
        return None
