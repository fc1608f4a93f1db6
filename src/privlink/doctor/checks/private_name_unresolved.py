"""private-name-unresolved: the name a consumer's clients resolve points to its endpoint."""

from __future__ import annotations

from privlink.doctor.check import Check, FindingKind
from privlink.doctor.consumers import with_endpoint
from privlink.doctor.findings import Finding
from privlink.doctor.skips import CHECK_SKIPPED, skipped
from privlink.observe.model import Observation, producer_part

FIX_NO_RECORD = (
    "check consumers[{consumer}].private_dns and run `privlink up`; a record deleted outside "
    "CloudFormation `privlink up` does not restore: add `{name} A ALIAS {regional}` to the private zone "
    "again"
)
FIX_WRONG_TARGET = (
    "point the record back at the endpoint's regional name, `{name} A ALIAS {regional}` (`privlink up` "
    "does not undo a change made outside CloudFormation)"
)

PRIVATE_NAME_UNRESOLVED = FindingKind(
    "private-name-unresolved",
    ("error", "warning"),
    "The private name a consumer's clients use has no record, or does not point to its endpoint.",
    "With `private_dns` a consumer gets a private hosted zone associated with its VPC and an alias A "
    "record from the name clients use to the endpoint's regional DNS name. An error when the record "
    "is missing or points elsewhere (clients reach another endpoint, or nothing); a warning when it "
    "points to one of the endpoint's zonal names, which pins every client to one AZ. A name the "
    "service's verified private DNS answers through the endpoint needs no record "
    "(private-dns-unverified covers it).",
    "aws route53 list-hosted-zones-by-vpc --vpc-id <vpc id> --vpc-region <region>\n"
    "aws route53 list-resource-record-sets --hosted-zone-id <zone id> "
    "--query \"ResourceRecordSets[?Name=='<name>.']\"\n"
    "aws ec2 describe-vpc-endpoints --vpc-endpoint-ids <endpoint id> --query 'VpcEndpoints[0].DnsEntries'",
    (FIX_NO_RECORD, FIX_WRONG_TARGET),
)


def norm(name: str | None) -> str:
    """A DNS name to compare: lower case, no trailing dot, no `dualstack.` prefix."""
    name = (name or "").rstrip(".").lower()
    return name.removeprefix("dualstack.")


def private_name_unresolved(obs: Observation) -> list[Finding]:
    found: list[Finding] = []
    service = obs.producer.service
    for consumer, endpoint in with_endpoint(obs):
        name = norm(consumer.expected_private_name)
        if not name:
            continue
        if (
            endpoint.private_dns_enabled
            and name == norm(obs.expected.private_dns_name)
            and not obs.known(producer_part("service"))
        ):
            # AWS may answer the service's private name from the endpoint: that needs the service
            found.append(
                skipped("private-name-unresolved", f"consumer:{consumer.name}", [producer_part("service")])
            )
            continue
        if endpoint.private_dns_enabled and service is not None and norm(service.private_dns_name) == name:
            continue  # AWS answers it from the endpoint's managed zone; private-dns-unverified covers it
        regional = norm(endpoint.regional_dns_name)
        names = {norm(entry.dns_name) for entry in endpoint.dns_entries}
        zones = [
            z for z in consumer.hosted_zones if name == norm(z.name) or name.endswith("." + norm(z.name))
        ]
        records = [r for z in zones for r in z.records if norm(r.name) == name and r.type in ("A", "CNAME")]
        where = (
            f"consumer {consumer.name} ({', '.join(z.id for z in zones) or 'no private hosted zone for it'})"
        )
        if not records:
            found.append(
                PRIVATE_NAME_UNRESOLVED.finding(
                    "error",
                    zones[0].id if zones else consumer.vpc_id,
                    f"{name} has no A/CNAME record in {where}",
                    FIX_NO_RECORD.format(
                        consumer=consumer.name, name=name, regional=regional or "<endpoint dns name>"
                    ),
                )
            )
            continue
        record = records[0]
        pointed = record.alias_target or ",".join(record.values)
        targets = {norm(record.alias_target)} if record.alias_target else {norm(v) for v in record.values}
        if targets == {regional}:
            continue
        if record.type == "A" and not record.alias_target and targets <= set(endpoint.addresses.values()):
            continue
        zonal = bool(targets) and targets <= names
        found.append(
            PRIVATE_NAME_UNRESOLVED.finding(
                "warning" if zonal else "error",
                f"{zones[0].id} {name}",
                f"{name} in {where} points to {pointed or 'nothing'}, "
                f"not to endpoint {endpoint.id}'s regional "
                f"name {regional}" + ("; a zonal name pins clients to one AZ" if zonal else ""),
                FIX_WRONG_TARGET.format(name=name, regional=regional or "<endpoint dns name>"),
            )
        )
    return found


CHECKS = (
    Check(
        "private-name-unresolved",
        private_name_unresolved,
        (PRIVATE_NAME_UNRESOLVED, CHECK_SKIPPED),
        ("consumer.endpoint", "consumer.endpoint_addresses", "consumer.zones"),
    ),
)
