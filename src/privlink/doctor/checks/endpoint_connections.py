"""connection-pending-acceptance, connection-rejected: the endpoint connections the producer has not
accepted, as the producer sees them (else as the consumer's endpoint does)."""

from __future__ import annotations

from privlink.doctor.check import Check, FindingKind
from privlink.doctor.consumers import with_endpoint
from privlink.doctor.findings import Finding
from privlink.observe.model import Observation

FIX_ACCEPT = (
    "run `privlink connections accept {endpoint_id}` (or keep "
    "producer.endpoint_service.auto_accept: true and run `privlink up`)"
)
FIX_REJECTED = (
    "if consumer {consumer} is wanted, run `privlink connections accept {endpoint_id}`; if AWS refuses, "
    "remove consumers[{consumer}] from the spec and run `privlink up` (it deletes what the spec no "
    "longer has), then put it back and run `privlink up` again for a new endpoint"
)
FIX_REJECTED_UNDECLARED = (
    "if this endpoint is wanted, run `privlink connections accept {endpoint_id}`; it is no consumer's of "
    "the spec: if AWS refuses, its owner deletes it (`aws ec2 delete-vpc-endpoints --vpc-endpoint-ids "
    "{endpoint_id}`) and creates a new one"
)
CONFIRM = (
    "aws ec2 describe-vpc-endpoint-connections --filters Name=service-id,Values=<service id> "
    "--query 'VpcEndpointConnections[].[VpcEndpointId,VpcEndpointOwner,VpcEndpointState]'"
)

CONNECTION_PENDING_ACCEPTANCE = FindingKind(
    "connection-pending-acceptance",
    ("error",),
    "An endpoint connection waits for the producer to accept it.",
    "An endpoint service that requires acceptance (`AcceptanceRequired`) holds every new interface "
    "endpoint in `pendingAcceptance` until the service owner accepts it; until then the endpoint has "
    "no working network interfaces and connections to it fail. privlink accepts the connections of "
    "declared consumers during `privlink up` when `auto_accept` is on; a connection made later, or by "
    "an endpoint privlink did not create, waits.",
    CONFIRM,
    (FIX_ACCEPT,),
)
CONNECTION_REJECTED = FindingKind(
    "connection-rejected",
    ("error",),
    "The producer rejected an endpoint connection.",
    "The service owner rejected the interface endpoint's connection request "
    "(`RejectVpcEndpointConnections`), so the endpoint carries no traffic to the service. The "
    "evidence names the endpoint and the account that owns it. The owner may accept it again; when "
    "AWS refuses, the consumer deletes the endpoint and creates it anew: for a consumer of the spec, "
    "`privlink up` without it deletes its stacks, and `privlink up` with it back creates them anew.",
    CONFIRM,
    (FIX_REJECTED, FIX_REJECTED_UNDECLARED),
)


def connection_states(obs: Observation) -> dict[str, tuple[str, str]]:
    """endpoint ID -> (state, who saw it): the producer's view, else the consumer endpoint's."""
    states = {c.endpoint_id: (c.state, f"owner {c.owner}") for c in obs.producer.connections}
    for consumer, endpoint in with_endpoint(obs):
        states.setdefault(endpoint.id, (endpoint.state, f"consumer {consumer.name}"))
    return states


def connection_pending_acceptance(obs: Observation) -> list[Finding]:
    return [
        CONNECTION_PENDING_ACCEPTANCE.finding(
            "error",
            endpoint_id,
            f"endpoint connection {endpoint_id} ({who}) is pendingAcceptance; no traffic flows until "
            "the producer accepts it",
            FIX_ACCEPT.format(endpoint_id=endpoint_id),
        )
        for endpoint_id, (state, who) in connection_states(obs).items()
        if state.lower() == "pendingacceptance"
    ]


def owners(obs: Observation) -> dict[str, str]:
    """endpoint ID -> the name of the consumer whose endpoint it is (its stack output, else its own)."""
    found = {c.endpoint_id_expected: c.name for c in obs.consumers if c.endpoint_id_expected}
    found.update({endpoint.id: consumer.name for consumer, endpoint in with_endpoint(obs)})
    return found


def connection_rejected(obs: Observation) -> list[Finding]:
    found = []
    consumers = owners(obs)
    for endpoint_id, (state, who) in connection_states(obs).items():
        if state.lower() != "rejected":
            continue
        consumer = consumers.get(endpoint_id)
        fix = (
            FIX_REJECTED.format(endpoint_id=endpoint_id, consumer=consumer)
            if consumer
            else FIX_REJECTED_UNDECLARED.format(endpoint_id=endpoint_id)
        )
        found.append(
            CONNECTION_REJECTED.finding(
                "error",
                endpoint_id,
                f"endpoint connection {endpoint_id} ({who}) is rejected by the producer",
                fix,
            )
        )
    return found


CHECKS = (
    Check("connection-pending-acceptance", connection_pending_acceptance, (CONNECTION_PENDING_ACCEPTANCE,)),
    Check("connection-rejected", connection_rejected, (CONNECTION_REJECTED,)),
)
