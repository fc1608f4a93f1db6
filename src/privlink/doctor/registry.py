"""The one list of checks, and the runner that turns a crashing check into a finding."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from privlink.doctor import checks
from privlink.doctor.findings import SEVERITY_ORDER, Finding
from privlink.observe.model import Observation


@dataclass(frozen=True)
class Check:
    name: str
    ids: tuple[str, ...]  # the finding ids it can emit
    run: Callable[[Observation], list[Finding]]


CHECKS: list[Check] = [
    Check("observe-errors", ("describe-failed",), checks.check_observe_errors),
    Check("not-deployed", ("not-deployed",), checks.check_not_deployed),
    Check("endpoint-missing", ("endpoint-missing",), checks.check_endpoint_missing),
    Check(
        "connection-pending-acceptance", ("connection-pending-acceptance",), checks.check_connection_pending
    ),
    Check("connection-rejected", ("connection-rejected",), checks.check_connection_rejected),
    Check("principal-not-allowed", ("principal-not-allowed",), checks.check_principal_allowed),
    Check("endpoint-sg-blocks-clients", ("endpoint-sg-blocks-clients",), checks.check_endpoint_sg),
    Check("targets-unhealthy", ("targets-unhealthy",), checks.check_targets_unhealthy),
    Check(
        "az-without-healthy-targets", ("az-without-healthy-targets",), checks.check_az_without_healthy_targets
    ),
    Check("az-not-served", ("az-not-served",), checks.check_az_not_served),
    Check("vpc-dns-attributes", ("vpc-dns-attributes",), checks.check_vpc_dns_attributes),
    Check("private-dns-unverified", ("private-dns-unverified",), checks.check_private_dns_unverified),
    Check("private-name-unresolved", ("private-name-unresolved",), checks.check_private_name),
    Check("vpn-cidr-overlap", ("vpn-cidr-overlap",), checks.check_vpn_cidr_overlap),
    Check("vpn-not-authorized", ("vpn-not-authorized", "vpn-missing"), checks.check_vpn_authorized),
    Check(
        "listener-target-port-mismatch",
        ("listener-target-port-mismatch",),
        checks.check_listener_target_ports,
    ),
    Check("cross-region-not-supported", ("cross-region-not-supported",), checks.check_cross_region),
    Check("nlb-idle-timeout", ("nlb-idle-timeout",), checks.check_nlb_idle_timeout),
]


def run_checks(obs: Observation, registry: Sequence[Check] | None = None) -> list[Finding]:
    """Every check's findings, errors first; a check that raises becomes one error finding."""
    found: list[Finding] = []
    for check in CHECKS if registry is None else registry:
        try:
            found.extend(check.run(obs))
        except Exception as exc:  # one broken check must not hide the others
            found.append(
                Finding(
                    "internal-error",
                    "error",
                    check.name,
                    f"internal error in {check.name}: {type(exc).__name__}: {exc}",
                    "report this with `privlink doctor --output json`; the other checks ran",
                )
            )
    return sorted(found, key=lambda f: SEVERITY_ORDER[f.severity])


def has_errors(findings: Sequence[Finding]) -> bool:
    return any(f.severity == "error" for f in findings)
