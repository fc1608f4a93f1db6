"""No finding reads a literal Python `None`: every optional field of the observation, left unset one
at a time in the healthy and the broken fixture, yields findings whose resource, evidence and fix
say "unknown", "?" or leave it out instead."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from privlink.doctor import run_checks
from privlink.observe.model import Observation

FIXTURES = Path(__file__).parent / "fixtures"


def nullable_paths(node, path=()) -> Iterator[tuple]:
    """Paths to every value the model lets be None (tried by setting it and validating)."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from nullable_paths(value, (*path, key))
            if value is not None:
                yield (*path, key)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from nullable_paths(value, (*path, i))


def with_none(data: dict, path: tuple) -> Observation | None:
    changed = copy.deepcopy(data)
    node = changed
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = None
    try:
        return Observation.model_validate(changed)
    except ValueError:
        return None  # the field is not optional


@pytest.mark.parametrize("fixture", ["healthy", "broken"])
def test_no_finding_reads_none(fixture):
    data = json.loads((FIXTURES / f"{fixture}.json").read_text())
    tried = 0
    for path in nullable_paths(data):
        obs = with_none(data, path)
        if obs is None:
            continue
        tried += 1
        for finding in run_checks(obs):
            text = " ".join((finding.resource, finding.evidence, finding.fix))
            assert "None" not in text, (path, finding)
    assert tried >= 30
