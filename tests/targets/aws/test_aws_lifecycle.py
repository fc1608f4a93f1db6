"""The AWS rules the lifecycle plan follows, on the aws executor against the fake AWS (real templates,
threads; a virtual clock where time matters)."""

from __future__ import annotations

import json

import pytest
import yaml
from fake_aws import FakeWorld
from moto import mock_aws
from virtual_clock import VirtualClock

from privlink.errors import AwsError, BadInput, DeployFailed, StateError
from privlink.spec import validate_spec
from privlink.spec.demo import demo_spec_text
from privlink.targets.aws import handlers as aws_handlers
from privlink.targets.aws.target import AwsTarget

PROD, DEV, QA = "111111111111", "222222222222", "333333333333"
PRODUCER, NETWORK = "privlink-hello-producer", "privlink-hello-network-dev"
CONSUMER, VPN = "privlink-hello-consumer-dev", "privlink-hello-vpn-dev"


def demo(edit=None, cross_region=False):
    data = yaml.safe_load(demo_spec_text(cross_region=cross_region))
    data["target"] = "aws"
    data["accounts"] = {
        "prod": {"profile": "prod", "account_id": PROD},
        "dev": {"profile": "dev", "account_id": DEV},
        "qa": {"profile": "qa", "account_id": QA},
    }
    if edit:
        edit(data)
    return validate_spec(data)


@pytest.fixture
def world():
    with mock_aws():  # ACM (certificate import and delete) is moto's
        yield FakeWorld({"prod": PROD, "dev": DEV, "qa": QA})


def make_target(spec, world, tmp_path, clock, **kw):
    return AwsTarget(
        spec,
        tmp_path / ".privlink",
        session_factory=world.session_factory,
        sleep=clock.sleep,
        clock=clock.now,
        poll_delay=kw.pop("poll_delay", 0.01),
        **kw,
    )


def executed(world, stack):
    """The parameters of each executed change set of `stack`, in order."""
    found = []
    created = {}
    for call in world.calls:
        if call.operation == "CreateChangeSet" and call.params["StackName"] == stack:
            created[call.params["ChangeSetName"]] = {
                p["ParameterKey"]: p["ParameterValue"] for p in call.params.get("Parameters", [])
            }
        if call.operation == "ExecuteChangeSet" and call.params["ChangeSetName"].split("/")[-1] in created:
            found.append(created[call.params["ChangeSetName"].split("/")[-1]])
    return found


def index(world, operation, stack="", nth=0):
    hits = [
        i
        for i, c in enumerate(world.calls)
        if c.operation == operation and (not stack or c.params.get("StackName") == stack)
    ]
    return hits[nth]


# -- private DNS only after acceptance --------------------------------------------------------------
def private_dns(data):
    data["producer"]["endpoint_service"]["private_dns_name"] = "hello.example.com"
    data["consumers"][0]["private_dns_enabled"] = True


def test_private_dns_is_turned_on_by_a_stack_update_after_the_connection_is_accepted(world, tmp_path, clock):
    target = make_target(demo(private_dns), world, tmp_path, clock)
    target.up()
    runs = executed(world, CONSUMER)
    assert [r["PrivateDnsEnabled"] for r in runs] == ["false", "true"]  # created off, then updated
    accept = index(world, "AcceptVpcEndpointConnections")
    second = [
        i
        for i, c in enumerate(world.calls)
        if c.operation == "ExecuteChangeSet" and c.params["StackName"] == CONSUMER
    ][1]
    assert accept < second  # the update only after the acceptance ...
    endpoint = world.find("dev", "eu-central-1", CONSUMER).outputs["EndpointId"]
    polls = [i for i, c in enumerate(world.calls) if c.operation == "DescribeVpcEndpointConnections"]
    assert any(accept < i < second for i in polls)  # ... and after seeing the connection available
    assert world.connections[endpoint]["VpcEndpointState"] == "available"

    world.calls.clear()
    report = target.plan()  # a re-run keeps private DNS on: no off-and-on, no change
    assert "enable-private-dns:dev" not in [s.id for s in report.plan.steps]
    assert [c.action for c in report.lines()] == ["No change"] * 4


@pytest.mark.timeout(60)
def test_a_consumer_stack_that_waits_for_its_acceptance_is_accepted_while_it_is_created(
    world, tmp_path, clock
):
    """Whether CloudFormation completes an endpoint in pendingAcceptance is UNCONFIRMED: when it waits,
    the plan's consumer deploy step accepts declared consumers' connections meanwhile."""
    world.endpoints_wait_for_acceptance = True
    target = make_target(demo(), world, tmp_path, clock)
    report = target.up()
    assert report["consumers"][0]["endpoint_state"] == "available"
    step = target.lifecycle()[0].step(f"deploy:{CONSUMER}")
    assert step.argument_values == {"accept_while_creating": "true"}
    accept = index(world, "AcceptVpcEndpointConnections")
    done = next(
        i
        for i, c in enumerate(world.calls)
        if c.operation == "DescribeStacks" and i > accept and c.params.get("StackName", "").startswith("arn:")
    )
    assert index(world, "ExecuteChangeSet", CONSUMER) < accept < done


# -- Client VPN mutations one at a time -----------------------------------------------------------
def two_vpns(account):
    def edit(data):
        second = dict(data["consumers"][0], name="qa", account=account)
        second["vpc"] = {"cidr": "10.30.0.0/16", "azs": 2}
        data["consumers"].append(second)

    return edit


@pytest.mark.timeout(60)
@pytest.mark.parametrize("account, serial", [("dev", True), ("qa", False)])
def test_client_vpn_stacks_of_one_account_and_region_never_overlap(world, tmp_path, account, serial):
    clock = VirtualClock()
    world.clock = clock.now
    target = make_target(demo(two_vpns(account)), world, tmp_path, clock, poll_delay=5, hooks=clock)
    ended = {}
    original = world.complete

    def complete(stack):
        ended[stack.name] = clock.now()
        original(stack)

    world.complete = complete
    target.up()
    dev, qa = ended["privlink-hello-vpn-dev"], ended["privlink-hello-vpn-qa"]
    if serial:  # 670 s each: the second Client VPN starts when the first is done
        assert qa - dev >= 670
    else:  # other accounts: both at once
        assert dev == qa


# -- certificates ---------------------------------------------------------------------------------
def test_down_retries_a_certificate_acm_still_sees_in_use_with_bounded_backoff(
    world, tmp_path, clock, monkeypatch
):
    target = make_target(demo(), world, tmp_path, clock)
    target.up()
    real = aws_handlers.steps.delete_certificate
    refusals = {"left": 2}

    def in_use_for_a_while(acm, arn):
        if refusals["left"]:
            refusals["left"] -= 1
            raise AwsError(
                "aws acm:DeleteCertificate", f"Certificate {arn} is in use.", code="ResourceInUseException"
            )
        return real(acm, arn)

    monkeypatch.setattr(aws_handlers.steps, "delete_certificate", in_use_for_a_while)
    clock.sleeps.clear()
    lines = []
    target.down(lines.append)
    assert [s for s in clock.sleeps if s >= 5] == [5.0, 10.0]  # backoff, then it went
    assert sum("is still in use; retrying" in line for line in lines) == 2
    acm = target.gateway.client("acm", "dev", "eu-central-1").raw
    assert acm.list_certificates()["CertificateSummaryList"] == []

    target.up()
    monkeypatch.setattr(
        aws_handlers.steps,
        "delete_certificate",
        lambda acm, arn: (_ for _ in ()).throw(
            AwsError("aws acm:DeleteCertificate", "in use", code="ResourceInUseException")
        ),
    )
    with pytest.raises(AwsError, match="in use"):
        target.down(lines.append)
    assert clock.now() <= 10_000  # bounded: it gave up


def test_certificates_recorded_in_state_go_with_down_even_when_the_spec_forgot_the_consumer(
    world, tmp_path, clock
):
    target = make_target(demo(), world, tmp_path, clock)
    target.up()
    state = json.loads((tmp_path / ".privlink" / "aws.json").read_text())
    arns = state["certificates"]["dev"]["arns"]
    no_consumers = demo(lambda d: d.update(consumers=[]))
    make_target(no_consumers, world, tmp_path, clock).down(lambda line: None)
    deleted = [c.params["CertificateArn"] for c in world.calls if c.operation == "DeleteCertificate"]
    assert sorted(deleted) == sorted(arns)
    assert world.ops("DeleteStack").count(("DeleteStack", "dev", VPN)) == 1


# -- stacks that need a hand ----------------------------------------------------------------------
def test_a_producer_delete_that_fails_on_a_new_connection_rejects_again_and_retries_once(
    world, tmp_path, clock
):
    target = make_target(demo(), world, tmp_path, clock)
    target.up()
    world.calls.clear()
    world.fail_delete[PRODUCER] = "Service has existing active VPC Endpoint connections"
    lines = []
    target.down(lines.append)
    ops = world.ops("DeleteStack", "RejectVpcEndpointConnections")
    producer = [i for i, op in enumerate(ops) if op == ("DeleteStack", "prod", PRODUCER)]
    assert len(producer) == 2
    assert ("RejectVpcEndpointConnections", "prod", "") in ops[producer[0] + 1 : producer[1]]
    assert any("DELETE_FAILED; rejecting connections again and retrying once" in line for line in lines)
    assert world.find("prod", "eu-central-1", PRODUCER) is None


def test_a_stack_in_update_rollback_failed_stops_up_with_the_command_before_anything_runs(
    world, tmp_path, clock
):
    target = make_target(demo(), world, tmp_path, clock)
    target.up()
    world.find("dev", "eu-central-1", NETWORK).status = "UPDATE_ROLLBACK_FAILED"
    world.calls.clear()
    with pytest.raises(DeployFailed) as info:
        target.up()
    assert info.value.where == NETWORK
    assert info.value.hint.startswith(
        f"aws cloudformation continue-update-rollback --stack-name {NETWORK} --region eu-central-1"
    )
    assert [c for c in world.calls if c.operation in ("CreateChangeSet", "ImportCertificate")] == []


def test_a_deployment_with_the_earlier_layout_is_told_to_run_down_first(world, tmp_path, clock):
    target = make_target(demo(), world, tmp_path, clock)
    target.up()
    consumer = world.find("dev", "eu-central-1", CONSUMER)
    consumer.parameters = {"ServiceName": "x", "ServiceAvailabilityZoneIds": "a,b"}  # it held the VPC
    world.calls.clear()
    with pytest.raises(StateError, match="holds the VPC that privlink-hello-network-dev now holds") as info:
        target.up()
    assert info.value.hint == "run privlink down, then privlink up" and info.value.exit_code == 2
    assert [c for c in world.calls if c.operation == "CreateChangeSet"] == []


# -- AZ IDs ---------------------------------------------------------------------------------------
def test_an_existing_consumer_vpc_outside_the_services_az_ids_is_bad_input_before_anything(
    world, tmp_path, clock
):
    subnets = ["subnet-0bbbbbbbbbbbbbbb1", "subnet-0bbbbbbbbbbbbbbb2"]

    def existing(data):
        data["consumers"][0]["vpc"] = {"id": "vpc-0bbbbbbbbbbbbbbbb", "subnet_ids": subnets}

    world.zones[("prod", "eu-central-1")] = {
        "eu-central-1a": "euc1-az2",
        "eu-central-1b": "euc1-az3",
        "eu-central-1c": "euc1-az1",
    }
    world.subnets = {subnets[0]: "euc1-az2", subnets[1]: "euc1-az1"}
    target = make_target(demo(existing), world, tmp_path, clock)
    with pytest.raises(BadInput) as info:
        target.up()
    assert info.value.where == "consumers[0].vpc.subnet_ids"
    assert (
        info.value.what
        == f"{subnets[1]} is in euc1-az1; the service's load balancer is only in euc1-az2, euc1-az3"
    )
    assert [c for c in world.calls if c.operation in ("CreateChangeSet", "ImportCertificate")] == []


# -- privlink test over the VPN -------------------------------------------------------------------
def test_the_probe_asks_the_consumer_vpcs_resolver(world, tmp_path, clock):
    target = make_target(demo(), world, tmp_path, clock)
    target.up()
    resolver, names, port = target.probe_plan("dev")
    assert (resolver, names, port) == ("10.10.0.2", ["hello.internal.company"], 8080)
