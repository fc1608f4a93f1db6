"""The simulated AWS world of the local sandbox: accounts, resources, PrivateLink state.

Plain pydantic models, JSON-serialisable, saved atomically to `.privlink/sandbox.json`. The
PrivateLink rules live here (who may create an endpoint, connection states, notifications) so
that the engine's handlers and the CLI's `connections accept|reject` share one implementation.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, PrivateAttr

from privlink.statefile import corrupt, read_state_text, write_private_text
from privlink.targets.local.engine import ids as idfmt

WORLD_VERSION = 1

# Endpoint states on the wire are lower camelCase (aws-facts-detailed §1).
PENDING_ACCEPTANCE = "pendingAcceptance"
PENDING = "pending"
AVAILABLE = "available"
REJECTED = "rejected"
DELETED = "deleted"
# Endpoints in these states keep an endpoint service from being deleted.
BLOCKING_STATES = {PENDING_ACCEPTANCE, PENDING, AVAILABLE}


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


class SimulatedAwsError(Exception):
    """An AWS API error inside the world: `code` and `message` as AWS would return them."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class AccountInfo(BaseModel):
    label: str
    id: str
    role_arn: str | None = None  # the principal deployments in this account run as, if not root

    @property
    def root_arn(self) -> str:
        return f"arn:aws:iam::{self.id}:root"

    @property
    def caller_arn(self) -> str:
        return self.role_arn or self.root_arn


class Resource(BaseModel):
    """One resource created by a stack; `data` holds type-specific state (e.g. a subnet's IPs)."""

    type: str
    id: str
    account: str  # account label
    region: str
    stack: str = ""
    logical_id: str = ""
    properties: dict[str, Any] = Field(default_factory=dict)
    attributes: dict[str, Any] = Field(default_factory=dict)
    data: dict[str, Any] = Field(default_factory=dict)


class EndpointService(BaseModel):
    id: str
    name: str
    account: str
    region: str
    load_balancer_arns: list[str]
    az_names: list[str]  # in the owner's account
    az_ids: list[str]
    acceptance_required: bool = True
    allowed_principals: list[str] = Field(default_factory=list)
    supported_regions: list[str] = Field(default_factory=list)
    private_dns_name: str | None = None
    private_dns_state: str | None = None  # pendingVerification | verified | failed
    private_dns_txt_name: str | None = None
    private_dns_txt_value: str | None = None
    state: str = "Available"
    created: str = ""

    @property
    def base_dns_name(self) -> str:
        return f"{self.id}.{self.region}.vpce.amazonaws.com"


class Endpoint(BaseModel):
    """An interface endpoint; the provider sees it as a connection."""

    id: str
    account: str
    region: str
    vpc_id: str
    service_id: str
    service_name: str
    service_region: str
    subnet_ids: list[str]
    security_group_ids: list[str] = Field(default_factory=list)
    network_interfaces: dict[str, str] = Field(default_factory=dict)  # subnet id -> eni id
    private_ips: dict[str, str] = Field(default_factory=dict)  # subnet id -> private IP
    dns_zone_id: str = ""
    dns_names: list[str] = Field(default_factory=list)  # regional first, then zonal
    private_dns_enabled: bool = False
    state: str = PENDING
    state_since: str = ""
    created: str = ""
    history: list[str] = Field(default_factory=list)  # states passed through, oldest first

    @property
    def dns_entries(self) -> list[str]:
        """CloudFormation's DnsEntries attribute: `<zone id>:<dns name>`, regional first."""
        return [f"{self.dns_zone_id}:{name}" for name in self.dns_names]


class ConnectionNotification(BaseModel):
    id: str
    account: str
    region: str
    topic_arn: str
    events: list[str]
    service_id: str | None = None
    endpoint_id: str | None = None
    state: str = "Enabled"


class NotificationEvent(BaseModel):
    """One connection notification as SNS would deliver it to the topic."""

    notification_id: str
    topic_arn: str
    event: str  # Connect | Accept | Reject | Delete
    service_id: str
    endpoint_id: str
    endpoint_owner: str
    endpoint_state: str
    time: str
    delivered: bool = True
    reason: str = ""  # why SNS did not deliver, when delivered is false

    @property
    def message(self) -> dict[str, Any]:
        # The real SNS body format is UNCONFIRMED (aws-facts-detailed §1); these are its fields.
        return {
            "awsAccountId": self.endpoint_owner,
            "serviceId": self.service_id,
            "endpointId": self.endpoint_id,
            "endpointState": self.endpoint_state,
            "eventType": self.event,
            "time": self.time,
        }


class Certificate(BaseModel):
    arn: str
    account: str
    region: str
    domain: str
    tags: dict[str, str] = Field(default_factory=dict)
    certificate: str = ""  # PEM (public part only; keys never enter the world)


class StackEvent(BaseModel):
    time: str
    logical_id: str
    resource_type: str
    physical_id: str
    status: str
    reason: str = ""


class StackResource(BaseModel):
    logical_id: str
    type: str
    physical_id: str
    properties: dict[str, Any] = Field(default_factory=dict)
    attributes: dict[str, Any] = Field(default_factory=dict)


class StackRecord(BaseModel):
    name: str
    account: str
    region: str
    stack_id: str
    status: str
    template: dict[str, Any] = Field(default_factory=dict)
    parameters: dict[str, str] = Field(default_factory=dict)
    resources: dict[str, StackResource] = Field(default_factory=dict)
    order: list[str] = Field(default_factory=list)  # logical IDs in creation order
    outputs: dict[str, str] = Field(default_factory=dict)
    events: list[StackEvent] = Field(default_factory=list)
    created: str = ""
    updated: str = ""


NotificationHandler = Callable[[NotificationEvent], None]


class World(BaseModel):
    """Everything the sandbox's simulated AWS holds."""

    version: int = WORLD_VERSION
    id_seed: str | None = None  # deterministic IDs when set (tests); random otherwise
    id_counter: int = 0
    accounts: dict[str, AccountInfo] = Field(default_factory=dict)
    resources: dict[str, Resource] = Field(default_factory=dict)
    endpoint_services: dict[str, EndpointService] = Field(default_factory=dict)
    endpoints: dict[str, Endpoint] = Field(default_factory=dict)
    notifications: dict[str, ConnectionNotification] = Field(default_factory=dict)
    notification_events: list[NotificationEvent] = Field(default_factory=list)
    certificates: dict[str, Certificate] = Field(default_factory=dict)
    stacks: dict[str, StackRecord] = Field(default_factory=dict)  # key: account/region/name
    pending_seconds: float = 0.0  # how long an endpoint stays `pending` before `available`

    _ids: idfmt.IdFactory = PrivateAttr()
    _clock: Callable[[], datetime] | None = PrivateAttr(default=None)
    _handlers: list[NotificationHandler] = PrivateAttr(default_factory=list)

    def model_post_init(self, _context: Any) -> None:
        self._ids = idfmt.IdFactory(self.id_seed, self.id_counter)

    # --- plumbing -------------------------------------------------------------------------

    @property
    def ids(self) -> idfmt.IdFactory:
        return self._ids

    def set_clock(self, clock: Callable[[], datetime]) -> None:
        self._clock = clock

    def now(self) -> datetime:
        return (self._clock or utcnow)()

    def on_notification(self, handler: NotificationHandler) -> None:
        """Call `handler` with every notification event delivered from now on (not persisted)."""
        self._handlers.append(handler)

    @classmethod
    def load(cls, path: Path, clock: Callable[[], datetime] | None = None) -> World:
        """The world saved at `path`, or a new empty one when there is none."""
        fix = "delete it, then `privlink down` and `privlink up` for a fresh sandbox"
        text = read_state_text(path, fix)
        if text is None:
            world = cls()
        else:
            try:
                world = cls.model_validate_json(text)
            except ValueError as exc:
                raise corrupt(path, exc, fix) from None
        if clock is not None:
            world.set_clock(clock)
        return world

    def save(self, path: Path) -> None:
        """Write the world to `path` atomically (temp file + rename)."""
        self.id_counter = self._ids.counter
        write_private_text(path, json.dumps(self.model_dump(mode="json"), indent=1, sort_keys=True))

    # --- accounts and zones ---------------------------------------------------------------

    def account(self, label: str, role_arn: str | None = None) -> AccountInfo:
        """The simulated account for a label, created on first use."""
        info = self.accounts.get(label)
        if info is None:
            info = AccountInfo(label=label, id=idfmt.account_id(label), role_arn=role_arn)
            self.accounts[label] = info
        elif role_arn is not None and info.role_arn != role_arn:
            info.role_arn = role_arn
        return info

    def account_by_id(self, account_id: str) -> AccountInfo | None:
        return next((a for a in self.accounts.values() if a.id == account_id), None)

    def az_mapping(self, label: str, region: str) -> dict[str, str]:
        """AZ name -> AZ ID as the account sees them."""
        return idfmt.az_mapping(self.account(label).id, region)

    def az_name_for_id(self, label: str, region: str, az_id: str) -> str:
        for name, zone_id in self.az_mapping(label, region).items():
            if zone_id == az_id:
                return name
        raise SimulatedAwsError(
            "InvalidParameterValue",
            f"Value ({az_id}) for parameter availabilityZoneId is invalid. "
            f"Subnets can currently only be created in the following availability zones: "
            + ", ".join(self.az_mapping(label, region).values())
            + ".",
        )

    # --- resources ------------------------------------------------------------------------

    def get_any(self, resource_id: str | None, rtype: str | None = None) -> Resource | None:
        """The resource with physical ID `resource_id` (and type `rtype`) in any account."""
        return next(
            (r for r in self.resources.values() if r.id == resource_id and rtype in (None, r.type)), None
        )

    def of_type(self, rtype: str) -> list[Resource]:
        return [r for r in self.resources.values() if r.type == rtype]

    def listeners_of(self, load_balancer_arn: str) -> list[Resource]:
        """The ELBv2 listeners of one load balancer, in creation order."""
        return [
            r
            for r in self.of_type("AWS::ElasticLoadBalancingV2::Listener")
            if r.data["load_balancer_arn"] == load_balancer_arn
        ]

    # --- PrivateLink ----------------------------------------------------------------------

    def find_service(self, name: str, region: str) -> EndpointService | None:
        return next(
            (s for s in self.endpoint_services.values() if s.name == name and s.region == region),
            None,
        )

    def principal_allowed(self, service: EndpointService, caller_arn: str) -> bool:
        """Whether `caller_arn` may see the service: owner, `*`, its account root, or itself."""
        caller_account = caller_arn.split(":")[4]
        if caller_account == self.account(service.account).id:
            return True
        for allowed in service.allowed_principals:
            if allowed == "*" or allowed == caller_arn:
                return True
            if allowed == f"arn:aws:iam::{caller_account}:root":
                return True
        return False

    def visible_service(
        self, name: str, service_region: str, caller: AccountInfo, caller_region: str
    ) -> EndpointService:
        """The service a caller may attach to, or AWS's `InvalidServiceName`.

        A missing service, an unlisted principal and an unsupported remote region look the same.
        """
        service = self.find_service(name, service_region)
        invisible = SimulatedAwsError(
            "InvalidServiceName", f"The Vpc Endpoint Service '{name}' does not exist"
        )
        if service is None or service.state != "Available":
            raise invisible
        if not self.principal_allowed(service, caller.caller_arn):
            raise invisible
        if caller_region != service.region and caller_region not in service.supported_regions:
            raise invisible
        return service

    def set_endpoint_state(self, endpoint: Endpoint, state: str) -> None:
        endpoint.state = state
        endpoint.state_since = iso(self.now())
        endpoint.history.append(state)

    def settle(self) -> None:
        """Move endpoints past `pending` once `pending_seconds` have passed."""
        now = self.now()
        for endpoint in self.endpoints.values():
            if endpoint.state != PENDING:
                continue
            since = datetime.fromisoformat(endpoint.state_since.replace("Z", "+00:00"))
            if (now - since).total_seconds() >= self.pending_seconds:
                self.set_endpoint_state(endpoint, AVAILABLE)

    def connections(self, service_id: str) -> list[dict[str, Any]]:
        """The provider's view (DescribeVpcEndpointConnections), oldest first."""
        self.settle()
        service = self.endpoint_services.get(service_id)
        if service is None:
            raise SimulatedAwsError(
                "InvalidVpcEndpointServiceId.NotFound",
                f"The Vpc Endpoint Service Id '{service_id}' does not exist",
            )
        found = []
        for endpoint in self.endpoints.values():
            if endpoint.service_id != service_id or endpoint.state == DELETED:
                continue
            found.append(
                {
                    "ServiceId": service_id,
                    "VpcEndpointId": endpoint.id,
                    "VpcEndpointOwner": self.account(endpoint.account).id,
                    "VpcEndpointOwnerLabel": endpoint.account,
                    "VpcEndpointState": endpoint.state,
                    "CreationTimestamp": endpoint.created,
                    "VpcEndpointRegion": endpoint.region,
                    "DnsEntries": [
                        {"DnsName": n, "HostedZoneId": endpoint.dns_zone_id} for n in endpoint.dns_names
                    ],
                    "NetworkLoadBalancerArns": list(service.load_balancer_arns),
                }
            )
        return sorted(found, key=lambda c: (c["CreationTimestamp"], c["VpcEndpointId"]))

    def _decide(
        self, service_id: str, endpoint_ids: list[str], allowed_from: set[str], new_state: str, event: str
    ) -> list[dict[str, Any]]:
        self.settle()
        if service_id not in self.endpoint_services:
            raise SimulatedAwsError(
                "InvalidVpcEndpointServiceId.NotFound",
                f"The Vpc Endpoint Service Id '{service_id}' does not exist",
            )
        unsuccessful = []
        for endpoint_id in endpoint_ids:
            endpoint = self.endpoints.get(endpoint_id)
            if endpoint is None or endpoint.service_id != service_id or endpoint.state == DELETED:
                unsuccessful.append(
                    _failure(
                        endpoint_id,
                        "InvalidVpcEndpointId.NotFound",
                        f"The Vpc Endpoint Id '{endpoint_id}' does not exist",
                    )
                )
                continue
            if endpoint.state not in allowed_from:
                unsuccessful.append(
                    _failure(
                        endpoint_id,
                        "InvalidState",
                        f"Endpoint {endpoint_id} is in state {endpoint.state}",
                    )
                )
                continue
            self.set_endpoint_state(endpoint, new_state)
            self.notify(endpoint, event)
        self.settle()
        return unsuccessful

    def accept(self, service_id: str, endpoint_ids: list[str]) -> list[dict[str, Any]]:
        """AcceptVpcEndpointConnections: the `Unsuccessful` list (empty when all succeeded)."""
        return self._decide(service_id, endpoint_ids, {PENDING_ACCEPTANCE, REJECTED}, PENDING, "Accept")

    def reject(self, service_id: str, endpoint_ids: list[str]) -> list[dict[str, Any]]:
        """RejectVpcEndpointConnections; the provider may reject an available endpoint too."""
        return self._decide(
            service_id, endpoint_ids, {PENDING_ACCEPTANCE, PENDING, AVAILABLE}, REJECTED, "Reject"
        )

    def verify_private_dns(self, service_id: str) -> None:
        """Mark the service's private DNS name verified (the sandbox has no public DNS to check)."""
        service = self.endpoint_services[service_id]
        if service.private_dns_name:
            service.private_dns_state = "verified"

    def notify(self, endpoint: Endpoint, event: str) -> None:
        """Record `event` for every notification on the endpoint or its service, as SNS delivers it."""
        for notification in list(self.notifications.values()):
            if notification.state != "Enabled" or event not in notification.events:
                continue
            if notification.service_id not in (None, endpoint.service_id):
                continue
            if notification.endpoint_id not in (None, endpoint.id):
                continue
            delivered, reason = self._topic_accepts(notification.topic_arn)
            record = NotificationEvent(
                notification_id=notification.id,
                topic_arn=notification.topic_arn,
                event=event,
                service_id=endpoint.service_id,
                endpoint_id=endpoint.id,
                endpoint_owner=self.account(endpoint.account).id,
                endpoint_state=endpoint.state,
                time=iso(self.now()),
                delivered=delivered,
                reason=reason,
            )
            self.notification_events.append(record)
            if delivered:
                for handler in list(self._handlers):
                    handler(record)

    def _topic_accepts(self, topic_arn: str) -> tuple[bool, str]:
        topic = next((t for t in self.of_type("AWS::SNS::Topic") if t.id == topic_arn), None)
        if topic is None:
            return False, f"topic {topic_arn} does not exist"
        for policy in self.of_type("AWS::SNS::TopicPolicy"):
            if topic_arn in policy.data.get("topics", []) and _allows_vpce_publish(policy.properties):
                return True, ""
        return False, "the topic policy does not allow vpce.amazonaws.com to SNS:Publish"

    # --- certificates (ACM) ---------------------------------------------------------------

    def import_certificate(
        self,
        account: str,
        region: str,
        domain: str,
        certificate: str = "",
        tags: dict[str, str] | None = None,
        arn: str | None = None,
    ) -> str:
        """ImportCertificate: the ARN (re-importing to `arn` replaces that certificate)."""
        if arn is None:
            arn = f"arn:aws:acm:{region}:{self.account(account).id}:certificate/{self.ids.uuid()}"
        self.certificates[arn] = Certificate(
            arn=arn,
            account=account,
            region=region,
            domain=domain,
            certificate=certificate,
            tags=dict(tags or {}),
        )
        return arn

    def delete_certificate(self, arn: str) -> None:
        for cvpn in self.of_type("AWS::EC2::ClientVpnEndpoint"):
            if arn in (cvpn.properties.get("ServerCertificateArn"), cvpn.data.get("client_ca_arn")):
                raise SimulatedAwsError("ResourceInUseException", f"Certificate {arn} is in use by {cvpn.id}")
        self.certificates.pop(arn, None)

    # --- stacks ---------------------------------------------------------------------------

    @staticmethod
    def stack_key(account: str, region: str, name: str) -> str:
        return f"{account}/{region}/{name}"

    def find_stack(
        self, name: str, account: str | None = None, region: str | None = None
    ) -> StackRecord | None:
        matches = [
            s
            for s in self.stacks.values()
            if s.name == name and account in (None, s.account) and region in (None, s.region)
        ]
        return matches[0] if len(matches) == 1 else None


def _failure(resource_id: str, code: str, message: str) -> dict[str, Any]:
    return {"ResourceId": resource_id, "Error": {"Code": code, "Message": message}}


def _allows_vpce_publish(properties: dict[str, Any]) -> bool:
    statements = properties.get("PolicyDocument", {}).get("Statement", [])
    if isinstance(statements, dict):
        statements = [statements]
    for statement in statements:
        if statement.get("Effect") != "Allow":
            continue
        principal = statement.get("Principal", {})
        services = principal.get("Service", []) if isinstance(principal, dict) else []
        if isinstance(services, str):
            services = [services]
        if principal != "*" and "vpce.amazonaws.com" not in services:
            continue
        actions = statement.get("Action", [])
        if isinstance(actions, str):
            actions = [actions]
        if any(a.lower() in ("sns:publish", "sns:*", "*") for a in actions):
            return True
    return False
