"""Steps CloudFormation cannot do: ACM import, accepting connections, private DNS verification,
exporting the Client VPN configuration. Each takes its clients (from the gateway) and injected time.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from privlink.certs import CertBundle, fingerprint
from privlink.errors import AwsError, DeployFailed
from privlink.ovpn import with_client_credentials
from privlink.targets.base import ActionResult, Connection, Progress, no_progress
from privlink.templates.naming import TAG_LINK, TAG_PART

TAG_CERT = "privlink:certificate"  # server | client
TAG_CONSUMER = "privlink:consumer"


@dataclass
class Clock:
    """Injected time for every wait."""

    sleep: Callable[[float], None] = time.sleep
    now: Callable[[], float] = time.monotonic
    poll: float = 5.0


# -- ACM ----------------------------------------------------------------------------------------
def find_certificate(acm: Any, link: str, consumer: str, role: str) -> str | None:
    """The ARN of the certificate privlink imported for (link, consumer, role), if any."""
    wanted = {TAG_LINK: link, TAG_CONSUMER: consumer, TAG_CERT: role}
    summaries = acm.paginate(
        "list_certificates", "CertificateSummaryList", Includes={"keyTypes": ["RSA_2048"]}
    )
    for summary in summaries:
        if summary.get("Type", "IMPORTED") != "IMPORTED":
            continue
        arn = summary["CertificateArn"]
        tags = {
            t["Key"]: t.get("Value", "") for t in acm.list_tags_for_certificate(CertificateArn=arn)["Tags"]
        }
        if all(tags.get(k) == v for k, v in wanted.items()):
            return arn
    return None


def import_certificate(
    acm: Any,
    link: str,
    consumer: str,
    role: str,
    cert_pem: str,
    key_pem: str,
    chain_pem: str,
    known_arn: str | None = None,
    progress: Progress = no_progress,
) -> str:
    """Import (or re-import into the same ARN when it changed) one certificate; its ARN."""
    arn = known_arn if known_arn and _exists(acm, known_arn) else find_certificate(acm, link, consumer, role)
    if arn:
        current = acm.get_certificate(CertificateArn=arn).get("Certificate", "")
        if current and fingerprint(current) == fingerprint(cert_pem):
            return arn
        progress(f"acm: re-importing the {role} certificate of {consumer} into {arn}")
        acm.import_certificate(
            CertificateArn=arn,
            Certificate=cert_pem.encode(),
            PrivateKey=key_pem.encode(),
            CertificateChain=chain_pem.encode(),
        )
        return arn
    progress(f"acm: importing the {role} certificate of {consumer}")
    tags = {TAG_LINK: link, TAG_PART: "vpn", TAG_CONSUMER: consumer, TAG_CERT: role}
    return acm.import_certificate(
        Certificate=cert_pem.encode(),
        PrivateKey=key_pem.encode(),
        CertificateChain=chain_pem.encode(),
        Tags=[{"Key": k, "Value": v} for k, v in tags.items()],
    )["CertificateArn"]


def _exists(acm: Any, arn: str) -> bool:
    try:
        acm.describe_certificate(CertificateArn=arn)
    except AwsError as exc:
        if exc.code in ("ResourceNotFoundException", "ValidationException"):
            return False
        raise
    return True


def import_certificates(
    acm: Any,
    link: str,
    consumer: str,
    bundle: CertBundle,
    known: dict[str, str] | None = None,
    progress: Progress = no_progress,
) -> dict[str, str]:
    """Server certificate (chain: the CA) and client certificate (its chain is the client CA for
    mutual authentication, as in AWS's Client VPN guide; the CA key never leaves this machine)."""
    known = known or {}
    server = import_certificate(
        acm,
        link,
        consumer,
        "server",
        bundle.server_cert,
        bundle.server_key(),
        bundle.ca_cert,
        known.get("server_certificate_arn"),
        progress,
    )
    client = import_certificate(
        acm,
        link,
        consumer,
        "client",
        bundle.client_cert,
        bundle.client_key(),
        bundle.ca_cert,
        known.get("client_ca_arn"),
        progress,
    )
    return {"server_certificate_arn": server, "client_ca_arn": client}


def delete_certificate(acm: Any, arn: str) -> bool:
    """Delete an imported certificate; False when it was already gone."""
    try:
        acm.delete_certificate(CertificateArn=arn)
    except AwsError as exc:
        if exc.code == "ResourceNotFoundException":
            return False
        raise
    return True


# -- endpoint connections -------------------------------------------------------------------------
def list_connections(ec2: Any, service_id: str, owners: dict[str, str] | None = None) -> list[Connection]:
    """The service's endpoint connections; `owners` maps account IDs to consumer names."""
    owners = owners or {}
    raw = ec2.paginate(
        "describe_vpc_endpoint_connections",
        "VpcEndpointConnections",
        Filters=[{"Name": "service-id", "Values": [service_id]}],
    )
    return [connection_of(item, owners) for item in raw]


def connection_of(item: dict[str, Any], owners: dict[str, str]) -> Connection:
    created = item.get("CreationTimestamp")
    return Connection(
        endpoint_id=item.get("VpcEndpointId", ""),
        owner=item.get("VpcEndpointOwner", ""),
        state=item.get("VpcEndpointState", ""),
        created=created.isoformat() if hasattr(created, "isoformat") else str(created or ""),
        region=item.get("VpcEndpointRegion", ""),
        consumer=owners.get(item.get("VpcEndpointOwner", "")),
    )


def to_accept(connections: Iterable[Connection], declared_owners: Iterable[str]) -> list[str]:
    """Pending connections whose owner is a declared consumer account (the only ones `up` accepts)."""
    owners = set(declared_owners)
    return [c.endpoint_id for c in connections if c.state == "pendingAcceptance" and c.owner in owners]


def act_on_connections(ec2: Any, service_id: str, endpoint_ids: list[str], accept: bool) -> ActionResult:
    result = ActionResult()
    if not endpoint_ids:
        return result
    call = ec2.accept_vpc_endpoint_connections if accept else ec2.reject_vpc_endpoint_connections
    response = call(ServiceId=service_id, VpcEndpointIds=endpoint_ids)
    failed = {
        item.get(
            "ResourceId", ""
        ): f"{item.get('Error', {}).get('Code', '')}: {item.get('Error', {}).get('Message', '')}"
        for item in response.get("Unsuccessful", [])
    }
    result.failed.update(failed)
    result.succeeded.extend(e for e in endpoint_ids if e not in failed)
    return result


def accept_declared_once(
    ec2: Any, service_id: str, owners: dict[str, str], progress: Progress = no_progress
) -> list[Connection]:
    """One pass: accept every pendingAcceptance connection of a declared consumer; the connections."""
    connections = list_connections(ec2, service_id, owners)
    ids = to_accept(connections, owners)
    if ids:
        result = act_on_connections(ec2, service_id, ids, accept=True)
        for endpoint_id in result.succeeded:
            progress(f"accepted endpoint connection {endpoint_id}")
        for endpoint_id, why in result.failed.items():
            progress(f"could not accept {endpoint_id}: {why}")
    return connections


def wait_for_endpoints(
    ec2: Any,
    service_id: str,
    owners: dict[str, str],
    endpoint_ids: list[str],
    clock: Clock,
    timeout: float = 600.0,
    accept: bool = True,
    progress: Progress = no_progress,
) -> dict[str, str]:
    """Accept (when `accept`) and wait until each endpoint is available: pendingAcceptance ->
    pending -> available. Returns endpoint -> state; raises on rejected/failed or timeout."""
    deadline = clock.now() + timeout
    while True:
        if accept:
            connections = accept_declared_once(ec2, service_id, owners, progress)
        else:
            connections = list_connections(ec2, service_id, owners)
        states = {c.endpoint_id: c.state for c in connections if c.endpoint_id in endpoint_ids}
        bad = {e: s for e, s in states.items() if s in ("rejected", "failed", "expired", "deleted")}
        if bad:
            endpoint, state = next(iter(bad.items()))
            raise DeployFailed(
                f"endpoint {endpoint}",
                f"connection is {state}",
                "accept it with privlink connections accept, or recreate the consumer stack",
            )
        if endpoint_ids and all(states.get(e) == "available" for e in endpoint_ids):
            return states
        if clock.now() >= deadline:
            waiting = {e: states.get(e, "not visible to the producer") for e in endpoint_ids}
            raise DeployFailed(
                f"endpoint service {service_id}",
                f"timed out after {timeout:.0f}s waiting for endpoint connections to be available: {waiting}",
                "check privlink connections; accept pending ones or run privlink up again",
            )
        clock.sleep(clock.poll)


# -- private DNS verification ---------------------------------------------------------------------
@dataclass
class DnsVerification:
    name: str
    state: str
    record: str = ""  # the TXT record's name
    value: str = ""
    written: bool = False
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "state": self.state,
            "record": self.record,
            "value": self.value,
            "written": self.written,
        }


def dns_configuration(ec2: Any, service_id: str) -> dict[str, Any]:
    configs = ec2.describe_vpc_endpoint_service_configurations(ServiceIds=[service_id])[
        "ServiceConfigurations"
    ]
    if not configs:
        raise DeployFailed(f"endpoint service {service_id}", "not found", "run privlink up again")
    return configs[0].get("PrivateDnsNameConfiguration") or {}


def public_zone_for(route53: Any, name: str) -> dict[str, Any] | None:
    """The most specific public hosted zone (in this account) that holds `name`."""
    labels = name.rstrip(".").split(".")
    candidates = [".".join(labels[i:]) + "." for i in range(len(labels) - 1)]
    zones = route53.paginate("list_hosted_zones", "HostedZones")
    public = {z["Name"].lower(): z for z in zones if not z.get("Config", {}).get("PrivateZone", False)}
    for candidate in candidates:
        if candidate.lower() in public:
            return public[candidate.lower()]
    return None


def verify_private_dns(
    ec2: Any,
    route53: Any,
    service_id: str,
    private_dns_name: str,
    clock: Clock,
    timeout: float = 900.0,
    progress: Progress = no_progress,
) -> DnsVerification:
    """Write the TXT record when the domain's public zone is here, start verification, poll it."""
    config = dns_configuration(ec2, service_id)
    record = f"{config.get('Name', '')}.{private_dns_name}"
    result = DnsVerification(private_dns_name, config.get("State", ""), record, config.get("Value", ""))
    if result.state == "verified":
        return result
    zone = public_zone_for(route53, private_dns_name)
    if zone is None:
        progress(
            f'private DNS: create the public TXT record {record} with value "{result.value}", '
            "then run privlink up again"
        )
        result.notes.append("TXT record must be created by hand")
        return result
    route53.change_resource_record_sets(
        HostedZoneId=zone["Id"],
        ChangeBatch={
            "Comment": "privlink private DNS name verification",
            "Changes": [
                {
                    "Action": "UPSERT",
                    "ResourceRecordSet": {
                        "Name": record,
                        "Type": "TXT",
                        "TTL": 300,
                        "ResourceRecords": [{"Value": f'"{result.value}"'}],
                    },
                }
            ],
        },
    )
    result.written = True
    progress(f"private DNS: wrote TXT {record} in {zone['Name']}; starting verification")
    ec2.start_vpc_endpoint_service_private_dns_verification(ServiceId=service_id)
    deadline = clock.now() + timeout
    while True:
        result.state = dns_configuration(ec2, service_id).get("State", "")
        if result.state == "verified":
            progress(f"private DNS: {private_dns_name} verified")
            return result
        if result.state == "failed":
            raise DeployFailed(
                f"producer.endpoint_service.private_dns_name ({private_dns_name})",
                f"verification failed; TXT {record} must resolve publicly to {result.value}",
                "check the public zone's delegation, then run privlink up again",
            )
        if clock.now() >= deadline:
            progress(f"private DNS: still {result.state} after {timeout:.0f}s; privlink up again checks it")
            return result
        clock.sleep(clock.poll)


# -- Client VPN -----------------------------------------------------------------------------------
def export_vpn_config(ec2: Any, endpoint_id: str, bundle: CertBundle) -> str:
    """AWS's exported `.ovpn` for `endpoint_id` with the client certificate and key inline."""
    text = ec2.export_client_vpn_client_configuration(ClientVpnEndpointId=endpoint_id)["ClientConfiguration"]
    return with_client_credentials(text, bundle.client_cert, bundle.client_key())
