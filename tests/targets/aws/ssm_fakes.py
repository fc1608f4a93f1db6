"""Stubbed SSM and EC2 for the `test --via ssm` tests: responses shaped like AWS's, a healthy report."""

from __future__ import annotations

import datetime as dt
import json

import boto3
from botocore.stub import ANY, Stubber

from privlink.probe import ProbeReport, ProbeStep
from privlink.targets.aws.gateway import ClientProxy
from privlink.targets.aws.ssm_probe import SSM_DOCUMENT, remote_commands

REGION = "eu-central-1"
VPC = "vpc-0123456789abcdef0"
TEST_INSTANCE = "i-0aaaaaaaaaaaaaaa1"
OTHER_INSTANCE = "i-0bbbbbbbbbbbbbbb2"
COMMAND_ID = "5f0a2b1c-3d4e-4f50-8a6b-7c8d9e0f1a2b"
NAME, PORT = "hello.internal.company", 8080
WHEN = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)


SESSIONS: dict[str, boto3.session.Session] = {}


class Aws:
    """Stubbed ssm/ec2 clients (wrapped like the gateway's) and the `clients` callable they serve.

    Real botocore clients with Stubbers (responses validated against the service models), made from
    one session per region: its loader caches the models, so each test's clients take milliseconds.
    """

    def __init__(self):
        self.stubbers: list[Stubber] = []
        self.ssm, self.ssm_stub = self.client("ssm")
        self.ec2, self.ec2_stub = self.client("ec2")
        self.asked: list[tuple[str, str, str]] = []
        self.sent: list[dict] = []
        self.ssm.raw.meta.events.register("provide-client-params.ssm.SendCommand", self._capture)

    def client(self, service, region=REGION, account="dev"):
        if region not in SESSIONS:
            SESSIONS[region] = boto3.session.Session(region_name=region)
        raw = SESSIONS[region].client(service, region_name=region)
        stubber = Stubber(raw)
        stubber.activate()
        self.stubbers.append(stubber)
        return ClientProxy(raw, service, account, region), stubber

    def assert_done(self):
        for stubber in self.stubbers:
            stubber.assert_no_pending_responses()

    def _capture(self, params, **_):
        self.sent.append(params)

    def clients(self, account, region, service):
        self.asked.append((account, region, service))
        return {"ssm": self.ssm, "ec2": self.ec2}[service]

    # -- responses shaped like AWS's ---------------------------------------------------------------
    def agents(self, ids, online):
        self.ssm_stub.add_response(
            "describe_instance_information",
            {
                "InstanceInformationList": [
                    {
                        "InstanceId": i,
                        "PingStatus": "Online" if i in online else "ConnectionLost",
                        "LastPingDateTime": WHEN,
                        "AgentVersion": "3.3.1142.0",
                        "PlatformType": "Linux",
                        "PlatformName": "Amazon Linux",
                        "PlatformVersion": "2023",
                        "ResourceType": "EC2Instance",
                        "IPAddress": "10.10.1.8",
                        "ComputerName": "ip-10-10-1-8.eu-central-1.compute.internal",
                    }
                    for i in ids
                ]
            },
            {"Filters": [{"Key": "InstanceIds", "Values": ids}]},
        )

    def running(self, ids):
        self.ec2_stub.add_response(
            "describe_instances",
            {
                "Reservations": [
                    {
                        "ReservationId": "r-0123456789abcdef0",
                        "OwnerId": "111111111111",
                        "Instances": [
                            {
                                "InstanceId": i,
                                "InstanceType": "t4g.nano",
                                "State": {"Code": 16, "Name": "running"},
                                "VpcId": VPC,
                                "SubnetId": "subnet-0123456789abcdef0",
                                "PrivateIpAddress": "10.10.1.8",
                            }
                            for i in ids
                        ],
                    }
                ]
                if ids
                else []
            },
            {
                "Filters": [
                    {"Name": "vpc-id", "Values": [VPC]},
                    {"Name": "instance-state-name", "Values": ["running"]},
                ]
            },
        )

    def described(self, instance, vpc=VPC, state="running", tags=None):
        """DescribeInstances filtered on one instance ID (the one named with --instance); `vpc=None`
        answers as AWS does for an ID of no instance: no reservations."""
        instances = [
            {
                "InstanceId": instance,
                "InstanceType": "t3.micro",
                "State": {"Code": {"running": 16, "stopped": 80}[state], "Name": state},
                "VpcId": vpc,
                "SubnetId": "subnet-0123456789abcdef0",
                "PrivateIpAddress": "10.10.1.9",
                "Tags": [{"Key": k, "Value": v} for k, v in (tags or {}).items()],
            }
        ]
        self.ec2_stub.add_response(
            "describe_instances",
            {
                "Reservations": [
                    {
                        "ReservationId": "r-0fedcba9876543210",
                        "OwnerId": "111111111111",
                        "Instances": instances,
                    }
                ]
                if vpc
                else []
            },
            {"Filters": [{"Name": "instance-id", "Values": [instance]}]},
        )

    def denied(self, instance, message="User is not authorized to perform: ssm:SendCommand"):
        """SendCommand refused by IAM, as SSM answers it."""
        self.ssm_stub.add_client_error(
            "send_command",
            service_error_code="AccessDeniedException",
            service_message=message,
            http_status_code=400,
            expected_params={
                "InstanceIds": [instance],
                "DocumentName": SSM_DOCUMENT,
                "Comment": ANY,
                "Parameters": ANY,
                "TimeoutSeconds": ANY,
            },
        )

    def send(self, instance, name=NAME, port=PORT, timeout=120):
        self.ssm_stub.add_response(
            "send_command",
            {
                "Command": {
                    "CommandId": COMMAND_ID,
                    "DocumentName": SSM_DOCUMENT,
                    "Comment": f"privlink test {name}:{port}",
                    "InstanceIds": [instance],
                    "Parameters": {"commands": remote_commands(name, port)},
                    "Status": "Pending",
                    "RequestedDateTime": WHEN,
                    "TimeoutSeconds": timeout,
                }
            },
            {
                "InstanceIds": [instance],
                "DocumentName": SSM_DOCUMENT,
                "Comment": f"privlink test {name}:{port}",
                "Parameters": {"commands": remote_commands(name, port), "executionTimeout": [str(timeout)]},
                "TimeoutSeconds": timeout,
            },
        )

    def not_yet(self, instance):
        self.ssm_stub.add_client_error(
            "get_command_invocation",
            service_error_code="InvocationDoesNotExist",
            service_message="",
            http_status_code=400,
            expected_params={"CommandId": COMMAND_ID, "InstanceId": instance},
        )

    def invocation(self, instance, status, stdout="", stderr="", code=-1):
        self.ssm_stub.add_response(
            "get_command_invocation",
            {
                "CommandId": COMMAND_ID,
                "InstanceId": instance,
                "DocumentName": SSM_DOCUMENT,
                "PluginName": "aws:runShellScript",
                "ResponseCode": code,
                "Status": status,
                "StatusDetails": status,
                "StandardOutputContent": stdout,
                "StandardErrorContent": stderr,
                "ExecutionStartDateTime": "2026-01-01T00:00:01.000Z",
            },
            {"CommandId": COMMAND_ID, "InstanceId": instance},
        )


def healthy_report(name=NAME, port=PORT) -> str:
    report = ProbeReport(name=name, port=port, via="ssm", address="10.10.1.20", status=200)
    report.steps = [
        ProbeStep("resolve", True, 1.2, f"{name} -> 10.10.1.20, 10.10.2.20"),
        ProbeStep("connect", True, 0.8, f"connected to 10.10.1.20:{port}, 10.10.2.20:{port}"),
        ProbeStep("http", True, 3.1, "HTTP 200 OK, 34 bytes (from each of 2 addresses)"),
    ]
    report.body = '{"message": "Hello from provider"}'
    report.json = {"message": "Hello from provider"}
    return json.dumps(report.to_dict())
