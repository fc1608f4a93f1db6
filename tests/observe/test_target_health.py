"""The target health table is botocore's elbv2 model: every state, every reason, the state each
reason comes with and its description, as the model's documentation of `TargetHealth.Reason` says."""

from __future__ import annotations

import html
import re

import botocore.session
import pytest

from privlink.observe.target_health import REASONS, STATES, health, reason

MODEL = botocore.session.get_session().get_service_model("elbv2")


def documented_reasons() -> set[tuple[str, str, str]]:
    """(state, code, description) from the documentation of TargetHealth.Reason."""
    doc = MODEL.shape_for("TargetHealth").members["Reason"].documentation
    found = set()
    for section in re.split(r"If the target state is ", doc)[1:]:
        state = re.match(r"<code>([^<]+)</code>", section).group(1)
        for code, description in re.findall(r"<code>([\w.]+)</code> - ([^<]+)</p>", section):
            found.add((state, code, html.unescape(description).strip()))
    return found


def test_states_are_the_models():
    assert tuple(MODEL.shape_for("TargetHealthStateEnum").enum) == STATES


def test_reasons_are_the_models_with_their_states_and_descriptions():
    assert {r.code for r in REASONS} == set(MODEL.shape_for("TargetHealthReasonEnum").enum)
    assert {(r.state, r.code, r.description) for r in REASONS} == documented_reasons()
    assert len(documented_reasons()) == 13  # the parse found every documented pair


def test_a_reason_is_looked_up_with_its_state():
    assert health("unused", "Target.InvalidState") == (
        "unused",
        "Target.InvalidState",
        "The target is in the stopped or terminated state.",
    )
    assert reason("Elb.InternalError", "unavailable").description == (
        "Target health is unavailable due to an internal error."
    )
    assert health("healthy") == ("healthy", None, None)
    with pytest.raises(StopIteration):
        reason("Target.InvalidState", "healthy")
