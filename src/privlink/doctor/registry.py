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


def run_checks(obs: Observation, registry: Sequence[Check] | None = None) -> list[Finding]:
    """Every check's findings, errors first; the skipped checks folded into one info per subject
    (right after the warnings); a check that raises becomes one error finding."""
    found: list[Finding] = []
    skips: list[Skipped] = []
    for check in CHECKS if registry is None else registry:
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
    return sorted(summarise_skips(skips, obs) + found, key=lambda f: SEVERITY_ORDER[f.severity])


def has_errors(findings: Sequence[Finding]) -> bool:
    return any(f.severity == "error" for f in findings)
