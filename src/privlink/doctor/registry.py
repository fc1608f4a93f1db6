"""The one list of checks, and the runner that turns a crashing check into a finding.

Each check declares the parts of the observation it needs (`Observation.unknown` keys, with
`consumer.<part>` meaning every consumer's): when a producer part is unknown the check does not run,
when a consumer's part is unknown it runs without that consumer. Either way, and when a check
leaves part of its work undone itself (`checks.skipped`), one `check-skipped` info per subject (the
producer, or `consumer:<name>`) names every check that did not judge it and the unknown parts they
needed, and points at the `describe-failed` warnings of the calls that failed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from privlink.doctor import checks
from privlink.doctor.findings import SEVERITY_ORDER, Finding, Skipped
from privlink.observe.model import CONSUMER_PARTS, PRODUCER_PARTS, Observation, ObserveError, consumer_part

CONSUMER = "consumer."


@dataclass(frozen=True)
class Check:
    name: str
    ids: tuple[str, ...]  # the finding ids it can emit
    run: Callable[[Observation], list[Finding]]
    needs: tuple[str, ...] = ()  # parts it cannot judge without: producer.<part>, consumer.<part>


CHECKS: list[Check] = [
    Check("observe-errors", ("describe-failed",), checks.check_observe_errors),
    Check("not-deployed", ("not-deployed", "check-skipped"), checks.check_not_deployed, ("consumer.stack",)),
    Check("endpoint-missing", ("endpoint-missing",), checks.check_endpoint_missing, ("consumer.endpoint",)),
    Check(
        "connection-pending-acceptance", ("connection-pending-acceptance",), checks.check_connection_pending
    ),
    Check("connection-rejected", ("connection-rejected",), checks.check_connection_rejected),
    Check(
        "principal-not-allowed",
        ("principal-not-allowed",),
        checks.check_principal_allowed,
        ("producer.permissions",),
    ),
    Check(
        "endpoint-sg-blocks-clients",
        ("endpoint-sg-blocks-clients",),
        checks.check_endpoint_sg,
        ("consumer.vpc", "consumer.endpoint", "consumer.security_groups"),
    ),
    Check(
        "targets-unhealthy",
        ("targets-unhealthy",),
        checks.check_targets_unhealthy,
        ("producer.target_groups", "producer.target_health"),
    ),
    Check(
        "az-without-healthy-targets",
        ("az-without-healthy-targets",),
        checks.check_az_without_healthy_targets,
        (
            "producer.load_balancer",
            "producer.target_groups",
            "producer.target_health",
            "producer.target_zones",
        ),
    ),
    Check(
        "az-not-served",
        ("az-not-served",),
        checks.check_az_not_served,
        ("producer.service", "consumer.subnets", "consumer.endpoint"),
    ),
    Check("vpc-dns-attributes", ("vpc-dns-attributes",), checks.check_vpc_dns_attributes),
    Check(
        "private-dns-unverified",
        ("private-dns-unverified",),
        checks.check_private_dns_unverified,
        ("producer.service",),
    ),
    Check(
        "private-name-unresolved",
        ("private-name-unresolved", "check-skipped"),
        checks.check_private_name,
        ("consumer.endpoint", "consumer.endpoint_addresses", "consumer.zones"),
    ),
    Check(
        "vpn-cidr-overlap",
        ("vpn-cidr-overlap",),
        checks.check_vpn_cidr_overlap,
        ("consumer.vpc", "consumer.vpn"),
    ),
    Check(
        "vpn-not-authorized",
        ("vpn-not-authorized", "vpn-missing"),
        checks.check_vpn_authorized,
        ("consumer.vpn", "consumer.vpn_access"),
    ),
    Check(
        "listener-target-port-mismatch",
        ("listener-target-port-mismatch",),
        checks.check_listener_target_ports,
        ("producer.listeners",),
    ),
    Check(
        "cross-region-not-supported",
        ("cross-region-not-supported", "check-skipped"),
        checks.check_cross_region,  # judges the service, endpoints and listeners each when known
    ),
    Check("nlb-idle-timeout", ("nlb-idle-timeout",), checks.check_nlb_idle_timeout, ("producer.listeners",)),
]


def scope(check: Check, obs: Observation) -> tuple[Observation | None, list[Skipped]]:
    """What `check` may judge: nothing when a producer part it needs is unknown, else `obs`
    without the consumers of which a part it needs is unknown; and the skips saying so."""
    missing = [p for p in check.needs if not p.startswith(CONSUMER) and not obs.known(p)]
    if missing:
        return None, [checks.skipped(check.name, "producer", missing)]
    parts = [p.removeprefix(CONSUMER) for p in check.needs if p.startswith(CONSUMER)]
    keep, found = [], []
    for c in obs.consumers:
        missing = [consumer_part(c.name, p) for p in parts if not obs.known(consumer_part(c.name, p))]
        if missing:
            found.append(checks.skipped(check.name, f"consumer:{c.name}", missing))
        else:
            keep.append(c)
    if found:
        obs = obs.model_copy(update={"consumers": keep})
    return obs, found


def summarise_skips(skips: Sequence[Skipped], obs: Observation) -> list[Finding]:
    """One `check-skipped` info per subject, the producer first, then the consumers in order."""
    names: dict[str, list[str]] = {}
    parts: dict[str, set[str]] = {}
    for skip in skips:
        if skip.check not in names.setdefault(skip.resource, []):
            names[skip.resource].append(skip.check)
        parts.setdefault(skip.resource, set()).update(skip.parts)
    order = ["producer"] + [f"consumer:{c.name}" for c in obs.consumers]
    subjects = sorted(names, key=lambda s: order.index(s) if s in order else len(order))
    return [skip_summary(s, names[s], sorted(parts[s], key=part_order), obs.errors) for s in subjects]


def part_order(key: str) -> tuple[int, str, int]:
    """Producer parts first, each side's parts in the order of the model (as `describe-failed` lists them)."""
    side, _, part = key.partition(".")
    names = PRODUCER_PARTS if side == "producer" else CONSUMER_PARTS
    return (side != "producer", side, names.index(part) if part in names else len(names))


def skip_summary(subject: str, names: list[str], parts: list[str], errors: list[ObserveError]) -> Finding:
    who = "the producer" if subject == "producer" else f"consumer {subject.removeprefix('consumer:')}"
    calls = list(dict.fromkeys(f"{e.call} ({e.side})" for e in errors if set(e.parts) & set(parts)))
    if len(calls) == 1:
        see = f"see the describe-failed warning above for {calls[0]}; once that call succeeds"
    elif calls:
        see = f"see the describe-failed warnings above for {', '.join(calls)}; once those calls succeed"
    else:
        see = "see the describe-failed warnings above; once those calls succeed"
    count = f"{len(names)} check" + ("s" if len(names) != 1 else "")
    return Finding(
        "check-skipped",
        "info",
        subject,
        f"{count} skipped for {who}: {', '.join(parts)} unknown ({', '.join(names)})",
        f"{see}, `privlink doctor` runs {'it' if len(names) == 1 else 'them'} for {who}",
    )


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
                Finding(
                    "internal-error",
                    "error",
                    check.name,
                    f"internal error in {check.name}: {type(exc).__name__}: {exc}",
                    "report this with `privlink doctor --output json`; the other checks ran",
                )
            )
    return sorted(summarise_skips(skips, obs) + found, key=lambda f: SEVERITY_ORDER[f.severity])


def has_errors(findings: Sequence[Finding]) -> bool:
    return any(f.severity == "error" for f in findings)
