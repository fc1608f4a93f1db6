"""The one list of checks, found in `privlink.doctor.checks`, and the runner that turns a crashing
check into a finding.

Each check declares the parts of the observation it needs (`Observation.unknown` keys, with
`consumer.<part>` meaning every consumer's): when a producer part is unknown the check does not run,
when a consumer's part is unknown it runs without that consumer. Either way, and when a check
leaves part of its work undone itself (`skips.skipped`), one `check-skipped` info per subject (the
producer, or `consumer:<name>`) names every check that did not judge it and the unknown parts they
needed, and points at the `describe-failed` warnings of the calls that failed (`privlink.doctor.skips`).
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Sequence
from dataclasses import dataclass

from privlink.doctor import checks
from privlink.doctor.check import Check, FindingKind
from privlink.doctor.findings import SEVERITY_ORDER, Finding, Skipped
from privlink.doctor.skips import scope, summarise_skips
from privlink.observe.model import Observation

FIX_INTERNAL_ERROR = "report this with `privlink doctor --output json`; the other checks ran"

INTERNAL_ERROR = FindingKind(
    "internal-error",
    ("error",),
    "A check crashed; the other checks ran.",
    "A bug in privlink, not a problem of the deployment: the check named by the resource raised an "
    "exception on this observation. Its findings are missing from the report; every other check ran. "
    "The evidence carries the exception.",
    "",
    (FIX_INTERNAL_ERROR,),
)


def discover() -> list[Check]:
    """Every check the modules of `privlink.doctor.checks` declare, in `checks.ORDER`."""
    found: dict[str, Check] = {}
    for module_info in pkgutil.iter_modules(checks.__path__):
        module = importlib.import_module(f"{checks.__name__}.{module_info.name}")
        for check in module.CHECKS:
            if check.name in found:
                raise RuntimeError(f"two doctor checks are named {check.name}")
            found[check.name] = check
    unordered = sorted(set(found) - set(checks.ORDER))
    undeclared = sorted(set(checks.ORDER) - set(found))
    if unordered or undeclared:
        raise RuntimeError(
            f"privlink.doctor.checks.ORDER lacks {unordered or 'nothing'} and names undeclared checks "
            f"{undeclared or 'none'}"
        )
    return [found[name] for name in checks.ORDER]


CHECKS: list[Check] = discover()


@dataclass(frozen=True)
class Diagnosis:
    """The findings of one run, and whether every check could judge everything.

    `privlink doctor` exits 1 when a finding is an error, 0 only when every check judged and found
    none, else 3: a check skipped a subject, or a describe call failed (a check that reads what it
    left empty, such as a VPC attribute, judged less than it seems).
    """

    findings: list[Finding]
    checks: tuple[str, ...]  # every check that was run, in order
    skipped: tuple[str, ...]  # those that did not judge some subject (their check-skipped infos)
    unread: int = 0  # describe calls that failed (their describe-failed warnings)

    @property
    def judged(self) -> int:
        """The checks that judged every subject."""
        return len(self.checks) - len(self.skipped)

    @property
    def complete(self) -> bool:
        return not self.skipped and not self.unread

    @property
    def exit_code(self) -> int:
        if has_errors(self.findings):
            return 1
        return 0 if self.complete else 3


def run_checks(obs: Observation, registry: Sequence[Check] | None = None) -> list[Finding]:
    """Every check's findings, errors first; the skipped checks folded into one info per subject
    (right after the warnings); a check that raises becomes one error finding."""
    return diagnose(obs, registry).findings


def diagnose(obs: Observation, registry: Sequence[Check] | None = None) -> Diagnosis:
    """`run_checks`, with which checks ran and which of them could not judge everything."""
    found: list[Finding] = []
    skips: list[Skipped] = []
    ran = tuple(CHECKS if registry is None else registry)
    for check in ran:
        try:
            view, held = scope(check, obs)
            skips.extend(held)
            for finding in check.run(view) if view is not None else []:
                if isinstance(finding, Skipped):
                    skips.append(finding)
                else:
                    found.append(finding)
        except Exception as exc:  # one broken check must not hide the others
            found.append(
                INTERNAL_ERROR.finding(
                    "error",
                    check.name,
                    f"internal error in {check.name}: {type(exc).__name__}: {exc}",
                    FIX_INTERNAL_ERROR,
                )
            )
    findings = sorted(summarise_skips(skips, obs) + found, key=lambda f: SEVERITY_ORDER[f.severity])
    skipped = {skip.check for skip in skips}
    return Diagnosis(
        findings,
        tuple(c.name for c in ran),
        tuple(c.name for c in ran if c.name in skipped),
        len(obs.errors),
    )


def has_errors(findings: Sequence[Finding]) -> bool:
    return any(f.severity == "error" for f in findings)
