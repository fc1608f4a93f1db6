"""The interface every target implements; the CLI talks to targets only through it."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from privlink.spec.models import Spec

Progress = Callable[[str], None]
"""Receives one human-readable progress line (written to stderr by the CLI)."""


def no_progress(_line: str) -> None:
    return None


@dataclass(frozen=True)
class PlannedChange:
    """One line of a plan: what would happen to one resource of one stack."""

    stack: str
    action: str  # Add | Modify | Remove | Create stack | Delete stack | No change | Step
    logical_id: str = ""
    resource_type: str = ""
    replacement: str = ""
    detail: str = ""


@dataclass(frozen=True)
class Connection:
    """An endpoint connection as the producer sees it."""

    endpoint_id: str
    owner: str
    state: str  # pendingAcceptance | pending | available | rejected | ...
    created: str  # ISO-8601
    region: str = ""
    consumer: str | None = None  # the spec's consumer name, when the owner is a declared one


@dataclass
class ActionResult:
    """What `accept`/`reject` did: endpoint IDs that succeeded and those that did not, with why."""

    succeeded: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)


class Target(ABC):
    """Deploys a spec's stacks somewhere and reports on them."""

    name: str

    def __init__(self, spec: Spec, state_dir: Path, warn: Progress = no_progress) -> None:
        self.spec = spec
        self.state_dir = state_dir
        self.warn = warn  # warnings for the user (stderr), e.g. a stale state file ignored

    @abstractmethod
    def plan(self, progress: Progress = no_progress) -> list[PlannedChange]:
        """What `up` would create, change or delete."""

    @abstractmethod
    def up(self, progress: Progress = no_progress) -> dict[str, Any]:
        """Deploy and wait until the path works; return the status."""

    @abstractmethod
    def status(self) -> dict[str, Any]:
        """Stacks, service name, endpoints and their states, connections (JSON-ready)."""

    @abstractmethod
    def down(self, progress: Progress = no_progress) -> None:
        """Remove everything `up` created, consumers first."""

    @abstractmethod
    def connections(self) -> list[Connection]:
        """The producer's endpoint connections."""

    @abstractmethod
    def accept(self, endpoint_ids: list[str]) -> ActionResult:
        """Accept pending connections."""

    @abstractmethod
    def reject(self, endpoint_ids: list[str]) -> ActionResult:
        """Reject connections."""

    @abstractmethod
    def vpn_config(self, consumer: str) -> str:
        """The `.ovpn` text for a consumer's Client VPN, client certificate and key inline."""


def make_target(spec: Spec, state_dir: Path, kind: str | None = None) -> Target:
    """The target named by `kind` (the --target flag) or the spec's `target`."""
    chosen = kind or spec.target
    if chosen == "aws":
        from privlink.targets.aws.target import AwsTarget

        return AwsTarget(spec, state_dir)
    from privlink.targets.local.target import LocalTarget

    return LocalTarget(spec, state_dir)
