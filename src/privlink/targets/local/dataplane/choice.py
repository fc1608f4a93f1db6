"""Sans-IO target choice for one load balancer, as an NLB node does it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from privlink.targets.local.dataplane.health import HEALTHY, UNUSED

T = TypeVar("T")


@dataclass(frozen=True)
class Candidate:
    """What choice needs to know of a target."""

    id: str
    az_id: str


@dataclass
class TargetChooser:
    """Round robin per node over the targets that node may use.

    Cross-zone on: every healthy target of the load balancer. Off: only the node's AZ's healthy
    targets. When no target of the whole load balancer is healthy, fail open to all (in-use) targets
    in scope, as AWS does. A node whose AZ has healthy targets elsewhere but none of its own (cross-zone
    off) has nothing to offer: the connection fails.
    """

    targets: Sequence[Candidate]
    cross_zone: bool
    _next: dict[str, int] = field(default_factory=dict)

    def eligible(self, node_az_id: str, health: Mapping[str, str]) -> list[Candidate]:
        in_use = [t for t in self.targets if health.get(t.id) != UNUSED]
        scope = in_use if self.cross_zone else [t for t in in_use if t.az_id == node_az_id]
        if not any(health.get(t.id) == HEALTHY for t in in_use):
            return scope  # fail open
        return [t for t in scope if health.get(t.id) == HEALTHY]

    def choose(self, node_az_id: str, health: Mapping[str, str]) -> Candidate | None:
        return self.pick(node_az_id, self.eligible(node_az_id, health))

    def pick(self, node_az_id: str, pool: Sequence[T]) -> T | None:
        """The node's next turn in `pool`: what `eligible` returned, or something kept in step with it.

        The data plane keeps each node's pool (as connect addresses) until a health state changes,
        so a connection costs one lookup and this round robin step.
        """
        if not pool:
            return None
        i = self._next.get(node_az_id, 0)
        self._next[node_az_id] = i + 1
        return pool[i % len(pool)]
