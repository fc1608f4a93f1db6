"""Auto-approval Lambda: accepts endpoint connections from consumers listed in a registry table.

Dependency-free (boto3 only, which Lambda ships): this file is deployed as the function's inline
code, so it must not import privlink. `handle(event, ec2, registry)` is the pure core; the entry
point `lambda_handler` creates the clients.

The SNS envelope (Records[].Sns.Message) is documented; the body of an endpoint connection
notification is not. So the body is only a trigger: the handler reads the connection back with
DescribeVpcEndpointConnections (owner and state from there, never from the message) and accepts
it only when it is pendingAcceptance and its owner account is registered. A body naming an
endpoint (VpcEndpointId/vpcEndpointId/endpointId) reconciles that endpoint; any other body is
logged as unrecognised and triggers a sweep of the service's pending connections. Re-running is
harmless: accepted connections are no longer pendingAcceptance.

AWS errors propagate, and so does an endpoint the API does not list yet (eventual consistency):
`lambda_handler` then fails and Lambda retries the asynchronous SNS invocation (twice by default),
which is safe because handling is idempotent.
"""

import json
import os

PENDING = "pendingAcceptance"
ID_KEYS = ("vpcendpointid", "endpointid")
EVENT_KEYS = ("eventtype", "event", "connectionevent")
PRINCIPAL_KEYS = ("principal", "principalarn")


def log(level, msg, **fields):
    """One JSON line per event; only IDs, accounts, states and principals, never credentials."""
    print(json.dumps({"level": level, "msg": msg, **fields}, default=str))


def principal_allowed(registered, seen):
    """A registered principal must match the one the notification names, when it names one."""
    return not registered or not seen or registered == seen


def pick(body, keys):
    for key, value in (body or {}).items():
        if key.lower() in keys and isinstance(value, str) and value:
            return value
    return None


def parse(record):
    """The notification body of one SNS record as a dict, or None when it is not JSON."""
    message = (record.get("Sns") or {}).get("Message") if isinstance(record, dict) else None
    try:
        body = json.loads(message) if isinstance(message, str) else None
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


class TableRegistry:
    """The registry table read with GetItem (key `account_id`)."""

    def __init__(self, client, table):
        self.client, self.table = client, table

    def get(self, account_id):
        item = self.client.get_item(
            TableName=self.table, Key={"account_id": {"S": account_id}}, ConsistentRead=True
        ).get("Item")
        return {k: v.get("S") for k, v in item.items()} if item else None


def reconcile(ec2, registry, service_id, endpoint_id=None, principal=None):
    """Accept the service's pending connections whose owner is registered; return the decisions.

    With `endpoint_id`, only that connection; "not-found" when the API does not list it (yet).
    """
    filters = [{"Name": "service-id", "Values": [service_id]}]
    if endpoint_id:
        filters.append({"Name": "vpc-endpoint-id", "Values": [endpoint_id]})
    else:
        filters.append({"Name": "vpc-endpoint-state", "Values": [PENDING]})
    found, kw = [], {"Filters": filters, "MaxResults": 1000}
    while kw.get("NextToken", 1):
        page = ec2.describe_vpc_endpoint_connections(**kw)
        found += page.get("VpcEndpointConnections", [])
        kw["NextToken"] = page.get("NextToken")
    out, accept = {endpoint_id: "not-found"} if endpoint_id and not found else {}, []
    for conn in found:
        eid, owner = conn["VpcEndpointId"], conn.get("VpcEndpointOwner", "")
        if conn.get("VpcEndpointState") != PENDING:
            out[eid] = "not-pending"
        elif (entry := registry.get(owner) if owner else None) is None:
            out[eid] = "unregistered"
        elif not principal_allowed(entry.get("principal"), principal):
            out[eid] = "principal-mismatch"
        else:
            accept.append(eid)
            continue
        log("info", out[eid], endpoint=eid, owner=owner, principal=principal)
    if accept:
        failed = ec2.accept_vpc_endpoint_connections(ServiceId=service_id, VpcEndpointIds=accept)
        failed = {f.get("ResourceId"): f.get("Error", {}) for f in failed.get("Unsuccessful", [])}
        for eid in accept:
            out[eid] = "failed" if eid in failed else "accepted"
            code = failed.get(eid, {}).get("Code")
            log("error" if code else "info", out[eid], endpoint=eid, service=service_id, code=code)
    return out


def handle(event, ec2, registry, service_id):
    """Handle one Lambda event (SNS records, or {"sweep": true}); return {endpoint: decision}."""
    records = event.get("Records") if isinstance(event, dict) else None
    if not isinstance(records, list):
        if isinstance(event, dict) and event.get("sweep"):
            return reconcile(ec2, registry, service_id)
        log("warning", "not SNS")
        return {}
    out, sweep = {}, False
    for record in records:
        body = parse(record)
        kind, eid, other = pick(body, EVENT_KEYS), pick(body, ID_KEYS), pick(body, ("serviceid",))
        if other and other != service_id:
            log("warning", "other service", service=other)
        elif eid and (kind or "Connect").capitalize() == "Connect":
            out.update(reconcile(ec2, registry, service_id, eid, pick(body, PRINCIPAL_KEYS)))
        elif eid:
            log("info", "event", event=kind, endpoint=eid)
        else:
            log("warning", "unrecognised notification; sweeping", keys=len(body or ()))
            sweep = True
    if sweep:
        out.update(reconcile(ec2, registry, service_id))
    return out


def lambda_handler(event, context):
    import boto3

    ec2 = boto3.client("ec2")
    registry = TableRegistry(boto3.client("dynamodb"), os.environ["REGISTRY_TABLE"])
    out = handle(event, ec2, registry, os.environ["SERVICE_ID"])
    if "not-found" in out.values():
        raise RuntimeError("endpoint not listed yet; failing so that Lambda retries the event")
    return out
