"""CloudWatch Logs log groups (Client VPN connection logs)."""

from __future__ import annotations

import re
from typing import Any

from privlink.targets.local.engine.handlers.base import Handler, Op, register, tags_of
from privlink.targets.local.world import Resource, SimulatedAwsError

LOG_GROUP = "AWS::Logs::LogGroup"
NAME = re.compile(r"^[.\-_/#A-Za-z0-9]{1,512}$")
RETENTION_DAYS = {
    1,
    3,
    5,
    7,
    14,
    30,
    60,
    90,
    120,
    150,
    180,
    365,
    400,
    545,
    731,
    1096,
    1827,
    2192,
    2557,
    2922,
    3288,
    3653,
}


@register
class LogGroupHandler(Handler):
    """Ref: the log group name; GetAtt Arn (`arn:aws:logs:<region>:<account>:log-group:<name>:*`)."""

    type = LOG_GROUP
    create_only = frozenset({"LogGroupName", "LogGroupClass"})

    def _retention(self, props: dict[str, Any]) -> int | None:
        days = props.get("RetentionInDays")
        if days is None:
            return None
        if int(days) not in RETENTION_DAYS:
            raise SimulatedAwsError(
                "InvalidParameterException", f"Value {days} at 'retentionInDays' failed to satisfy constraint"
            )
        return int(days)

    def create(self, op: Op, props: dict[str, Any]) -> Resource:
        name = props.get("LogGroupName") or op.generated_name(512)
        if not NAME.match(name):
            raise SimulatedAwsError("InvalidParameterException", f"Invalid log group name {name!r}")
        retention = self._retention(props)
        for other in op.world.of_type(LOG_GROUP):
            if other.id == name and other.account == op.account and other.region == op.region:
                raise SimulatedAwsError(
                    "ResourceAlreadyExistsException", "The specified log group already exists"
                )
        arn = f"arn:aws:logs:{op.region}:{op.account_id}:log-group:{name}:*"
        return op.add(
            LOG_GROUP, name, props, {"Arn": arn}, {"retention_days": retention, "tags": tags_of(props)}
        )

    def update(self, op: Op, res: Resource, old: dict[str, Any], new: dict[str, Any]) -> None:
        super().update(op, res, old, new)
        res.data["retention_days"] = self._retention(new)
        res.data["tags"] = tags_of(new)
