"""Whatever a user writes into privlink.yaml, the loader answers with a Spec or one SpecError line."""

from __future__ import annotations

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from privlink.errors import SpecError
from privlink.spec import parse_spec
from privlink.spec.demo import demo_spec_text

scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=20))
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20,
)
DEMO = yaml.safe_load(demo_spec_text())


def paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from paths(value, (*prefix, i))


ALL_PATHS = [p for p in paths(DEMO) if p]


def replaced(data, path, value):
    import copy

    out = copy.deepcopy(data)
    node = out
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return out


def assert_one_line_or_spec(text: str) -> None:
    try:
        parse_spec(text)
    except SpecError as err:
        assert err.exit_code == 2
        assert "\n" not in err.one_line()
        assert err.one_line().strip()
        assert err.hint and "\n" not in err.hint  # every error says how to fix it


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(path=st.sampled_from(ALL_PATHS), value=values)
def test_any_value_at_any_key_is_a_spec_or_one_line(path, value):
    assert_one_line_or_spec(yaml.safe_dump(replaced(DEMO, path, value)))


@settings(max_examples=200)
@given(text=st.text(max_size=200))
def test_any_text_is_a_spec_or_one_line(text):
    assert_one_line_or_spec(text)


@settings(max_examples=100)
@given(data=values)
def test_any_document_is_a_spec_or_one_line(data):
    assert_one_line_or_spec(yaml.safe_dump(data))


def test_python_tags_are_rejected_not_executed():
    assert_one_line_or_spec("!!python/object/apply:os.system ['true']\n")
