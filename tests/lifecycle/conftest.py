from __future__ import annotations

import pytest
from plan_facts import spec_of


@pytest.fixture
def demo():
    return spec_of()
