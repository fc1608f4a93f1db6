from __future__ import annotations

import pytest

from privlink.errors import SpecError
from privlink.spec import parse_spec
from privlink.spec.demo import demo_spec_text


def with_service_keys(extra: str):
    return parse_spec(demo_spec_text().replace("auto_accept: true", "auto_accept: true\n    " + extra))


def test_auto_approval_defaults_off(demo_spec):
    assert demo_spec.producer.endpoint_service.auto_approval.registry is False
    assert demo_spec.consumers_from is None


def test_auto_approval_on():
    assert with_service_keys(
        "auto_approval: {registry: true}"
    ).producer.endpoint_service.auto_approval.registry


def test_unknown_auto_approval_key_names_the_field_and_suggests():
    with pytest.raises(SpecError) as exc:
        with_service_keys("auto_approval: {registri: true}")
    assert exc.value.where.endswith("producer.endpoint_service.auto_approval.registri")
    assert exc.value.hint == "did you mean 'registry'?"


@pytest.mark.parametrize("extra", ["acceptance_required: false", "notifications: false"])
def test_auto_approval_needs_acceptance_and_notifications(extra):
    with pytest.raises(SpecError) as exc:
        with_service_keys("auto_approval: {registry: true}\n    " + extra)
    assert exc.value.where.endswith("producer.endpoint_service")
