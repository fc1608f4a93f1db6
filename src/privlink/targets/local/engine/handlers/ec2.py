"""EC2 networking and compute: VPC, Subnet, route tables, security groups, instances."""

from __future__ import annotations

import ipaddress
from typing import Any

from privlink.targets.local.engine import ids as idfmt
from privlink.targets.local.engine.handlers.base import (
    Handler,
    Op,
    Replace,
    allocate_ip,
    as_bool,
    register,
    release_ips,
    remove,
    tags_of,
)
from privlink.targets.local.world import Resource, SimulatedAwsError, World

VPC = "AWS::EC2::VPC"
INSTANCE = "AWS::EC2::Instance"
SUBNET = "AWS::EC2::Subnet"
SG = "AWS::EC2::SecurityGroup"
ALL_TRAFFIC_EGRESS = {"IpProtocol": "-1", "CidrIp": "0.0.0.0/0"}


def _dependents(world: World, vpc_id: str) -> list[Resource]:
    return [
        r
        for r in world.resources.values()
        if r.data.get("vpc_id") == vpc_id and r.type != VPC and not r.data.get("default")
    ]


@register
class VpcHandler(Handler):
    type = VPC
    required = ("CidrBlock",)
    create_only = frozenset({"CidrBlock", "InstanceTenancy", "Ipv4IpamPoolId", "Ipv4NetmaskLength"})

    def create(self, op: Op, props: dict[str, Any]) -> Resource:
        try:
            network = ipaddress.IPv4Network(props["CidrBlock"])
        except ValueError:
            raise SimulatedAwsError(
                "InvalidParameterValue",
                f"Value ({props['CidrBlock']}) for parameter "
                "cidrBlock is invalid. This is not a valid CIDR block.",
            ) from None
        if not 16 <= network.prefixlen <= 28:
            raise SimulatedAwsError("InvalidVpc.Range", f"The CIDR '{network}' is invalid.")
        world = op.world
        vpc_id = world.ids.resource_id("vpc")
        sg_id = world.ids.resource_id("sg")
        acl_id = world.ids.resource_id("acl")
        data = {
            "cidr": str(network),
            "dns_support": as_bool(props.get("EnableDnsSupport"), True),
            "dns_hostnames": as_bool(props.get("EnableDnsHostnames"), False),
            "default_sg": sg_id,
            "tags": tags_of(props),
        }
        attrs = {
            "VpcId": vpc_id,
            "CidrBlock": str(network),
            "CidrBlockAssociations": [world.ids.resource_id("vpc-cidr-assoc")],
            "DefaultNetworkAcl": acl_id,
            "DefaultSecurityGroup": sg_id,
            "Ipv6CidrBlocks": [],
        }
        op.add(
            SG,
            sg_id,
            {"GroupDescription": "default VPC security group", "VpcId": vpc_id},
            {"GroupId": sg_id, "VpcId": vpc_id},
            {
                "vpc_id": vpc_id,
                "default": True,
                "name": "default",
                "ingress": [{"IpProtocol": "-1", "SourceSecurityGroupId": sg_id}],
                "egress": [dict(ALL_TRAFFIC_EGRESS)],
            },
        )
        return op.add(VPC, vpc_id, props, attrs, data)

    def update(self, op: Op, res: Resource, old: dict[str, Any], new: dict[str, Any]) -> None:
        super().update(op, res, old, new)
        res.data["dns_support"] = as_bool(new.get("EnableDnsSupport"), True)
        res.data["dns_hostnames"] = as_bool(new.get("EnableDnsHostnames"), False)
        res.data["tags"] = tags_of(new)

    def delete(self, op: Op, res: Resource) -> None:
        left = _dependents(op.world, res.id)
        if left:
            raise SimulatedAwsError(
                "DependencyViolation", f"The vpc '{res.id}' has dependencies and cannot be deleted."
            )
        for sg in [r for r in op.world.resources.values() if r.data.get("vpc_id") == res.id]:
            remove(op.world, sg)
        remove(op.world, res)


@register
class SubnetHandler(Handler):
    type = SUBNET
    required = ("VpcId", "CidrBlock")
    create_only = frozenset({"VpcId", "CidrBlock", "AvailabilityZone", "AvailabilityZoneId"})

    def create(self, op: Op, props: dict[str, Any]) -> Resource:
        vpc = op.find(props["VpcId"], VPC, "vpc", "InvalidVpcID.NotFound")
        try:
            network = ipaddress.IPv4Network(props["CidrBlock"])
        except ValueError:
            raise SimulatedAwsError(
                "InvalidParameterValue", f"Value ({props['CidrBlock']}) for parameter cidrBlock is invalid."
            ) from None
        if (
            not network.subnet_of(ipaddress.IPv4Network(vpc.data["cidr"]))
            or not 16 <= network.prefixlen <= 28
        ):
            raise SimulatedAwsError("InvalidSubnet.Range", f"The CIDR '{network}' is invalid.")
        for other in op.world.of_type(SUBNET):
            if other.data["vpc_id"] == vpc.id and network.overlaps(ipaddress.IPv4Network(other.data["cidr"])):
                raise SimulatedAwsError(
                    "InvalidSubnet.Conflict", f"The CIDR '{network}' conflicts with another subnet"
                )
        mapping = op.world.az_mapping(op.account, op.region)
        if props.get("AvailabilityZone") and props.get("AvailabilityZoneId"):
            raise SimulatedAwsError(
                "InvalidParameterCombination",
                "Only one of AvailabilityZone or AvailabilityZoneId may be given",
            )
        if props.get("AvailabilityZoneId"):
            az = op.world.az_name_for_id(op.account, op.region, props["AvailabilityZoneId"])
        elif props.get("AvailabilityZone"):
            az = props["AvailabilityZone"]
            if az not in mapping:
                raise SimulatedAwsError(
                    "InvalidParameterValue",
                    f"Value ({az}) for parameter availabilityZone is invalid. "
                    "Subnets can currently only be created in the following availability zones: "
                    + ", ".join(mapping)
                    + ".",
                )
        else:
            az = next(iter(mapping))
        subnet_id = op.world.ids.resource_id("subnet")
        attrs = {
            "SubnetId": subnet_id,
            "VpcId": vpc.id,
            "CidrBlock": str(network),
            "AvailabilityZone": az,
            "AvailabilityZoneId": mapping[az],
            "Ipv6CidrBlocks": [],
            "OutpostArn": "",
            "NetworkAclAssociationId": op.world.ids.resource_id("aclassoc"),
        }
        data = {
            "vpc_id": vpc.id,
            "cidr": str(network),
            "az": az,
            "az_id": mapping[az],
            "allocated": {},
            "tags": tags_of(props),
        }
        return op.add(SUBNET, subnet_id, props, attrs, data)

    def delete(self, op: Op, res: Resource) -> None:
        users = [
            r
            for r in op.world.resources.values()
            if res.id in r.data.get("subnet_ids", []) or r.data.get("subnet_id") == res.id
        ]
        users += [e for e in op.world.endpoints.values() if res.id in e.subnet_ids]  # type: ignore[misc]
        if users or res.data.get("allocated"):
            raise SimulatedAwsError(
                "DependencyViolation", f"The subnet '{res.id}' has dependencies and cannot be deleted."
            )
        remove(op.world, res)


@register
class RouteTableHandler(Handler):
    type = "AWS::EC2::RouteTable"
    required = ("VpcId",)
    create_only = frozenset({"VpcId"})

    def create(self, op: Op, props: dict[str, Any]) -> Resource:
        vpc = op.find(props["VpcId"], VPC, "vpc", "InvalidVpcID.NotFound")
        rtb = op.world.ids.resource_id("rtb")
        return op.add(
            self.type,
            rtb,
            props,
            {"RouteTableId": rtb},
            {"vpc_id": vpc.id, "routes": [{"DestinationCidrBlock": vpc.data["cidr"], "GatewayId": "local"}]},
        )

    def delete(self, op: Op, res: Resource) -> None:
        if any(r.data.get("route_table_id") == res.id for r in op.world.resources.values()):
            raise SimulatedAwsError(
                "DependencyViolation", f"The routeTable '{res.id}' has dependencies and cannot be deleted."
            )
        remove(op.world, res)


@register
class SubnetRouteTableAssociationHandler(Handler):
    type = "AWS::EC2::SubnetRouteTableAssociation"
    required = ("RouteTableId", "SubnetId")
    create_only = frozenset({"RouteTableId", "SubnetId"})

    def create(self, op: Op, props: dict[str, Any]) -> Resource:
        rtb = op.find(
            props["RouteTableId"], "AWS::EC2::RouteTable", "routeTable", "InvalidRouteTableID.NotFound"
        )
        subnet = op.find(props["SubnetId"], SUBNET, "subnet", "InvalidSubnetID.NotFound")
        if rtb.data["vpc_id"] != subnet.data["vpc_id"]:
            raise SimulatedAwsError(
                "InvalidParameterValue",
                f"route table {rtb.id} and subnet {subnet.id} belong to different networks",
            )
        for other in op.world.of_type(self.type):
            if other.data["subnet_id"] == subnet.id:
                raise SimulatedAwsError(
                    "Resource.AlreadyAssociated",
                    f"the association for route table {rtb.id} conflicts with an existing association",
                )
        assoc = op.world.ids.resource_id("rtbassoc")
        return op.add(
            self.type, assoc, props, {"Id": assoc}, {"route_table_id": rtb.id, "subnet_id": subnet.id}
        )


@register
class RouteHandler(Handler):
    type = "AWS::EC2::Route"
    required = ("RouteTableId",)
    create_only = frozenset({"RouteTableId", "DestinationCidrBlock", "DestinationIpv6CidrBlock"})

    def create(self, op: Op, props: dict[str, Any]) -> Resource:
        rtb = op.find(
            props["RouteTableId"], "AWS::EC2::RouteTable", "routeTable", "InvalidRouteTableID.NotFound"
        )
        route = {k: v for k, v in props.items() if k != "RouteTableId"}
        rtb.data["routes"].append(route)
        route_id = op.world.ids.resource_id("r")
        return op.add(self.type, route_id, props, {}, {"route_table": rtb.id, "route": route})

    def delete(self, op: Op, res: Resource) -> None:
        for table in op.world.of_type("AWS::EC2::RouteTable"):
            if table.id == res.data["route_table"] and res.data["route"] in table.data["routes"]:
                table.data["routes"].remove(res.data["route"])
        remove(op.world, res)


def normalise_rule(rule: dict[str, Any], direction: str) -> dict[str, Any]:
    """A security group rule in one shape; AWS's validation of protocol and ports."""
    protocol = str(rule.get("IpProtocol", "")).lower()
    if protocol in ("", None):
        raise SimulatedAwsError("MissingParameter", "The request must contain the parameter ipProtocol")
    protocol = {"6": "tcp", "17": "udp", "1": "icmp"}.get(protocol, protocol)
    out: dict[str, Any] = {"IpProtocol": protocol}
    if protocol in ("tcp", "udp"):
        if rule.get("FromPort") is None or rule.get("ToPort") is None:
            raise SimulatedAwsError(
                "InvalidParameterValue",
                "Invalid value 'Must specify both from and to ports with TCP/UDP.' for portRange.",
            )
        from_port, to_port = int(rule["FromPort"]), int(rule["ToPort"])
        if not (0 <= from_port <= to_port <= 65535):
            raise SimulatedAwsError("InvalidParameterValue", f"Invalid port range {from_port}-{to_port}")
        out["FromPort"], out["ToPort"] = from_port, to_port
    elif protocol not in ("-1", "icmp", "all"):
        raise SimulatedAwsError("InvalidPermission.Malformed", f'Unsupported IP protocol "{protocol}"')
    peer_keys = (
        "CidrIp",
        "SourceSecurityGroupId",
        "DestinationSecurityGroupId",
        "SourcePrefixListId",
        "DestinationPrefixListId",
        "CidrIpv6",
    )
    peers = {k: rule[k] for k in peer_keys if rule.get(k)}
    if len(peers) != 1:
        raise SimulatedAwsError(
            "InvalidParameterValue",
            f"A {direction} rule needs exactly one of CidrIp or a source/destination security group",
        )
    if "CidrIp" in peers:
        try:
            peers["CidrIp"] = str(ipaddress.IPv4Network(peers["CidrIp"], strict=False))
        except ValueError:
            raise SimulatedAwsError(
                "InvalidParameterValue", f"CIDR block {peers['CidrIp']} is malformed"
            ) from None
    out.update(peers)
    if rule.get("Description"):
        out["Description"] = rule["Description"]
    return out


@register
class SecurityGroupHandler(Handler):
    type = SG
    required = ("GroupDescription",)
    create_only = frozenset({"GroupDescription", "GroupName", "VpcId"})

    def _rules(self, props: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        ingress = [normalise_rule(r, "ingress") for r in props.get("SecurityGroupIngress", [])]
        egress_given = props.get("SecurityGroupEgress")
        egress = (
            [normalise_rule(r, "egress") for r in egress_given]
            if egress_given
            else [dict(ALL_TRAFFIC_EGRESS)]
        )
        return ingress, egress

    def create(self, op: Op, props: dict[str, Any]) -> Resource:
        if not props.get("VpcId"):
            raise SimulatedAwsError("VPCIdNotSpecified", "No default VPC for this user")
        vpc = op.find(props["VpcId"], VPC, "vpc", "InvalidVpcID.NotFound")
        name = props.get("GroupName") or op.generated_name(255)
        for other in op.world.of_type(SG):
            if other.data.get("vpc_id") == vpc.id and other.data.get("name") == name:
                raise SimulatedAwsError(
                    "InvalidGroup.Duplicate", f"The security group '{name}' already exists for VPC '{vpc.id}'"
                )
        ingress, egress = self._rules(props)
        sg_id = op.world.ids.resource_id("sg")
        return op.add(
            SG,
            sg_id,
            props,
            {"GroupId": sg_id, "VpcId": vpc.id},
            {
                "vpc_id": vpc.id,
                "name": name,
                "ingress": ingress,
                "egress": egress,
                "extra_ingress": [],
                "extra_egress": [],
                "tags": tags_of(props),
            },
        )

    def update(self, op: Op, res: Resource, old: dict[str, Any], new: dict[str, Any]) -> None:
        super().update(op, res, old, new)
        res.data["ingress"], res.data["egress"] = self._rules(new)
        res.data["tags"] = tags_of(new)

    def delete(self, op: Op, res: Resource) -> None:
        users = [r.id for r in op.world.resources.values() if res.id in r.data.get("security_group_ids", [])]
        users += [e.id for e in op.world.endpoints.values() if res.id in e.security_group_ids]
        if users:
            raise SimulatedAwsError("DependencyViolation", f"resource {res.id} has a dependent object")
        remove(op.world, res)


class _StandaloneRule(Handler):
    direction = "ingress"
    create_only = frozenset(
        {
            "GroupId",
            "GroupName",
            "IpProtocol",
            "FromPort",
            "ToPort",
            "CidrIp",
            "SourceSecurityGroupId",
            "DestinationSecurityGroupId",
        }
    )

    def create(self, op: Op, props: dict[str, Any]) -> Resource:
        if not props.get("GroupId"):
            raise SimulatedAwsError("MissingParameter", "GroupId is required for VPC security groups")
        sg = op.find(props["GroupId"], SG, "security group", "InvalidGroup.NotFound")
        rule = normalise_rule(props, self.direction)
        if rule in sg.data[self.direction] or rule in sg.data[f"extra_{self.direction}"]:
            raise SimulatedAwsError("InvalidPermission.Duplicate", "the specified rule already exists")
        sg.data[f"extra_{self.direction}"].append(rule)
        rule_id = op.world.ids.resource_id("sgr")
        return op.add(self.type, rule_id, props, {"Id": rule_id}, {"group": sg.id, "rule": rule})

    def delete(self, op: Op, res: Resource) -> None:
        for sg in op.world.of_type(SG):
            extra = sg.data.get(f"extra_{self.direction}", [])
            if sg.id == res.data["group"] and res.data["rule"] in extra:
                extra.remove(res.data["rule"])
        remove(op.world, res)


@register
class SecurityGroupIngressHandler(_StandaloneRule):
    type = "AWS::EC2::SecurityGroupIngress"
    required = ("IpProtocol",)
    direction = "ingress"


@register
class SecurityGroupEgressHandler(_StandaloneRule):
    type = "AWS::EC2::SecurityGroupEgress"
    required = ("GroupId", "IpProtocol")
    direction = "egress"


def security_group_rules(world: World, sg: Resource, direction: str) -> list[dict[str, Any]]:
    """All rules of a group: inline plus standalone."""
    return list(sg.data.get(direction, [])) + list(sg.data.get(f"extra_{direction}", []))


@register
class LaunchTemplateHandler(Handler):
    """A launch template: its data kept per version (1, 2, ...), as EC2 does; an update of the
    data makes a new version, which becomes the latest (CloudFormation's `LatestVersionNumber`)."""

    type = "AWS::EC2::LaunchTemplate"
    required = ("LaunchTemplateData",)
    create_only = frozenset({"LaunchTemplateName"})

    def create(self, op: Op, props: dict[str, Any]) -> Resource:
        name = props.get("LaunchTemplateName") or op.generated_name(128)
        for other in op.world.of_type(self.type):
            if other.account == op.account and other.region == op.region and other.data["name"] == name:
                raise SimulatedAwsError(
                    "InvalidLaunchTemplateName.AlreadyExistsException",
                    f"Launch template name already in use: {name}",
                )
        lt_id = op.world.ids.resource_id("lt")
        return op.add(
            self.type,
            lt_id,
            props,
            {
                "LaunchTemplateId": lt_id,
                "DefaultVersionNumber": "1",
                "LatestVersionNumber": "1",
            },
            {"name": name, "versions": [props["LaunchTemplateData"]], "tags": _spec_tags(props)},
        )

    def update(self, op: Op, res: Resource, old: dict[str, Any], new: dict[str, Any]) -> None:
        super().update(op, res, old, new)
        if new["LaunchTemplateData"] != old.get("LaunchTemplateData"):
            res.data["versions"].append(new["LaunchTemplateData"])
            res.attributes["LatestVersionNumber"] = str(len(res.data["versions"]))
        res.data["tags"] = _spec_tags(new)


def _spec_tags(props: dict[str, Any]) -> dict[str, str]:
    return {
        str(t.get("Key")): str(t.get("Value"))
        for spec in props.get("TagSpecifications") or []
        for t in spec.get("Tags") or []
    }


def launch_template_data(op: Op, spec: dict[str, Any]) -> dict[str, Any]:
    """The data of the launch template version an instance's `LaunchTemplate` names, in the
    instance's property shape (a network interface's `Groups` is an instance's `GroupSet`, an
    instance profile `{Arn|Name}` its ARN or name)."""
    wanted_id, wanted_name = spec.get("LaunchTemplateId"), spec.get("LaunchTemplateName")
    if bool(wanted_id) == bool(wanted_name):
        raise SimulatedAwsError(
            "InvalidParameterCombination", "Specify exactly one of LaunchTemplateId or LaunchTemplateName"
        )
    lt = next(
        (
            cand
            for cand in op.world.of_type(LaunchTemplateHandler.type)
            if cand.account == op.account
            and cand.region == op.region
            and (cand.id == wanted_id if wanted_id else cand.data["name"] == wanted_name)
        ),
        None,
    )
    if lt is None:
        raise SimulatedAwsError(
            "InvalidLaunchTemplateId.NotFound"
            if wanted_id
            else "InvalidLaunchTemplateName.NotFoundException",
            f"The specified launch template, with template {'ID' if wanted_id else 'name'} "
            f"{wanted_id or wanted_name}, does not exist.",
        )
    version = str(spec.get("Version", "$Default"))
    versions = lt.data["versions"]
    if version == "$Latest":
        number = len(versions)
    elif version == "$Default":
        number = int(lt.attributes["DefaultVersionNumber"])
    elif version.isdigit() and 1 <= int(version) <= len(versions):
        number = int(version)
    else:
        raise SimulatedAwsError(
            "InvalidLaunchTemplateId.VersionNotFound",
            f"Could not find launch template version {version} for template {lt.id}",
        )
    data = dict(versions[number - 1])
    if data.get("NetworkInterfaces"):
        data["NetworkInterfaces"] = [
            {("GroupSet" if k == "Groups" else k): v for k, v in nic.items()}
            for nic in data["NetworkInterfaces"]
        ]
    profile = data.get("IamInstanceProfile")
    if isinstance(profile, dict):
        data["IamInstanceProfile"] = profile.get("Arn") or profile.get("Name")
    data.pop("TagSpecifications", None)
    return data


@register
class InstanceHandler(Handler):
    type = INSTANCE
    create_only = frozenset(
        {
            "ImageId",
            "SubnetId",
            "PrivateIpAddress",
            "AvailabilityZone",
            "LaunchTemplate",
            "NetworkInterfaces",
            "KeyName",
        }
    )

    def _merged(self, op: Op, props: dict[str, Any]) -> dict[str, Any]:
        """The instance's properties over those of the launch template it names (as EC2 merges
        RunInstances parameters over a launch template: the request's own win)."""
        spec = props.get("LaunchTemplate")
        if not spec:
            return dict(props)
        return {**launch_template_data(op, spec), **props}

    def create(self, op: Op, props: dict[str, Any]) -> Resource:
        merged = self._merged(op, props)
        image = merged.get("ImageId")
        if not image or not str(image).startswith("ami-"):
            raise SimulatedAwsError(
                "InvalidAMIID.Malformed" if image else "MissingParameter",
                f'Invalid id: "{image}" (expecting "ami-...")'
                if image
                else "The request must contain the parameter ImageId",
            )
        nics = merged.get("NetworkInterfaces") or []
        subnet_id = merged.get("SubnetId") or (nics[0].get("SubnetId") if nics else None)
        if not subnet_id:
            raise SimulatedAwsError(
                "MissingInput", "No subnets found for the default VPC. Please specify a subnet."
            )
        subnet = op.find(subnet_id, SUBNET, "subnet", "InvalidSubnetID.NotFound")
        sg_ids = list(merged.get("SecurityGroupIds") or (nics[0].get("GroupSet") if nics else None) or [])
        for sg_id in sg_ids:
            sg = op.find(sg_id, SG, "security group", "InvalidGroup.NotFound")
            if sg.data["vpc_id"] != subnet.data["vpc_id"]:
                raise SimulatedAwsError(
                    "InvalidParameter",
                    f"Security group {sg_id} and subnet {subnet.id} belong to different networks.",
                )
        if not sg_ids:
            vpc = op.find(subnet.data["vpc_id"], VPC, "vpc")
            sg_ids = [vpc.data["default_sg"]]
        profile = instance_profile(op, merged.get("IamInstanceProfile"))
        instance_id = op.world.ids.resource_id("i")
        wanted = merged.get("PrivateIpAddress") or (nics[0].get("PrivateIpAddress") if nics else None)
        ip = allocate_ip(op.world, subnet, instance_id, wanted)
        attrs = {
            "InstanceId": instance_id,
            "PrivateIp": ip,
            "PrivateDnsName": idfmt.private_dns_name(ip, op.region),
            "AvailabilityZone": subnet.data["az"],
            "PublicDnsName": "",
            "PublicIp": "",
            "VpcId": subnet.data["vpc_id"],
        }
        data = {
            "vpc_id": subnet.data["vpc_id"],
            "subnet_id": subnet.id,
            "ip": ip,
            "security_group_ids": sg_ids,
            "eni": op.world.ids.resource_id("eni"),
            "state": "running",
            "user_data": merged.get("UserData", ""),
            "instance_type": merged.get("InstanceType", ""),
            "image_id": image,
            "metadata_options": merged.get("MetadataOptions") or {},
            "launch_template": (props.get("LaunchTemplate") or {}).get("LaunchTemplateId", ""),
            "iam_instance_profile": profile,
            "tags": tags_of(props),
        }
        return op.add(self.type, instance_id, props, attrs, data)

    def update(self, op: Op, res: Resource, old: dict[str, Any], new: dict[str, Any]) -> None:
        super().update(op, res, old, new)
        if new.get("SecurityGroupIds"):
            res.data["security_group_ids"] = list(new["SecurityGroupIds"])
        res.data["user_data"] = new.get("UserData", res.data.get("user_data", ""))
        res.data["tags"] = tags_of(new)

    def delete(self, op: Op, res: Resource) -> None:
        # AWS deregisters a terminated instance from its target groups.
        for tg in op.world.of_type("AWS::ElasticLoadBalancingV2::TargetGroup"):
            tg.data["targets"] = [t for t in tg.data.get("targets", []) if t.get("Id") != res.id]
        release_ips(op.world, res.id)
        remove(op.world, res)


def instance_profile(op: Op, given: str | None) -> str | None:
    """The instance profile an instance launches with (by name or ARN), or AWS's error if unknown."""
    if not given:
        return None
    for profile in op.world.of_type("AWS::IAM::InstanceProfile"):
        if profile.account == op.account and given in (profile.id, profile.attributes.get("Arn")):
            return profile.id
    raise SimulatedAwsError(
        "InvalidParameterValue",
        f"Value ({given}) for parameter iamInstanceProfile.name is invalid. "
        "Invalid IAM Instance Profile name",
    )


__all__ = ["Replace", "security_group_rules"]
