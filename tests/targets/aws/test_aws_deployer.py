from __future__ import annotations

import datetime as dt

import boto3
import pytest
from moto import mock_aws

from privlink.errors import DeployFailed
from privlink.targets.aws.deployer import Deployer
from privlink.targets.aws.gateway import ClientProxy

TOPIC = {
    "Resources": {"Topic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "privlink-t"}}},
}
TOPIC_AND_VPC = {
    "Resources": {
        **TOPIC["Resources"],
        "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.20.0.0/16"}},
    },
}
REGION = "eu-central-1"
ARN = "arn:aws:cloudformation:eu-central-1:111111111111"
STACK_ID = f"{ARN}:stack/privlink-x-producer/0a1b2c3d-1111-2222-3333-444455556666"
CS_ID = f"{ARN}:changeSet/privlink-abc/0a1b2c3d-1111-2222-3333-444455556667"
NOW = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)


@pytest.fixture
def moto_deployer(clock):
    with mock_aws():
        raw = boto3.session.Session(region_name=REGION).client("cloudformation", region_name=REGION)
        lines: list[str] = []
        deployer = Deployer(
            ClientProxy(raw, "cloudformation", "prod", REGION),
            lines.append,
            sleep=clock.sleep,
            clock=clock.now,
            poll_delay=5,
        )
        deployer.lines = lines
        yield deployer, raw


def test_create_update_noop_and_delete_on_moto(moto_deployer):
    deployer, raw = moto_deployer
    created = deployer.create_change_set("privlink-x-producer", TOPIC, {}, {"privlink:link": "x"})
    assert created.change_set_type == "CREATE" and not created.no_changes
    assert [(c.action, c.logical_id, c.resource_type) for c in created.changes] == [
        ("Create stack", "", ""),
        ("Add", "Topic", "AWS::SNS::Topic"),
    ]
    deployer.execute(created)
    assert (
        raw.describe_stacks(StackName="privlink-x-producer")["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"
    )
    assert any("CREATE_COMPLETE" in line and "AWS::CloudFormation::Stack" in line for line in deployer.lines)

    same = deployer.create_change_set("privlink-x-producer", TOPIC, {}, {"privlink:link": "x"})
    assert same.no_changes and same.change_set_type == "UPDATE"
    left = raw.list_change_sets(StackName="privlink-x-producer")["Summaries"]
    assert [c["ExecutionStatus"] for c in left] == ["EXECUTE_COMPLETE"]  # the empty one was deleted

    update = deployer.create_change_set("privlink-x-producer", TOPIC_AND_VPC, {}, {})
    assert [(c.action, c.logical_id) for c in update.changes] == [("Add", "Vpc")]
    deployer.execute(update)
    assert (
        raw.describe_stacks(StackName="privlink-x-producer")["Stacks"][0]["StackStatus"] == "UPDATE_COMPLETE"
    )

    assert deployer.delete_stack("privlink-x-producer") is True
    assert deployer.describe_stack("privlink-x-producer") is None
    assert deployer.delete_stack("privlink-x-producer") is False  # already gone: tolerated


def test_a_plan_only_change_set_leaves_nothing_behind(moto_deployer):
    deployer, raw = moto_deployer
    result = deployer.create_change_set("privlink-x-consumer-dev", TOPIC, {}, {})
    deployer.discard(result)
    assert deployer.describe_stack("privlink-x-consumer-dev") is None


def stack(status):
    return {
        "Stacks": [
            {
                "StackId": STACK_ID,
                "StackName": "privlink-x-producer",
                "CreationTime": NOW,
                "StackStatus": status,
            }
        ]
    }


def ev(i, status, logical="privlink-x-producer", rtype="AWS::CloudFormation::Stack", reason=None):
    e = {
        "EventId": f"ev-{i}",
        "StackId": STACK_ID,
        "StackName": "privlink-x-producer",
        "LogicalResourceId": logical,
        "ResourceType": rtype,
        "Timestamp": NOW + dt.timedelta(seconds=i),
        "ResourceStatus": status,
    }
    if reason:
        e["ResourceStatusReason"] = reason
    return e


def stub_change_set(stub, kind):
    stub.add_response("create_change_set", {"Id": CS_ID, "StackId": STACK_ID})
    stub.add_response(
        "describe_change_set",
        {
            "ChangeSetId": CS_ID,
            "StackName": "privlink-x-producer",
            "Status": "CREATE_PENDING",
            "ExecutionStatus": "UNAVAILABLE",
        },
    )
    stub.add_response(
        "describe_change_set",
        {
            "ChangeSetId": CS_ID,
            "StackName": "privlink-x-producer",
            "Status": "CREATE_COMPLETE",
            "ExecutionStatus": "AVAILABLE",
            "Changes": [
                {
                    "Type": "Resource",
                    "ResourceChange": {
                        "Action": "Add",
                        "LogicalResourceId": "Service",
                        "ResourceType": "AWS::EC2::VPCEndpointService",
                    },
                }
            ],
        },
    )


def test_failed_create_names_the_resource_and_reason(stubbed, clock):
    cfn, stub = stubbed("cloudformation")
    stub.add_client_error(
        "describe_stacks", "ValidationError", "Stack with id privlink-x-producer does not exist"
    )
    stub_change_set(stub, "CREATE")
    stub.add_response("describe_stack_events", {"StackEvents": [ev(0, "REVIEW_IN_PROGRESS")]})
    stub.add_response("execute_change_set", {})
    reason = (
        'Resource handler returned message: "User: arn:aws:sts::111111111111:assumed-role/dev/privlink '
        'is not authorized to perform: vpce:AllowMultiRegion"'
    )
    stub.add_response(
        "describe_stack_events",
        {"StackEvents": [ev(2, "CREATE_IN_PROGRESS", reason="User Initiated"), ev(0, "REVIEW_IN_PROGRESS")]},
    )
    stub.add_response("describe_stacks", stack("CREATE_IN_PROGRESS"))
    stub.add_response(
        "describe_stack_events",
        {
            "StackEvents": [
                ev(6, "ROLLBACK_COMPLETE"),
                ev(5, "DELETE_COMPLETE", "Service", "AWS::EC2::VPCEndpointService"),
                ev(
                    4, "ROLLBACK_IN_PROGRESS", reason="The following resource(s) failed to create: [Service]."
                ),
                ev(3, "CREATE_FAILED", "Service", "AWS::EC2::VPCEndpointService", reason),
                ev(2, "CREATE_IN_PROGRESS", reason="User Initiated"),
            ]
        },
    )
    stub.add_response("describe_stacks", stack("ROLLBACK_COMPLETE"))
    lines = []
    deployer = Deployer(cfn, lines.append, sleep=clock.sleep, clock=clock.now, poll_delay=5)
    with pytest.raises(DeployFailed) as info:
        deployer.deploy("privlink-x-producer", {"Resources": {}}, {}, {})
    assert info.value.where == "privlink-x-producer"
    assert info.value.what.startswith(
        "ROLLBACK_COMPLETE; Service (AWS::EC2::VPCEndpointService): Resource handler"
    )
    assert "vpce:AllowMultiRegion" in info.value.what
    assert info.value.exit_code == 1
    assert [line.split()[1] for line in lines if line.startswith("  ")] == [
        "CREATE_IN_PROGRESS",
        "CREATE_FAILED",
        "ROLLBACK_IN_PROGRESS",
        "DELETE_COMPLETE",
        "ROLLBACK_COMPLETE",
    ]
    assert clock.sleeps == [5, 5]  # one wait for the change set, one between event polls


def test_rollback_complete_stack_is_deleted_then_recreated(stubbed, clock):
    cfn, stub = stubbed("cloudformation")
    stub.add_response("describe_stacks", stack("ROLLBACK_COMPLETE"))
    # delete_stack: describe, marker, delete, stream until gone
    stub.add_response("describe_stacks", stack("ROLLBACK_COMPLETE"))
    stub.add_response("describe_stack_events", {"StackEvents": [ev(1, "ROLLBACK_COMPLETE")]})
    stub.add_response("delete_stack", {})
    stub.add_response(
        "describe_stack_events", {"StackEvents": [ev(3, "DELETE_COMPLETE"), ev(2, "DELETE_IN_PROGRESS")]}
    )
    stub.add_response("describe_stacks", stack("DELETE_COMPLETE"))
    stub_change_set(stub, "CREATE")
    deployer = Deployer(cfn, sleep=clock.sleep, clock=clock.now, poll_delay=5)
    result = deployer.create_change_set("privlink-x-producer", {"Resources": {}}, {}, {})
    assert result.change_set_type == "CREATE"
    assert [c.action for c in result.changes] == ["Create stack", "Add"]


def test_a_create_left_rolling_back_by_an_earlier_run_is_waited_for_then_recreated(stubbed, clock):
    """An `up` interrupted while the first create failed: the stack is still ROLLBACK_IN_PROGRESS."""
    cfn, stub = stubbed("cloudformation")
    stub.add_response("describe_stacks", stack("ROLLBACK_IN_PROGRESS"))
    # wait: marker, then events until the stack settles
    stub.add_response("describe_stack_events", {"StackEvents": [ev(4, "ROLLBACK_IN_PROGRESS")]})
    stub.add_response("describe_stack_events", {"StackEvents": [ev(4, "ROLLBACK_IN_PROGRESS")]})
    stub.add_response("describe_stacks", stack("ROLLBACK_IN_PROGRESS"))
    stub.add_response(
        "describe_stack_events", {"StackEvents": [ev(5, "ROLLBACK_COMPLETE"), ev(4, "ROLLBACK_IN_PROGRESS")]}
    )
    stub.add_response("describe_stacks", stack("ROLLBACK_COMPLETE"))
    # then as any ROLLBACK_COMPLETE stack: deleted and created anew
    stub.add_response("describe_stacks", stack("ROLLBACK_COMPLETE"))
    stub.add_response("describe_stack_events", {"StackEvents": [ev(5, "ROLLBACK_COMPLETE")]})
    stub.add_response("delete_stack", {})
    stub.add_response(
        "describe_stack_events", {"StackEvents": [ev(7, "DELETE_COMPLETE"), ev(6, "DELETE_IN_PROGRESS")]}
    )
    stub.add_response("describe_stacks", stack("DELETE_COMPLETE"))
    stub_change_set(stub, "CREATE")
    lines = []
    deployer = Deployer(cfn, lines.append, sleep=clock.sleep, clock=clock.now, poll_delay=5)
    result = deployer.create_change_set("privlink-x-producer", {"Resources": {}}, {}, {})
    assert result.change_set_type == "CREATE"
    assert (
        lines[0] == "privlink-x-producer: ROLLBACK_IN_PROGRESS from an earlier run; waiting for it to finish"
    )
    assert "privlink-x-producer: ROLLBACK_COMPLETE from an earlier failed create; deleting it first" in lines
    stub.assert_no_pending_responses()


def test_change_set_wait_times_out_and_says_what_it_waited_for(stubbed, clock):
    cfn, stub = stubbed("cloudformation")
    stub.add_client_error(
        "describe_stacks", "ValidationError", "Stack with id privlink-x-producer does not exist"
    )
    stub.add_response("create_change_set", {"Id": CS_ID, "StackId": STACK_ID})
    for _ in range(3):
        stub.add_response("describe_change_set", {"ChangeSetId": CS_ID, "Status": "CREATE_IN_PROGRESS"})
    deployer = Deployer(cfn, sleep=clock.sleep, clock=clock.now, poll_delay=5, change_set_timeout=10)
    with pytest.raises(
        DeployFailed, match=r"timed out after 10s waiting for change set .* CREATE_IN_PROGRESS"
    ):
        deployer.create_change_set("privlink-x-producer", {"Resources": {}}, {}, {})


def test_a_template_too_large_for_an_inline_body_is_refused_before_any_change(stubbed, clock):
    cfn, stub = stubbed("cloudformation")
    stub.add_client_error(
        "describe_stacks", "ValidationError", "Stack with id privlink-x-producer does not exist"
    )
    big = {
        "Resources": {
            f"T{i}": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "x" * 200}} for i in range(300)
        }
    }
    with pytest.raises(DeployFailed, match="CloudFormation takes at most 51200 inline"):
        Deployer(cfn, sleep=clock.sleep, clock=clock.now).create_change_set(
            "privlink-x-producer", big, {}, {}
        )
