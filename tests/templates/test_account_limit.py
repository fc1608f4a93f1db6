from __future__ import annotations

import pytest
import yaml

from privlink.errors import SpecError
from privlink.spec import parse_spec
from privlink.spec.demo import demo_spec_text
from privlink.templates.render import MAX_ACCOUNT_PARAMETERS, render_stacks


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


def test_too_many_account_parameters_is_one_line_bad_input():
    with pytest.raises(SpecError) as info:
        render_stacks(many_consumers(MAX_ACCOUNT_PARAMETERS + 1, with_principal=False))
    assert info.value.where == "consumers"
    assert "consumers_from" in info.value.hint


def test_two_hundred_consumers_with_principals_render():
    stacks = render_stacks(many_consumers(200, with_principal=True))
    assert len(stacks) == 401  # the producer, and a network and a consumer stack each
