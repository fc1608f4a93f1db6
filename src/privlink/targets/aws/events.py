"""Stack events, pure: which events are new, when the root stack is done, what failed, one line each.

Paging (the deployer) and printing (the CLI's progress callback) stay outside this module.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

STACK_TYPE = "AWS::CloudFormation::Stack"

ROOT_TERMINAL = frozenset(
    {
        "CREATE_COMPLETE",
        "ROLLBACK_COMPLETE",
        "ROLLBACK_FAILED",
        "UPDATE_COMPLETE",
        "UPDATE_ROLLBACK_COMPLETE",
        "UPDATE_ROLLBACK_FAILED",
        "DELETE_COMPLETE",
        "DELETE_FAILED",
        "IMPORT_COMPLETE",
        "IMPORT_ROLLBACK_COMPLETE",
        "IMPORT_ROLLBACK_FAILED",
    }
)
SUCCESS = frozenset({"CREATE_COMPLETE", "UPDATE_COMPLETE", "DELETE_COMPLETE", "IMPORT_COMPLETE"})
CANCELLED = ("Resource creation cancelled", "Resource update cancelled", "Resource deletion cancelled")


def new_events(pages: Iterable[list[dict[str, Any]]], seen: set[str]) -> list[dict[str, Any]]:
    """Events not in `seen`, oldest first; adds them to `seen`.

    `pages` are DescribeStackEvents pages (newest first); reading stops at the first page that
    reaches an already seen event, so only the head of the history is fetched.
    """
    fresh: list[dict[str, Any]] = []
    for page in pages:
        reached_seen = False
        for event in page:
            if event["EventId"] in seen:
                reached_seen = True
                continue
            fresh.append(event)
        if reached_seen:
            break
    fresh.reverse()
    seen.update(e["EventId"] for e in fresh)
    return fresh


def is_root_terminal(event: dict[str, Any], stack_name: str) -> bool:
    """True when `event` is the stack's own final event (the stream can stop after it)."""
    return (
        event.get("ResourceType") == STACK_TYPE
        and event.get("LogicalResourceId") == stack_name
        and event.get("ResourceStatus") in ROOT_TERMINAL
    )


def is_failure(event: dict[str, Any]) -> bool:
    return str(event.get("ResourceStatus", "")).endswith("_FAILED")


def failed_resources(events: Iterable[dict[str, Any]], stack_name: str) -> list[tuple[str, str, str]]:
    """(logical id, type, reason) of each resource that failed, cancelled ones and the stack left out."""
    found: list[tuple[str, str, str]] = []
    for event in events:
        if not is_failure(event):
            continue
        reason = str(event.get("ResourceStatusReason", "")).strip()
        if event.get("LogicalResourceId") == stack_name and event.get("ResourceType") == STACK_TYPE:
            continue
        if reason.startswith(CANCELLED):
            continue
        item = (str(event.get("LogicalResourceId", "")), str(event.get("ResourceType", "")), reason)
        if item not in found:
            found.append(item)
    return found


def format_event(event: dict[str, Any]) -> str:
    """`<stack> <status> <logical id> (<type>): <reason>` on one line."""
    line = (
        f"  {event.get('StackName', '')}  {event.get('ResourceStatus', '')}  "
        f"{event.get('LogicalResourceId', '')} ({event.get('ResourceType', '')})"
    )
    reason = " ".join(str(event.get("ResourceStatusReason", "")).split())
    return f"{line}: {reason}" if reason else line
