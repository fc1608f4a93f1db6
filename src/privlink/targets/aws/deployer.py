"""CloudFormation through change sets: plan (create + describe), execute, stream events, delete.

The CloudFormation client, the poll delay, `sleep` and `clock` are injected; every wait has a
timeout and says what it waits for.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from privlink.errors import AwsError, DeployFailed
from privlink.targets.aws import events as ev
from privlink.targets.base import PlannedChange, Progress, no_progress
from privlink.templates.limits import limit, template_body

CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"]
NO_CHANGES = ("didn't contain changes", "No updates are to be performed", "The submitted information didn't")
CHANGE_SET_PREFIX = "privlink-"
# Bytes CloudFormation accepts inline (TemplateBody); more needs S3. render checks the same limit
# on the same body (templates.limits), so this only stops a template that did not come from render.
MAX_TEMPLATE_BODY = limit("template body").maximum


@dataclass
class ChangeSetResult:
    """A created change set: its changes, or `no_changes` (the empty change set is already deleted)."""

    stack_name: str
    change_set_type: str  # CREATE | UPDATE
    change_set_id: str = ""
    changes: list[PlannedChange] = field(default_factory=list)
    no_changes: bool = False


def changes_of(stack_name: str, change_set_type: str, described: list[dict[str, Any]]) -> list[PlannedChange]:
    """DescribeChangeSet `Changes` as plan lines."""
    lines: list[PlannedChange] = []
    if change_set_type == "CREATE":
        lines.append(PlannedChange(stack_name, "Create stack"))
    for change in described:
        rc = change.get("ResourceChange", {})
        scopes = ",".join(rc.get("Scope", []))
        lines.append(
            PlannedChange(
                stack=stack_name,
                action=rc.get("Action", ""),
                logical_id=rc.get("LogicalResourceId", ""),
                resource_type=rc.get("ResourceType", ""),
                replacement=rc.get("Replacement", "") if rc.get("Action") == "Modify" else "",
                detail=scopes,
            )
        )
    return lines


def template_changes(stack_name: str, template: dict[str, Any], reason: str) -> list[PlannedChange]:
    """Plan lines for a stack that cannot get a change set yet (its inputs do not exist)."""
    lines = [PlannedChange(stack_name, "Create stack", detail=reason)]
    for logical_id, resource in template.get("Resources", {}).items():
        lines.append(PlannedChange(stack_name, "Add", logical_id, str(resource.get("Type", ""))))
    return lines


class Deployer:
    """Deploys one account+region's stacks with change sets."""

    def __init__(
        self,
        cfn: Any,
        progress: Progress = no_progress,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        poll_delay: float = 5.0,
        change_set_timeout: float = 600.0,
        stack_timeout: float = 3600.0,
    ) -> None:
        self.cfn = cfn
        self.progress = progress
        self.sleep = sleep
        self.clock = clock
        self.poll_delay = poll_delay
        self.change_set_timeout = change_set_timeout
        self.stack_timeout = stack_timeout

    # -- reading --------------------------------------------------------------------------------
    def describe_stack(self, stack_name: str) -> dict[str, Any] | None:
        """The stack, or None when it does not exist (or is fully deleted)."""
        try:
            stacks = self.cfn.describe_stacks(StackName=stack_name)["Stacks"]
        except AwsError as exc:
            if exc.code == "ValidationError" and "does not exist" in exc.what:
                return None
            raise
        if not stacks or stacks[0]["StackStatus"] == "DELETE_COMPLETE":
            return None
        return stacks[0]

    def outputs(self, stack_name: str) -> dict[str, str]:
        stack = self.describe_stack(stack_name)
        if stack is None:
            return {}
        return {o["OutputKey"]: o.get("OutputValue", "") for o in stack.get("Outputs", [])}

    # -- change sets ----------------------------------------------------------------------------
    def create_change_set(
        self,
        stack_name: str,
        template: dict[str, Any],
        parameters: dict[str, str],
        tags: dict[str, str],
    ) -> ChangeSetResult:
        """Create a change set (CREATE for a new stack, UPDATE for an existing one) and describe it."""
        stack = self.describe_stack(stack_name)
        status = stack["StackStatus"] if stack is not None else ""
        if status.endswith("_IN_PROGRESS") and status != "REVIEW_IN_PROGRESS":
            # an earlier run (interrupted, say) left an operation going: wait, then judge its end
            self.progress(f"{stack_name}: {status} from an earlier run; waiting for it to finish")
            stack = self.wait_for_stack(stack_name, "an operation already in progress")
            status = stack["StackStatus"] if stack is not None else ""
        hint = self._recovery(status, stack_name)
        if hint is not None:
            raise DeployFailed(stack_name, f"{status}: CloudFormation cannot update it", hint)
        if status == "ROLLBACK_COMPLETE":
            self.progress(f"{stack_name}: ROLLBACK_COMPLETE from an earlier failed create; deleting it first")
            self.delete_stack(stack_name)
            stack = None
        # REVIEW_IN_PROGRESS: a stack created by a change set that never ran; it still needs CREATE.
        kind = "CREATE" if stack is None or stack["StackStatus"] == "REVIEW_IN_PROGRESS" else "UPDATE"
        name = f"{CHANGE_SET_PREFIX}{uuid.uuid4().hex[:16]}"
        body = template_body(template)
        size = len(body.encode())
        if size > MAX_TEMPLATE_BODY:
            raise DeployFailed(
                stack_name,
                f"template is {size} bytes; CloudFormation takes at most {MAX_TEMPLATE_BODY} inline",
                "use fewer AZs or targets; uploading templates to S3 is not supported yet",
            )
        try:
            created = self.cfn.create_change_set(
                StackName=stack_name,
                TemplateBody=body,
                Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
                Capabilities=CAPABILITIES,
                ChangeSetName=name,
                ChangeSetType=kind,
                Tags=[{"Key": k, "Value": v} for k, v in tags.items()],
                Description="privlink",
            )
        except AwsError as exc:  # some endpoints refuse an empty update up front instead of failing it
            if exc.code == "ValidationError" and any(marker in exc.what for marker in NO_CHANGES):
                return ChangeSetResult(stack_name, kind, no_changes=True)
            raise
        result = ChangeSetResult(stack_name, kind, created["Id"])
        described = self.wait_for_change_set(stack_name, created["Id"])
        if described["Status"] == "FAILED":
            reason = described.get("StatusReason", "")
            if any(marker in reason for marker in NO_CHANGES):
                self.cfn.delete_change_set(ChangeSetName=created["Id"], StackName=stack_name)
                result.no_changes = True
                return result
            raise DeployFailed(stack_name, f"change set failed: {reason}", "fix the template or parameters")
        result.changes = changes_of(stack_name, kind, self._all_changes(stack_name, created["Id"], described))
        return result

    def _all_changes(
        self, stack_name: str, change_set_id: str, first: dict[str, Any]
    ) -> list[dict[str, Any]]:
        changes = list(first.get("Changes", []))
        token = first.get("NextToken")
        while token:
            page = self.cfn.describe_change_set(
                ChangeSetName=change_set_id, StackName=stack_name, NextToken=token
            )
            changes.extend(page.get("Changes", []))
            token = page.get("NextToken")
        return changes

    def wait_for_change_set(self, stack_name: str, change_set_id: str) -> dict[str, Any]:
        deadline = self.clock() + self.change_set_timeout
        while True:
            described = self.cfn.describe_change_set(ChangeSetName=change_set_id, StackName=stack_name)
            if described["Status"] in ("CREATE_COMPLETE", "FAILED"):
                return described
            if self.clock() >= deadline:
                raise DeployFailed(
                    stack_name,
                    f"timed out after {self.change_set_timeout:.0f}s waiting for change set "
                    f"{change_set_id} to be created (status {described['Status']})",
                    "run the same command again; it continues where it stopped",
                )
            self.sleep(self.poll_delay)

    def discard(self, result: ChangeSetResult) -> None:
        """Delete a change set made only for planning (and the empty stack a CREATE one made)."""
        if result.no_changes or not result.change_set_id:
            return
        self.cfn.delete_change_set(ChangeSetName=result.change_set_id, StackName=result.stack_name)
        if result.change_set_type == "CREATE":
            stack = self.describe_stack(result.stack_name)
            if stack is not None and stack["StackStatus"] == "REVIEW_IN_PROGRESS":
                self.cfn.delete_stack(StackName=result.stack_name)

    def execute(self, result: ChangeSetResult) -> dict[str, str]:
        """Execute the change set, stream its events until the stack settles; the stack's outputs."""
        if result.no_changes:
            self.progress(f"{result.stack_name}: no changes")
            return self.outputs(result.stack_name)
        seen = self._seen_event_ids(result.stack_name)
        self.progress(
            f"{result.stack_name}: {'creating' if result.change_set_type == 'CREATE' else 'updating'}"
        )
        self.cfn.execute_change_set(ChangeSetName=result.change_set_id, StackName=result.stack_name)
        stack = self.stream_until_settled(result.stack_name, seen, "the change set to finish")
        status = stack["StackStatus"] if stack else "DELETE_COMPLETE"
        if status not in ev.SUCCESS:
            raise self._failure(result.stack_name, status)
        self.progress(f"{result.stack_name}: {status}")
        return {o["OutputKey"]: o.get("OutputValue", "") for o in (stack or {}).get("Outputs", [])}

    def deploy(
        self, stack_name: str, template: dict[str, Any], parameters: dict[str, str], tags: dict[str, str]
    ) -> dict[str, str]:
        """Create or update the stack (a no-op when nothing changed); its outputs."""
        return self.execute(self.create_change_set(stack_name, template, parameters, tags))

    # -- delete ---------------------------------------------------------------------------------
    def delete_stack(self, stack_name: str) -> bool:
        """Delete the stack and wait; False when it did not exist."""
        stack = self.describe_stack(stack_name)
        if stack is None:
            return False
        stack_id = stack["StackId"]
        seen = self._seen_event_ids(stack_id)
        self.progress(f"{stack_name}: deleting")
        self.cfn.delete_stack(StackName=stack_id)
        final = self.stream_until_settled(stack_id, seen, "the stack to be deleted", root_name=stack_name)
        status = final["StackStatus"] if final else "DELETE_COMPLETE"
        if status != "DELETE_COMPLETE":
            raise self._failure(stack_name, status, stack_id)
        self.progress(f"{stack_name}: DELETE_COMPLETE")
        return True

    # -- events ---------------------------------------------------------------------------------
    def _event_pages(self, stack: str):
        token = None
        while True:
            kwargs: dict[str, Any] = {"StackName": stack}
            if token:
                kwargs["NextToken"] = token
            try:
                page = self.cfn.describe_stack_events(**kwargs)
            except AwsError as exc:
                if exc.code == "ValidationError" and "does not exist" in exc.what:
                    return
                raise
            yield page.get("StackEvents", [])
            token = page.get("NextToken")
            if not token:
                return

    def _seen_event_ids(self, stack: str) -> set[str]:
        """The start marker: every event already there (only the first page is needed)."""
        for page in self._event_pages(stack):
            return {e["EventId"] for e in page}
        return set()

    def stream_until_settled(
        self, stack: str, seen: set[str], waiting_for: str, root_name: str | None = None
    ) -> dict[str, Any] | None:
        """Report new events until the stack leaves *_IN_PROGRESS; the final stack (None if gone)."""
        root = root_name or stack
        deadline = self.clock() + self.stack_timeout
        self.recent_events: list[dict[str, Any]] = []
        while True:
            fresh = ev.new_events(self._event_pages(stack), seen)
            for event in fresh:
                self.progress(ev.format_event(event))
            self.recent_events.extend(fresh)
            settled = any(ev.is_root_terminal(e, root) for e in fresh)
            current = self._describe_by_id(stack)
            if current is None or not current["StackStatus"].endswith("_IN_PROGRESS"):
                if not settled:  # the terminal event may land just after the status flips
                    fresh = ev.new_events(self._event_pages(stack), seen)
                    for event in fresh:
                        self.progress(ev.format_event(event))
                    self.recent_events.extend(fresh)
                return current
            if self.clock() >= deadline:
                raise DeployFailed(
                    root,
                    f"timed out after {self.stack_timeout:.0f}s waiting for {waiting_for} "
                    f"(status {current['StackStatus']})",
                    "check the stack in the CloudFormation console, then run the same command again",
                )
            self.sleep(self.poll_delay)

    def wait_for_stack(self, stack_name: str, waiting_for: str) -> dict[str, Any] | None:
        return self.stream_until_settled(stack_name, self._seen_event_ids(stack_name), waiting_for)

    def _describe_by_id(self, stack: str) -> dict[str, Any] | None:
        try:
            stacks = self.cfn.describe_stacks(StackName=stack)["Stacks"]
        except AwsError as exc:
            if exc.code == "ValidationError" and "does not exist" in exc.what:
                return None
            raise
        return stacks[0] if stacks else None

    def _failure(self, stack_name: str, status: str, stack_ref: str | None = None) -> DeployFailed:
        events = list(getattr(self, "recent_events", []))
        if not events:
            events = [e for page in self._event_pages(stack_ref or stack_name) for e in page][:100]
        failed = ev.failed_resources(events, stack_name)
        if failed:
            what = f"{status}; " + "; ".join(f"{lid} ({rtype}): {reason}" for lid, rtype, reason in failed)
        else:
            what = status
        return DeployFailed(
            stack_name,
            what,
            self._recovery(status, stack_name)
            or "fix the cause above and run the same command again "
            "(a stack left in ROLLBACK_COMPLETE is deleted and recreated)",
        )

    def _recovery(self, status: str, stack_name: str) -> str | None:
        from privlink.lifecycle.build import recovery

        account = getattr(self.cfn, "account", "?")
        region = getattr(self.cfn, "region", "?")
        return recovery(status, stack_name, account, region)
