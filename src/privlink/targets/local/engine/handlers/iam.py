"""IAM roles and instance profiles (global: the account's, whatever region the stack is in)."""

from __future__ import annotations

import re
from typing import Any

from privlink.targets.local.engine.handlers.base import Handler, Op, register, remove, tags_of
from privlink.targets.local.world import Resource, SimulatedAwsError

ROLE = "AWS::IAM::Role"
PROFILE = "AWS::IAM::InstanceProfile"
NAME = re.compile(r"^[\w+=,.@-]+$")


def _unique_name(op: Op, rtype: str, name: str, max_length: int = 64) -> None:
    if not NAME.match(name) or len(name) > max_length:
        raise SimulatedAwsError("ValidationError", f"The specified value for name {name!r} is invalid")
    for other in op.world.of_type(rtype):
        if other.account == op.account and other.id == name:
            raise SimulatedAwsError(
                "EntityAlreadyExists", f"{rtype.split('::')[-1]} with name {name} already exists."
            )


@register
class RoleHandler(Handler):
    """Ref: the role name; GetAtt Arn, RoleId (`AROA` + 17 upper alnum)."""

    type = ROLE
    required = ("AssumeRolePolicyDocument",)
    create_only = frozenset({"RoleName", "Path"})

    def create(self, op: Op, props: dict[str, Any]) -> Resource:
        name = props.get("RoleName") or op.generated_name(64)
        _unique_name(op, ROLE, name)
        path = props.get("Path") or "/"
        arn = f"arn:aws:iam::{op.account_id}:role{path}{name}"
        role_id = "AROA" + op.world.ids.upper_alnum(17, "role")
        data = {"arn": arn, "tags": tags_of(props), "policies": _policy_names(props)}
        return op.add(ROLE, name, props, {"Arn": arn, "RoleId": role_id}, data)

    def update(self, op: Op, res: Resource, old: dict[str, Any], new: dict[str, Any]) -> None:
        super().update(op, res, old, new)
        res.data["tags"] = tags_of(new)
        res.data["policies"] = _policy_names(new)

    def delete(self, op: Op, res: Resource) -> None:
        users = [
            p.id for p in op.world.of_type(PROFILE) if p.account == op.account and res.id in p.data["roles"]
        ]
        if users:
            raise SimulatedAwsError(
                "DeleteConflict", "Cannot delete entity, must remove roles from instance profile first."
            )
        remove(op.world, res)


def _policy_names(props: dict[str, Any]) -> list[str]:
    return [p.get("PolicyName", "") for p in props.get("Policies") or []]


@register
class InstanceProfileHandler(Handler):
    """Ref: the instance profile name; GetAtt Arn."""

    type = PROFILE
    required = ("Roles",)
    create_only = frozenset({"InstanceProfileName", "Path"})

    def _roles(self, op: Op, props: dict[str, Any]) -> list[str]:
        roles = list(props["Roles"])
        if len(roles) != 1:
            raise SimulatedAwsError(
                "LimitExceeded", "Cannot exceed quota for InstanceSessionsPerInstanceProfile: 1"
            )
        for name in roles:
            op.find(name, ROLE, "role", "NoSuchEntity")
        return roles

    def create(self, op: Op, props: dict[str, Any]) -> Resource:
        name = props.get("InstanceProfileName") or op.generated_name(128)
        _unique_name(op, PROFILE, name, 128)
        roles = self._roles(op, props)
        arn = f"arn:aws:iam::{op.account_id}:instance-profile{props.get('Path') or '/'}{name}"
        return op.add(PROFILE, name, props, {"Arn": arn}, {"roles": roles})

    def update(self, op: Op, res: Resource, old: dict[str, Any], new: dict[str, Any]) -> None:
        super().update(op, res, old, new)
        res.data["roles"] = self._roles(op, new)
