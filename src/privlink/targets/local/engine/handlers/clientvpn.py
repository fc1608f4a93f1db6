"""Client VPN: endpoint, target network associations, authorization rules, routes."""

from __future__ import annotations

import ipaddress
from typing import Any

from privlink.targets.local.engine.handlers.base import (
    Handler,
    Op,
    allocate_ip,
    as_bool,
    register,
    release_ips,
    remove,
)
from privlink.targets.local.world import Resource, SimulatedAwsError

CVPN = "AWS::EC2::ClientVpnEndpoint"
ASSOC = "AWS::EC2::ClientVpnTargetNetworkAssociation"


def _endpoint(op: Op, endpoint_id: str) -> Resource:
    return op.find(endpoint_id, CVPN, "Client VPN endpoint", "InvalidClientVpnEndpointId.NotFound")


def _certificate(op: Op, arn: str, what: str) -> None:
    cert = op.world.certificates.get(arn)
    if cert is None or cert.account != op.account or cert.region != op.region:
        raise SimulatedAwsError("InvalidParameterValue", f"Certificate {arn} ({what}) does not exist")


@register
class ClientVpnEndpointHandler(Handler):
    type = CVPN
    required = ("AuthenticationOptions", "ConnectionLogOptions", "ServerCertificateArn", "ClientCidrBlock")
    create_only = frozenset(
        {"ClientCidrBlock", "TransportProtocol", "AuthenticationOptions", "TagSpecifications"}
    )

    def _settings(self, op: Op, props: dict[str, Any], res_data: dict[str, Any]) -> None:
        _certificate(op, props["ServerCertificateArn"], "server certificate")
        log = props["ConnectionLogOptions"]
        if as_bool(log.get("Enabled"), False):
            group = log.get("CloudwatchLogGroup")
            if not any(
                g.id == group and g.account == op.account and g.region == op.region
                for g in op.world.of_type("AWS::Logs::LogGroup")
            ):
                raise SimulatedAwsError("InvalidParameterValue", f"Log group {group} does not exist")
        dns = list(props.get("DnsServers") or [])
        if len(dns) > 2:
            raise SimulatedAwsError("InvalidParameterValue", "At most 2 DNS servers may be given")
        port = int(props.get("VpnPort", 443))
        if port not in (443, 1194):
            raise SimulatedAwsError("InvalidParameterValue", "VpnPort must be 443 or 1194")
        vpc_id = props.get("VpcId")
        if vpc_id:
            op.find(vpc_id, "AWS::EC2::VPC", "vpc", "InvalidVpcID.NotFound")
        res_data.update(
            {
                "dns_servers": dns,
                "split_tunnel": as_bool(props.get("SplitTunnel"), False),
                "port": port,
                "vpc_id": vpc_id or res_data.get("vpc_id"),
                "security_group_ids": list(props.get("SecurityGroupIds") or []),
            }
        )

    def create(self, op: Op, props: dict[str, Any]) -> Resource:
        try:
            cidr = ipaddress.IPv4Network(props["ClientCidrBlock"])
        except ValueError:
            raise SimulatedAwsError(
                "InvalidParameterValue", f"Invalid CIDR {props['ClientCidrBlock']}"
            ) from None
        if not 12 <= cidr.prefixlen <= 22:
            raise SimulatedAwsError(
                "InvalidParameterValue", "The client CIDR block must be between /12 and /22"
            )
        auth = props["AuthenticationOptions"]
        client_ca = None
        for option in auth:
            if option.get("Type") == "certificate-authentication":
                client_ca = option["MutualAuthentication"]["ClientRootCertificateChainArn"]
                _certificate(op, client_ca, "client root certificate chain")
            elif option.get("Type") not in ("directory-service-authentication", "federated-authentication"):
                raise SimulatedAwsError(
                    "InvalidParameterValue", f"Unknown authentication type {option.get('Type')}"
                )
        endpoint_id = op.world.ids.resource_id("cvpn-endpoint")
        data: dict[str, Any] = {
            "client_cidr": str(cidr),
            "transport": props.get("TransportProtocol", "udp"),
            "client_ca_arn": client_ca,
            "status": "pending-associate",
            "associations": {},
            "authorization_rules": [],
            "routes": [],
            "dns_name": f"{endpoint_id}.prod.clientvpn.{op.region}.amazonaws.com",
        }
        self._settings(op, props, data)
        return op.add(CVPN, endpoint_id, props, {"Id": endpoint_id}, data)

    def update(self, op: Op, res: Resource, old: dict[str, Any], new: dict[str, Any]) -> None:
        super().update(op, res, old, new)
        self._settings(op, new, res.data)

    def delete(self, op: Op, res: Resource) -> None:
        for child in [r for r in op.world.resources.values() if r.data.get("client_vpn_endpoint") == res.id]:
            release_ips(op.world, child.id)
            remove(op.world, child)
        remove(op.world, res)


@register
class ClientVpnAssociationHandler(Handler):
    type = ASSOC
    required = ("ClientVpnEndpointId", "SubnetId")
    create_only = frozenset({"ClientVpnEndpointId", "SubnetId"})

    def create(self, op: Op, props: dict[str, Any]) -> Resource:
        cvpn = _endpoint(op, props["ClientVpnEndpointId"])
        subnet = op.find(props["SubnetId"], "AWS::EC2::Subnet", "subnet", "InvalidSubnetID.NotFound")
        network = ipaddress.IPv4Network(subnet.data["cidr"])
        if network.prefixlen > 27:
            raise SimulatedAwsError("InvalidParameterValue", f"Subnet {subnet.id} must be at least /27")
        if cvpn.data["vpc_id"] and cvpn.data["vpc_id"] != subnet.data["vpc_id"]:
            raise SimulatedAwsError(
                "InvalidParameterValue", f"Subnet {subnet.id} is not in {cvpn.data['vpc_id']}"
            )
        if any(a["az"] == subnet.data["az"] for a in cvpn.data["associations"].values()):
            raise SimulatedAwsError(
                "InvalidParameterValue", f"An association already exists in {subnet.data['az']}"
            )
        vpc = op.find(subnet.data["vpc_id"], "AWS::EC2::VPC", "vpc")
        client = ipaddress.IPv4Network(cvpn.data["client_cidr"])
        if client.overlaps(ipaddress.IPv4Network(vpc.data["cidr"])):
            raise SimulatedAwsError(
                "InvalidParameterValue", f"The client CIDR {client} overlaps the VPC CIDR {vpc.data['cidr']}"
            )
        assoc_id = op.world.ids.resource_id("cvpn-assoc")
        ip = allocate_ip(op.world, subnet, assoc_id)
        cvpn.data["vpc_id"] = subnet.data["vpc_id"]
        cvpn.data["associations"][assoc_id] = {
            "subnet_id": subnet.id,
            "az": subnet.data["az"],
            "ip": ip,
            "status": "associated",
        }
        if not any(r["destination"] == vpc.data["cidr"] for r in cvpn.data["routes"]):
            cvpn.data["routes"].append(
                {
                    "destination": vpc.data["cidr"],
                    "target_subnet": subnet.id,
                    "origin": "associate",
                    "type": "Nat",
                    "status": "active",
                }
            )
        cvpn.data["status"] = "available"
        return op.add(
            ASSOC,
            assoc_id,
            props,
            {"Id": assoc_id},
            {"client_vpn_endpoint": cvpn.id, "subnet_id": subnet.id, "ip": ip},
        )

    def delete(self, op: Op, res: Resource) -> None:
        cvpn = op.world.get_any(res.data["client_vpn_endpoint"], CVPN)
        if cvpn is not None:
            cvpn.data["associations"].pop(res.id, None)
            left = {a["subnet_id"] for a in cvpn.data["associations"].values()}
            cvpn.data["routes"] = [r for r in cvpn.data["routes"] if r["origin"] != "associate" or left]
            if not left:
                cvpn.data["status"] = "pending-associate"
        release_ips(op.world, res.id)
        remove(op.world, res)


@register
class ClientVpnAuthorizationRuleHandler(Handler):
    type = "AWS::EC2::ClientVpnAuthorizationRule"
    required = ("ClientVpnEndpointId", "TargetNetworkCidr")
    create_only = frozenset(
        {"ClientVpnEndpointId", "TargetNetworkCidr", "AuthorizeAllGroups", "AccessGroupId", "Description"}
    )

    def create(self, op: Op, props: dict[str, Any]) -> Resource:
        cvpn = _endpoint(op, props["ClientVpnEndpointId"])
        all_groups = as_bool(props.get("AuthorizeAllGroups"), False)
        if all_groups == bool(props.get("AccessGroupId")):
            raise SimulatedAwsError(
                "InvalidParameterCombination", "Specify AuthorizeAllGroups or AccessGroupId"
            )
        cidr = str(ipaddress.IPv4Network(props["TargetNetworkCidr"]))
        rule = {
            "cidr": cidr,
            "all_groups": all_groups,
            "group": props.get("AccessGroupId"),
            "status": "active",
        }
        if any(r["cidr"] == cidr and r["group"] == rule["group"] for r in cvpn.data["authorization_rules"]):
            raise SimulatedAwsError(
                "InvalidClientVpnDuplicateAuthorizationRule", "This authorization rule already exists"
            )
        cvpn.data["authorization_rules"].append(rule)
        rule_id = op.world.ids.resource_id("cvpn-auth")
        return op.add(self.type, rule_id, props, {}, {"client_vpn_endpoint": cvpn.id, "rule": rule})

    def delete(self, op: Op, res: Resource) -> None:
        cvpn = op.world.get_any(res.data["client_vpn_endpoint"], CVPN)
        if cvpn is not None and res.data["rule"] in cvpn.data["authorization_rules"]:
            cvpn.data["authorization_rules"].remove(res.data["rule"])
        remove(op.world, res)


@register
class ClientVpnRouteHandler(Handler):
    type = "AWS::EC2::ClientVpnRoute"
    required = ("ClientVpnEndpointId", "DestinationCidrBlock", "TargetVpcSubnetId")
    create_only = frozenset(
        {"ClientVpnEndpointId", "DestinationCidrBlock", "TargetVpcSubnetId", "Description"}
    )

    def create(self, op: Op, props: dict[str, Any]) -> Resource:
        cvpn = _endpoint(op, props["ClientVpnEndpointId"])
        target = props["TargetVpcSubnetId"]
        associated = {a["subnet_id"] for a in cvpn.data["associations"].values()}
        if target != "local" and target not in associated:
            raise SimulatedAwsError(
                "InvalidClientVpnActiveAssociationNotFound",
                f"Subnet {target} is not associated with {cvpn.id}",
            )
        destination = str(ipaddress.IPv4Network(props["DestinationCidrBlock"]))
        if any(r["destination"] == destination and r["target_subnet"] == target for r in cvpn.data["routes"]):
            raise SimulatedAwsError("InvalidClientVpnDuplicateRoute", "The route already exists")
        route = {
            "destination": destination,
            "target_subnet": target,
            "origin": "add-route",
            "type": "Nat",
            "status": "active",
        }
        cvpn.data["routes"].append(route)
        route_id = op.world.ids.resource_id("cvpn-route")
        return op.add(self.type, route_id, props, {}, {"client_vpn_endpoint": cvpn.id, "route": route})

    def delete(self, op: Op, res: Resource) -> None:
        cvpn = op.world.get_any(res.data["client_vpn_endpoint"], CVPN)
        if cvpn is not None and res.data["route"] in cvpn.data["routes"]:
            cvpn.data["routes"].remove(res.data["route"])
        remove(op.world, res)
