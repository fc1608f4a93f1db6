"""The NLB's TCP health checks: one asyncio loop per in-use target, feeding its `LbRuntime`, and
the first check of new targets, which applying a config waits for (`first_checks`).

The loops only connect and wait; the state machine (rise and fall thresholds) is `health`, and a
change of state clears the load balancer's target pools and calls `on_change` (the supervisor
writes the runtime file).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from privlink.targets.local.dataplane.health import INITIAL, UNUSED
from privlink.targets.local.dataplane.load_balancer import LbRuntime

log = logging.getLogger("privlink.dataplane")

# How long applying a config waits for the first checks of new targets (real seconds). On loopback a
# check is answered or refused at once; one still open (a full backlog) is left to the target's loop.
FIRST_CHECK_LIMIT = 1.0


class HealthCheckers:
    """The check loops of every load balancer, restarted whenever its config is applied."""

    def __init__(self, on_change: Callable[[], None]) -> None:
        self.on_change = on_change
        self.tasks: dict[str, list[asyncio.Task[None]]] = {}  # load balancer id -> its loops

    def restart(self, rt: LbRuntime, time_scale: float, checked: frozenset[str] = frozenset()) -> None:
        """Check `rt`'s in-use targets from now on, every interval x `time_scale` seconds (those in
        `checked` were just checked: their first check is one interval away)."""
        self.stop(rt.config.id)
        loop = asyncio.get_running_loop()
        self.tasks[rt.config.id] = [
            loop.create_task(
                check_target(rt, target_id, time_scale, self.on_change, wait_first=target_id in checked)
            )
            for target_id, state in rt.health.items()
            if state.state != UNUSED
        ]

    def stop(self, lb_id: str) -> None:
        for task in self.tasks.pop(lb_id, []):
            task.cancel()

    def stop_all(self) -> None:
        for lb_id in list(self.tasks):
            self.stop(lb_id)


async def first_checks(rt: LbRuntime, time_scale: float, limit: float = FIRST_CHECK_LIMIT) -> frozenset[str]:
    """Check every target still `initial` at once, so that a config is applied with its new
    targets decided (`health`); the targets checked. A check still open after `limit` seconds is
    left to the target's loop, its target `initial`."""
    pending = {
        target_id: asyncio.ensure_future(
            tcp_check(rt.addresses[target_id], rt.config.health_check.timeout_seconds * time_scale)
        )
        for target_id, state in rt.health.items()
        if state.state == INITIAL
    }
    if not pending:
        return frozenset()
    await asyncio.wait(pending.values(), timeout=limit)
    checked = []
    for target_id, check in pending.items():
        if not check.done():
            check.cancel()
            continue
        rt.health[target_id].record(check.result())
        checked.append(target_id)
    rt.health_changed()
    return frozenset(checked)


async def check_target(
    rt: LbRuntime,
    target_id: str,
    time_scale: float,
    on_change: Callable[[], None],
    wait_first: bool = False,
) -> None:
    """Check one target until cancelled (or until it leaves the load balancer); with `wait_first`,
    the first check is one interval away."""
    if wait_first:
        await asyncio.sleep(rt.config.health_check.interval_seconds * time_scale)
    while True:
        hc = rt.config.health_check
        addr = rt.addresses[target_id]
        passed = await tcp_check(addr, hc.timeout_seconds * time_scale)
        state = rt.health.get(target_id)
        if state is None:
            return
        if state.record(passed):
            rt.health_changed()
            log.info("target %s of %s is %s", target_id, rt.config.id, state.state)
            on_change()
        await asyncio.sleep(hc.interval_seconds * time_scale)


async def tcp_check(addr: tuple[str, int], timeout: float) -> bool:
    """True when a TCP connection to `addr` opens within `timeout` seconds (then it is closed)."""
    loop = asyncio.get_running_loop()
    try:
        transport, _ = await asyncio.wait_for(
            loop.create_connection(asyncio.Protocol, addr[0], addr[1]), timeout
        )
    except (OSError, asyncio.TimeoutError):
        return False
    transport.close()
    return True
