"""The lifecycle plan as data: steps, their dependencies, order, critical path, JSON.

A `Step` is one thing `up` or `down` does (deploy or delete a stack, import certificates, accept
connections, ...), where, and which steps must be done before it. A `LifecyclePlan` orders its
steps deterministically (a topological order that keeps the plan's own order among ready steps)
and estimates the wall time of running them as early as their dependencies allow.

Pure: no boto3, sockets or files.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from privlink.templates.stacks import RenderedStack

PLAN_SCHEMA = "privlink/plan/v1"


class StepKind(str, Enum):
    DEPLOY = "deploy"  # create or update one stack (change set)
    IMPORT_CERTIFICATES = "import-certificates"  # a consumer's VPN certificates into ACM
    VERIFY_PRIVATE_DNS = "verify-private-dns"  # the service's private DNS name (TXT record)
    ACCEPT_CONNECTIONS = "accept-connections"  # a consumer's endpoint connection, until available
    ENABLE_PRIVATE_DNS = "enable-private-dns"  # a consumer stack update: PrivateDnsEnabled=true
    DEPLOY_STACKSET = "deploy-stackset"  # the `consumers_from` StackSets
    WAIT_HEALTHY = "wait-healthy"  # until the service's targets are healthy and the path serves
    DELETE = "delete"  # delete one stack
    DELETE_STACKSET = "delete-stackset"  # the `consumers_from` StackSets and their instances
    REJECT_CONNECTIONS = "reject-connections"  # every live connection, so the service can go
    DELETE_CERTIFICATES = "delete-certificates"  # a consumer's imported certificates


@dataclass(frozen=True)
class PlannedChange:
    """One line of a plan: what would happen to one resource of one stack."""

    stack: str
    action: str  # Add | Modify | Remove | Create stack | Delete stack | No change | Step
    logical_id: str = ""
    resource_type: str = ""
    replacement: str = ""
    detail: str = ""


@dataclass(frozen=True)
class Step:
    """One step of a plan. `after`: the ids of the steps that must be done before it starts."""

    id: str
    kind: StepKind
    account: str  # the spec's account label
    region: str
    after: tuple[str, ...] = ()
    stack: RenderedStack | None = None  # deploy, enable-private-dns
    stack_name: str = ""  # every step that acts on one stack
    consumer: str | None = None
    overrides: tuple[tuple[str, str], ...] = ()  # parameter values the plan decided
    arguments: tuple[tuple[str, str], ...] = ()  # e.g. the certificate ARNs to delete
    expected_seconds: float = 0.0
    # Done no earlier than `expected_seconds` after this step is done (e.g. health checks that start
    # when the producer is created); empty: `expected_seconds` after this step starts.
    measured_from: str = ""
    why: str = ""  # one line for people: what it does and why it is there

    @property
    def override_values(self) -> dict[str, str]:
        return dict(self.overrides)

    @property
    def argument_values(self) -> dict[str, str]:
        return dict(self.arguments)


class PlanError(ValueError):
    """A plan that cannot run: a duplicate id, an unknown dependency or a cycle."""


@dataclass(frozen=True)
class LifecyclePlan:
    action: str  # up | down
    steps: tuple[Step, ...]
    notes: tuple[str, ...] = ()  # lines for people (e.g. what waits for a manual acceptance)
    _order: tuple[Step, ...] = field(default=(), init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        ids = [s.id for s in self.steps]
        seen: set[str] = set()
        for step_id in ids:
            if step_id in seen:
                raise PlanError(f"step {step_id} appears twice")
            seen.add(step_id)
        for step in self.steps:
            for dep in step.after:
                if dep not in seen:
                    raise PlanError(f"{step.id} runs after unknown step {dep}")
            if step.measured_from and step.measured_from not in seen:
                raise PlanError(f"{step.id} is measured from unknown step {step.measured_from}")
        object.__setattr__(self, "_order", tuple(self._topological()))

    def _topological(self) -> list[Step]:
        done: set[str] = set()
        remaining = list(self.steps)
        order: list[Step] = []
        while remaining:
            ready = next((s for s in remaining if all(d in done for d in s.after)), None)
            if ready is None:
                raise PlanError("dependency cycle: " + ", ".join(s.id for s in remaining))
            order.append(ready)
            done.add(ready.id)
            remaining.remove(ready)
        return order

    # -- reading ----------------------------------------------------------------------------------
    def step(self, step_id: str) -> Step:
        for step in self.steps:
            if step.id == step_id:
                return step
        raise KeyError(step_id)

    def order(self) -> list[Step]:
        """A topological order: every step after its dependencies; among ready steps, plan order."""
        return list(self._order)

    def is_valid_order(self, step_ids: list[str]) -> bool:
        """Whether `step_ids` are every step once, each after all of its dependencies."""
        if sorted(step_ids) != sorted(s.id for s in self.steps):
            return False
        position = {step_id: i for i, step_id in enumerate(step_ids)}
        return all(position[d] < position[s.id] for s in self.steps for d in s.after)

    # -- time -------------------------------------------------------------------------------------
    def schedule(self) -> dict[str, tuple[float, float]]:
        """Step id -> (start, finish) in seconds, each step as early as its dependencies allow."""
        return {step_id: (start, finish) for step_id, (start, finish, _by) in self._timed().items()}

    def _timed(self) -> dict[str, tuple[float, float, str]]:
        """Step id -> (start, finish, the step whose end decided this step's end, or "")."""
        times: dict[str, tuple[float, float, str]] = {}
        for step in self._order:
            start, by = 0.0, ""
            for dep in step.after:  # the first of equals, in the step's order
                if not by or times[dep][1] > start:
                    start, by = times[dep][1], dep
            finish = start + step.expected_seconds
            if step.measured_from:
                measured = times[step.measured_from][1] + step.expected_seconds
                if measured >= start:
                    by = step.measured_from
                finish = max(start, measured)
            times[step.id] = (start, finish, by)
        return times

    def expected_seconds(self) -> float:
        return max((finish for _start, finish in self.schedule().values()), default=0.0)

    def critical_path(self) -> list[Step]:
        """The chain of steps that decides the expected wall time, first to last."""
        times = self._timed()
        if not times:
            return []
        by_id = {s.id: s for s in self.steps}
        # the last step (in order) of those that end last: ties end with the plan's final step
        step_id = max(reversed(self._order), key=lambda s: times[s.id][1]).id
        path = [by_id[step_id]]
        while times[step_id][2]:
            step_id = times[step_id][2]
            path.append(by_id[step_id])
        return list(reversed(path))

    # -- JSON -------------------------------------------------------------------------------------
    def to_json(self, changes: Mapping[str, list[PlannedChange]] | None = None) -> dict[str, Any]:
        """The plan as `privlink plan --output json` prints it (`schema`: privlink/plan/v1)."""
        times = self.schedule()
        changes = changes or {}
        steps = []
        for step in self._order:
            entry: dict[str, Any] = {
                "id": step.id,
                "kind": step.kind.value,
                "account": step.account,
                "region": step.region,
                "after": list(step.after),
                "expected_seconds": step.expected_seconds,
                "expected_start": times[step.id][0],
                "expected_finish": times[step.id][1],
                "why": step.why,
            }
            if step.stack_name:
                entry["stack"] = step.stack_name
            if step.consumer:
                entry["consumer"] = step.consumer
            if step.overrides:
                entry["parameters"] = dict(step.overrides)
            if step.id in changes:
                entry["changes"] = [
                    {k: v for k, v in change.__dict__.items() if v != "" or k in ("stack", "action")}
                    for change in changes[step.id]
                ]
            steps.append(entry)
        return {
            "schema": PLAN_SCHEMA,
            "action": self.action,
            "expected_seconds": self.expected_seconds(),
            "critical_path": [s.id for s in self.critical_path()],
            "steps": steps,
            "notes": list(self.notes),
        }
