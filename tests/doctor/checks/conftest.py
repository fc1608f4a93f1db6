"""Per-check fixtures: small patches over one healthy observation (`../fixtures/healthy.json`).

A patch maps a path into the observation's JSON to the value to put there. A path segment into a list
is an index, or a consumer's name (`consumers/dev/vpc_cidr`); `-` appends (`producer/connections/-`).
`run_check(name, patch)` runs the registered check on the patched observation and fails on a finding
the check does not declare (its id, its severity, a fix one of its kind's templates gives), so the
expected findings a test spells out are also the declared ones.
"""

from __future__ import annotations

import copy
import json
import re
import string
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from privlink.doctor import CHECKS
from privlink.doctor.findings import Finding, Skipped
from privlink.observe.model import Observation

HEALTHY = json.loads((Path(__file__).parents[1] / "fixtures" / "healthy.json").read_text())

Patch = dict[str, Any]


def index(node: Any, segment: str) -> Any:
    if not isinstance(node, list):
        return segment
    if segment == "-":
        return len(node)
    if segment.isdigit():
        return int(segment)
    matches = [i for i, item in enumerate(node) if item.get("name") == segment]
    assert len(matches) == 1, f"no single list element named {segment}"
    return matches[0]


def patched(patch: Patch) -> Observation:
    """The healthy observation with `patch` applied."""
    data = copy.deepcopy(HEALTHY)
    for path, value in patch.items():
        *parents, last = path.split("/")
        node = data
        for segment in parents:
            node = node[index(node, segment)]
        key = index(node, last)
        if isinstance(node, list) and key == len(node):
            node.append(copy.deepcopy(value))
        else:
            node[key] = copy.deepcopy(value)  # a later path may patch into it: leave the test's value be
    return Observation.model_validate(data)


def template_pattern(template: str) -> re.Pattern[str]:
    """A fix template as a pattern: its literal text, and anything non-empty for each field."""
    parts = [
        re.escape(literal) + ("(.+)" if field is not None else "")
        for literal, field, _, _ in string.Formatter().parse(template)
    ]
    return re.compile("".join(parts))


def assert_declared(name: str, findings: list[Finding]) -> None:
    check = next(c for c in CHECKS if c.name == name)
    kinds = {kind.id: kind for kind in check.emits}
    for finding in findings:
        assert finding.id in kinds, (name, finding)
        kind = kinds[finding.id]
        assert finding.severity in kind.severities, (name, finding)
        if not isinstance(finding, Skipped):  # a skip's fix is replaced when skips are folded
            assert any(template_pattern(t).fullmatch(finding.fix) for t in kind.fixes), (name, finding)


@pytest.fixture
def run_check() -> Callable[..., list[Finding]]:
    def run(name: str, patch: Patch | None = None) -> list[Finding]:
        check = next(c for c in CHECKS if c.name == name)
        found = check.run(patched(patch or {}))
        assert_declared(name, found)
        return found

    return run
