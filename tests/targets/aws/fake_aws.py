"""A small scripted AWS for driving `AwsTarget` with the REAL rendered templates, offline.

Real botocore clients validate every request against the service model; a `ScriptedStubber` (a
botocore `Stubber` whose responses come from a handler instead of a queue, each validated against
the output shape) answers CloudFormation, EC2, ELB, SSM and ACM calls from `FakeWorld` (one lock:
the aws target calls it from several threads). Other services go to moto. Every call of every
client is recorded in order.

What `FakeWorld` checks like CloudFormation does: a change set's Parameters must all exist in the
template, every parameter without a Default must get a value, values must match AllowedPattern;
an update with the same template and parameters fails with "didn't contain changes". Stack
outputs are made up (AWS-shaped IDs, the VPC CIDR read from the template, the AZ IDs passed). An
executed consumer stack's endpoint, and each StackSet instance, requests a connection to the
producer's service (pendingAcceptance, `available` once accepted). It also answers the describe
calls the lifecycle plan's facts come from: AZs (names map to IDs per account, as on AWS),
instance-type offerings (`offerings` to take some away), the public AMI parameter (`ami_release`
to publish a new one) and target health.

Time: with a `clock` (a virtual one, see `virtual_clock.py`), an executed change set takes the
expected time of its template (`privlink.lifecycle.latency`: the longest resource path; an update
only its changed resources) before the stack completes, an accepted connection is `pending` for
the acceptance figure, and targets turn healthy after their health checks. Without a clock
everything completes at once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import threading
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.awsrequest import AWSResponse
from botocore.stub import Stubber

from privlink.lifecycle import latency

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
SCRIPTED = {"cloudformation", "ec2", "ssm", "elbv2", "acm"}
ACCEPTANCE_SECONDS = latency.STEP_LATENCY["accept-connections"].seconds


class Fault(Exception):
    """An AWS error response from the fake."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(f"{code}: {message}")
        self.code, self.message, self.status = code, message, status


class ScriptedStubber(Stubber):
    """A Stubber answering every call with `handler(operation, params)` (validated like Stubber)."""

    def __init__(self, client: Any, handler) -> None:
        super().__init__(client)
        self.handler = handler

    def _assert_expected_params(self, model, params, context, **kwargs):
        context["scripted_params"] = dict(params)  # the API parameters (before-call sees the request)

    def _get_response_handler(self, model, params, context, **kwargs):
        try:
            body = self.handler(model.name, context["scripted_params"])
        except Fault as fault:
            return (
                AWSResponse(None, fault.status, {}, None),
                {
                    "ResponseMetadata": {"HTTPStatusCode": fault.status},
                    "Error": {"Code": fault.code, "Message": fault.message},
                },
            )
        self._validate_operation_response(model.name, body)
        return AWSResponse(None, 200, {}, None), body


def fake_id(*parts: str, n: int = 17) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:n]


@dataclass
class Stack:
    label: str
    region: str
    name: str
    stack_id: str
    status: str = "REVIEW_IN_PROGRESS"
    template: dict[str, Any] = field(default_factory=dict)
    parameters: dict[str, str] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)  # newest first
    done_at: float | None = None  # a change set in progress completes then (with a clock)
    pending: dict[str, Any] | None = None  # that change set
    completed_at: float = 0.0


@dataclass
class Call:
    label: str
    service: str
    region: str
    operation: str
    params: dict[str, Any]


class FakeWorld:
    """CloudFormation stacks, change sets and StackSets, and endpoint connections, per account."""

    def __init__(
        self,
        account_ids: dict[str, str],
        region_codes: dict[str, str] | None = None,
        clock: Any = None,
    ) -> None:
        self.account_ids = account_ids  # label -> 12-digit ID
        self.region_codes = region_codes or {
            "eu-central-1": "euc1",
            "eu-west-1": "euw1",
            "eu-west-2": "euw2",
            "us-east-1": "use1",
        }
        self.clock = clock  # () -> seconds; None: everything completes at once
        # region -> instance type -> AZ IDs NOT offering it (everything is offered elsewhere)
        self.offerings: dict[str, dict[str, set[str]]] = {}
        self.ami_release = 1  # bump to publish a new Amazon Linux AMI
        self.subnets: dict[str, str] = {}  # existing subnet ID -> AZ ID (DescribeSubnets)
        self.zones: dict[tuple[str, str], dict[str, str]] = {}  # (label, region) -> name -> ID, to pin
        self.fail_delete: dict[str, str] = {}  # stack name -> the reason its next delete fails
        self.certificates: dict[str, dict[str, Any]] = {}  # ARN -> label, region, PEM, tags
        # CloudFormation may wait until an endpoint leaves pendingAcceptance before it completes the
        # stack (UNCONFIRMED): with this on, a consumer stack's create waits for the acceptance
        self.endpoints_wait_for_acceptance = False
        self.lock = threading.RLock()
        self.calls: list[Call] = []
        self.stacks: list[Stack] = []
        self.change_sets: dict[str, dict[str, Any]] = {}
        self.stack_sets: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.connections: dict[str, dict[str, Any]] = {}  # endpoint id -> connection
        self.service_ids: set[str] = set()
        self.seq = 0

    # -- clients ----------------------------------------------------------------------------------
    def session_factory(self, **kwargs: Any) -> FakeSession:
        label = kwargs.get("profile_name") or "default"
        return FakeSession(self, label, kwargs.get("region_name") or "us-east-1")

    def attach(self, client: Any, label: str, service: str) -> Any:
        region = client.meta.region_name

        def record(model, params, **_kwargs):
            with self.lock:
                self.calls.append(Call(label, service, region, model.name, dict(params)))

        client.meta.events.register_first("before-parameter-build.*.*", record)
        if service in SCRIPTED:
            stubber = ScriptedStubber(
                client, lambda op, params: self.handle(label, service, region, op, params)
            )
            stubber.activate()
        return client

    def ops(self, *operations: str) -> list[tuple[str, str, str]]:
        """(operation, account label, the stack / StackSet / certificate it names) in call order."""
        wanted = set(operations)

        def named(c: Call) -> str:
            ref = c.params.get("StackName") or c.params.get("StackSetName") or ""
            return ref.split("/")[1] if ref.startswith("arn:") else ref  # a stack ID names its stack

        return [(c.operation, c.label, named(c)) for c in self.calls if c.operation in wanted]

    def params_of(self, stack_name: str) -> dict[str, str]:
        """The Parameters of the last CreateChangeSet for `stack_name`."""
        found = [
            c for c in self.calls if c.operation == "CreateChangeSet" and c.params["StackName"] == stack_name
        ]
        assert found, f"no CreateChangeSet for {stack_name}"
        return {p["ParameterKey"]: p["ParameterValue"] for p in found[-1].params.get("Parameters", [])}

    def handle(
        self, label: str, service: str, region: str, op: str, params: dict[str, Any]
    ) -> dict[str, Any]:
        method = getattr(self, f"{service}_{op}", None)
        if method is None:
            raise AssertionError(f"the fake has no {service} {op}")
        with self.lock:
            self.settle()
            return method(label, region, **params)

    def now(self) -> float:
        return self.clock() if self.clock is not None else 0.0

    def settle(self) -> None:
        """Finish what the clock says is done: change sets, accepted connections."""
        now = self.now()
        for stack in self.stacks:
            if stack.done_at is not None and stack.done_at <= now and not self.awaits_acceptance(stack):
                self.complete(stack)
        for c in self.connections.values():
            if c["VpcEndpointState"] == "pending" and c.get("available_at", 0.0) <= now:
                c["VpcEndpointState"] = "available"

    # -- CloudFormation: stacks -------------------------------------------------------------------
    def find(self, label: str, region: str, ref: str, live_only: bool = True) -> Stack | None:
        for stack in reversed(self.stacks):
            if (stack.label, stack.region) != (label, region):
                continue
            if stack.stack_id == ref:
                return stack
            if stack.name == ref and not (live_only and stack.status == "DELETE_COMPLETE"):
                return stack
        return None

    def must_find(self, label: str, region: str, ref: str, live_only: bool = True) -> Stack:
        stack = self.find(label, region, ref, live_only)
        if stack is None:
            raise Fault("ValidationError", f"Stack with id {ref} does not exist")
        return stack

    def event(
        self, stack: Stack, status: str, logical_id: str | None = None, kind: str | None = None
    ) -> None:
        self.seq += 1
        stack.events.insert(
            0,
            {
                "StackId": stack.stack_id,
                "EventId": f"{stack.name}-{self.seq}",
                "StackName": stack.name,
                "LogicalResourceId": logical_id or stack.name,
                "ResourceType": kind or "AWS::CloudFormation::Stack",
                "Timestamp": NOW + dt.timedelta(seconds=self.seq),
                "ResourceStatus": status,
            },
        )

    def describe(self, stack: Stack) -> dict[str, Any]:
        return {
            "StackId": stack.stack_id,
            "StackName": stack.name,
            "CreationTime": NOW,
            "StackStatus": stack.status,
            "Parameters": [{"ParameterKey": k, "ParameterValue": v} for k, v in stack.parameters.items()],
            "Outputs": [{"OutputKey": k, "OutputValue": v} for k, v in stack.outputs.items()],
            "Tags": [{"Key": k, "Value": v} for k, v in stack.tags.items()],
        }

    def cloudformation_DescribeStacks(self, label, region, StackName):
        return {"Stacks": [self.describe(self.must_find(label, region, StackName))]}

    def cloudformation_DescribeStackEvents(self, label, region, StackName, NextToken=None):
        return {"StackEvents": list(self.must_find(label, region, StackName, live_only=False).events)}

    def cloudformation_ListStacks(self, label, region, StackStatusFilter=(), NextToken=None):
        return {
            "StackSummaries": [
                {"StackId": s.stack_id, "StackName": s.name, "CreationTime": NOW, "StackStatus": s.status}
                for s in self.stacks
                if (s.label, s.region) == (label, region)
                and (not StackStatusFilter or s.status in StackStatusFilter)
            ]
        }

    def check_parameters(self, template: dict[str, Any], given: dict[str, str]) -> None:
        declared = template.get("Parameters", {})
        unknown = sorted(set(given) - set(declared))
        if unknown:
            raise Fault("ValidationError", f"Parameters: {unknown} do not exist in the template")
        missing = sorted(k for k, p in declared.items() if "Default" not in p and k not in given)
        if missing:
            raise Fault("ValidationError", f"Parameters: {missing} must have values")
        for key, value in given.items():
            pattern = declared[key].get("AllowedPattern")
            if pattern and not re.fullmatch(pattern, value):
                raise Fault(
                    "ValidationError", f"Parameter '{key}' must match pattern {pattern} (got {value!r})"
                )

    def cloudformation_CreateChangeSet(self, label, region, StackName, ChangeSetName, TemplateBody, **kw):
        template = json.loads(TemplateBody)
        given = {p["ParameterKey"]: p["ParameterValue"] for p in kw.get("Parameters", [])}
        self.check_parameters(template, given)
        kind = kw.get("ChangeSetType", "UPDATE")
        stack = self.find(label, region, StackName)
        if kind == "CREATE":
            if stack is not None and stack.status != "REVIEW_IN_PROGRESS":
                raise Fault("AlreadyExistsException", f"Stack [{StackName}] already exists")
            if stack is None:
                account = self.account_ids[label]
                unique = fake_id(StackName, str(len(self.stacks)))
                stack_id = f"arn:aws:cloudformation:{region}:{account}:stack/{StackName}/{unique}"
                stack = Stack(label, region, StackName, stack_id)
                self.stacks.append(stack)
            old_resources: dict[str, Any] = {}
        else:
            if stack is None:
                raise Fault("ValidationError", f"Stack [{StackName}] does not exist")
            old_resources = stack.template.get("Resources", {})
        new_resources = template.get("Resources", {})
        changes = [
            {"Action": "Add", "LogicalResourceId": k, "ResourceType": r["Type"]}
            for k, r in new_resources.items()
            if k not in old_resources
        ]
        changes += [
            {"Action": "Modify", "LogicalResourceId": k, "ResourceType": r["Type"], "Replacement": "False"}
            for k, r in new_resources.items()
            if k in old_resources and old_resources[k] != r
        ]
        changes += [
            {"Action": "Remove", "LogicalResourceId": k, "ResourceType": r["Type"]}
            for k, r in old_resources.items()
            if k not in new_resources
        ]
        same = kind == "UPDATE" and stack.template == template and stack.parameters == given
        if kind == "UPDATE" and stack.parameters != given and not changes:
            # a parameter-only change modifies the resources that refer to the changed parameters
            changed = {
                k for k in set(given) | set(stack.parameters) if given.get(k) != stack.parameters.get(k)
            }
            touched = latency.dependents(template, changed) or set(list(new_resources)[:1])
            changes = [
                {
                    "Action": "Modify",
                    "LogicalResourceId": k,
                    "ResourceType": r["Type"],
                    "Replacement": "Conditional",
                }
                for k, r in new_resources.items()
                if k in touched
            ]
        change_id = f"{stack.stack_id.replace(':stack/', ':changeSet/')}/{ChangeSetName}"
        self.change_sets[change_id] = {
            "stack": stack,
            "name": ChangeSetName,
            "kind": kind,
            "template": template,
            "parameters": given,
            "tags": {t["Key"]: t["Value"] for t in kw.get("Tags", [])},
            "status": "FAILED" if same else "CREATE_COMPLETE",
            "reason": "The submitted information didn't contain changes. Submit different information "
            "to create a change set."
            if same
            else "",
            "changes": [{"Type": "Resource", "ResourceChange": c} for c in changes],
        }
        return {"Id": change_id, "StackId": stack.stack_id}

    def change_set(self, ref: str) -> dict[str, Any]:
        if ref not in self.change_sets:
            raise Fault("ChangeSetNotFound", f"ChangeSet [{ref}] does not exist", 404)
        return self.change_sets[ref]

    def cloudformation_DescribeChangeSet(self, label, region, ChangeSetName, StackName=None, NextToken=None):
        cs = self.change_set(ChangeSetName)
        body = {
            "ChangeSetName": cs["name"],
            "ChangeSetId": ChangeSetName,
            "StackId": cs["stack"].stack_id,
            "StackName": cs["stack"].name,
            "Status": cs["status"],
            "ExecutionStatus": "UNAVAILABLE" if cs["status"] == "FAILED" else "AVAILABLE",
            "Changes": cs["changes"],
        }
        if cs["reason"]:
            body["StatusReason"] = cs["reason"]
        return body

    def cloudformation_DeleteChangeSet(self, label, region, ChangeSetName, StackName=None):
        self.change_set(ChangeSetName)
        del self.change_sets[ChangeSetName]
        return {}

    def cloudformation_ExecuteChangeSet(self, label, region, ChangeSetName, StackName=None):
        cs = self.change_set(ChangeSetName)
        stack: Stack = cs["stack"]
        created = cs["kind"] == "CREATE"
        stack.status = "CREATE_IN_PROGRESS" if created else "UPDATE_IN_PROGRESS"
        self.event(stack, stack.status)
        del self.change_sets[ChangeSetName]
        stack.pending = cs
        changed = {c["ResourceChange"]["LogicalResourceId"] for c in cs["changes"]}
        seconds = latency.stack_seconds(cs["template"], only=None if created else changed)
        stack.done_at = self.now() + (seconds if self.clock is not None else 0.0)
        service = cs["parameters"].get("ServiceName", "")
        if (
            self.endpoints_wait_for_acceptance
            and created
            and service
            and "Endpoint" in cs["template"]["Resources"]
        ):
            endpoint_id = f"vpce-{fake_id(stack.label, stack.region, stack.name)}"  # as outputs_for names it
            self.request_connection(
                service, endpoint_id, self.account_ids[stack.label], stack.region, stack.stack_id
            )
        self.settle()
        return {}

    def awaits_acceptance(self, stack: Stack) -> bool:
        if (
            not self.endpoints_wait_for_acceptance
            or stack.pending is None
            or stack.pending["kind"] != "CREATE"
        ):
            return False
        endpoint_id = f"vpce-{fake_id(stack.label, stack.region, stack.name)}"
        return self.connections.get(endpoint_id, {}).get("VpcEndpointState") == "pendingAcceptance"

    def complete(self, stack: Stack) -> None:
        cs = stack.pending
        assert cs is not None
        created = cs["kind"] == "CREATE"
        for change in cs["changes"]:
            rc = change["ResourceChange"]
            self.event(stack, "CREATE_COMPLETE", rc["LogicalResourceId"], rc["ResourceType"])
        stack.template, stack.parameters, stack.tags = cs["template"], cs["parameters"], cs["tags"]
        stack.outputs = self.outputs_for(stack)
        stack.status = "CREATE_COMPLETE" if created else "UPDATE_COMPLETE"
        stack.done_at, stack.pending, stack.completed_at = None, None, self.now()
        self.event(stack, stack.status)
        self.on_deployed(stack)

    def cloudformation_DeleteStack(self, label, region, StackName, **kw):
        stack = self.find(label, region, StackName, live_only=False)
        if stack is None or stack.status == "DELETE_COMPLETE":
            return {}
        self.event(stack, "DELETE_IN_PROGRESS")
        if stack.name in self.fail_delete:
            reason = self.fail_delete.pop(stack.name)
            if "ServiceId" in stack.outputs:  # a connection came in after the rejections
                stray = f"vpce-{fake_id(stack.name, 'stray')}"
                self.request_connection(
                    f"com.amazonaws.vpce.{region}.{stack.outputs['ServiceId']}",
                    stray,
                    "999999999999",
                    region,
                    "x",
                )
            self.event(stack, "DELETE_FAILED", "EndpointService", "AWS::EC2::VPCEndpointService")
            stack.events[0]["ResourceStatusReason"] = reason
            stack.status = "DELETE_FAILED"
            self.event(stack, "DELETE_FAILED")
            return {}
        stack.status = "DELETE_COMPLETE"
        self.event(stack, "DELETE_COMPLETE")
        for endpoint_id in [e for e, c in self.connections.items() if c.get("stack") == stack.stack_id]:
            del self.connections[endpoint_id]
        return {}

    # -- made-up outputs and the endpoint connections they cause ----------------------------------
    def outputs_for(self, stack: Stack) -> dict[str, str]:
        key = (stack.label, stack.region, stack.name)
        vpc_cidr = next(
            (
                r["Properties"]["CidrBlock"]
                for r in stack.template.get("Resources", {}).values()
                if r["Type"] == "AWS::EC2::VPC"
            ),
            "10.99.0.0/16",
        )
        code = self.region_codes.get(stack.region, "xyz1")
        values = {}
        for name, output in stack.template.get("Outputs", {}).items():
            passed = self.passed_through(output.get("Value"), stack.parameters)
            if passed is not None:  # an output that gives a parameter back (the network's IDs)
                values[name] = passed
            elif name == "ServiceId":
                values[name] = f"vpce-svc-{fake_id(*key)}"
            elif name == "ServiceName":
                values[name] = f"com.amazonaws.vpce.{stack.region}.vpce-svc-{fake_id(*key)}"
            elif name == "EndpointId":
                values[name] = f"vpce-{fake_id(*key)}"
            elif name == "VpcId":
                values[name] = f"vpc-{fake_id(*key, 'vpc')}"
            elif name == "VpcCidr":
                values[name] = vpc_cidr
            elif name == "SubnetIds":
                values[name] = f"subnet-{fake_id(*key, '1')},subnet-{fake_id(*key, '2')}"
            elif name == "AvailabilityZoneIds":
                values[name] = stack.parameters.get("AvailabilityZoneIds") or f"{code}-az1,{code}-az2"
            elif name == "ClientVpnEndpointId":
                values[name] = f"cvpn-endpoint-{fake_id(*key)}"
            else:
                values[name] = f"{name}-of-{stack.name}"
        return values

    @staticmethod
    def passed_through(value: Any, parameters: dict[str, str]) -> str | None:
        if isinstance(value, dict) and value.get("Ref") in parameters:
            return parameters[value["Ref"]]
        if isinstance(value, dict) and "Fn::Join" in value:
            inner = value["Fn::Join"][1]
            if isinstance(inner, dict) and inner.get("Ref") in parameters:
                return parameters[inner["Ref"]]
        return None

    def on_deployed(self, stack: Stack) -> None:
        if "ServiceId" in stack.outputs:
            self.service_ids.add(stack.outputs["ServiceId"])
        service = stack.parameters.get("ServiceName", "")
        endpoint_id = stack.outputs.get("EndpointId")
        if service and endpoint_id and endpoint_id not in self.connections:
            self.request_connection(
                service, endpoint_id, self.account_ids[stack.label], stack.region, stack.stack_id
            )

    def request_connection(
        self, service_name: str, endpoint_id: str, owner: str, region: str, ref: str
    ) -> None:
        service_id = service_name.rsplit(".", 1)[-1]
        assert service_id in self.service_ids, f"{endpoint_id} asks for unknown service {service_name}"
        self.connections[endpoint_id] = {
            "ServiceId": service_id,
            "VpcEndpointId": endpoint_id,
            "VpcEndpointOwner": owner,
            "VpcEndpointState": "pendingAcceptance",
            "CreationTimestamp": NOW,
            "VpcEndpointRegion": region,
            "stack": ref,
        }

    # -- EC2: endpoint connections ----------------------------------------------------------------
    def ec2_DescribeVpcEndpointConnections(self, label, region, Filters=(), NextToken=None, **kw):
        wanted = {v for f in Filters if f["Name"] == "service-id" for v in f["Values"]}
        return {
            "VpcEndpointConnections": [
                {k: v for k, v in c.items() if k not in ("stack", "available_at")}
                for c in self.connections.values()
                if not wanted or c["ServiceId"] in wanted
            ]
        }

    def ec2_DescribeVpcEndpointServiceConfigurations(self, label, region, ServiceIds=(), **kw):
        found = []
        for service_id in ServiceIds:
            if service_id not in self.service_ids:
                continue
            config = {"ServiceId": service_id, "ServiceState": "Available", "AcceptanceRequired": True}
            producer = next(s for s in self.stacks if s.outputs.get("ServiceId") == service_id)
            name = producer.template["Resources"]["EndpointService"]["Properties"].get("PrivateDnsName")
            if name:  # verified: the TXT record is taken as found
                config["PrivateDnsName"] = name
                config["PrivateDnsNameConfiguration"] = {
                    "State": "verified",
                    "Type": "TXT",
                    "Value": "vpce:0123456789abcdef",
                    "Name": "_abcdef0123456789",
                }
            found.append(config)
        return {"ServiceConfigurations": found}

    def _act(self, ServiceId, VpcEndpointIds, state):
        failed = []
        for endpoint_id in VpcEndpointIds:
            c = self.connections.get(endpoint_id)
            if c is None or c["ServiceId"] != ServiceId:
                failed.append(
                    {
                        "ResourceId": endpoint_id,
                        "Error": {"Code": "InvalidVpcEndpointId.NotFound", "Message": "x"},
                    }
                )
            else:
                c["VpcEndpointState"] = state
        return {"Unsuccessful": failed}

    def ec2_AcceptVpcEndpointConnections(self, label, region, ServiceId, VpcEndpointIds, **kw):
        if self.clock is None:
            return self._act(ServiceId, VpcEndpointIds, "available")
        result = self._act(ServiceId, VpcEndpointIds, "pending")
        for endpoint_id in VpcEndpointIds:
            if endpoint_id in self.connections:
                self.connections[endpoint_id]["available_at"] = self.now() + ACCEPTANCE_SECONDS
        return result

    # -- EC2, SSM, ELB: what the lifecycle plan's facts come from ---------------------------------
    def zone_ids(self, label: str, region: str) -> dict[str, str]:
        """AZ name -> AZ ID as account `label` sees them: names rotate per account, as on AWS."""
        if (label, region) in self.zones:
            return dict(self.zones[(label, region)])
        code = self.region_codes.get(region, "xyz1")
        letters = "abcdef" if region == "us-east-1" else "abc"
        rotation = int(fake_id(label, region), 16) % len(letters)
        return {
            f"{region}{letter}": f"{code}-az{(i + rotation) % len(letters) + 1}"
            for i, letter in enumerate(letters)
        }

    def ec2_DescribeAvailabilityZones(self, label, region, Filters=(), **kw):
        return {
            "AvailabilityZones": [
                {
                    "ZoneName": name,
                    "ZoneId": zone_id,
                    "State": "available",
                    "RegionName": region,
                    "ZoneType": "availability-zone",
                }
                for name, zone_id in self.zone_ids(label, region).items()
            ]
        }

    def ec2_DescribeInstanceTypeOfferings(self, label, region, LocationType=None, Filters=(), **kw):
        types = [v for f in Filters if f["Name"] == "instance-type" for v in f["Values"]]
        missing = self.offerings.get(region, {})
        return {
            "InstanceTypeOfferings": [
                {"InstanceType": t, "LocationType": "availability-zone-id", "Location": zone_id}
                for t in types
                for zone_id in sorted(self.zone_ids(label, region).values())
                if zone_id not in missing.get(t, set())
            ]
        }

    def ec2_DescribeSubnets(self, label, region, SubnetIds=(), **kw):
        return {
            "Subnets": [
                {"SubnetId": s, "AvailabilityZoneId": self.subnets[s], "VpcId": "vpc-0bbbbbbbbbbbbbbbb"}
                for s in SubnetIds
            ]
        }

    def ssm_GetParameter(self, label, region, Name, **kw):
        image = f"ami-{fake_id(region, Name, str(self.ami_release))}"
        return {"Parameter": {"Name": Name, "Type": "String", "Value": image, "Version": self.ami_release}}

    def elbv2_DescribeTargetHealth(self, label, region, TargetGroupArn, **kw):
        producer = next(
            s
            for s in self.stacks
            if s.outputs.get("TargetGroupArn") == TargetGroupArn and s.status.endswith("COMPLETE")
        )
        # as the plan models it: healthy once the health checks passed after the producer stack is done
        ready = producer.completed_at + latency.health_seconds(producer.template)
        state = "healthy" if self.clock is None or self.now() >= ready else "initial"
        return {
            "TargetHealthDescriptions": [
                {"Target": {"Id": f"i-{fake_id(TargetGroupArn, str(i))}"}, "TargetHealth": {"State": state}}
                for i in range(2)
            ]
        }

    def ec2_RejectVpcEndpointConnections(self, label, region, ServiceId, VpcEndpointIds, **kw):
        return self._act(ServiceId, VpcEndpointIds, "rejected")

    # -- ACM: imported certificates --------------------------------------------------------------
    def acm_ImportCertificate(self, label, region, Certificate, PrivateKey, CertificateChain=None, **kw):
        arn = kw.get("CertificateArn")
        if arn is None:
            arn = f"arn:aws:acm:{region}:{self.account_ids[label]}:certificate/{fake_id(region, str(len(self.certificates)), n=32)}"
            tags = {t["Key"]: t.get("Value", "") for t in kw.get("Tags", [])}
        else:
            tags = self.certificate(arn)["tags"]
        pem = Certificate.decode() if isinstance(Certificate, bytes) else Certificate
        self.certificates[arn] = {"label": label, "region": region, "pem": pem, "tags": tags}
        return {"CertificateArn": arn}

    def certificate(self, arn):
        if arn not in self.certificates:
            raise Fault("ResourceNotFoundException", f"Could not find certificate {arn}.")
        return self.certificates[arn]

    def acm_ListCertificates(self, label, region, **kw):
        return {
            "CertificateSummaryList": [
                {"CertificateArn": arn, "DomainName": "privlink", "Type": "IMPORTED"}
                for arn, c in self.certificates.items()
                if (c["label"], c["region"]) == (label, region)
            ]
        }

    def acm_ListTagsForCertificate(self, label, region, CertificateArn):
        return {"Tags": [{"Key": k, "Value": v} for k, v in self.certificate(CertificateArn)["tags"].items()]}

    def acm_GetCertificate(self, label, region, CertificateArn):
        return {"Certificate": self.certificate(CertificateArn)["pem"]}

    def acm_DescribeCertificate(self, label, region, CertificateArn):
        self.certificate(CertificateArn)
        return {"Certificate": {"CertificateArn": CertificateArn, "Type": "IMPORTED"}}

    def acm_DeleteCertificate(self, label, region, CertificateArn):
        self.certificate(CertificateArn)
        del self.certificates[CertificateArn]
        return {}

    # -- CloudFormation: StackSets ----------------------------------------------------------------
    def stack_set(self, label, region, name) -> dict[str, Any]:
        found = self.stack_sets.get((label, region, name))
        if found is None:
            raise Fault("StackSetNotFoundException", f"StackSet {name} not found")
        return found

    def operation(self, stack_set: dict[str, Any], action: str) -> dict[str, str]:
        self.seq += 1
        op = f"op-{self.seq}"
        stack_set["operations"][op] = action
        return {"OperationId": op}

    def cloudformation_DescribeStackSet(self, label, region, StackSetName, CallAs="SELF"):
        s = self.stack_set(label, region, StackSetName)
        return {"StackSet": {"StackSetName": StackSetName, "Status": "ACTIVE", "PermissionModel": s["model"]}}

    def cloudformation_CreateStackSet(self, label, region, StackSetName, TemplateBody, **kw):
        if (label, region, StackSetName) in self.stack_sets:
            raise Fault("NameAlreadyExistsException", StackSetName)
        given = {p["ParameterKey"]: p["ParameterValue"] for p in kw.get("Parameters", [])}
        self.check_parameters(json.loads(TemplateBody), given)
        self.stack_sets[(label, region, StackSetName)] = {
            "model": kw.get("PermissionModel", "SELF_MANAGED"),
            "parameters": given,
            "instances": {},
            "operations": {},
        }
        return {"StackSetId": f"{StackSetName}:{fake_id(StackSetName)}"}

    def cloudformation_UpdateStackSet(self, label, region, StackSetName, **kw):
        s = self.stack_set(label, region, StackSetName)
        s["parameters"] = {p["ParameterKey"]: p["ParameterValue"] for p in kw.get("Parameters", [])}
        return self.operation(s, "UPDATE")

    def cloudformation_CreateStackInstances(self, label, region, StackSetName, Regions, **kw):
        s = self.stack_set(label, region, StackSetName)
        accounts = kw.get("Accounts") or [
            f"ou:{ou}" for ou in kw.get("DeploymentTargets", {}).get("OrganizationalUnitIds", [])
        ]
        for account in accounts:
            for instance_region in Regions:
                s["instances"][(account, instance_region)] = "CURRENT"
                endpoint_id = f"vpce-{fake_id(StackSetName, account, instance_region)}"
                if not account.startswith("ou:"):
                    self.request_connection(
                        s["parameters"]["ServiceName"], endpoint_id, account, instance_region, StackSetName
                    )
        return self.operation(s, "CREATE")

    def cloudformation_DeleteStackInstances(self, label, region, StackSetName, Regions, RetainStacks, **kw):
        s = self.stack_set(label, region, StackSetName)
        accounts = set(kw.get("Accounts", []))
        for account, instance_region in list(s["instances"]):
            if (not accounts or account in accounts) and instance_region in Regions:
                del s["instances"][(account, instance_region)]
        for endpoint_id in [e for e, c in self.connections.items() if c.get("stack") == StackSetName]:
            c = self.connections[endpoint_id]
            if (not accounts or c["VpcEndpointOwner"] in accounts) and c["VpcEndpointRegion"] in Regions:
                del self.connections[endpoint_id]
        return self.operation(s, "DELETE")

    def cloudformation_DescribeStackSetOperation(
        self, label, region, StackSetName, OperationId, CallAs="SELF"
    ):
        s = self.stack_set(label, region, StackSetName)
        return {
            "StackSetOperation": {
                "OperationId": OperationId,
                "Action": s["operations"][OperationId],
                "Status": "SUCCEEDED",
            }
        }

    def cloudformation_ListStackInstances(
        self, label, region, StackSetName, CallAs="SELF", NextToken=None, **kw
    ):
        s = self.stack_set(label, region, StackSetName)
        return {
            "Summaries": [
                {"StackSetId": StackSetName, "Account": a, "Region": r, "Status": status}
                for (a, r), status in s["instances"].items()
            ]
        }

    def cloudformation_DeleteStackSet(self, label, region, StackSetName, CallAs="SELF"):
        s = self.stack_set(label, region, StackSetName)
        if s["instances"]:
            raise Fault("StackSetNotEmptyException", f"{StackSetName} still has instances")
        del self.stack_sets[(label, region, StackSetName)]
        return {}


class FakeSession:
    """What `Gateway` asks its session factory for: clients of one account label."""

    def __init__(self, world: FakeWorld, label: str, region: str) -> None:
        self.world, self.label, self.region = world, label, region
        self.session = boto3.session.Session(region_name=region)

    def client(self, service: str, region_name: str | None = None, config: Any = None) -> Any:
        raw = self.session.client(service, region_name=region_name or self.region, config=config)
        return self.world.attach(raw, self.label, service)
