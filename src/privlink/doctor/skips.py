"""Checks that do not judge what could not be read, and the one `check-skipped` info per subject.

A part of the observation a failed describe call could not read is unknown (`Observation.unknown`),
not empty. The registry holds back a check whose declared parts are unknown (`scope`): it does not
run when a producer part is unknown, and runs without the consumers whose part is unknown. A check
that judges what it can skips the rest itself (`skipped`). All those skips fold into one
`check-skipped` info per subject (the producer, or `consumer:<name>`) naming every check that did not
judge it and the unknown parts they needed (`summarise_skips`).
"""

from __future__ import annotations

from collections.abc import Sequence

from privlink.doctor.check import Check, FindingKind
from privlink.doctor.findings import Finding, Skipped
from privlink.observe.model import CONSUMER_PARTS, PRODUCER_PARTS, Observation, ObserveError, consumer_part

CONSUMER = "consumer."

FIX_ONE_CALL = (
    "see the describe-failed warning above for {call}; once that call succeeds, "
    "`privlink doctor` runs {it_or_them} for {subject}"
)
FIX_CALLS = (
    "see the describe-failed warnings above for {calls}; once those calls succeed, "
    "`privlink doctor` runs {it_or_them} for {subject}"
)
FIX_NO_CALL = (
    "see the describe-failed warnings above; once those calls succeed, "
    "`privlink doctor` runs {it_or_them} for {subject}"
)
# The fix of one check's skip, before `summarise_skips` folds it into the subject's info.
FIX_ONE_CHECK = (
    "see the describe-failed warning: once that call is allowed, `privlink doctor` runs this check"
)

CHECK_SKIPPED = FindingKind(
    "check-skipped",
    ("info",),
    "Checks did not judge a subject because parts of the observation could not be read.",
    "A describe call failed (its describe-failed warning is above this info), so the parts of the "
    "deployment it reads are unknown, not empty. Rather than report a missing resource it could not "
    "see, each check that needs an unknown part does not judge the subject (the producer, or one "
    "consumer) it belongs to. One info per subject names the unknown parts and every check that was "
    "skipped for it.",
    "",
    (FIX_ONE_CALL, FIX_CALLS, FIX_NO_CALL),
)


def skipped(check: str, resource: str, parts: list[str]) -> Skipped:
    """The info that `check` did not judge `resource` because these parts could not be read
    (`run_checks` folds these into one per subject: `summarise_skips`)."""
    return Skipped(
        CHECK_SKIPPED.id,
        "info",
        resource,
        f"check {check} skipped for {resource}: {', '.join(parts)} unknown (a describe call failed)",
        FIX_ONE_CHECK,
        check,
        tuple(parts),
    )


def scope(check: Check, obs: Observation) -> tuple[Observation | None, list[Skipped]]:
    """What `check` may judge: nothing when a producer part it needs is unknown, else `obs`
    without the consumers of which a part it needs is unknown; and the skips saying so."""
    missing = [p for p in check.needs if not p.startswith(CONSUMER) and not obs.known(p)]
    if missing:
        return None, [skipped(check.name, "producer", missing)]
    parts = [p.removeprefix(CONSUMER) for p in check.needs if p.startswith(CONSUMER)]
    keep, found = [], []
    for consumer in obs.consumers:
        missing = [
            consumer_part(consumer.name, p) for p in parts if not obs.known(consumer_part(consumer.name, p))
        ]
        if missing:
            found.append(skipped(check.name, f"consumer:{consumer.name}", missing))
        else:
            keep.append(consumer)
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
    it_or_them = "it" if len(names) == 1 else "them"
    calls = list(dict.fromkeys(f"{e.call} ({e.side})" for e in errors if set(e.parts) & set(parts)))
    if len(calls) == 1:
        fix = FIX_ONE_CALL.format(call=calls[0], it_or_them=it_or_them, subject=who)
    elif calls:
        fix = FIX_CALLS.format(calls=", ".join(calls), it_or_them=it_or_them, subject=who)
    else:
        fix = FIX_NO_CALL.format(it_or_them=it_or_them, subject=who)
    count = f"{len(names)} check" + ("s" if len(names) != 1 else "")
    return CHECK_SKIPPED.finding(
        "info", subject, f"{count} skipped for {who}: {', '.join(parts)} unknown ({', '.join(names)})", fix
    )
