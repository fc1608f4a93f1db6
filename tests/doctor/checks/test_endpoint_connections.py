"""connection-pending-acceptance, connection-rejected: the producer's view of each connection, else
the consumer endpoint's."""

from __future__ import annotations

from privlink.doctor.findings import Finding


def test_healthy(run_check):
    assert run_check("connection-pending-acceptance") == []
    assert run_check("connection-rejected") == []


def test_pending_as_the_producer_sees_it(run_check):
    assert run_check(
        "connection-pending-acceptance", {"producer/connections/0/state": "pendingAcceptance"}
    ) == [
        Finding(
            "connection-pending-acceptance",
            "error",
            "vpce-0123456789abcdef0",
            "endpoint connection vpce-0123456789abcdef0 (owner 222222222222) is pendingAcceptance; no traffic "
            "flows until the producer accepts it",
            "run `privlink connections accept vpce-0123456789abcdef0` (or keep "
            "producer.endpoint_service.auto_accept: true and run `privlink up`)",
        )
    ]


def test_pending_as_only_the_consumer_sees_it(run_check):
    patch = {"producer/connections": [], "consumers/far/endpoint/state": "pendingAcceptance"}
    assert run_check("connection-pending-acceptance", patch) == [
        Finding(
            "connection-pending-acceptance",
            "error",
            "vpce-0fedcba9876543210",
            "endpoint connection vpce-0fedcba9876543210 (consumer far) is pendingAcceptance; no traffic "
            "flows until the producer accepts it",
            "run `privlink connections accept vpce-0fedcba9876543210` (or keep "
            "producer.endpoint_service.auto_accept: true and run `privlink up`)",
        )
    ]


def test_the_producers_view_wins(run_check):
    assert (
        run_check("connection-pending-acceptance", {"consumers/dev/endpoint/state": "pendingAcceptance"})
        == []
    )


def test_rejected_connection_of_an_unknown_owner(run_check):
    stranger = {"endpoint_id": "vpce-0999999999999999a", "owner": "555555555555", "state": "rejected"}
    assert run_check("connection-rejected", {"producer/connections/-": stranger}) == [
        Finding(
            "connection-rejected",
            "error",
            "vpce-0999999999999999a",
            "endpoint connection vpce-0999999999999999a (owner 555555555555) is rejected by the producer",
            "if this endpoint is wanted, run `privlink connections accept vpce-0999999999999999a`; it is no "
            "consumer's of the spec: if AWS refuses, its owner deletes it (`aws ec2 delete-vpc-endpoints "
            "--vpc-endpoint-ids vpce-0999999999999999a`) and creates a new one",
        )
    ]


def test_rejected_as_only_the_consumer_sees_it(run_check):
    patch = {"producer/connections": [], "consumers/far/endpoint/state": "rejected"}
    assert run_check("connection-rejected", patch) == [
        Finding(
            "connection-rejected",
            "error",
            "vpce-0fedcba9876543210",
            "endpoint connection vpce-0fedcba9876543210 (consumer far) is rejected by the producer",
            "if consumer far is wanted, run `privlink connections accept vpce-0fedcba9876543210`; if AWS "
            "refuses, remove consumers[far] from the spec and run `privlink up` (it deletes what the spec "
            "no longer has), then put it back and run `privlink up` again for a new endpoint",
        )
    ]
