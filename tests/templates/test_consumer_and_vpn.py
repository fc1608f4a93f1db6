from __future__ import annotations

from spec_variants import EXISTING_CONSUMER_SUBNETS, edited, variants

from privlink.templates import naming
from privlink.templates.render import render_stacks
from privlink.templates.stacks import (
    LOOKUP_VPC_CIDR,
    LOOKUP_VPC_RESOLVER,
    FromLookup,
    FromOutput,
    FromPlan,
    FromStep,
    Literal,
)

SPECS = variants()
PRODUCER = "privlink-hello-producer"
NETWORK = "privlink-hello-network-dev"
CONSUMER = "privlink-hello-consumer-dev"


def stack(name, stack_name):
    return next(s for s in render_stacks(SPECS[name]) if s.stack_name == stack_name)


def props(template, logical_id):
    return template["Resources"][logical_id]["Properties"]


def of_type(template, kind):
    return {k: r for k, r in template["Resources"].items() if r["Type"] == kind}


def test_network_stack_places_subnets_in_the_az_ids_the_plan_decides():
    s = stack("default", NETWORK)
    t = s.template
    assert s.parameters == {naming.PARAM_AZ_IDS: FromPlan("az-ids")}
    assert s.depends_on == ()  # nothing to wait for: it deploys while the producer does
    assert t["Parameters"][naming.PARAM_AZ_IDS]["Type"] == "CommaDelimitedList"
    subnets = of_type(t, "AWS::EC2::Subnet")
    for i, subnet in enumerate(subnets.values()):
        assert subnet["Properties"]["AvailabilityZoneId"] == {"Fn::Select": [i, {"Ref": naming.PARAM_AZ_IDS}]}
        assert "AvailabilityZone" not in subnet["Properties"]
    assert [s["Properties"]["CidrBlock"] for s in subnets.values()] == ["10.10.1.0/24", "10.10.2.0/24"]
    assert props(t, "Vpc")["EnableDnsHostnames"] is True
    assert set(t["Outputs"]) == {
        naming.OUT_VPC_ID,
        naming.OUT_VPC_CIDR,
        naming.OUT_SUBNET_IDS,
        naming.OUT_AZ_IDS,
    }
    tags = {t["Key"]: t["Value"] for t in props(t, "Vpc")["Tags"]}
    assert tags[naming.TAG_PART] == "network"


def test_consumer_stack_takes_the_network_and_the_service_name():
    s = stack("default", CONSUMER)
    t = s.template
    assert s.parameters == {
        naming.PARAM_SERVICE_NAME: FromOutput(PRODUCER, naming.OUT_SERVICE_NAME),
        naming.PARAM_VPC_ID: FromOutput(NETWORK, naming.OUT_VPC_ID),
        naming.PARAM_SUBNET_IDS: FromOutput(NETWORK, naming.OUT_SUBNET_IDS),
    }
    assert s.depends_on == (PRODUCER, NETWORK)
    assert not of_type(t, "AWS::EC2::VPC") and not of_type(t, "AWS::EC2::Subnet")


def test_cross_region_network_and_consumer():
    s = stack("cross-region", CONSUMER)
    t = s.template
    assert set(s.parameters) == {naming.PARAM_SERVICE_NAME, naming.PARAM_VPC_ID, naming.PARAM_SUBNET_IDS}
    assert props(t, "Endpoint")["ServiceRegion"] == "us-east-1"
    assert s.region == "eu-west-2"
    assert "ServiceRegion" not in props(stack("default", CONSUMER).template, "Endpoint")
    network = stack("cross-region", NETWORK)
    assert network.region == "eu-west-2"
    assert network.parameters == {naming.PARAM_AZ_IDS: FromPlan("az-ids")}  # AZ IDs decided up front too


def test_endpoint_security_group_allows_only_the_service_port_from_known_sources():
    t = stack("default", CONSUMER).template
    sg = props(t, "EndpointSecurityGroup")
    ingress = [(r["IpProtocol"], r["FromPort"], r["ToPort"], r["CidrIp"]) for r in sg["SecurityGroupIngress"]]
    assert ingress == [("tcp", 8080, 8080, "10.10.0.0/16"), ("tcp", 8080, 8080, "172.16.0.0/22")]
    assert sg["SecurityGroupEgress"] == [
        {"IpProtocol": "-1", "CidrIp": "127.0.0.1/32", "Description": "No egress: the endpoint only answers"}
    ]
    qa = stack("two-consumers", "privlink-hello-consumer-qa").template
    cidrs = [r["CidrIp"] for r in props(qa, "EndpointSecurityGroup")["SecurityGroupIngress"]]
    assert cidrs == ["10.30.0.0/16", "192.168.0.0/24"]


def test_interface_endpoint_properties_and_outputs():
    t = stack("default", CONSUMER).template
    ep = props(t, "Endpoint")
    assert ep["VpcEndpointType"] == "Interface"
    assert ep["ServiceName"] == {"Ref": naming.PARAM_SERVICE_NAME}
    assert ep["VpcId"] == {"Ref": naming.PARAM_VPC_ID}
    assert ep["SubnetIds"] == [{"Fn::Select": [i, {"Ref": naming.PARAM_SUBNET_IDS}]} for i in range(2)]
    assert ep["SecurityGroupIds"] == [{"Ref": "EndpointSecurityGroup"}]
    assert ep["PrivateDnsEnabled"] is False
    assert naming.PARAM_PRIVATE_DNS_ENABLED not in t["Parameters"]
    assert set(t["Outputs"]) == {
        naming.OUT_VPC_ID,
        naming.OUT_VPC_CIDR,
        naming.OUT_SUBNET_IDS,
        naming.OUT_ENDPOINT_ID,
        naming.OUT_ENDPOINT_DNS_ENTRIES,
        naming.OUT_ENDPOINT_SG_ID,
        naming.OUT_HOSTED_ZONE_ID,
        naming.OUT_PRIVATE_NAME,
    }
    assert t["Outputs"][naming.OUT_ENDPOINT_DNS_ENTRIES]["Value"] == {
        "Fn::Join": [",", {"Fn::GetAtt": ["Endpoint", "DnsEntries"]}]
    }
    assert t["Outputs"][naming.OUT_PRIVATE_NAME]["Value"] == "hello.internal.company"
    # the network's IDs come back out, so status and doctor read the VPC from the consumer stack
    assert t["Outputs"][naming.OUT_VPC_ID]["Value"] == {"Ref": naming.PARAM_VPC_ID}


def test_private_dns_is_a_parameter_off_at_creation_when_the_service_requires_acceptance():
    """AWS refuses private DNS on an endpoint whose connection is not accepted yet: the plan flips
    the parameter after the acceptance (enable-private-dns:<c>)."""

    def with_private_dns(acceptance: bool):
        def edit(d):
            d["producer"]["endpoint_service"]["private_dns_name"] = "hello.example.com"
            d["producer"]["endpoint_service"]["acceptance_required"] = acceptance
            d["consumers"][0]["private_dns_enabled"] = True

        return edited(edit)

    for acceptance, at_creation in ((True, "false"), (False, "true")):
        s = next(x for x in render_stacks(with_private_dns(acceptance)) if x.stack_name == CONSUMER)
        assert props(s.template, "Endpoint")["PrivateDnsEnabled"] == {"Ref": naming.PARAM_PRIVATE_DNS_ENABLED}
        assert s.template["Parameters"][naming.PARAM_PRIVATE_DNS_ENABLED]["AllowedValues"] == [
            "true",
            "false",
        ]
        assert s.parameters[naming.PARAM_PRIVATE_DNS_ENABLED] == Literal(at_creation)


def test_private_hosted_zone_and_alias_to_the_regional_dns_entry():
    t = stack("default", CONSUMER).template
    zone = props(t, "PrivateHostedZone")
    assert zone["Name"] == "internal.company"
    assert zone["VPCs"] == [{"VPCId": {"Ref": naming.PARAM_VPC_ID}, "VPCRegion": {"Ref": "AWS::Region"}}]
    record = props(t, "PrivateRecord")
    assert record["Name"] == "hello.internal.company."
    assert record["Type"] == "A"
    assert record["HostedZoneId"] == {"Ref": "PrivateHostedZone"}
    regional = {"Fn::Split": [":", {"Fn::Select": [0, {"Fn::GetAtt": ["Endpoint", "DnsEntries"]}]}]}
    assert record["AliasTarget"]["DNSName"] == {"Fn::Select": [1, regional]}
    assert record["AliasTarget"]["HostedZoneId"] == {"Fn::Select": [0, regional]}
    no_zone = stack("private-dns-name", CONSUMER).template
    assert not of_type(no_zone, "AWS::Route53::HostedZone")
    assert naming.OUT_PRIVATE_NAME not in no_zone["Outputs"]


def test_same_cidr_consumer_renders_its_own_vpc():
    assert props(stack("same-cidr", NETWORK).template, "Vpc")["CidrBlock"] == "10.20.0.0/16"
    t = stack("same-cidr", CONSUMER).template
    assert props(t, "EndpointSecurityGroup")["SecurityGroupIngress"][0]["CidrIp"] == "10.20.0.0/16"


def test_existing_consumer_vpc():
    s = stack("existing-vpc", CONSUMER)
    t = s.template
    assert not of_type(t, "AWS::EC2::VPC")
    assert props(t, "Endpoint")["SubnetIds"] == EXISTING_CONSUMER_SUBNETS
    assert props(t, "Endpoint")["VpcId"] == "vpc-0bbbbbbbbbbbbbbbb"
    assert naming.PARAM_SERVICE_AZ_IDS not in t["Parameters"]
    assert s.parameters[naming.PARAM_VPC_CIDR] == FromLookup(LOOKUP_VPC_CIDR, ("vpc-0bbbbbbbbbbbbbbbb",))
    assert props(t, "EndpointSecurityGroup")["SecurityGroupIngress"][0]["CidrIp"] == {"Ref": "VpcCidr"}
    assert props(t, "PrivateHostedZone")["VPCs"][0]["VPCId"] == "vpc-0bbbbbbbbbbbbbbbb"


def test_vpn_stack():
    s = stack("default", "privlink-hello-vpn-dev")
    t = s.template
    assert s.depends_on == (NETWORK,)  # not the consumer stack: the endpoint is not needed
    assert s.parameters == {
        "VpcId": FromOutput(NETWORK, "VpcId"),
        "SubnetIds": FromOutput(NETWORK, "SubnetIds"),
        "VpcCidr": FromOutput(NETWORK, "VpcCidr"),
        "ServerCertificateArn": FromStep("import-certificates:dev", "server_certificate_arn"),
        "ClientRootCertificateChainArn": FromStep("import-certificates:dev", "client_ca_arn"),
    }
    assert t["Parameters"]["SubnetIds"]["Type"] == "CommaDelimitedList"
    ep = props(t, "ClientVpnEndpoint")
    assert ep["AuthenticationOptions"] == [
        {
            "Type": "certificate-authentication",
            "MutualAuthentication": {
                "ClientRootCertificateChainArn": {"Ref": "ClientRootCertificateChainArn"}
            },
        }
    ]
    assert ep["ServerCertificateArn"] == {"Ref": "ServerCertificateArn"}
    assert ep["ClientCidrBlock"] == "172.16.0.0/22"
    assert ep["SplitTunnel"] is True
    assert ep["DnsServers"] == ["10.10.0.2"]
    assert ep["VpcId"] == {"Ref": "VpcId"}
    assert ep["SecurityGroupIds"] == [{"Ref": "ClientVpnSecurityGroup"}]
    assert (ep["TransportProtocol"], ep["VpnPort"]) == ("udp", 443)
    assert ep["ConnectionLogOptions"] == {"Enabled": True, "CloudwatchLogGroup": {"Ref": "ClientVpnLogGroup"}}
    tags = {t["Key"]: t["Value"] for t in ep["TagSpecifications"][0]["Tags"]}
    assert ep["TagSpecifications"][0]["ResourceType"] == "client-vpn-endpoint"
    assert tags[naming.TAG_PART] == "vpn"
    assert props(t, "ClientVpnLogGroup")["RetentionInDays"] == 30
    assocs = of_type(t, "AWS::EC2::ClientVpnTargetNetworkAssociation")
    assert [a["Properties"]["SubnetId"] for a in assocs.values()] == [
        {"Fn::Select": [i, {"Ref": "SubnetIds"}]} for i in range(2)
    ]
    rule = t["Resources"]["ClientVpnAuthorizationRule"]
    assert rule["Properties"]["TargetNetworkCidr"] == {"Ref": "VpcCidr"}
    assert rule["Properties"]["AuthorizeAllGroups"] is True
    assert rule["DependsOn"] == [list(assocs)[-1]]  # after the last of the chained associations
    assert t["Resources"]["ClientVpnAssociation2"]["DependsOn"] == ["ClientVpnAssociation1"]
    assert set(t["Outputs"]) == {naming.OUT_CLIENT_VPN_ENDPOINT_ID, naming.OUT_LOG_GROUP}


def test_vpn_for_existing_vpc_takes_its_resolver_as_a_parameter():
    s = stack("existing-vpc", "privlink-hello-vpn-dev")
    assert s.depends_on == ()  # the VPC exists: only the certificates come first
    assert s.parameters["VpcId"] == Literal("vpc-0bbbbbbbbbbbbbbbb")
    assert s.parameters["SubnetIds"] == Literal(",".join(EXISTING_CONSUMER_SUBNETS))
    assert s.parameters["VpcCidr"] == FromLookup(LOOKUP_VPC_CIDR, ("vpc-0bbbbbbbbbbbbbbbb",))
    assert props(s.template, "ClientVpnEndpoint")["DnsServers"] == [{"Ref": naming.PARAM_VPC_DNS_SERVER}]
    assert s.parameters[naming.PARAM_VPC_DNS_SERVER] == FromLookup(
        LOOKUP_VPC_RESOLVER, ("vpc-0bbbbbbbbbbbbbbbb",)
    )


def test_three_az_vpn_has_three_associations():
    t = stack("3-az", "privlink-hello-vpn-dev").template
    assert len(of_type(t, "AWS::EC2::ClientVpnTargetNetworkAssociation")) == 3
