from __future__ import annotations

import pytest
from hypothesis import settings

from privlink.spec import Spec, parse_spec
from privlink.spec.demo import demo_spec_text

# No per-example deadline: speed is measured by bench/, never by a timed test, and a loaded 2-core
# CI machine made the default 200 ms deadline fail examples that pass alone.
settings.register_profile("privlink", deadline=None)
settings.load_profile("privlink")


@pytest.fixture
def demo_spec() -> Spec:
    return parse_spec(demo_spec_text())


@pytest.fixture
def cross_region_spec() -> Spec:
    return parse_spec(demo_spec_text(cross_region=True))


from privlink_testing import SRC, run_privlink  # noqa: E402,F401  (re-exported for older imports)
