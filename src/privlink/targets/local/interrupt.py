"""Test-only: a real SIGINT at a named step of the local `up`, so tests can interrupt it at a chosen
point deterministically (`PRIVLINK_TEST_INTERRUPT_AT=<step>`). Unset, it does nothing.

Steps: `<stack>/<LogicalId>` once that resource is created or updated, `deployed:<stack>` once a
stack and its follow-ups are done (before the world is saved), `import-certificates:<consumer>`,
`dataplane-starting` (the process is spawned but not ready yet); in `down`,
`delete:<stack>/<LogicalId>` once that resource is deleted and `deleted:<stack>` once the stack is
gone and the world saved.
"""

from __future__ import annotations

import os
import signal

ENV = "PRIVLINK_TEST_INTERRUPT_AT"


def interrupt_point(step: str) -> None:
    if os.environ.get(ENV) == step:
        signal.raise_signal(signal.SIGINT)  # Python raises KeyboardInterrupt right here
