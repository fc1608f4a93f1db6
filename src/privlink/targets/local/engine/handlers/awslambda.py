"""Lambda functions and their resource-based permissions (the auto-approval handler).

The sandbox keeps a function's configuration; it does not run the code (the approval package runs
its handler against the world directly, `privlink.approval.sandbox`).
"""

from __future__ import annotations

import re
from typing import Any

from privlink.targets.local.engine.handlers.base import Handler, Op, Replace, register, remove, tags_of
from privlink.targets.local.world import Resource, SimulatedAwsError

FUNCTION = "AWS::Lambda::Function"
PERMISSION = "AWS::Lambda::Permission"
NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
ROLE_ARN = re.compile(r"^arn:aws(-[a-z-]+)?:iam::\d{12}:role/.+$")
ZIPFILE_LIMIT = 4096  # characters of inline code CloudFormation accepts (ZipFile)


@register
class FunctionHandler(Handler):
    """Ref: the function name; GetAtt Arn."""

    type = FUNCTION
    required = ("Code", "Role")
    create_only = frozenset({"FunctionName", "PackageType"})

    def _check(self, op: Op, props: dict[str, Any]) -> None:
        role = props["Role"]
        if not ROLE_ARN.match(str(role)) or not any(
            r.attributes.get("Arn") == role for r in op.world.of_type("AWS::IAM::Role")
        ):
            raise SimulatedAwsError(
                "InvalidParameterValueException",
                "The role defined for the function cannot be assumed by Lambda.",
            )
        code = props["Code"]
        if "ZipFile" in code:
            if len(code["ZipFile"]) > ZIPFILE_LIMIT:
                raise SimulatedAwsError(
                    "InvalidParameterValueException", f"ZipFile code exceeds {ZIPFILE_LIMIT} characters"
                )
            if not props.get("Runtime") or not props.get("Handler"):
                raise SimulatedAwsError(
                    "InvalidParameterValueException", "Runtime and Handler are required for ZipFile code"
                )
        timeout = int(props.get("Timeout", 3))
        if not 1 <= timeout <= 900:
            raise SimulatedAwsError("InvalidParameterValueException", f"Timeout {timeout} is out of range")

    def create(self, op: Op, props: dict[str, Any]) -> Resource:
        self._check(op, props)
        name = props.get("FunctionName") or op.generated_name(64)
        if not NAME.match(name):
            raise SimulatedAwsError("InvalidParameterValueException", f"Invalid function name {name!r}")
        for other in op.world.of_type(FUNCTION):
            if other.id == name and other.account == op.account and other.region == op.region:
                raise SimulatedAwsError("ResourceConflictException", f"Function already exist: {name}")
        arn = f"arn:aws:lambda:{op.region}:{op.account_id}:function:{name}"
        env = (props.get("Environment") or {}).get("Variables") or {}
        return op.add(FUNCTION, name, props, {"Arn": arn}, {"environment": dict(env), "tags": tags_of(props)})

    def update(self, op: Op, res: Resource, old: dict[str, Any], new: dict[str, Any]) -> None:
        super().update(op, res, old, new)
        self._check(op, new)
        res.data["environment"] = dict((new.get("Environment") or {}).get("Variables") or {})
        res.data["tags"] = tags_of(new)

    def delete(self, op: Op, res: Resource) -> None:
        for permission in [
            p for p in op.world.of_type(PERMISSION) if p.data["function_arn"] == res.attributes["Arn"]
        ]:
            remove(op.world, permission)
        remove(op.world, res)


@register
class PermissionHandler(Handler):
    """Ref: the statement ID CloudFormation generates."""

    type = PERMISSION
    required = ("Action", "FunctionName", "Principal")

    def create(self, op: Op, props: dict[str, Any]) -> Resource:
        target = str(props["FunctionName"])
        function = next(
            (
                f
                for f in op.world.of_type(FUNCTION)
                if f.account == op.account and f.region == op.region and target in (f.id, f.attributes["Arn"])
            ),
            None,
        )
        if function is None:
            raise SimulatedAwsError("ResourceNotFoundException", f"Function not found: {target}")
        statement_id = op.generated_name(100)
        data = {"function_arn": function.attributes["Arn"], "source_arn": props.get("SourceArn")}
        return op.add(PERMISSION, statement_id, props, {}, data)

    def update(self, op: Op, res: Resource, old: dict[str, Any], new: dict[str, Any]) -> None:
        if old != new:
            raise Replace()  # every Lambda::Permission property is create-only
