from __future__ import annotations

from spec_variants import EXISTING_CONSUMER_SUBNETS, variants

from privlink.templates import naming
from privlink.templates.render import render_stacks
from privlink.templates.stacks import LOOKUP_VPC_CIDR, LOOKUP_VPC_RESOLVER, FromLookup, FromOutput, FromStep

SPECS = variants()
PRODUCER = "privlink-hello-producer"
CONSUMER = "privlink-hello-consumer-dev"


def stack(name, stack_name):
    return next(s for s in render_stacks(SPECS[name]) if s.stack_name == stack_name)


def props(template, logical_id):
    return template["Resources"][logical_id]["Properties"]


def of_type(template, kind):
    return {k: r for k, r in template["Resources"].items() if r["Type"] == kind}


def test_same_region_consumer_places_subnets_in_the_service_az_ids():
    s = stack("default", CONSUMER)
    t = s.template
    assert s.parameters == {
        naming.PARAM_SERVICE_NAME: FromOutput(PRODUCER, naming.OUT_SERVICE_NAME),
        naming.PARAM_SERVICE_AZ_IDS: FromOutput(PRODUCER, naming.OUT_AZ_IDS),
    }
    assert t["Parameters"][naming.PARAM_SERVICE_AZ_IDS]["Type"] == "CommaDelimitedList"
    subnets = of_type(t, "AWS::EC2::Subnet")
    for i, subnet in enumerate(subnets.values()):
        assert subnet["Properties"]["AvailabilityZoneId"] == {
            "Fn::Select": [i, {"Ref": naming.PARAM_SERVICE_AZ_IDS}]
        }
        assert "AvailabilityZone" not in subnet["Properties"]
    assert [s["Properties"]["CidrBlock"] for s in subnets.values()] == ["10.10.1.0/24", "10.10.2.0/24"]
    assert props(t, "Vpc")["EnableDnsHostnames"] is True


def test_cross_region_consumer_uses_its_own_azs_and_service_region():
    s = stack("cross-region", CONSUMER)
    t = s.template
    assert naming.PARAM_SERVICE_AZ_IDS not in t["Parameters"]
    assert set(s.parameters) == {naming.PARAM_SERVICE_NAME}
    for i, subnet in enumerate(of_type(t, "AWS::EC2::Subnet").values()):
        assert subnet["Properties"]["AvailabilityZone"] == {"Fn::Select": [i, {"Fn::GetAZs": ""}]}
    assert props(t, "Endpoint")["ServiceRegion"] == "us-east-1"
    assert s.region == "eu-west-2"
    assert "ServiceRegion" not in props(stack("default", CONSUMER).template, "Endpoint")


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
    assert ep["VpcId"] == {"Ref": "Vpc"}
    assert ep["SubnetIds"] == [{"Ref": "PrivateSubnet1"}, {"Ref": "PrivateSubnet2"}]
    assert ep["SecurityGroupIds"] == [{"Ref": "EndpointSecurityGroup"}]
    assert ep["PrivateDnsEnabled"] is False
    assert props(stack("private-dns-name", CONSUMER).template, "Endpoint")["PrivateDnsEnabled"] is True
    assert set(t["Outputs"]) == {
        naming.OUT_VPC_ID,
        naming.OUT_VPC_CIDR,
        naming.OUT_SUBNET_IDS,
        naming.OUT_AZ_IDS,
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


def test_private_hosted_zone_and_alias_to_the_regional_dns_entry():
    t = stack("default", CONSUMER).template
    zone = props(t, "PrivateHostedZone")
    assert zone["Name"] == "internal.company"
    assert zone["VPCs"] == [{"VPCId": {"Ref": "Vpc"}, "VPCRegion": {"Ref": "AWS::Region"}}]
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
    t = stack("same-cidr", CONSUMER).template
    assert props(t, "Vpc")["CidrBlock"] == "10.20.0.0/16"
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
    assert s.depends_on == (CONSUMER,)
    assert s.parameters == {
        "VpcId": FromOutput(CONSUMER, "VpcId"),
        "SubnetIds": FromOutput(CONSUMER, "SubnetIds"),
        "VpcCidr": FromOutput(CONSUMER, "VpcCidr"),
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
    assert rule["DependsOn"] == list(assocs)
    assert set(t["Outputs"]) == {naming.OUT_CLIENT_VPN_ENDPOINT_ID, naming.OUT_LOG_GROUP}


def test_vpn_for_existing_vpc_takes_its_resolver_as_a_parameter():
    s = stack("existing-vpc", "privlink-hello-vpn-dev")
    assert props(s.template, "ClientVpnEndpoint")["DnsServers"] == [{"Ref": naming.PARAM_VPC_DNS_SERVER}]
    assert s.parameters[naming.PARAM_VPC_DNS_SERVER] == FromLookup(
        LOOKUP_VPC_RESOLVER, ("vpc-0bbbbbbbbbbbbbbbb",)
    )


def test_three_az_vpn_has_three_associations():
    t = stack("3-az", "privlink-hello-vpn-dev").template
    assert len(of_type(t, "AWS::EC2::ClientVpnTargetNetworkAssociation")) == 3
