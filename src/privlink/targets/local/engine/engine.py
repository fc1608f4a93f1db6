"""The local sandbox's CloudFormation: deploys rendered templates into the simulated world.

`Engine(world).deploy(stack, parameters)` creates, updates or replaces a stack's resources through
the handlers (one per resource type), in dependency order, and records a `StackRecord` like
CloudFormation's (status, events, physical resources, outputs). A failing resource rolls back what
this deploy created and raises `DeployFailed` naming the resource and AWS's error, as
CloudFormation's stack events do. `delete` removes a stack's resources in reverse creation order.
"""

from __future__ import annotations

import contextlib
import copy
from typing import TYPE_CHECKING, Any

from privlink.errors import BadInput, DeployFailed
from privlink.targets.local.engine import ids as idfmt
from privlink.targets.local.engine.handlers import HANDLERS, Op, Replace
from privlink.targets.local.engine.handlers.base import key_of
from privlink.targets.local.engine.intrinsics import (
    Context,
    TemplateError,
    creation_order,
    evaluate_conditions,
    resolve,
    resolve_parameters,
    unsupported_functions,
)
from privlink.targets.local.interrupt import interrupt_point
from privlink.targets.local.world import (
    Resource,
    SimulatedAwsError,
    StackEvent,
    StackRecord,
    StackResource,
    World,
    iso,
)
from privlink.templates.limits import limit, template_body

if TYPE_CHECKING:
    from privlink.templates.stacks import RenderedStack

AMI_PARAMETERS = {
    "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64": "x86_64",
    "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64": "arm64",
}

# A stack in one of these states is up to date when its template and parameters are unchanged; after
# a failed delete or update the next deploy re-applies the template (recreating what is missing).
COMPLETE = {"CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE"}

# Parameter types whose values must name an existing resource of this CloudFormation type.
_ID_TYPES = {
    "AWS::EC2::VPC::Id": "AWS::EC2::VPC",
    "AWS::EC2::Subnet::Id": "AWS::EC2::Subnet",
    "AWS::EC2::SecurityGroup::Id": "AWS::EC2::SecurityGroup",
}


def ssm_parameter(region: str, name: str) -> str:
    """The simulated public SSM parameter: the latest Amazon Linux 2023 AMI ID in `region`."""
    arch = AMI_PARAMETERS.get(name)
    if arch is None:
        raise KeyError(name)
    digest = idfmt._digest("ami", region, arch).hex()
    return f"ami-{digest[:17]}"


class Engine:
    """Deploys and deletes stacks in a `World` (the caller saves the world afterwards)."""

    def __init__(self, world: World) -> None:
        self.world = world

    # --- deploy ---------------------------------------------------------------------------

    def deploy(self, stack: RenderedStack, parameters: dict[str, str]) -> dict[str, str]:
        """Create or update `stack` (a RenderedStack) with plain string parameters; its outputs."""
        name, account, region = stack.stack_name, stack.account, stack.region
        template: dict[str, Any] = copy.deepcopy(stack.template)
        resources_def: dict[str, Any] = template.get("Resources", {}) or {}
        refused_template(name, template)
        self._check_supported(name, template, resources_def)
        key = World.stack_key(account, region, name)
        record = self.world.stacks.get(key)
        if (
            record is not None
            and record.status in COMPLETE
            and record.template == template
            and record.parameters == dict(parameters)
        ):
            return dict(record.outputs)

        info = self.world.account(account)
        stack_id = (
            record.stack_id
            if record is not None
            else f"arn:aws:cloudformation:{region}:{info.id}:stack/{name}/{self.world.ids.uuid()}"
        )
        ctx = Context(
            region=region,
            account_id=info.id,
            stack_name=name,
            stack_id=stack_id,
            mappings=template.get("Mappings", {}) or {},
            azs=lambda r: list(self.world.az_mapping(account, r or region)),
        )
        try:
            ssm = lambda p: ssm_parameter(region, p)  # noqa: E731
            ctx.parameters = resolve_parameters(
                template, dict(parameters), ssm, self._id_exists(account, region)
            )
            evaluate_conditions(template, ctx)
            order = creation_order(resources_def)
        except TemplateError as exc:
            raise DeployFailed(name, f"template error: {exc}") from exc
        except BadInput as exc:  # as CloudFormation refuses parameters: before anything is created
            raise BadInput(
                f"{name}: {exc.where}",
                exc.what,
                exc.hint
                or "privlink binds this stack's parameters from the spec and other stacks' outputs; "
                "`privlink render` shows them",
            ) from exc

        updating = record is not None
        if record is None:
            record = StackRecord(
                name=name,
                account=account,
                region=region,
                stack_id=stack_id,
                status="CREATE_IN_PROGRESS",
                created=iso(self.world.now()),
            )
        else:
            record.status = "UPDATE_IN_PROGRESS"
        previous = {lid: r.model_copy(deep=True) for lid, r in record.resources.items()}
        self._event(record, name, "AWS::CloudFormation::Stack", stack_id, record.status)
        for lid, res in previous.items():
            ctx.refs[lid] = res.physical_id
            ctx.attributes[lid] = dict(res.attributes)

        created: list[Resource] = []  # new resources of this deploy, in creation order
        replaced: list[Resource] = []  # old resources to delete once the update succeeded
        kept: dict[str, StackResource] = {}
        kept_order: list[str] = []
        for lid in order:
            body = resources_def[lid]
            cond = body.get("Condition")
            if cond is not None and not ctx.conditions.get(cond, False):
                continue
            rtype = body["Type"]
            handler = HANDLERS[rtype]
            op = Op(self.world, account, region, name, lid)
            try:
                ctx.where = f"Resources.{lid}"
                props = resolve(body.get("Properties", {}) or {}, ctx)
                old = previous.get(lid)
                if old is not None and old.type != rtype:
                    old = None  # a type change is a new resource; the old one goes with the removals
                if old is None:
                    handler.validate(props)
                    res = handler.create(op, props)
                    created.append(res)
                    status = "CREATE_COMPLETE"
                else:
                    res = self._live(old, account, region, name)
                    if old.properties == props:
                        status = ""
                    else:
                        try:
                            handler.validate(props)
                            handler.update(op, res, old.properties, props)
                            res.properties = props
                            status = "UPDATE_COMPLETE"
                        except Replace:
                            replaced.append(res)
                            res = handler.create(op, props)
                            created.append(res)
                            status = "UPDATE_COMPLETE"
            except SimulatedAwsError as exc:
                failed = "UPDATE_FAILED" if lid in previous else "CREATE_FAILED"
                self._event(record, lid, rtype, "", failed, f"{exc.code}: {exc.message}")
                self._rollback(record, created, account, region, name, updating, previous)
                raise DeployFailed(name, f"{lid} ({rtype}): {exc.code}: {exc.message}") from exc
            except TemplateError as exc:
                self._rollback(record, created, account, region, name, updating, previous)
                raise DeployFailed(name, f"{lid} ({rtype}): template error: {exc}") from exc
            ctx.refs[lid] = res.id
            ctx.attributes[lid] = dict(res.attributes)
            if status:
                self._event(record, lid, rtype, res.id, status)
            kept[lid] = StackResource(
                logical_id=lid,
                type=rtype,
                physical_id=res.id,
                properties=props,
                attributes=dict(res.attributes),
            )
            kept_order.append(lid)
            interrupt_point(f"{name}/{lid}")

        try:
            ctx.where = "Outputs"
            outputs = {
                oid: _output_text(resolve(body.get("Value"), ctx))
                for oid, body in (template.get("Outputs", {}) or {}).items()
                if body.get("Condition") is None or ctx.conditions.get(body["Condition"], False)
            }
        except TemplateError as exc:
            self._rollback(record, created, account, region, name, updating, previous)
            raise DeployFailed(name, f"outputs: template error: {exc}") from exc

        # The update succeeded: clean up replaced and removed resources (CloudFormation's cleanup phase).
        removed = [lid for lid in reversed(record.order) if lid in previous and lid not in kept]
        for res in reversed(replaced):
            self._delete_quietly(res, account, region, name)
        for lid in removed:
            old = previous[lid]
            res = self._find(old, account, region, name)
            if res is not None:
                self._delete_quietly(res, account, region, name)
            self._event(record, lid, old.type, old.physical_id, "DELETE_COMPLETE")

        record.template = template
        record.parameters = dict(parameters)
        record.resources = kept
        record.order = kept_order
        record.outputs = outputs
        record.status = "UPDATE_COMPLETE" if updating else "CREATE_COMPLETE"
        if updating:
            record.updated = iso(self.world.now())
        self._event(record, name, "AWS::CloudFormation::Stack", stack_id, record.status)
        self.world.stacks[key] = record
        return dict(outputs)

    # --- delete ---------------------------------------------------------------------------

    def delete(self, stack_name: str, account: str, region: str) -> None:
        """Delete the stack's resources in reverse creation order; a missing stack is a no-op."""
        key = World.stack_key(account, region, stack_name)
        record = self.world.stacks.get(key)
        if record is None:
            return
        record.status = "DELETE_IN_PROGRESS"
        self._event(record, stack_name, "AWS::CloudFormation::Stack", record.stack_id, record.status)
        order = [lid for lid in record.order if lid in record.resources]
        order += [lid for lid in record.resources if lid not in order]
        for lid in reversed(order):
            entry = record.resources[lid]
            res = self._find(entry, account, region, stack_name)
            if res is not None:
                try:
                    HANDLERS[entry.type].delete(Op(self.world, account, region, stack_name, lid), res)
                except SimulatedAwsError as exc:
                    reason = f"{exc.code}: {exc.message}"
                    self._event(record, lid, entry.type, entry.physical_id, "DELETE_FAILED", reason)
                    record.status = "DELETE_FAILED"
                    raise DeployFailed(stack_name, f"cannot delete {lid} ({entry.type}): {reason}") from exc
            del record.resources[lid]
            self._event(record, lid, entry.type, entry.physical_id, "DELETE_COMPLETE")
            interrupt_point(f"delete:{stack_name}/{lid}")
        del self.world.stacks[key]

    # --- helpers --------------------------------------------------------------------------

    def _check_supported(self, name: str, template: dict[str, Any], resources: dict[str, Any]) -> None:
        for lid, body in resources.items():
            rtype = body.get("Type") if isinstance(body, dict) else None
            if rtype not in HANDLERS:
                raise DeployFailed(
                    name,
                    f"{lid}: resource type {rtype} is not supported by the local sandbox",
                    "deploy this template with --target aws",
                )
            functions = unsupported_functions(body)
            if functions:
                raise DeployFailed(
                    name,
                    f"{lid} ({rtype}): intrinsic function {', '.join(sorted(functions))} "
                    "is not supported by the local sandbox",
                )
        for section in ("Outputs", "Conditions"):
            functions = unsupported_functions(template.get(section, {}) or {})
            if functions:
                raise DeployFailed(
                    name,
                    f"{section}: intrinsic function {', '.join(sorted(functions))} "
                    "is not supported by the local sandbox",
                )

    def _id_exists(self, account: str, region: str) -> Any:
        def exists(ptype: str, value: str) -> bool:
            rtype = _ID_TYPES.get(ptype)
            if rtype is None:
                return True
            return any(
                r.id == value and r.type == rtype and r.account == account and r.region == region
                for r in self.world.resources.values()
            )

        return exists

    def _find(self, entry: StackResource, account: str, region: str, stack: str = "") -> Resource | None:
        """The live resource behind a stack's entry. Physical IDs are not unique for every type (a
        record set's is its name, the same in two zones): the stack's own resource wins."""
        found = None
        for res in self.world.resources.values():
            if (
                res.id == entry.physical_id
                and res.type == entry.type
                and res.account == account
                and (res.region == region or res.type.startswith("AWS::IAM::"))
            ):
                if res.stack == stack and res.logical_id == entry.logical_id:
                    return res
                found = found or res
        return found

    def _live(self, entry: StackResource, account: str, region: str, stack: str = "") -> Resource:
        res = self._find(entry, account, region, stack)
        if res is None:
            raise SimulatedAwsError(
                "NotFound", f"{entry.type} {entry.physical_id} no longer exists (deleted outside the stack)"
            )
        return res

    def _delete_quietly(self, res: Resource, account: str, region: str, stack: str) -> None:
        # CloudFormation leaves a resource it cannot clean up (DELETE_SKIPPED-like); so do we.
        with contextlib.suppress(SimulatedAwsError):
            HANDLERS[res.type].delete(Op(self.world, account, region, stack, res.logical_id), res)

    def _rollback(
        self,
        record: StackRecord,
        created: list[Resource],
        account: str,
        region: str,
        name: str,
        updating: bool,
        previous: dict[str, StackResource],
    ) -> None:
        for res in reversed(created):
            if key_of(res) in self.world.resources:
                self._delete_quietly(res, account, region, name)
        if updating:
            # In-place updates made before the failure are reverted to the previous properties.
            for lid, old in previous.items():
                res = self._find(old, account, region, name)
                if res is not None and res.properties != old.properties:
                    try:
                        HANDLERS[old.type].update(
                            Op(self.world, account, region, name, lid), res, res.properties, old.properties
                        )
                        res.properties = old.properties
                    except (SimulatedAwsError, Replace):
                        pass
            record.status = "UPDATE_ROLLBACK_COMPLETE"
            self._event(record, name, "AWS::CloudFormation::Stack", record.stack_id, record.status)
        else:
            # A failed first deploy leaves nothing behind (the sandbox deletes the rolled-back stack).
            self.world.stacks.pop(World.stack_key(account, region, name), None)

    def _event(
        self,
        record: StackRecord,
        logical_id: str,
        rtype: str,
        physical_id: str,
        status: str,
        reason: str = "",
    ) -> None:
        record.events.append(
            StackEvent(
                time=iso(self.world.now()),
                logical_id=logical_id,
                resource_type=rtype,
                physical_id=physical_id,
                status=status,
                reason=reason,
            )
        )


# What CloudFormation answers CreateChangeSet (ValidationError) for a template over its limits,
# before it creates anything. The message shapes, as AWS returns them:
#   body: "1 validation error detected: Value '...' at 'templateBody' failed to satisfy constraint:
#     Member must have length less than or equal to 51200" (github.com/mbailey/bash-my-aws/pull/100,
#     github.com/aws/aws-extensions-for-dotnet-cli/issues/50)
#   resources: "Template format error: Number of resources, 211, is greater than maximum allowed, 200"
#     (github.com/amplify-education/serverless-log-forwarding/issues/26; the limit is now 500)
#   parameters: "Template format error: Parameter count 86 is greater than max allowed 60"
#     (github.com/remind101/empire/issues/861; now 200)
#   outputs: "Template format error: Outputs count 78 is greater than max allowed 60"
#     (github.com/dougmoscrop/serverless-plugin-split-stacks/issues/43; now 200)
# The sandbox has no S3, so like the aws target it sends every template inline.
def refused_template(stack: str, template: dict[str, Any]) -> None:
    """Raise DeployFailed as CloudFormation refuses a template over its limits (nothing created)."""
    body = len(template_body(template).encode())
    most = limit("template body").maximum
    message = None
    if body > most:
        message = (
            "1 validation error detected: Value '...' at 'templateBody' failed to satisfy constraint: "
            f"Member must have length less than or equal to {most}"
        )
    else:
        counts = [
            ("resources", "Resources", "Number of resources, {n}, is greater than maximum allowed, {most}"),
            ("parameters", "Parameters", "Parameter count {n} is greater than max allowed {most}"),
            ("outputs", "Outputs", "Outputs count {n} is greater than max allowed {most}"),
        ]
        for name, section, shape in counts:
            n, most = len(template.get(section) or {}), limit(name).maximum
            if n > most:
                message = "Template format error: " + shape.format(n=n, most=most)
                break
    if message is not None:
        raise DeployFailed(
            stack,
            f"ValidationError: {message}",
            "CloudFormation refuses this template; `privlink render` says why",
        )


def _output_text(value: Any) -> str:
    """An output as CloudFormation shows it: lists comma-joined, booleans lower case."""
    if isinstance(value, list):
        return ",".join(_output_text(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
