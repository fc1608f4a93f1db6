"""Route 53 private hosted zones and record sets (alias records to endpoints)."""

from __future__ import annotations

from typing import Any

from privlink.targets.local.engine.handlers.base import Handler, Op, Replace, register, remove
from privlink.targets.local.world import Resource, SimulatedAwsError

ZONE = "AWS::Route53::HostedZone"
RECORD = "AWS::Route53::RecordSet"


def fqdn(name: str) -> str:
    return name.lower().rstrip(".") + "."


@register
class HostedZoneHandler(Handler):
    type = ZONE
    required = ("Name",)
    create_only = frozenset({"Name"})

    def _vpcs(self, op: Op, props: dict[str, Any]) -> list[dict[str, str]]:
        vpcs = []
        for item in props.get("VPCs") or []:
            region = item.get("VPCRegion") or op.region
            vpc = op.world.get_any(item.get("VPCId"), "AWS::EC2::VPC")
            if vpc is None or vpc.region != region:
                raise SimulatedAwsError(
                    "InvalidVPCId", f"The VPC ID '{item.get('VPCId')}' is not valid in {region}"
                )
            vpcs.append({"VPCId": vpc.id, "VPCRegion": region})
        return vpcs

    def create(self, op: Op, props: dict[str, Any]) -> Resource:
        vpcs = self._vpcs(op, props)
        zone_id = op.world.ids.hosted_zone_id()
        name = fqdn(props["Name"])
        servers = [] if vpcs else [f"ns-{n}.awsdns-{n:02d}.org" for n in (1, 2, 3, 4)]
        return op.add(
            ZONE,
            zone_id,
            props,
            {"Id": zone_id, "NameServers": servers},
            {"name": name, "private": bool(vpcs), "vpcs": vpcs, "records": {}},
        )

    def update(self, op: Op, res: Resource, old: dict[str, Any], new: dict[str, Any]) -> None:
        if bool(old.get("VPCs")) != bool(new.get("VPCs")):
            raise Replace()  # a zone cannot change between public and private
        super().update(op, res, old, new)
        res.data["vpcs"] = self._vpcs(op, new)

    def delete(self, op: Op, res: Resource) -> None:
        if res.data["records"]:
            raise SimulatedAwsError(
                "HostedZoneNotEmpty",
                "The specified hosted zone contains non-required resource "
                "record sets and so cannot be deleted.",
            )
        remove(op.world, res)


def find_zone(op: Op, props: dict[str, Any]) -> Resource:
    if props.get("HostedZoneId"):
        zone = op.world.get_any(props["HostedZoneId"], ZONE)
        if zone is None or zone.account != op.account:
            raise SimulatedAwsError(
                "NoSuchHostedZone", f"No hosted zone found with ID: {props['HostedZoneId']}"
            )
        return zone
    name = fqdn(props.get("HostedZoneName") or "")
    zones = [z for z in op.world.of_type(ZONE) if z.account == op.account and z.data["name"] == name]
    if len(zones) != 1:
        raise SimulatedAwsError(
            "NoSuchHostedZone" if not zones else "InvalidInput",
            f"{'No' if not zones else 'More than one'} hosted zone named {name}",
        )
    return zones[0]


@register
class RecordSetHandler(Handler):
    type = RECORD
    required = ("Name", "Type")
    create_only = frozenset({"Name", "HostedZoneId", "HostedZoneName"})

    def _record(self, op: Op, zone: Resource, props: dict[str, Any]) -> dict[str, Any]:
        name = fqdn(props["Name"])
        if not (name == zone.data["name"] or name.endswith("." + zone.data["name"])):
            raise SimulatedAwsError(
                "InvalidChangeBatch",
                f"RRSet with DNS name {name} is not permitted in zone {zone.data['name']}",
            )
        rtype = props["Type"]
        alias = props.get("AliasTarget")
        if alias and (props.get("ResourceRecords") or props.get("TTL")):
            raise SimulatedAwsError(
                "InvalidChangeBatch", "An alias record cannot have ResourceRecords or TTL"
            )
        if not alias and not props.get("ResourceRecords"):
            raise SimulatedAwsError("InvalidChangeBatch", "ResourceRecords or AliasTarget is required")
        record: dict[str, Any] = {"name": name, "type": rtype}
        if alias:
            target = fqdn(alias["DNSName"])
            zone_id = alias["HostedZoneId"]
            for endpoint in op.world.endpoints.values():
                names = [fqdn(n) for n in endpoint.dns_names]
                if target in names and endpoint.dns_zone_id != zone_id:
                    raise SimulatedAwsError(
                        "InvalidChangeBatch",
                        f"Tried to create an alias that targets {target}, type {rtype} in "
                        f"zone {zone_id}, but the alias target name does not lie within the target zone",
                    )
            record["alias"] = {
                "dns_name": target,
                "hosted_zone_id": zone_id,
                "evaluate_target_health": bool(alias.get("EvaluateTargetHealth", False)),
            }
        else:
            record["ttl"] = int(props.get("TTL") or 300)
            record["values"] = [str(v) for v in props["ResourceRecords"]]
        return record

    def create(self, op: Op, props: dict[str, Any]) -> Resource:
        zone = find_zone(op, props)
        record = self._record(op, zone, props)
        key = f"{record['name']}|{record['type']}"
        if key in zone.data["records"]:
            raise SimulatedAwsError(
                "InvalidChangeBatch",
                f"Tried to create resource record set [name='{record['name']}', "
                f"type='{record['type']}'] but it already exists",
            )
        zone.data["records"][key] = record
        name = record["name"].rstrip(".")
        return op.add(RECORD, name, props, {}, {"zone_id": zone.id, "key": key})

    def update(self, op: Op, res: Resource, old: dict[str, Any], new: dict[str, Any]) -> None:
        if old.get("Type") != new.get("Type"):
            raise Replace()
        super().update(op, res, old, new)
        zone = find_zone(op, new)
        zone.data["records"][res.data["key"]] = self._record(op, zone, new)

    def delete(self, op: Op, res: Resource) -> None:
        zone = op.world.get_any(res.data["zone_id"], ZONE)
        if zone is not None:
            zone.data["records"].pop(res.data["key"], None)
        remove(op.world, res)
