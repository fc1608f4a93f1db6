"""Running the approval handler against the local sandbox instead of EC2.

The local engine keeps endpoint connections in its simulated world. `SandboxEc2` presents them
with the two EC2 calls the handler makes (AWS request and response shapes, including filters and
paging), so the local target runs the very same `handler.handle` the Lambda runs:

    ec2 = SandboxEc2(list_connections=world_connections, accept=world_accept)
    handle(event, ec2, HandlerLookup(LocalRegistry(state_dir)), service_id)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from privlink.approval.handler import handle
from privlink.approval.registry import HandlerLookup, Registry

FILTER_FIELDS = {
    "service-id": "ServiceId",
    "vpc-endpoint-id": "VpcEndpointId",
    "vpc-endpoint-state": "VpcEndpointState",
    "vpc-endpoint-owner": "VpcEndpointOwner",
}


class SandboxEc2:
    """DescribeVpcEndpointConnections / AcceptVpcEndpointConnections over the sandbox's connections.

    `list_connections()` returns VpcEndpointConnection dicts; `accept(service_id, endpoint_ids)`
    accepts them in the world and returns the `Unsuccessful` items (empty when all succeeded).
    """

    def __init__(
        self,
        list_connections: Callable[[], list[dict[str, Any]]],
        accept: Callable[[str, list[str]], list[dict[str, Any]]],
    ) -> None:
        self.list_connections = list_connections
        self.accept = accept

    def describe_vpc_endpoint_connections(
        self,
        Filters: list[dict] | None = None,
        MaxResults: int = 1000,
        NextToken: str | None = None,  # noqa: N803
    ) -> dict[str, Any]:
        wanted = [(FILTER_FIELDS[f["Name"]], set(f["Values"])) for f in Filters or []]
        matches = [c for c in self.list_connections() if all(c.get(key) in values for key, values in wanted)]
        start = int(NextToken or 0)
        page = matches[start : start + MaxResults]
        more = start + MaxResults < len(matches)
        return {"VpcEndpointConnections": page, **({"NextToken": str(start + MaxResults)} if more else {})}

    def accept_vpc_endpoint_connections(self, ServiceId: str, VpcEndpointIds: list[str]) -> dict[str, Any]:  # noqa: N803
        return {"Unsuccessful": self.accept(ServiceId, list(VpcEndpointIds))}


def approve_in_sandbox(
    event: dict[str, Any], ec2: SandboxEc2, registry: Registry, service_id: str
) -> dict[str, str]:
    """What the Lambda would decide for `event` in the sandbox; the accepted ones are accepted."""
    return handle(event, ec2, HandlerLookup(registry), service_id)
