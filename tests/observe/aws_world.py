"""A deployed privlink link on AWS, offline: moto where it emulates AWS well, Stubber for the rest.

`AwsWorld.deploy(spec)` builds, inside `mock_aws`, what `privlink up` leaves behind in three
accounts (producer `prod`, consumers `dev` and `ops`) and two regions:

- in moto (its emulation is faithful enough): the CloudFormation stacks with their outputs, VPCs and
  their DNS attributes, subnets, the endpoint security groups, the demo app instances, the NLB with
  its listener, target group, registrations and attributes, the private hosted zones and records;
- answered by a botocore `Stubber` (every response validated against the service model), because
  moto does not implement the call or answers it unlike AWS:
  - `DescribeAvailabilityZones`: moto gives every account the same AZ name -> ID table; AWS maps
    names to IDs per account (`AZ_TABLES`), and `DescribeSubnets` gets the matching
    `AvailabilityZoneId` (moto's answer, corrected);
  - the endpoint service (`DescribeVpcEndpointServiceConfigurations`: moto omits
    AvailabilityZoneIds and reports a made-up verified private DNS configuration;
    `DescribeVpcEndpointServicePermissions`; `DescribeVpcEndpointConnections`: not in moto);
  - the interface endpoints and their ENIs (moto keeps every endpoint `available`, has no zonal DNS
    entries or ServiceRegion, and gives the ENIs addresses outside their subnets);
  - `DescribeTargetHealth`: moto's registrations, with the health state from `health` (moto
    reports every target healthy);
  - Client VPN (`DescribeClientVpnEndpoints`, target networks, authorization rules, routes: not
    in moto);
  - a consumer stack whose creation failed (moto cannot roll a stack back).

`AwsWorld.clients(label, region, service)` is the router `observe_aws` takes (and
`session_factory` serves the aws target's gateway): one botocore client per account, region and
service whose `OverrideStubber` answers the operations above and passes the others to moto. moto
tells the accounts apart by the `x-moto-account-id` header each client sends, so clients (and the
parsed service models) are shared by every test of the process.

Faults are made the way AWS would show them: a moto API call (revoke an SG rule, turn a VPC
attribute off, delete a record) or a change to the stubbed data (a connection's state). `fail()`
makes one operation answer with an AWS error. Stubbed list operations page two items at a time, so
an observer that reads only the first page misses data.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import ipaddress
import json
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import botocore.loaders
import botocore.session
import pytest
from botocore import xform_name
from botocore.awsrequest import AWSResponse
from botocore.stub import Stubber
from moto import mock_aws

from privlink.spec.models import Spec, subnet_cidrs, vpc_resolver
from privlink.templates import naming

ACCOUNT_IDS = {"prod": "111111111111", "dev": "222222222222", "ops": "333333333333"}
LOADER = botocore.loaders.create_loader()
NOW = dt.datetime(2026, 1, 5, 9, 30, tzinfo=dt.timezone.utc)
PAGE = 2  # items per page of the stubbed list operations
DEMO_IMAGE = "ami-0a1b2c3d4e5f60718"  # moto loads no default images (MOTO_EC2_LOAD_DEFAULT_AMIS)

# AZ name -> AZ ID, per account and region: the same name is a different zone in each account.
AZ_TABLES = {
    ("111111111111", "eu-central-1"): {
        "eu-central-1a": "euc1-az1",
        "eu-central-1b": "euc1-az2",
        "eu-central-1c": "euc1-az3",
    },
    ("222222222222", "eu-central-1"): {
        "eu-central-1a": "euc1-az2",
        "eu-central-1b": "euc1-az3",
        "eu-central-1c": "euc1-az1",
    },
    ("333333333333", "eu-central-1"): {
        "eu-central-1a": "euc1-az3",
        "eu-central-1b": "euc1-az1",
        "eu-central-1c": "euc1-az2",
    },
    ("333333333333", "eu-west-2"): {
        "eu-west-2a": "euw2-az2",
        "eu-west-2b": "euw2-az3",
        "eu-west-2c": "euw2-az1",
    },
}
# The hosted zone of vpce.amazonaws.com names per region (the DnsEntries' HostedZoneId).
VPCE_ZONES = {"eu-central-1": "Z273ZU8SZ5RJPC", "eu-west-2": "Z3KY65QIEKYHQQ"}

SPEC_TEXT = """\
name: hello
target: aws
producer:
  account: prod
  region: eu-central-1
  vpc: {{cidr: 10.20.0.0/16, azs: 2}}
  service: {{port: {port}, app: demo, cross_zone: true}}
  endpoint_service: {{acceptance_required: true, private_dns_name: hello.example.com}}
consumers:
  - name: dev
    account: dev
    region: eu-central-1
    vpc: {{cidr: 10.10.0.0/16, azs: 2}}
    private_dns: {{zone: internal.company, record: hello}}
    vpn: {{client_cidr: 172.16.0.0/22, split_tunnel: true}}
  - name: ops
    account: ops
    region: eu-central-1
    vpc: {{cidr: 10.30.0.0/16, azs: 2}}
    private_dns_enabled: true
  - name: west
    account: ops
    region: eu-west-2
    vpc: {{cidr: 10.40.0.0/16, azs: 2}}
accounts:
  prod: {{profile: prod, account_id: "111111111111"}}
  dev: {{profile: dev, account_id: "222222222222"}}
  ops: {{profile: ops, account_id: "333333333333"}}
"""


def spec_text(port: int = 8080) -> str:
    """Producer in eu-central-1; consumers dev (own account, private zone, Client VPN), ops (a
    second account, the service's private DNS name) and west (ops account, cross-region)."""
    return SPEC_TEXT.format(port=port)


def hex_id(*parts: str, n: int = 17) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:n]


class AwsFault(Exception):
    """An AWS error response: `code`, `message`, HTTP `status`."""

    def __init__(
        self, code: str, message: str, status: int = 400, only: dict[str, Any] | None = None
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code, self.message, self.status = code, message, status
        self.only = only or {}  # fail only the calls with these parameters


Handler = Callable[[dict[str, Any], Callable[[dict[str, Any]], dict[str, Any]]], dict[str, Any]]
"""handler(params, moto) -> the response; `moto(params)` is moto's answer to the same call."""


class OverrideStubber(Stubber):
    """A botocore Stubber that answers the operations `lookup` returns a handler for, validating
    each response against the service model as Stubber does, and lets other calls through to moto."""

    def __init__(self, client: Any, lookup: Callable[[str], Handler | None], moto_client: Any) -> None:
        super().__init__(client)
        self.lookup = lookup
        self.moto_client = moto_client

    def _assert_expected_params(self, model, params, context, **kwargs):
        context["override_params"] = copy.deepcopy(params)

    def _get_response_handler(self, model, params, context, **kwargs):
        handler = self.lookup(model.name)
        if handler is None:
            return None  # moto answers
        method = getattr(self.moto_client, xform_name(model.name))
        try:
            body = handler(context["override_params"], lambda p: strip_meta(method(**p)))
        except AwsFault as fault:
            return (
                AWSResponse(None, fault.status, {}, None),
                {
                    "ResponseMetadata": {"HTTPStatusCode": fault.status},
                    "Error": {"Code": fault.code, "Message": fault.message},
                },
            )
        self._validate_operation_response(model.name, body)
        return AWSResponse(None, 200, {}, None), {
            **body,
            "ResponseMetadata": {"HTTPStatusCode": 200, "RequestId": hex_id(model.name, n=36)},
        }


def strip_meta(response: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in response.items() if k != "ResponseMetadata"}


def page(params: dict[str, Any], key: str, items: list[dict[str, Any]]) -> dict[str, Any]:
    """One page of `items` (PAGE at a time, or MaxResults), with NextToken when more follow."""
    start = int(params.get("NextToken") or 0)
    size = min(int(params.get("MaxResults") or PAGE), PAGE)
    body: dict[str, Any] = {key: items[start : start + size]}
    if start + size < len(items):
        body["NextToken"] = str(start + size)
    return body


# --- clients, shared by every test of the process (moto keeps no state in them) --------------------

_LOCK = threading.RLock()
_CLIENTS: dict[tuple[str, str, str, bool], Any] = {}
STUBBERS: dict[int, OverrideStubber] = {}  # id(routed client) -> its stubber


def shared_client(label: str, region: str, service: str, routed: bool = False) -> Any:
    """A client of account `label`: moto tells accounts apart by the x-moto-account-id header.

    `routed` clients carry an `OverrideStubber` whose lookup the current `AwsWorld` sets."""
    key = (label, region, service, routed)
    with _LOCK:
        if key not in _CLIENTS:
            core = botocore.session.get_session()
            core.register_component("data_loader", LOADER)  # parse each service model once
            session = boto3.session.Session(
                botocore_session=core, aws_access_key_id="testing", aws_secret_access_key="testing"
            )
            client = session.client(service, region_name=region)
            account = ACCOUNT_IDS[label]

            def as_account(request, **_: Any) -> None:
                request.headers["x-moto-account-id"] = account

            client.meta.events.register("request-created", as_account)
            if routed:
                stubber = OverrideStubber(client, lambda op: None, shared_client(label, region, service))
                stubber.activate()
                STUBBERS[id(client)] = stubber
            _CLIENTS[key] = client
        return _CLIENTS[key]


# --- the stubbed state -------------------------------------------------------------------------


@dataclass
class Service:
    id: str
    region: str
    nlb_arn: str
    az_names: list[str]
    az_ids: list[str]
    supported_regions: list[str]
    private_dns_name: str | None
    private_dns_state: str = "verified"
    acceptance_required: bool = True
    principals: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"com.amazonaws.vpce.{self.region}.{self.id}"


@dataclass
class Endpoint:
    id: str
    consumer: str
    account: str  # label
    region: str
    vpc_id: str
    service: Service
    subnets: list[dict[str, str]]  # SubnetId, AvailabilityZone, CidrBlock
    security_group_ids: list[str]
    private_dns_enabled: bool
    state: str = "available"
    suffix: str = ""

    def eni_id(self, subnet_id: str) -> str:
        return "eni-" + hex_id(self.id, subnet_id)

    def address(self, subnet: dict[str, str]) -> str:
        return str(ipaddress.IPv4Network(subnet["CidrBlock"]).network_address + 37)

    @property
    def regional_name(self) -> str:
        return f"{self.id}-{self.suffix}.{self.service.id}.{self.region}.vpce.amazonaws.com"

    def dns_entries(self) -> list[dict[str, str]]:
        zone = VPCE_ZONES[self.region]
        entries = [{"DnsName": self.regional_name, "HostedZoneId": zone}]
        for subnet in self.subnets:
            entries.append(
                {
                    "DnsName": f"{self.id}-{self.suffix}-{subnet['AvailabilityZone']}.{self.service.id}."
                    f"{self.region}.vpce.amazonaws.com",
                    "HostedZoneId": zone,
                }
            )
        if self.private_dns_enabled and self.service.private_dns_name:
            entries.append(
                {
                    "DnsName": self.service.private_dns_name,
                    "HostedZoneId": "Z" + hex_id(self.id, n=20).upper(),
                }
            )
        return entries

    def describe(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "VpcEndpointId": self.id,
            "VpcEndpointType": "Interface",
            "VpcId": self.vpc_id,
            "ServiceName": self.service.name,
            "State": self.state,
            "RouteTableIds": [],
            "SubnetIds": [s["SubnetId"] for s in self.subnets],
            "Groups": [
                {"GroupId": g, "GroupName": f"privlink-hello-{self.consumer}-endpoint"}
                for g in self.security_group_ids
            ],
            "IpAddressType": "ipv4",
            "DnsOptions": {"DnsRecordIpType": "ipv4"},
            "PrivateDnsEnabled": self.private_dns_enabled,
            "RequesterManaged": False,
            "NetworkInterfaceIds": [self.eni_id(s["SubnetId"]) for s in self.subnets],
            "DnsEntries": self.dns_entries(),
            "CreationTimestamp": NOW,
            "Tags": [
                {"Key": naming.TAG_LINK, "Value": "hello"},
                {"Key": naming.TAG_PART, "Value": "consumer"},
            ],
            "OwnerId": ACCOUNT_IDS[self.account],
        }
        if self.region != self.service.region:
            body["ServiceRegion"] = self.service.region
        return body

    def enis(self) -> list[dict[str, Any]]:
        return [
            {
                "AvailabilityZone": s["AvailabilityZone"],
                "Description": f"VPC Endpoint Interface {self.id}",
                "Groups": [{"GroupId": g, "GroupName": "endpoint"} for g in self.security_group_ids],
                "InterfaceType": "vpc_endpoint",
                "NetworkInterfaceId": self.eni_id(s["SubnetId"]),
                "OwnerId": ACCOUNT_IDS[self.account],
                "PrivateIpAddress": self.address(s),
                "PrivateIpAddresses": [{"Primary": True, "PrivateIpAddress": self.address(s)}],
                "RequesterManaged": True,
                "SourceDestCheck": True,
                "Status": "in-use",
                "SubnetId": s["SubnetId"],
                "VpcId": self.vpc_id,
            }
            for s in self.subnets
        ]


@dataclass
class Connection:
    endpoint_id: str
    owner: str  # account ID
    region: str
    state: str = "available"


@dataclass
class ClientVpn:
    id: str
    vpc_id: str
    vpc_cidr: str
    client_cidr: str
    subnet_ids: list[str]
    associations: dict[str, str] = field(default_factory=dict)  # subnet -> state
    rules: list[tuple[str, str]] = field(default_factory=list)  # (destination, state)
    split_tunnel: bool = True

    def describe(self) -> dict[str, Any]:
        return {
            "ClientVpnEndpointId": self.id,
            "Description": "privlink hello: consumer dev",
            "Status": {"Code": "available"},
            "CreationTime": "2026-01-05T09:30:00",
            "DnsName": f"*.{self.id}.prod.clientvpn.eu-central-1.amazonaws.com",
            "ClientCidrBlock": self.client_cidr,
            "DnsServers": [vpc_resolver(self.vpc_cidr)],
            "SplitTunnel": self.split_tunnel,
            "VpnProtocol": "openvpn",
            "TransportProtocol": "udp",
            "VpnPort": 443,
            "VpcId": self.vpc_id,
        }

    def target_networks(self) -> list[dict[str, Any]]:
        return [
            {
                "AssociationId": "cvpn-assoc-" + hex_id(self.id, subnet),
                "VpcId": self.vpc_id,
                "TargetNetworkId": subnet,
                "ClientVpnEndpointId": self.id,
                "Status": {"Code": state},
            }
            for subnet, state in self.associations.items()
        ]

    def authorization_rules(self) -> list[dict[str, Any]]:
        return [
            {
                "ClientVpnEndpointId": self.id,
                "Description": "the consumer VPC",
                "GroupId": "",
                "AccessAll": True,
                "DestinationCidr": destination,
                "Status": {"Code": state},
            }
            for destination, state in self.rules
        ]

    def routes(self) -> list[dict[str, Any]]:
        return [
            {
                "ClientVpnEndpointId": self.id,
                "DestinationCidr": self.vpc_cidr,
                "TargetSubnet": subnet,
                "Type": "Nat",
                "Origin": "associate",
                "Status": {"Code": "active"},
                "Description": "Default Route",
            }
            for subnet, state in self.associations.items()
            if state == "associated"
        ]


@dataclass
class FailedStack:
    status: str
    reason: str  # the CREATE_FAILED reason of the VPC endpoint


# --- the world ---------------------------------------------------------------------------------


class AwsWorld:
    """A deployed link in moto plus the stubbed state; `clients(label, region, service)` routes."""

    def __init__(self, spec: Spec) -> None:
        self.spec = spec
        self.lock = threading.Lock()
        self.calls: list[tuple[str, str, str]] = []  # (label, region, operation) of every call
        self.failures: dict[tuple[str, str, str], AwsFault] = {}
        self.health: dict[str, tuple[str, str | None, str | None]] = {}  # target ID -> state
        self.service: Service | None = None
        self.endpoints: dict[str, Endpoint] = {}  # by consumer name
        self.connections: list[Connection] = []
        self.vpns: dict[str, ClientVpn] = {}
        self.failed_stacks: dict[str, FailedStack] = {}
        self.consumer_vpcs: dict[str, str] = {}
        self.consumer_subnets: dict[str, list[dict[str, str]]] = {}
        self.zones: dict[str, str] = {}  # consumer -> hosted zone ID
        self.producer: dict[str, Any] = {}

    # -- clients ----------------------------------------------------------------------------------
    def moto(self, label: str, region: str, service: str) -> Any:
        """A plain moto client of account `label` (for building and breaking the world)."""
        return shared_client(label, region, service)

    def clients(self, label: str, region: str, service: str, config: Any = None) -> Any:
        """The router: a client whose calls go to moto or to this world's stubbed state."""
        client = shared_client(label, region, service, routed=True)
        STUBBERS[id(client)].lookup = lambda op: self.handler(label, region, service, op)
        return client

    def session_factory(self, profile_name: str | None = None, region_name: str | None = None, **_: Any):
        """A boto3-like Session factory for `Gateway`: each spec account's profile names its label."""
        world = self

        class RoutedSession:
            def client(self, service: str, region_name: str | None = None, config: Any = None) -> Any:
                return world.clients(profile_name or "", region_name or "", service, config)

        return RoutedSession()

    def fail(
        self,
        label: str,
        region: str,
        operation: str,
        code: str,
        message: str,
        status: int = 400,
        only: dict[str, Any] | None = None,
    ):
        """Make `operation` (e.g. "DescribeTargetHealth") in that account and region answer an error;
        with `only`, just the calls with those parameters (e.g. {"StackName": ...})."""
        self.failures[(label, region, operation)] = AwsFault(code, message, status, only)

    def handler(self, label: str, region: str, service: str, op: str) -> Handler | None:
        with self.lock:
            self.calls.append((label, region, op))
        found = getattr(self, f"_{xform_name(op)}", None)
        fault = self.failures.get((label, region, op))
        if fault is not None:

            def failing(params, moto):
                if any(params.get(k) != v for k, v in fault.only.items()):
                    return found(label, region, params, moto) if found else moto(params)
                raise fault

            return failing
        if found is None:
            return None
        return lambda params, moto: found(label, region, params, moto)

    # -- stubbed operations (named after the boto3 method) ------------------------------------------
    def _describe_availability_zones(self, label, region, params, moto):
        table = AZ_TABLES[(ACCOUNT_IDS[label], region)]
        return {
            "AvailabilityZones": [
                {
                    "OptInStatus": "opt-in-not-required",
                    "Messages": [],
                    "RegionName": region,
                    "ZoneName": name,
                    "ZoneId": zone_id,
                    "GroupName": region,
                    "NetworkBorderGroup": region,
                    "ZoneType": "availability-zone",
                    "State": "available",
                }
                for name, zone_id in table.items()
            ]
        }

    def _describe_subnets(self, label, region, params, moto):
        table = AZ_TABLES[(ACCOUNT_IDS[label], region)]
        body = moto(params)
        for subnet in body.get("Subnets", []):
            subnet["AvailabilityZoneId"] = table[subnet["AvailabilityZone"]]
        return body

    def _describe_vpc_endpoint_service_configurations(self, label, region, params, moto):
        s = self.service
        if s is None or s.region != region or label != self.spec.producer.account:
            return {"ServiceConfigurations": []}
        wanted = params.get("ServiceIds") or [s.id]
        unknown = [i for i in wanted if i != s.id]
        if unknown:
            raise AwsFault(
                "InvalidVpcEndpointServiceId.NotFound",
                f"The Vpc Endpoint Service Id '{unknown[0]}' does not exist",
            )
        config: dict[str, Any] = {
            "ServiceType": [{"ServiceType": "Interface"}],
            "ServiceId": s.id,
            "ServiceName": s.name,
            "ServiceState": "Available",
            "AvailabilityZoneIds": list(s.az_ids),
            "AvailabilityZones": list(s.az_names),
            "AcceptanceRequired": s.acceptance_required,
            "ManagesVpcEndpoints": False,
            "NetworkLoadBalancerArns": [s.nlb_arn],
            "SupportedIpAddressTypes": ["ipv4"],
            "BaseEndpointDnsNames": [f"{s.id}.{region}.vpce.amazonaws.com"],
            "SupportedRegions": [
                {"Region": r, "ServiceState": "Available"} for r in [region, *s.supported_regions]
            ],
            "RemoteAccessEnabled": False,
            "Tags": [{"Key": naming.TAG_LINK, "Value": "hello"}],
        }
        if s.private_dns_name:
            config["PrivateDnsName"] = s.private_dns_name
            config["PrivateDnsNameConfiguration"] = {
                "State": s.private_dns_state,
                "Type": "TXT",
                "Value": f"vpce:{hex_id(s.id, n=20)}",
                "Name": f"_{hex_id(s.id, 'txt', n=20)}",
            }
        return {"ServiceConfigurations": [config]}

    def _describe_vpc_endpoint_service_permissions(self, label, region, params, moto):
        s = self.service
        if s is None or params.get("ServiceId") != s.id:
            raise AwsFault(
                "InvalidVpcEndpointServiceId.NotFound",
                f"The Vpc Endpoint Service Id '{params.get('ServiceId')}' does not exist",
            )
        items = [
            {
                "PrincipalType": "Role" if ":role/" in p else "Account",
                "Principal": p,
                "ServicePermissionId": "vpce-svc-perm-" + hex_id(p),
                "ServiceId": s.id,
            }
            for p in s.principals
        ]
        return page(params, "AllowedPrincipals", items)

    def _describe_vpc_endpoint_connections(self, label, region, params, moto):
        s = self.service
        wanted = {v for f in params.get("Filters", []) if f["Name"] == "service-id" for v in f["Values"]}
        if s is None or region != s.region or (wanted and s.id not in wanted):
            return {"VpcEndpointConnections": []}
        items = [
            {
                "ServiceId": s.id,
                "VpcEndpointId": c.endpoint_id,
                "VpcEndpointOwner": c.owner,
                "VpcEndpointState": c.state,
                "CreationTimestamp": NOW,
                "DnsEntries": self.endpoint_by_id(c.endpoint_id).dns_entries()
                if self.endpoint_by_id(c.endpoint_id)
                else [],
                "NetworkLoadBalancerArns": [s.nlb_arn],
                "IpAddressType": "ipv4",
                "VpcEndpointConnectionId": "vpce-con-" + hex_id(c.endpoint_id),
                "VpcEndpointRegion": c.region,
            }
            for c in self.connections
        ]
        return page(params, "VpcEndpointConnections", items)

    def endpoint_by_id(self, endpoint_id: str) -> Endpoint | None:
        return next((e for e in self.endpoints.values() if e.id == endpoint_id), None)

    def _describe_vpc_endpoints(self, label, region, params, moto):
        mine = [e for e in self.endpoints.values() if e.account == label and e.region == region]
        ids = params.get("VpcEndpointIds")
        if ids:
            missing = [i for i in ids if i not in {e.id for e in mine}]
            if missing:
                raise AwsFault(
                    "InvalidVpcEndpointId.NotFound", f"The VpcEndpoint Id '{missing[0]}' does not exist"
                )
            mine = [e for e in mine if e.id in ids]
        found = [e.describe() for e in mine]
        for f in params.get("Filters", []):
            if f["Name"] == "vpc-id":
                found = [e for e in found if e["VpcId"] in f["Values"]]
            elif f["Name"].startswith("tag:"):
                key = f["Name"][4:]
                found = [
                    e for e in found if any(t["Key"] == key and t["Value"] in f["Values"] for t in e["Tags"])
                ]
        return {"VpcEndpoints": found}

    def _describe_network_interfaces(self, label, region, params, moto):
        enis = {
            eni["NetworkInterfaceId"]: eni
            for e in self.endpoints.values()
            if e.account == label and e.region == region
            for eni in e.enis()
        }
        ids = params.get("NetworkInterfaceIds") or []
        if ids and all(i in enis for i in ids):
            return {"NetworkInterfaces": [enis[i] for i in ids]}
        return moto(params)

    def _describe_target_health(self, label, region, params, moto):
        body = moto(params)
        for d in body.get("TargetHealthDescriptions", []):
            state, reason, description = self.health.get(d["Target"]["Id"], ("healthy", None, None))
            d["TargetHealth"] = {"State": state}
            if reason:
                d["TargetHealth"].update(Reason=reason, Description=description)
        return body

    def _vpn_for(self, label, region, endpoint_id) -> ClientVpn:
        for name, vpn in self.vpns.items():
            consumer = self.spec.consumer(name)
            if vpn.id == endpoint_id and consumer.account == label and consumer.region == region:
                return vpn
        raise AwsFault("InvalidClientVpnEndpointId.NotFound", f"Endpoint {endpoint_id} does not exist")

    def _describe_client_vpn_endpoints(self, label, region, params, moto):
        return {
            "ClientVpnEndpoints": [
                self._vpn_for(label, region, i).describe() for i in params.get("ClientVpnEndpointIds", [])
            ]
        }

    def _describe_client_vpn_target_networks(self, label, region, params, moto):
        vpn = self._vpn_for(label, region, params["ClientVpnEndpointId"])
        return page(params, "ClientVpnTargetNetworks", vpn.target_networks())

    def _describe_client_vpn_authorization_rules(self, label, region, params, moto):
        vpn = self._vpn_for(label, region, params["ClientVpnEndpointId"])
        return page(params, "AuthorizationRules", vpn.authorization_rules())

    def _describe_client_vpn_routes(self, label, region, params, moto):
        vpn = self._vpn_for(label, region, params["ClientVpnEndpointId"])
        return page(params, "Routes", vpn.routes())

    def _describe_stacks(self, label, region, params, moto):
        failed = self.failed_stacks.get(params.get("StackName", ""))
        if failed is None:
            return moto(params)
        name = params["StackName"]
        return {
            "Stacks": [
                {
                    "StackId": f"arn:aws:cloudformation:{region}:{ACCOUNT_IDS[label]}:stack/{name}/"
                    + hex_id(name, n=8),
                    "StackName": name,
                    "CreationTime": NOW,
                    "StackStatus": failed.status,
                    "StackStatusReason": "The following resource(s) failed to create: [Endpoint]. "
                    "Rollback requested by user.",
                    "DisableRollback": False,
                    "Tags": [{"Key": naming.TAG_LINK, "Value": "hello"}],
                }
            ]
        }

    def _describe_stack_events(self, label, region, params, moto):
        name = params.get("StackName", "")
        failed = self.failed_stacks.get(name)
        if failed is None:
            return moto(params)
        stack_id = f"arn:aws:cloudformation:{region}:{ACCOUNT_IDS[label]}:stack/{name}/" + hex_id(name, n=8)

        def event(n, logical, kind, status, reason=""):
            item = {
                "StackId": stack_id,
                "EventId": hex_id(name, str(n), n=36),
                "StackName": name,
                "LogicalResourceId": logical,
                "ResourceType": kind,
                "Timestamp": NOW + dt.timedelta(seconds=n),
                "ResourceStatus": status,
            }
            if reason:
                item["ResourceStatusReason"] = reason
            return item

        events = [  # newest first, like AWS
            event(5, name, "AWS::CloudFormation::Stack", "ROLLBACK_COMPLETE"),
            event(
                4,
                name,
                "AWS::CloudFormation::Stack",
                "ROLLBACK_IN_PROGRESS",
                "The following resource(s) failed to create: [Endpoint]. Rollback requested by user.",
            ),
            event(3, "Endpoint", "AWS::EC2::VPCEndpoint", "CREATE_FAILED", failed.reason),
            event(2, "Endpoint", "AWS::EC2::VPCEndpoint", "CREATE_IN_PROGRESS"),
            event(1, name, "AWS::CloudFormation::Stack", "CREATE_IN_PROGRESS", "User Initiated"),
        ]
        return page(params, "StackEvents", events)

    # -- building ---------------------------------------------------------------------------------
    def create_stack(self, label: str, region: str, name: str, part: str, outputs: dict[str, str]) -> None:
        self.moto(label, region, "cloudformation").create_stack(
            StackName=name,
            TemplateBody=json.dumps(
                {"Resources": {}, "Outputs": {k: {"Value": v} for k, v in outputs.items() if v}}
            ),
            Tags=[{"Key": naming.TAG_LINK, "Value": self.spec.name}, {"Key": naming.TAG_PART, "Value": part}],
        )

    def deploy(self) -> AwsWorld:
        self.deploy_producer()
        for consumer in self.spec.consumers:
            self.deploy_consumer(consumer)
        return self

    def az_names_for(self, label: str, region: str, az_ids: list[str] | None, count: int) -> list[str]:
        table = AZ_TABLES[(ACCOUNT_IDS[label], region)]
        if az_ids is None:
            return sorted(table)[:count]
        by_id = {v: k for k, v in table.items()}
        return [by_id[i] for i in az_ids[:count]]

    def make_subnets(self, label, region, vpc_id, cidr, az_names) -> list[dict[str, str]]:
        ec2 = self.moto(label, region, "ec2")
        return [
            {
                "SubnetId": ec2.create_subnet(VpcId=vpc_id, CidrBlock=block, AvailabilityZone=az)["Subnet"][
                    "SubnetId"
                ],
                "AvailabilityZone": az,
                "CidrBlock": block,
            }
            for block, az in zip(subnet_cidrs(cidr, len(az_names)), az_names, strict=True)
        ]

    def deploy_producer(self) -> None:
        p = self.spec.producer
        label, region = p.account, p.region
        ec2, elb = self.moto(label, region, "ec2"), self.moto(label, region, "elbv2")
        vpc_id = ec2.create_vpc(CidrBlock=p.vpc.cidr)["Vpc"]["VpcId"]
        az_names = self.az_names_for(label, region, None, p.vpc.az_count)
        subnets = self.make_subnets(label, region, vpc_id, p.vpc.cidr, az_names)
        instances = [
            ec2.run_instances(
                ImageId=DEMO_IMAGE, MinCount=1, MaxCount=1, InstanceType="t3.micro", SubnetId=s["SubnetId"]
            )["Instances"][0]["InstanceId"]
            for s in subnets
        ]
        lb = elb.create_load_balancer(
            Name="privlink-hello", Subnets=[s["SubnetId"] for s in subnets], Scheme="internal", Type="network"
        )["LoadBalancers"][0]
        hc = p.service.health_check
        tg = elb.create_target_group(
            Name="privlink-hello",
            Protocol="TCP",
            Port=p.service.backend_port,
            VpcId=vpc_id,
            TargetType="instance",
            HealthCheckProtocol="TCP",
            HealthCheckIntervalSeconds=hc.interval,
            HealthCheckTimeoutSeconds=hc.timeout,
            HealthyThresholdCount=hc.healthy_threshold,
            UnhealthyThresholdCount=hc.unhealthy_threshold,
        )["TargetGroups"][0]
        elb.register_targets(
            TargetGroupArn=tg["TargetGroupArn"],
            Targets=[{"Id": i, "Port": p.service.backend_port} for i in instances],
        )
        listener = elb.create_listener(
            LoadBalancerArn=lb["LoadBalancerArn"],
            Protocol="TCP",
            Port=p.service.port,
            DefaultActions=[{"Type": "forward", "TargetGroupArn": tg["TargetGroupArn"]}],
        )["Listeners"][0]
        elb.modify_load_balancer_attributes(
            LoadBalancerArn=lb["LoadBalancerArn"],
            Attributes=[
                {"Key": "load_balancing.cross_zone.enabled", "Value": str(p.service.cross_zone).lower()}
            ],
        )
        elb.modify_target_group_attributes(
            TargetGroupArn=tg["TargetGroupArn"],
            Attributes=[{"Key": "proxy_protocol_v2.enabled", "Value": str(p.service.proxy_protocol).lower()}],
        )
        table = AZ_TABLES[(ACCOUNT_IDS[label], region)]
        service_id = "vpce-svc-" + hex_id("service", self.spec.name)
        self.service = Service(
            id=service_id,
            region=region,
            nlb_arn=lb["LoadBalancerArn"],
            az_names=az_names,
            az_ids=[table[n] for n in az_names],
            supported_regions=self.spec.supported_regions,
            private_dns_name=p.endpoint_service.private_dns_name,
            acceptance_required=p.endpoint_service.acceptance_required,
            principals=list(
                dict.fromkeys(
                    [f"arn:aws:iam::{ACCOUNT_IDS[c.account]}:root" for c in self.spec.consumers]
                    + p.endpoint_service.allowed_principals
                )
            ),
        )
        self.producer = {
            "vpc_id": vpc_id,
            "subnets": subnets,
            "instances": dict(zip(instances, az_names, strict=True)),
            "lb_arn": lb["LoadBalancerArn"],
            "tg_arn": tg["TargetGroupArn"],
            "listener_arn": listener["ListenerArn"],
        }
        self.create_stack(
            label,
            region,
            naming.producer_stack(self.spec.name).name,
            "producer",
            {
                naming.OUT_SERVICE_ID: service_id,
                naming.OUT_SERVICE_NAME: self.service.name,
                naming.OUT_LOAD_BALANCER_ARN: lb["LoadBalancerArn"],
                naming.OUT_TARGET_GROUP_ARN: tg["TargetGroupArn"],
                naming.OUT_VPC_ID: vpc_id,
                naming.OUT_VPC_CIDR: p.vpc.cidr,
                naming.OUT_SUBNET_IDS: ",".join(s["SubnetId"] for s in subnets),
                naming.OUT_AZ_IDS: ",".join(self.service.az_ids),
            },
        )

    def deploy_consumer(self, consumer) -> None:
        label, region, port = consumer.account, consumer.region, self.spec.producer.service.port
        assert self.service is not None
        ec2 = self.moto(label, region, "ec2")
        vpc_id = ec2.create_vpc(CidrBlock=consumer.vpc.cidr)["Vpc"]["VpcId"]
        ec2.modify_vpc_attribute(VpcId=vpc_id, EnableDnsSupport={"Value": True})
        ec2.modify_vpc_attribute(VpcId=vpc_id, EnableDnsHostnames={"Value": True})
        same_region = region == self.spec.producer.region
        # Like the consumer template: a new VPC in the same region takes the service's AZ IDs.
        az_names = self.az_names_for(
            label, region, self.service.az_ids if same_region else None, consumer.vpc.az_count
        )
        subnets = self.make_subnets(label, region, vpc_id, consumer.vpc.cidr, az_names)
        group = ec2.create_security_group(
            GroupName=f"privlink-hello-{consumer.name}-endpoint",
            Description=f"privlink hello: endpoint, TCP {port} only",
            VpcId=vpc_id,
        )["GroupId"]
        sources = [consumer.vpc.cidr] + ([consumer.vpn.client_cidr] if consumer.vpn else [])
        ec2.authorize_security_group_ingress(
            GroupId=group,
            IpPermissions=[
                {"IpProtocol": "tcp", "FromPort": port, "ToPort": port, "IpRanges": [{"CidrIp": c}]}
                for c in dict.fromkeys(sources + consumer.allowed_cidrs)
            ],
        )
        endpoint = Endpoint(
            id="vpce-" + hex_id("endpoint", consumer.name),
            consumer=consumer.name,
            account=label,
            region=region,
            vpc_id=vpc_id,
            service=self.service,
            subnets=subnets,
            security_group_ids=[group],
            private_dns_enabled=consumer.private_dns_enabled,
            suffix=hex_id("suffix", consumer.name, n=8),
        )
        self.endpoints[consumer.name] = endpoint
        self.connections.append(Connection(endpoint.id, ACCOUNT_IDS[label], region))
        self.consumer_vpcs[consumer.name] = vpc_id
        self.consumer_subnets[consumer.name] = subnets
        outputs = {
            naming.OUT_VPC_ID: vpc_id,
            naming.OUT_VPC_CIDR: consumer.vpc.cidr,
            naming.OUT_SUBNET_IDS: ",".join(s["SubnetId"] for s in subnets),
            naming.OUT_AZ_IDS: ",".join(AZ_TABLES[(ACCOUNT_IDS[label], region)][n] for n in az_names),
            naming.OUT_ENDPOINT_ID: endpoint.id,
            naming.OUT_ENDPOINT_DNS_ENTRIES: ",".join(
                f"{d['HostedZoneId']}:{d['DnsName']}" for d in endpoint.dns_entries()[: 1 + len(subnets)]
            ),
            naming.OUT_ENDPOINT_SG_ID: group,
        }
        if consumer.private_dns is not None:
            r53 = self.moto(label, region, "route53")
            zone_id = r53.create_hosted_zone(
                Name=consumer.private_dns.zone,
                CallerReference=f"privlink-hello-{consumer.name}",
                VPC={"VPCRegion": region, "VPCId": vpc_id},
                HostedZoneConfig={"PrivateZone": True, "Comment": "privlink hello"},
            )["HostedZone"]["Id"].rsplit("/", 1)[-1]
            self.zones[consumer.name] = zone_id
            self.set_record(consumer.name, alias=endpoint.regional_name)
            outputs[naming.OUT_HOSTED_ZONE_ID] = zone_id
            outputs[naming.OUT_PRIVATE_NAME] = consumer.private_dns.fqdn
        self.create_stack(
            label, region, naming.consumer_stack(self.spec.name, consumer.name).name, "consumer", outputs
        )
        if consumer.vpn is not None:
            vpn = ClientVpn(
                id="cvpn-endpoint-" + hex_id("vpn", consumer.name),
                vpc_id=vpc_id,
                vpc_cidr=consumer.vpc.cidr,
                client_cidr=consumer.vpn.client_cidr,
                subnet_ids=[s["SubnetId"] for s in subnets],
                associations={s["SubnetId"]: "associated" for s in subnets},
                rules=[(consumer.vpc.cidr, "active")],
                split_tunnel=consumer.vpn.split_tunnel,
            )
            self.vpns[consumer.name] = vpn
            self.create_stack(
                label,
                region,
                naming.vpn_stack(self.spec.name, consumer.name).name,
                "vpn",
                {
                    naming.OUT_CLIENT_VPN_ENDPOINT_ID: vpn.id,
                    naming.OUT_LOG_GROUP: f"/privlink/hello/{consumer.name}/client-vpn",
                },
            )

    # -- breaking ---------------------------------------------------------------------------------
    def set_record(self, consumer: str, alias: str | None = None, delete: bool = False) -> None:
        """UPSERT (or DELETE) the private name's alias A record in the consumer's zone."""
        spec_consumer = self.spec.consumer(consumer)
        assert spec_consumer.private_dns is not None
        r53 = self.moto(spec_consumer.account, spec_consumer.region, "route53")
        zone = self.zones[consumer]
        name = spec_consumer.private_dns.fqdn
        if delete:
            current = next(
                r
                for r in r53.list_resource_record_sets(HostedZoneId=zone)["ResourceRecordSets"]
                if r["Name"].rstrip(".") == name and r["Type"] == "A"
            )
            change = {"Action": "DELETE", "ResourceRecordSet": current}
        else:
            change = {
                "Action": "UPSERT",
                "ResourceRecordSet": {
                    "Name": name,
                    "Type": "A",
                    "AliasTarget": {
                        "HostedZoneId": VPCE_ZONES[spec_consumer.region],
                        "DNSName": alias,
                        "EvaluateTargetHealth": True,
                    },
                },
            }
        r53.change_resource_record_sets(HostedZoneId=zone, ChangeBatch={"Changes": [change]})

    def set_connection(self, consumer: str, state: str) -> None:
        """The provider's view and the consumer's endpoint both show `state` (as AWS does)."""
        endpoint = self.endpoints[consumer]
        endpoint.state = state
        for c in self.connections:
            if c.endpoint_id == endpoint.id:
                c.state = state

    def producer_client(self, service: str) -> Any:
        return self.moto(self.spec.producer.account, self.spec.producer.region, service)

    def consumer_client(self, consumer: str, service: str) -> Any:
        c = self.spec.consumer(consumer)
        return self.moto(c.account, c.region, service)


def fake_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test may pick up real credentials or profiles from this machine."""
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")  # thousands of images per account: slow


@pytest.fixture
def deployed(monkeypatch) -> Iterator[Callable[..., AwsWorld]]:
    """Factory: `deployed(spec)` -> the spec's link deployed and healthy, inside one `mock_aws`."""
    fake_credentials(monkeypatch)
    with mock_aws():
        yield lambda spec: AwsWorld(spec).deploy()
