from __future__ import annotations

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from privlink.errors import SpecError
from privlink.spec import parse_spec
from privlink.spec.demo import demo_spec_text
from privlink.templates.limits import body_size, limit
from privlink.templates.producer import render_producer
from privlink.templates.render import render_stacks


def many_consumers(n: int, with_principal: bool):
    data = yaml.safe_load(demo_spec_text())
    base = data["consumers"][0]
    base.pop("vpn")
    data["consumers"] = [
        dict(base, name=f"c{i}", account=f"a{i}")
        | ({"principal": f"arn:aws:iam::{10**11 + i}:role/consumer"} if with_principal else {})
        for i in range(n)
    ]
    return parse_spec(yaml.safe_dump(data))


# The producer template's own parameters (the demo app's image) beside one per consumer account.
OWN_PARAMETERS = len(render_producer(many_consumers(1, with_principal=True))[0]["Parameters"])


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(min_value=150, max_value=230))
def test_consumer_accounts_without_a_principal_reach_a_limit_with_one_line(n):
    """Each account without a principal is a parameter and a principal in the producer template:
    the body's 51,200 bytes come first (about 180 accounts), the 200 parameters after."""
    spec = many_consumers(n, with_principal=False)
    if n + OWN_PARAMETERS > limit("parameters").maximum:
        with pytest.raises(SpecError) as info:
            render_stacks(spec)
        assert info.value.where == "consumers"
        assert "parameters" in info.value.what and "200" in info.value.what
        assert "principal" in info.value.hint and "consumers_from" in info.value.hint
        return
    try:
        stacks = render_stacks(spec)
    except SpecError as exc:
        assert exc.what.startswith("template body: ") and "principal" in exc.hint
        return
    assert len(stacks[0].template["Parameters"]) == n + OWN_PARAMETERS
    assert body_size(stacks[0].template) <= limit("template body").maximum


def test_two_hundred_consumers_with_principals_render():
    stacks = render_stacks(many_consumers(200, with_principal=True))
    assert len(stacks) == 401  # the producer, and a network and a consumer stack each
