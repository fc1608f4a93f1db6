"""Test-only: a real signal at a named step of the local `up`/`down`, so tests can interrupt or pause a
command at a chosen point deterministically. Unset, it does nothing.

`PRIVLINK_TEST_INTERRUPT_AT=<step>` raises SIGINT there (Ctrl-C); `PRIVLINK_TEST_STOP_AT=<step>`
raises SIGSTOP there, so the command pauses (holding what it holds, e.g. the project lock) until the
test sends SIGCONT.

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
STOP_ENV = "PRIVLINK_TEST_STOP_AT"


def interrupt_point(step: str) -> None:
    if os.environ.get(ENV) == step:
        signal.raise_signal(signal.SIGINT)  # Python raises KeyboardInterrupt right here
    if os.environ.get(STOP_ENV) == step:
        signal.raise_signal(signal.SIGSTOP)  # paused until SIGCONT
