"""DynamoDB tables (the auto-approval registry); items live in `data["items"]` keyed by hash key."""

from __future__ import annotations

import re
from typing import Any

from privlink.targets.local.engine.handlers.base import Handler, Op, register, tags_of
from privlink.targets.local.world import Resource, SimulatedAwsError

TABLE = "AWS::DynamoDB::Table"
NAME = re.compile(r"^[A-Za-z0-9_.-]{3,255}$")


@register
class TableHandler(Handler):
    """Ref: the table name; GetAtt Arn."""

    type = TABLE
    required = ("KeySchema",)
    create_only = frozenset({"TableName", "KeySchema"})

    def _check(self, props: dict[str, Any]) -> str:
        defined = {a["AttributeName"]: a["AttributeType"] for a in props.get("AttributeDefinitions") or []}
        hash_keys = [k["AttributeName"] for k in props["KeySchema"] if k.get("KeyType") == "HASH"]
        if len(hash_keys) != 1:
            raise SimulatedAwsError(
                "ValidationException", "Invalid KeySchema: exactly one HASH key is required"
            )
        for key in props["KeySchema"]:
            if key["AttributeName"] not in defined:
                raise SimulatedAwsError(
                    "ValidationException",
                    "One or more parameter values were invalid: Some index key attributes are not defined "
                    "in AttributeDefinitions",
                )
        billing = props.get("BillingMode", "PROVISIONED")
        if billing == "PROVISIONED" and not props.get("ProvisionedThroughput"):
            raise SimulatedAwsError(
                "ValidationException", "No provisioned throughput specified for the table"
            )
        return hash_keys[0]

    def create(self, op: Op, props: dict[str, Any]) -> Resource:
        hash_key = self._check(props)
        name = props.get("TableName") or op.generated_name(255)
        if not NAME.match(name):
            raise SimulatedAwsError("ValidationException", f"Invalid table name {name!r}")
        for other in op.world.of_type(TABLE):
            if other.id == name and other.account == op.account and other.region == op.region:
                raise SimulatedAwsError("ResourceInUseException", f"Table already exists: {name}")
        arn = f"arn:aws:dynamodb:{op.region}:{op.account_id}:table/{name}"
        data = {"hash_key": hash_key, "items": {}, "tags": tags_of(props)}
        return op.add(TABLE, name, props, {"Arn": arn}, data)

    def update(self, op: Op, res: Resource, old: dict[str, Any], new: dict[str, Any]) -> None:
        super().update(op, res, old, new)
        self._check(new)
        res.data["tags"] = tags_of(new)
