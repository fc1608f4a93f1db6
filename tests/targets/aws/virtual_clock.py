"""A virtual clock for threads: time moves only when every working thread is asleep on it.

`sleep(s)` parks the calling thread until the clock reaches now + s. The clock counts the threads
doing work (the creating thread, and each step the executor starts: `enter`/`exit`, its
`WorkerHooks`); when none is working, it jumps to the earliest wake-up and wakes those sleepers.
So a deployer polling every 5 s costs no real time, and steps running in parallel overlap in
virtual time exactly as their sleeps say. Used by the aws tests and `bench/aws_timeline.py`.
"""

from __future__ import annotations

import heapq
import itertools
import threading


class VirtualClock:
    def __init__(self, start: float = 0.0) -> None:
        self._t = start
        self._cond = threading.Condition()
        self._active = 1  # the thread that made the clock is working
        self._sleepers: list[tuple[float, int]] = []
        self._woken: set[int] = set()
        self._seq = itertools.count()

    def now(self) -> float:
        with self._cond:
            return self._t

    def enter(self) -> None:
        with self._cond:
            self._active += 1

    def exit(self) -> None:
        with self._cond:
            self._active -= 1
            self._advance()

    def sleep(self, seconds: float) -> None:
        with self._cond:
            ticket = next(self._seq)
            heapq.heappush(self._sleepers, (self._t + max(seconds, 0.0), ticket))
            self._active -= 1
            self._advance()
            while ticket not in self._woken:
                self._cond.wait()
            self._woken.discard(ticket)

    def _advance(self) -> None:
        if self._active > 0 or not self._sleepers:
            return
        self._t = max(self._t, self._sleepers[0][0])
        while self._sleepers and self._sleepers[0][0] <= self._t:
            _wake, ticket = heapq.heappop(self._sleepers)
            self._woken.add(ticket)
            self._active += 1  # counted as working before it runs: time waits for it
        self._cond.notify_all()
