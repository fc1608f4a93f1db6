from __future__ import annotations

import pytest

from privlink.templates.naming import consumer_stack, producer_stack, vpn_stack
from privlink.templates.stacks import RenderedStack, delete_batches, deploy_batches


def stack(name, deps=()):
    return RenderedStack(name=name, account="a", region="r", template={}, depends_on=tuple(deps))


def test_batches_follow_dependencies_and_reverse_for_delete():
    p = stack(producer_stack("x"))
    c1 = stack(consumer_stack("x", "a"), [p.stack_name])
    c2 = stack(consumer_stack("x", "b"), [p.stack_name])
    v1 = stack(vpn_stack("x", "a"), [c1.stack_name])
    batches = deploy_batches([v1, c2, c1, p])
    assert [[s.stack_name for s in b] for b in batches] == [
        ["privlink-x-producer"],
        ["privlink-x-consumer-b", "privlink-x-consumer-a"],
        ["privlink-x-vpn-a"],
    ]
    assert delete_batches([v1, c2, c1, p])[0] == [v1]


def test_cycle_and_unknown_dependency_are_errors():
    a = stack(producer_stack("x"), ["privlink-x-consumer-a"])
    b = stack(consumer_stack("x", "a"), ["privlink-x-producer"])
    with pytest.raises(ValueError, match="cycle"):
        deploy_batches([a, b])
    with pytest.raises(ValueError, match="unknown"):
        deploy_batches([b])
