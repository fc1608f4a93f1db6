"""The consumer registry: which accounts (and optionally which principal) the auto-approval
Lambda accepts. One `Registry` protocol, two implementations: a DynamoDB table (aws target) and
`.privlink/registry.json` (local target).

DynamoDB table: partition key `account_id` (S); attributes `principal`, `consumer_name`,
`added_at` (ISO-8601 UTC), `added_by`. Attributes that are unset are omitted from the item.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict

from privlink.approval.handler import principal_allowed
from privlink.errors import AwsError, BadInput
from privlink.statefile import check_state_dir, corrupt, read_state_json, write_private_text

ACCOUNT_ID = re.compile(r"^\d{12}$")
PRINCIPAL_ARN = re.compile(r"^arn:aws(-cn|-us-gov)?:iam::(\d{12}):(root|(role|user)/[\w+=,.@/-]{1,512})$")
REGISTRY_FILE = "registry.json"
OUT_REGISTRY_TABLE = "ApprovalRegistryTableName"  # producer stack output when auto-approval is on

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def registry_table_name(link: str) -> str:
    """The registry table of a link (fixed, so the CLI finds it without reading stack outputs)."""
    return f"privlink-{link}-consumers"


@dataclass(frozen=True)
class RegistryEntry:
    account_id: str
    principal: str | None = None
    consumer_name: str | None = None
    added_at: str = ""
    added_by: str = ""

    def allows(self, principal: str | None) -> bool:
        return principal_allowed(self.principal, principal)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def check_entry(account_id: str, principal: str | None, name: str | None) -> None:
    """Raise BadInput for an account ID, principal or name the registry must not hold."""
    if not ACCOUNT_ID.match(account_id or ""):
        raise BadInput("ACCOUNT_ID", f"{account_id!r} is not a 12-digit AWS account ID", "e.g. 222222222222")
    if principal is not None:
        match = PRINCIPAL_ARN.match(principal)
        if not match:
            raise BadInput(
                "--principal",
                f"{principal!r} is not a principal ARN",
                f"use arn:aws:iam::{account_id}:root or arn:aws:iam::{account_id}:role/NAME",
            )
        if match.group(2) != account_id:
            raise BadInput(
                "--principal",
                f"{principal!r} is not in account {account_id}",
                "use a principal of that account",
            )
    if name is not None and not re.match(r"^[\w .@-]{1,64}$", name):
        raise BadInput(
            "--name", f"{name!r} is not a usable name", "use up to 64 letters, digits, spaces, . @ _ -"
        )


class Registry(Protocol):
    def add(
        self, account_id: str, principal: str | None = None, name: str | None = None
    ) -> RegistryEntry: ...

    def remove(self, account_id: str) -> bool: ...

    def list(self) -> list[RegistryEntry]: ...

    def get(self, account_id: str) -> RegistryEntry | None: ...

    def contains(self, account_id: str) -> bool: ...


class DynamoRegistry:
    """The registry in a DynamoDB table, through an injected low-level client (`dynamodb`)."""

    def __init__(self, client: Any, table: str, added_by: str = "", clock: Clock = utc_now) -> None:
        self.client = client
        self.table = table
        self.added_by = added_by
        self.clock = clock

    def add(self, account_id: str, principal: str | None = None, name: str | None = None) -> RegistryEntry:
        check_entry(account_id, principal, name)
        entry = RegistryEntry(
            account_id, principal, name, self.clock().isoformat(timespec="seconds"), self.added_by
        )
        item = {k: {"S": v} for k, v in asdict(entry).items() if v}
        self._call("PutItem", self.client.put_item, TableName=self.table, Item=item)
        return entry

    def remove(self, account_id: str) -> bool:
        check_entry(account_id, None, None)
        old = self._call(
            "DeleteItem",
            self.client.delete_item,
            TableName=self.table,
            Key={"account_id": {"S": account_id}},
            ReturnValues="ALL_OLD",
        )
        return bool(old.get("Attributes"))

    def get(self, account_id: str) -> RegistryEntry | None:
        if not ACCOUNT_ID.match(account_id or ""):
            return None
        found = self._call(
            "GetItem",
            self.client.get_item,
            TableName=self.table,
            Key={"account_id": {"S": account_id}},
            ConsistentRead=True,
        )
        return entry_from_item(found["Item"]) if found.get("Item") else None

    def contains(self, account_id: str) -> bool:
        return self.get(account_id) is not None

    def list(self) -> list[RegistryEntry]:
        entries, kwargs = [], {"TableName": self.table, "ConsistentRead": True}
        while True:
            page = self._call("Scan", self.client.scan, **kwargs)
            entries += [entry_from_item(item) for item in page.get("Items", [])]
            if not page.get("LastEvaluatedKey"):
                return sorted(entries, key=lambda e: e.account_id)
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _call(self, op: str, fn: Callable[..., dict], **kwargs: Any) -> dict:
        from botocore.exceptions import ClientError

        missing_hint = "deploy the producer with endpoint_service.auto_approval.registry: true (privlink up)"
        try:
            return fn(**kwargs)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            hint = missing_hint if code == "ResourceNotFoundException" else None
            raise AwsError(
                f"dynamodb {op} {self.table}", exc.response["Error"].get("Message", code), hint, code
            ) from exc
        except AwsError as exc:  # the aws gateway's clients already turn ClientError into AwsError
            if exc.code == "ResourceNotFoundException":
                raise AwsError(f"dynamodb {op} {self.table}", exc.what, missing_hint, exc.code) from exc
            raise


def entry_from_item(item: dict[str, dict[str, str]]) -> RegistryEntry:
    values = {k: v.get("S") for k, v in item.items()}
    return RegistryEntry(
        account_id=values.get("account_id") or "",
        principal=values.get("principal"),
        consumer_name=values.get("consumer_name"),
        added_at=values.get("added_at") or "",
        added_by=values.get("added_by") or "",
    )


class StoredEntry(BaseModel):
    """One entry of `registry.json`, as `RegistryEntry.to_json` writes it."""

    model_config = ConfigDict(strict=True)

    account_id: str
    principal: str | None = None
    consumer_name: str | None = None
    added_at: str = ""
    added_by: str = ""


class StoredRegistry(BaseModel):
    model_config = ConfigDict(strict=True)

    version: int = 1
    consumers: dict[str, StoredEntry]


class LocalRegistry:
    """The registry of the local target: `.privlink/registry.json`, written atomically."""

    def __init__(self, state_dir: Path, added_by: str = "", clock: Clock = utc_now) -> None:
        self.path = Path(state_dir) / REGISTRY_FILE
        self.added_by = added_by
        self.clock = clock

    def _load(self) -> dict[str, RegistryEntry]:
        fix = "fix it, or delete it and add the consumers again (privlink consumers add)"
        check_state_dir(self.path.parent)
        data = read_state_json(self.path, fix)
        if data is None:
            return {}
        try:
            stored = StoredRegistry.model_validate(data)
            for key, entry in stored.consumers.items():
                check_entry(entry.account_id, entry.principal, entry.consumer_name)
                if key != entry.account_id:
                    raise ValueError(f"consumers.{key} holds account {entry.account_id}")
        except (ValueError, BadInput) as exc:
            if isinstance(exc, BadInput):
                exc = ValueError(f"consumers: {exc.one_line()}")
            raise corrupt(self.path, exc, fix) from None
        return {k: RegistryEntry(**v.model_dump()) for k, v in stored.consumers.items()}

    def _save(self, entries: dict[str, RegistryEntry]) -> None:
        data = {"version": 1, "consumers": {k: entries[k].to_json() for k in sorted(entries)}}
        write_private_text(self.path, json.dumps(data, indent=2) + "\n")

    def add(self, account_id: str, principal: str | None = None, name: str | None = None) -> RegistryEntry:
        check_entry(account_id, principal, name)
        entries = self._load()
        entry = RegistryEntry(
            account_id, principal, name, self.clock().isoformat(timespec="seconds"), self.added_by
        )
        entries[account_id] = entry
        self._save(entries)
        return entry

    def remove(self, account_id: str) -> bool:
        check_entry(account_id, None, None)
        entries = self._load()
        if entries.pop(account_id, None) is None:
            return False
        self._save(entries)
        return True

    def get(self, account_id: str) -> RegistryEntry | None:
        return self._load().get(account_id)

    def contains(self, account_id: str) -> bool:
        return self.get(account_id) is not None

    def list(self) -> list[RegistryEntry]:
        entries = self._load()
        return [entries[k] for k in sorted(entries)]


class HandlerLookup:
    """Adapts a `Registry` to what `handler.handle` reads: `get(account) -> {"principal": ...}`."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry

    def get(self, account_id: str) -> dict[str, str | None] | None:
        entry = self.registry.get(account_id)
        return None if entry is None else {"account_id": entry.account_id, "principal": entry.principal}
