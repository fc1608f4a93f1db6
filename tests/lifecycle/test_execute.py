"""The one executor: dependencies, at most N in flight, fail fast, the effect log, worker hooks."""

from __future__ import annotations

import itertools
import threading

import pytest

from privlink.lifecycle.execute import Execution, RunContext, StepFailed, execute
from privlink.lifecycle.model import LifecyclePlan, Step, StepKind

WAIT = 10.0  # seconds a test waits for a thread before calling it stuck (never reached when right)


def plan(*steps):
    return LifecyclePlan("up", tuple(Step(i, StepKind.DEPLOY, "a", "r", after=tuple(a)) for i, a in steps))


def ticks():
    counter = itertools.count()
    return lambda: float(next(counter))


def recording(done: list[str], fail: set[str] = frozenset()):
    lock = threading.Lock()

    def handler(step, ctx):
        if step.id in fail:
            raise RuntimeError(f"{step.id} failed")
        ctx.set_outputs(step.id, {"done": "yes"})
        with lock:
            done.append(step.id)

    return {StepKind.DEPLOY: handler}


def test_serial_runs_in_the_plan_order_in_the_calling_thread():
    threads, done = set(), []
    handlers = recording(done)
    inner = handlers[StepKind.DEPLOY]

    def handler(step, ctx):
        threads.add(threading.current_thread())
        inner(step, ctx)

    p = plan(("b", ["c"]), ("a", []), ("c", []))
    context = RunContext()
    log = execute(p, {StepKind.DEPLOY: handler}, context, clock=ticks())
    assert done == ["a", "c", "b"] == log.done()
    assert threads == {threading.current_thread()}
    assert context.outputs == {"a": {"done": "yes"}, "b": {"done": "yes"}, "c": {"done": "yes"}}
    assert [(e.started, e.finished) for e in log.effects] == [(0, 1), (2, 3), (4, 5)]


def test_serial_stops_at_the_first_failure():
    done = []
    with pytest.raises(RuntimeError, match="c failed"):
        execute(plan(("a", []), ("c", []), ("b", ["a"])), recording(done, {"c"}), RunContext())
    assert done == ["a"]  # b, next in order, never started


@pytest.mark.timeout(30)
def test_parallel_starts_each_step_when_its_dependencies_are_done_with_at_most_n_in_flight():
    lock = threading.Lock()
    inside, most = 0, 0
    pair = threading.Barrier(2, timeout=WAIT)  # the two independent roots run at the same time
    clock = ticks()

    def handler(step, ctx):
        nonlocal inside, most
        with lock:
            inside += 1
            most = max(most, inside)
        if step.id in ("a", "b"):
            pair.wait()
        with lock:
            inside -= 1

    p = plan(("a", []), ("b", []), ("c", ["a", "b"]), ("d", ["c"]), ("e", ["c"]), ("f", []))
    log = execute(p, {StepKind.DEPLOY: handler}, RunContext(), max_workers=2, clock=clock)
    assert most == 2
    assert sorted(log.done()) == ["a", "b", "c", "d", "e", "f"]
    times = {e.step: e for e in log.effects}
    for s in p.steps:
        for dep in s.after:
            assert times[dep].finished < times[s.id].started, (dep, s.id)
    assert p.is_valid_order(log.done())


@pytest.mark.timeout(30)
def test_parallel_fails_fast_lets_running_steps_end_and_reports_every_error():
    started_b = threading.Event()
    a_failed = threading.Event()
    done, lines = [], []

    def handler(step, ctx):
        if step.id == "a":
            assert started_b.wait(WAIT)
            a_failed.set()
            raise RuntimeError("a failed")
        if step.id == "b":
            started_b.set()
            assert a_failed.wait(WAIT)  # b is still running when a fails: it is let finish
            done.append("b")
            raise RuntimeError("b failed too")
        done.append(step.id)

    p = plan(("a", []), ("b", []), ("c", ["b"]), ("d", []))
    with pytest.raises(RuntimeError, match="a failed"):
        execute(p, {StepKind.DEPLOY: handler}, RunContext(progress=lines.append), max_workers=2)
    assert done == ["b"]  # c (after b) and d (a free slot) never started after the failure
    assert lines == ["also failed: b failed too"]


def test_a_missing_handler_is_refused_before_anything_runs():
    done = []
    p = LifecyclePlan(
        "up",
        (
            Step("a", StepKind.DEPLOY, "x", "r"),
            Step("w", StepKind.WAIT_HEALTHY, "x", "r", after=("a",)),
        ),
    )
    with pytest.raises(StepFailed, match="no handler for wait-healthy"):
        execute(p, recording(done), RunContext())
    assert done == []


@pytest.mark.timeout(30)
def test_worker_hooks_bracket_every_step_and_the_waiting_caller():
    events = []
    lock = threading.Lock()

    class Hooks:
        def enter(self):
            with lock:
                events.append(+1)

        def exit(self):
            with lock:
                events.append(-1)

    execute(
        plan(("a", []), ("b", ["a"]), ("c", [])),
        recording([]),
        RunContext(),
        max_workers=3,
        hooks=Hooks(),
        log=Execution(),
    )
    active = list(itertools.accumulate([1, *events]))  # the calling thread starts active
    # the caller leaves (-1) once the first steps are entered and comes back (+1) at the end; a step
    # is entered before its thread starts (by the thread that freed it, before that one leaves), so
    # the count reaches 0 only once all the work is done, just before the caller is back
    assert events.count(+1) == events.count(-1) == 4
    assert active[-1] == 1 and active[-2] == 0 and min(active[:-2]) >= 1
