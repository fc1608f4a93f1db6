"""Render findings as a rich table (text) or JSON-ready data."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from privlink.doctor.findings import Finding

STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}


def summary(findings: Sequence[Finding]) -> dict[str, int]:
    counts = Counter(f.severity for f in findings)
    return {"error": counts["error"], "warning": counts["warning"], "info": counts["info"]}


def to_json(findings: Sequence[Finding], target: str = "") -> dict[str, Any]:
    """`{"ok", "target", "summary", "findings": [{id, severity, resource, evidence, fix}]}`."""
    return {
        "ok": not any(f.severity == "error" for f in findings),
        "target": target,
        "summary": summary(findings),
        "findings": [f.to_dict() for f in findings],
    }


def render_text(findings: Sequence[Finding], width: int | None = None, color: bool = False) -> str:
    """A table of findings and a one-line summary."""
    from rich.console import Console
    from rich.table import Table

    console = Console(width=width or 160, record=True, force_terminal=color, no_color=not color, file=_Null())
    counts = summary(findings)
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
    problems = counts["error"] + counts["warning"]
    verdict = "no problems found" if not problems else "problems found"
    console.print(
        f"doctor: {verdict}: {counts['error']} error(s), {counts['warning']} warning(s), "
        f"{counts['info']} info"
    )
    return console.export_text(styles=color)


class _Null:
    def write(self, _text: str) -> int:
        return 0

    def flush(self) -> None:
        return None
