from __future__ import annotations

from privlink.targets.aws.events import failed_resources, format_event, is_root_terminal, new_events


def event(i, status, logical="Vpc", rtype="AWS::EC2::VPC", reason=""):
    e = {
        "EventId": f"e{i}",
        "StackName": "s",
        "LogicalResourceId": logical,
        "ResourceType": rtype,
        "ResourceStatus": status,
    }
    if reason:
        e["ResourceStatusReason"] = reason
    return e


def test_new_events_are_deduplicated_oldest_first_and_stop_at_the_marker():
    seen = {"e1"}
    pages = iter(
        [
            [event(3, "CREATE_COMPLETE"), event(2, "CREATE_IN_PROGRESS")],
            [event(1, "OLD")],
            [event(0, "NEVER_READ")],
        ]
    )
    fresh = new_events(pages, seen)
    assert [e["EventId"] for e in fresh] == ["e2", "e3"]
    assert next(pages)[0]["EventId"] == "e0"  # the page after the marker was not fetched
    assert new_events([[event(3, "CREATE_COMPLETE")]], seen) == []


def test_root_terminal_and_failure_reasons():
    root = event(9, "ROLLBACK_COMPLETE", "s", "AWS::CloudFormation::Stack")
    assert is_root_terminal(root, "s") and not is_root_terminal(event(8, "CREATE_COMPLETE"), "s")
    assert not is_root_terminal(event(7, "CREATE_FAILED", "s", "AWS::CloudFormation::Stack"), "s")
    events = [
        event(
            1,
            "CREATE_FAILED",
            "Endpoint",
            "AWS::EC2::VPCEndpoint",
            "The Vpc Endpoint Service 'com.amazonaws.vpce.eu-central-1.vpce-svc-0123' does not exist",
        ),
        event(2, "CREATE_FAILED", "Zone", "AWS::Route53::HostedZone", "Resource creation cancelled"),
        event(
            3, "ROLLBACK_IN_PROGRESS", "s", "AWS::CloudFormation::Stack", "The following resource(s) failed"
        ),
    ]
    assert failed_resources(events, "s") == [
        ("Endpoint", "AWS::EC2::VPCEndpoint", events[0]["ResourceStatusReason"])
    ]
    assert (
        format_event(events[0])
        .strip()
        .startswith("s  CREATE_FAILED  Endpoint (AWS::EC2::VPCEndpoint): The Vpc")
    )
