"""Sans-IO health-check state machine (rise/fall thresholds), one per target per load balancer."""

from __future__ import annotations

from dataclasses import dataclass

INITIAL = "initial"
HEALTHY = "healthy"
UNHEALTHY = "unhealthy"
UNUSED = "unused"  # the target's AZ has no node of the load balancer: never checked, never used


@dataclass
class HealthState:
    """A target's health.

    `initial` is decided by the first check: healthy when it passes, unhealthy when it fails (AWS
    takes `healthy_threshold` passes or `unhealthy_threshold` failures; the sandbox decides at once so
    that `up`, `test` and `doctor` agree right after a change). Afterwards `healthy_threshold`
    consecutive passes make it healthy and `unhealthy_threshold` consecutive failures unhealthy.
    """

    healthy_threshold: int
    unhealthy_threshold: int
    state: str = INITIAL
    passes: int = 0
    failures: int = 0

    def record(self, passed: bool) -> bool:
        """Feed one check result; True when the state changed."""
        if self.state == UNUSED:
            return False
        before = self.state
        if passed:
            self.passes += 1
            self.failures = 0
            if self.state == INITIAL or (self.state == UNHEALTHY and self.passes >= self.healthy_threshold):
                self.state = HEALTHY
        else:
            self.failures += 1
            self.passes = 0
            if self.state == INITIAL or (self.state == HEALTHY and self.failures >= self.unhealthy_threshold):
                self.state = UNHEALTHY
        return self.state != before

    @property
    def routable(self) -> bool:
        """Healthy targets take traffic (the chooser fails open when none is)."""
        return self.state == HEALTHY
