"""A doctor finding: what is wrong, where, the evidence, and the fix."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

Severity = Literal["error", "warning", "info"]
SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}


@dataclass(frozen=True)
class Finding:
    id: str  # stable, e.g. connection-pending-acceptance
    severity: Severity
    resource: str  # the concrete AWS ID (or consumer/stack) it is about
    evidence: str  # what was observed
    fix: str  # a privlink command or the spec key to change

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Skipped(Finding):
    """The `check-skipped` info of one check for one subject (`producer` or `consumer:<name>`),
    with what `run_checks` needs to fold every check's into one finding per subject."""

    check: str = ""
    parts: tuple[str, ...] = ()  # the unknown part keys it needed
