"""The one executor both targets run a `LifecyclePlan` with.

`execute(plan, handlers, context)` starts each step once all its `after` steps are done, with at
most `max_workers` in flight (threads; with 1 the steps run in the calling thread, in the plan's
order). It fails fast: after a failure no new step starts, running ones finish, the first error is
raised and the others are reported. Every step's start and end go to an effect log, so a test can
check that any run's order is a valid order of the plan.

Handlers (one per `StepKind`, from the target) do the work and put what they produce in the
`RunContext`: stack outputs and step values, which later steps' parameter bindings read.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Protocol

from privlink.lifecycle.model import LifecyclePlan, Step, StepKind

Progress = Callable[[str], None]


class RunContext:
    """What steps hand to later steps: stack outputs and step values (safe across threads)."""

    def __init__(
        self,
        outputs: Mapping[str, Mapping[str, str]] | None = None,
        steps: Mapping[str, Mapping[str, str]] | None = None,
        progress: Progress = lambda _line: None,
    ) -> None:
        self._lock = threading.Lock()
        self.outputs: dict[str, dict[str, str]] = {k: dict(v) for k, v in (outputs or {}).items()}
        self.steps: dict[str, dict[str, str]] = {k: dict(v) for k, v in (steps or {}).items()}
        self.progress = progress

    def set_outputs(self, stack_name: str, outputs: Mapping[str, str]) -> None:
        with self._lock:
            self.outputs[stack_name] = dict(outputs)

    def set_step(self, step_id: str, values: Mapping[str, str]) -> None:
        with self._lock:
            self.steps[step_id] = dict(values)

    def output(self, stack_name: str, key: str) -> str | None:
        with self._lock:
            return self.outputs.get(stack_name, {}).get(key)


Handler = Callable[[Step, RunContext], None]


class WorkerHooks(Protocol):
    """Told when a thread starts and stops doing work (a virtual clock advances only when none do)."""

    def enter(self) -> None: ...

    def exit(self) -> None: ...


class NoHooks:
    def enter(self) -> None:
        return None

    def exit(self) -> None:
        return None


@dataclass(frozen=True)
class Effect:
    step: str
    kind: str
    started: float
    finished: float
    ok: bool
    error: str = ""


@dataclass
class Execution:
    """What ran, in the order the steps finished."""

    effects: list[Effect] = field(default_factory=list)

    def done(self) -> list[str]:
        return [e.step for e in self.effects if e.ok]

    def started_order(self) -> list[str]:
        return [e.step for e in sorted(self.effects, key=lambda e: e.started)]


class StepFailed(Exception):
    """Raised when no handler exists for a kind (before anything runs)."""


def execute(
    plan: LifecyclePlan,
    handlers: Mapping[StepKind, Handler],
    context: RunContext,
    *,
    max_workers: int = 1,
    clock: Callable[[], float] = time.monotonic,
    hooks: WorkerHooks | None = None,
    log: Execution | None = None,
) -> Execution:
    """Run the plan; the effect log. Raises the first step's error after the running ones end."""
    missing = sorted({s.kind.value for s in plan.steps if s.kind not in handlers})
    if missing:
        raise StepFailed(f"no handler for {', '.join(missing)}")
    log = log if log is not None else Execution()
    if max_workers <= 1:
        for step in plan.order():
            _run(step, handlers, context, clock, log)  # raises: nothing later starts
        return log
    return _parallel(plan, handlers, context, max_workers, clock, hooks or NoHooks(), log)


def _run(
    step: Step, handlers: Mapping[StepKind, Handler], context: RunContext, clock, log: Execution
) -> None:
    started = clock()
    try:
        handlers[step.kind](step, context)
    except BaseException as exc:
        log.effects.append(Effect(step.id, step.kind.value, started, clock(), False, str(exc)))
        raise
    log.effects.append(Effect(step.id, step.kind.value, started, clock(), True))


def _parallel(
    plan: LifecyclePlan,
    handlers: Mapping[StepKind, Handler],
    context: RunContext,
    max_workers: int,
    clock: Callable[[], float],
    hooks: WorkerHooks,
    log: Execution,
) -> Execution:
    order = plan.order()
    lock = threading.Condition()
    done: set[str] = set()
    started: set[str] = set()
    errors: list[BaseException] = []
    stopping: list[BaseException] = []  # the calling thread was interrupted (Ctrl-C)
    running = 0

    def ready() -> list[Step]:
        if errors or stopping:
            return []
        free = max_workers - running
        found = [s for s in order if s.id not in started and all(d in done for d in s.after)]
        return found[:free]

    def launch(pool: ThreadPoolExecutor, step: Step) -> None:
        nonlocal running
        started.add(step.id)
        running += 1
        hooks.enter()  # before the thread exists: a virtual clock must not move past its start
        pool.submit(work, pool, step)

    def work(pool: ThreadPoolExecutor, step: Step) -> None:
        nonlocal running
        try:
            _run(step, handlers, context, clock, log)
            failure = None
        except BaseException as exc:  # every failure is reported; the first is raised
            failure = exc
        with lock:
            if failure is None:
                done.add(step.id)
            else:
                errors.append(failure)
            for following in ready():  # started by the thread that freed them, before it stops
                launch(pool, following)
            running -= 1
            lock.notify_all()
        hooks.exit()

    with ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="privlink-step") as pool, lock:
        for step in ready():
            launch(pool, step)
        hooks.exit()  # the calling thread only waits from here on
        try:
            while running:
                lock.wait()
        except BaseException as exc:  # no new step starts; the running ones end first
            stopping.append(exc)
            raise
        finally:
            hooks.enter()
    if errors:
        for extra in errors[1:]:
            context.progress(f"also failed: {extra}")
        raise errors[0]
    return log
