"""What privlink's shipped data files should hold, read from the installed packages they come from.

`src/privlink/data/handler_permissions.json` is the create, read, update and delete handler
permissions of every resource type privlink renders, as cfn-lint's bundled CloudFormation resource
schemas list them (`tests/test_permissions.py` fails when they differ). Regenerate it after a
cfn-lint upgrade with:

    python tests/schema_data.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from privlink.permissions import HANDLER_PERMISSIONS_PATH, PHASES, RENDERED_TYPES  # noqa: E402

# Resource schemas are per region; handler permissions do not differ between regions (checked by
# `test_handler_permissions_are_the_same_in_every_region`), so one region stands for all.
SCHEMA_REGION = "us-east-1"


def schema(resource_type: str, region: str = SCHEMA_REGION) -> dict[str, Any]:
    """The CloudFormation resource schema of `resource_type` as cfn-lint ships it."""
    from cfnlint.schema.manager import PROVIDER_SCHEMA_MANAGER

    return PROVIDER_SCHEMA_MANAGER.get_resource_schema(region, resource_type).schema


def handler_permissions(resource_type: str, region: str = SCHEMA_REGION) -> dict[str, list[str]]:
    """`{phase: [permission, ...]}` of the type's create, read, update and delete handlers ({} for a
    type whose schema lists no handlers)."""
    handlers = schema(resource_type, region).get("handlers") or {}
    return {phase: list(handlers[phase].get("permissions", [])) for phase in PHASES if phase in handlers}


def shipped_data() -> dict[str, Any]:
    from importlib.metadata import version

    return {
        "source": f"cfn-lint {version('cfn-lint')} resource schemas ({SCHEMA_REGION}), handlers.<phase>.permissions",
        "regenerate": "python tests/schema_data.py",
        "types": {t: handler_permissions(t) for t in sorted(RENDERED_TYPES)},
    }


def main() -> None:
    HANDLER_PERMISSIONS_PATH.write_text(json.dumps(shipped_data(), indent=1) + "\n", encoding="utf-8")
    print(HANDLER_PERMISSIONS_PATH)


if __name__ == "__main__":
    main()
