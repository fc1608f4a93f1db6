"""The plan as data: order, dependencies, expected time, critical path, JSON."""

from __future__ import annotations

import pytest

from privlink.lifecycle.model import PLAN_SCHEMA, LifecyclePlan, PlanError, PlannedChange, Step, StepKind


def step(step_id, after=(), seconds=0.0, **kw):
    return Step(step_id, StepKind.DEPLOY, "a", "r", after=tuple(after), expected_seconds=seconds, **kw)


def test_order_puts_every_step_after_its_dependencies_and_keeps_the_plan_order_otherwise():
    plan = LifecyclePlan("up", (step("b", ["c"]), step("a"), step("c"), step("d", ["a"])))
    assert [s.id for s in plan.order()] == ["a", "c", "b", "d"]
    assert plan.is_valid_order(["c", "a", "d", "b"])
    assert not plan.is_valid_order(["b", "c", "a", "d"])  # b before c
    assert not plan.is_valid_order(["a", "c", "b"])  # d missing


def test_duplicates_unknown_dependencies_and_cycles_are_refused():
    with pytest.raises(PlanError, match="twice"):
        LifecyclePlan("up", (step("a"), step("a")))
    with pytest.raises(PlanError, match="unknown step x"):
        LifecyclePlan("up", (step("a", ["x"]),))
    with pytest.raises(PlanError, match="cycle"):
        LifecyclePlan("up", (step("a", ["b"]), step("b", ["a"])))
    with pytest.raises(PlanError, match="measured from unknown"):
        LifecyclePlan("up", (step("a", measured_from="x"),))


def test_expected_time_is_the_longest_chain_and_the_critical_path_names_it():
    plan = LifecyclePlan(
        "up",
        (
            step("certs", seconds=5),
            step("network", seconds=30),
            step("producer", seconds=230),
            step("vpn", ["network", "certs"], seconds=670),
            step("consumer", ["producer", "network"], seconds=100),
        ),
    )
    assert plan.schedule()["vpn"] == (30, 700)
    assert plan.schedule()["consumer"] == (230, 330)
    assert plan.expected_seconds() == 700
    assert [s.id for s in plan.critical_path()] == ["network", "vpn"]


def test_a_step_measured_from_another_ends_no_earlier_than_that_one_plus_its_time():
    plan = LifecyclePlan(
        "up",
        (
            step("producer", seconds=230),
            step("short", seconds=10),
            step("healthy", ["producer", "short"], seconds=30, measured_from="producer"),
        ),
    )
    assert plan.schedule()["healthy"] == (230, 260)
    assert [s.id for s in plan.critical_path()] == ["producer", "healthy"]
    longer = LifecyclePlan(
        "up",
        (
            step("producer", seconds=230),
            step("vpn", seconds=700),
            step("healthy", ["producer", "vpn"], seconds=30, measured_from="producer"),
        ),
    )
    # the health checks ran while the VPN was being made: nothing left to wait for at 700
    assert longer.schedule()["healthy"] == (700, 700)
    assert [s.id for s in longer.critical_path()] == ["vpn", "healthy"]


def test_json_form():
    plan = LifecyclePlan(
        "up",
        (
            step("deploy:p", seconds=230, stack_name="p", why="the producer", overrides=(("X", "1"),)),
            step("accept-connections:dev", ["deploy:p"], seconds=10, consumer="dev"),
        ),
        notes=("a note",),
    )
    data = plan.to_json({"deploy:p": [PlannedChange("p", "Add", "Vpc", "AWS::EC2::VPC")]})
    assert data["schema"] == PLAN_SCHEMA == "privlink/plan/v1"
    assert (data["action"], data["expected_seconds"], data["notes"]) == ("up", 240, ["a note"])
    assert data["critical_path"] == ["deploy:p", "accept-connections:dev"]
    first, second = data["steps"]
    assert first == {
        "id": "deploy:p",
        "kind": "deploy",
        "account": "a",
        "region": "r",
        "after": [],
        "expected_seconds": 230,
        "expected_start": 0,
        "expected_finish": 230,
        "why": "the producer",
        "stack": "p",
        "parameters": {"X": "1"},
        "changes": [{"stack": "p", "action": "Add", "logical_id": "Vpc", "resource_type": "AWS::EC2::VPC"}],
    }
    assert second["after"] == ["deploy:p"] and second["consumer"] == "dev" and "changes" not in second
