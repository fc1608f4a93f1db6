"""The NLB's TCP health checks: one asyncio loop per in-use target, feeding its `LbRuntime`.

The loops only connect and wait; the state machine (rise and fall thresholds) is `health`, and a
change of state clears the load balancer's target pools and calls `on_change` (the supervisor
writes the runtime file).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from privlink.targets.local.dataplane.health import UNUSED
from privlink.targets.local.dataplane.load_balancer import LbRuntime

log = logging.getLogger("privlink.dataplane")


class HealthCheckers:
    """The check loops of every load balancer, restarted whenever its config is applied."""

    def __init__(self, on_change: Callable[[], None]) -> None:
        self.on_change = on_change
        self.tasks: dict[str, list[asyncio.Task[None]]] = {}  # load balancer id -> its loops

    def restart(self, rt: LbRuntime, time_scale: float) -> None:
        """Check `rt`'s in-use targets from now on, every interval x `time_scale` seconds."""
        self.stop(rt.config.id)
        loop = asyncio.get_running_loop()
        self.tasks[rt.config.id] = [
            loop.create_task(check_target(rt, target_id, time_scale, self.on_change))
            for target_id, state in rt.health.items()
            if state.state != UNUSED
        ]

    def stop(self, lb_id: str) -> None:
        for task in self.tasks.pop(lb_id, []):
            task.cancel()

    def stop_all(self) -> None:
        for lb_id in list(self.tasks):
            self.stop(lb_id)


async def check_target(
    rt: LbRuntime, target_id: str, time_scale: float, on_change: Callable[[], None]
) -> None:
    """Check one target until cancelled (or until it leaves the load balancer)."""
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
