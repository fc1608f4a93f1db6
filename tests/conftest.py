from __future__ import annotations

import pytest

from privlink.spec import Spec, parse_spec
from privlink.spec.demo import demo_spec_text


@pytest.fixture
def demo_spec() -> Spec:
    return parse_spec(demo_spec_text())


@pytest.fixture
def cross_region_spec() -> Spec:
    return parse_spec(demo_spec_text(cross_region=True))


from privlink_testing import SRC, run_privlink  # noqa: E402,F401  (re-exported for older imports)
