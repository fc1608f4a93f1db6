"""What a check declares beside its code: its name, the finding ids it can emit, the parts of the
observation it needs, and the function that judges.

A `FindingKind` is one finding id: the severities it comes in, what it means on AWS, how to confirm
it with the AWS CLI, and the fix texts the check fills in. The fix texts are `str.format` templates
whose fields (`{endpoint_id}`) are the concrete IDs; `docs/findings.md` is generated from these
declarations (`privlink.doctor.docs`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from privlink.doctor.findings import Finding, Severity
from privlink.observe.model import Observation


@dataclass(frozen=True)
class FindingKind:
    id: str  # stable: users search for it, docs/findings.md has a section for it
    severities: tuple[Severity, ...]  # those it can have; the explanation says when which
    title: str  # one sentence: what is wrong
    explanation: str  # what it means on AWS, and when each severity applies
    confirm: str  # AWS CLI commands (one a line, `<placeholders>`) that show it; "" when none does
    fixes: tuple[str, ...]  # the fix templates the check formats

    def finding(self, severity: Severity, resource: str, evidence: str, fix: str) -> Finding:
        """A finding of this kind; a severity the kind does not declare is a bug in the check."""
        if severity not in self.severities:
            raise ValueError(f"{self.id} is declared {'/'.join(self.severities)}, not {severity}")
        return Finding(self.id, severity, resource, evidence, fix)


@dataclass(frozen=True)
class Check:
    """One check: `run` judges an observation; its function name is `name` with underscores."""

    name: str  # stable: `check-skipped` and `internal-error` findings name it
    run: Callable[[Observation], list[Finding]]
    emits: tuple[FindingKind, ...]  # every kind of finding `run` can return
    # The parts it cannot judge without (`producer.<part>`, `consumer.<part>` for every consumer's):
    # the registry does not run it when a producer part is unknown, and runs it without a consumer
    # whose part is unknown (`privlink.doctor.skips.scope`).
    needs: tuple[str, ...] = ()

    @property
    def ids(self) -> tuple[str, ...]:
        """The finding ids it can emit."""
        return tuple(kind.id for kind in self.emits)
