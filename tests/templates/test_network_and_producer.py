from __future__ import annotations

import base64
import json

import pytest
from spec_variants import EXISTING_PRODUCER_SUBNETS, variants

from privlink.templates import naming
from privlink.templates.render import render_stacks, render_template_json
from privlink.templates.stacks import LOOKUP_SUBNET_AZ_IDS, LOOKUP_VPC_CIDR, FromAccount, FromLookup, FromPlan

PLANNED = {
    naming.PARAM_AZ_IDS: FromPlan("az-ids"),
    naming.PARAM_DEMO_IMAGE_ID: FromPlan(f"image:{naming.DEMO_IMAGE_SSM_PATH}"),
}

SPECS = variants()


def stacks(name):
    return {
        s.name.part + (f":{s.name.consumer}" if s.name.consumer else ""): s
        for s in render_stacks(SPECS[name])
    }


def producer(name):
    return stacks(name)["producer"].template


def of_type(template, kind):
    return {k: r for k, r in template["Resources"].items() if r["Type"] == kind}


def props(template, logical_id):
    return template["Resources"][logical_id]["Properties"]


def tag_dict(resource_props, key="Tags"):
    return {t["Key"]: t["Value"] for t in resource_props[key]}


def test_new_vpc_has_dns_on_private_subnets_and_no_internet():
    t = producer("default")
    vpc = props(t, "Vpc")
    assert vpc == vpc | {"CidrBlock": "10.20.0.0/16", "EnableDnsSupport": True, "EnableDnsHostnames": True}
    subnets = of_type(t, "AWS::EC2::Subnet")
    assert [s["Properties"]["CidrBlock"] for s in subnets.values()] == ["10.20.1.0/24", "10.20.2.0/24"]
    for i, s in enumerate(subnets.values()):
        assert s["Properties"]["MapPublicIpOnLaunch"] is False
        # AZ IDs decided before deploying, never AZ names (they map differently per account)
        assert s["Properties"]["AvailabilityZoneId"] == {"Fn::Select": [i, {"Ref": naming.PARAM_AZ_IDS}]}
        assert "AvailabilityZone" not in s["Properties"]
    assert len(of_type(t, "AWS::EC2::RouteTable")) == 1
    assocs = of_type(t, "AWS::EC2::SubnetRouteTableAssociation")
    assert sorted(a["Properties"]["SubnetId"]["Ref"] for a in assocs.values()) == sorted(subnets)
    kinds = {r["Type"] for r in t["Resources"].values()}
    assert not kinds & {
        "AWS::EC2::InternetGateway",
        "AWS::EC2::NatGateway",
        "AWS::EC2::Route",
        "AWS::EC2::EIP",
    }


def test_three_az_producer_has_three_subnets_instances_and_az_ids():
    t = producer("3-az")
    assert len(of_type(t, "AWS::EC2::Subnet")) == 3
    assert len(of_type(t, "AWS::EC2::Instance")) == 3
    az_ids = t["Outputs"][naming.OUT_AZ_IDS]["Value"]["Fn::Join"]
    assert az_ids[0] == ","
    assert az_ids[1] == [{"Fn::GetAtt": [f"PrivateSubnet{i}", "AvailabilityZoneId"]} for i in (1, 2, 3)]


def test_producer_outputs_follow_naming():
    t = producer("default")
    assert set(t["Outputs"]) == {
        naming.OUT_SERVICE_ID,
        naming.OUT_SERVICE_NAME,
        naming.OUT_LOAD_BALANCER_ARN,
        naming.OUT_TARGET_GROUP_ARN,
        naming.OUT_VPC_ID,
        naming.OUT_VPC_CIDR,
        naming.OUT_SUBNET_IDS,
        naming.OUT_AZ_IDS,
        naming.OUT_NOTIFICATION_TOPIC_ARN,
    }
    assert t["Outputs"]["ServiceName"]["Value"] == {
        "Fn::Sub": "com.amazonaws.vpce.${AWS::Region}.${EndpointService}"
    }
    assert t["Outputs"]["VpcCidr"]["Value"] == "10.20.0.0/16"


def test_nlb_listener_and_target_group_defaults():
    t = producer("default")
    lb = props(t, "LoadBalancer")
    assert lb["Type"] == "network" and lb["Scheme"] == "internal"
    assert lb["Subnets"] == [{"Ref": "PrivateSubnet1"}, {"Ref": "PrivateSubnet2"}]
    assert {"Key": "load_balancing.cross_zone.enabled", "Value": "true"} in lb["LoadBalancerAttributes"]
    listener = props(t, "Listener")
    assert listener["Port"] == 8080 and listener["Protocol"] == "TCP"
    assert "ListenerAttributes" not in listener
    assert listener["DefaultActions"] == [{"Type": "forward", "TargetGroupArn": {"Ref": "TargetGroup"}}]
    tg = props(t, "TargetGroup")
    assert tg["Protocol"] == "TCP" and tg["Port"] == 8080 and tg["TargetType"] == "instance"
    assert tg["HealthCheckProtocol"] == "TCP"
    assert (tg["HealthCheckIntervalSeconds"], tg["HealthCheckTimeoutSeconds"]) == (10, 5)
    assert (tg["HealthyThresholdCount"], tg["UnhealthyThresholdCount"]) == (3, 3)
    attrs = {a["Key"]: a["Value"] for a in tg["TargetGroupAttributes"]}
    assert attrs["proxy_protocol_v2.enabled"] == "false"
    assert attrs["deregistration_delay.timeout_seconds"] == "30"
    assert tg["Targets"] == [
        {"Id": {"Ref": "DemoInstance1"}, "Port": 8080},
        {"Id": {"Ref": "DemoInstance2"}, "Port": 8080},
    ]


def test_proxy_protocol_idle_timeout_cross_zone_and_health_check_from_spec():
    t = producer("proxy-protocol")
    lb = props(t, "LoadBalancer")
    assert {"Key": "load_balancing.cross_zone.enabled", "Value": "false"} in lb["LoadBalancerAttributes"]
    assert props(t, "Listener")["ListenerAttributes"] == [{"Key": "tcp.idle_timeout.seconds", "Value": "600"}]
    assert props(t, "Listener")["Port"] == 8080
    tg = props(t, "TargetGroup")
    assert tg["Port"] == 9090
    assert {a["Key"]: a["Value"] for a in tg["TargetGroupAttributes"]}["proxy_protocol_v2.enabled"] == "true"
    assert (tg["HealthCheckIntervalSeconds"], tg["HealthCheckTimeoutSeconds"]) == (20, 6)
    assert (tg["HealthyThresholdCount"], tg["UnhealthyThresholdCount"]) == (2, 4)
    sg = props(t, "DemoSecurityGroup")["SecurityGroupIngress"]
    assert [(r["FromPort"], r["ToPort"], r["CidrIp"]) for r in sg] == [(9090, 9090, "10.20.0.0/16")]


def test_demo_instances_private_imdsv2_tagged_with_user_data():
    t = producer("default")
    image = t["Parameters"][naming.PARAM_DEMO_IMAGE_ID]
    # a plain AMI ID resolved once by the plan: an SSM-typed parameter is re-resolved at every change
    # set, and a new AMI would replace both targets
    assert image["Type"] == "AWS::EC2::Image::Id" and "Default" not in image
    assert stacks("default")["producer"].parameters[naming.PARAM_DEMO_IMAGE_ID] == FromPlan(
        "image:/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
    )
    (template_id,) = of_type(t, "AWS::EC2::LaunchTemplate")
    data = props(t, template_id)["LaunchTemplateData"]
    assert data["InstanceType"] == "t3.micro"
    assert data["ImageId"] == {"Ref": naming.PARAM_DEMO_IMAGE_ID}
    assert data["MetadataOptions"] == {
        "HttpEndpoint": "enabled",
        "HttpTokens": "required",
        "HttpPutResponseHopLimit": 1,
    }
    assert data["BlockDeviceMappings"] == [
        {
            "DeviceName": "/dev/xvda",
            "Ebs": {"Encrypted": True, "VolumeType": "gp3", "DeleteOnTermination": True},
        }
    ]
    script = base64.b64decode(data["UserData"]).decode()
    assert script.startswith("#!/bin/bash")
    assert "/usr/bin/python3 /opt/privlink/demo_server.py 8080" in script
    assert "Hello from provider" in script and "X-aws-ec2-metadata-token" in script
    (spec,) = props(t, template_id)["TagSpecifications"]
    assert spec["ResourceType"] == "launch-template" and tag_dict(spec)["privlink:link"] == "hello"
    instances = of_type(t, "AWS::EC2::Instance")
    assert list(instances) == ["DemoInstance1", "DemoInstance2"]
    for i, inst in enumerate(instances.values()):
        p = inst["Properties"]
        assert p["LaunchTemplate"] == {
            "LaunchTemplateId": {"Ref": template_id},
            "Version": {"Fn::GetAtt": [template_id, "LatestVersionNumber"]},
        }
        assert "UserData" not in p and "ImageId" not in p  # once, in the launch template
        assert p["MetadataOptions"]["HttpTokens"] == "required"
        (nic,) = p["NetworkInterfaces"]
        assert nic["AssociatePublicIpAddress"] is False
        assert nic["SubnetId"] == {"Ref": f"PrivateSubnet{i + 1}"}
        assert nic["GroupSet"] == [{"Ref": "DemoSecurityGroup"}]
        assert tag_dict(p)[naming.TAG_APP] == "demo"
    sg = props(t, "DemoSecurityGroup")
    assert sg["SecurityGroupIngress"] == [
        {
            "IpProtocol": "tcp",
            "FromPort": 8080,
            "ToPort": 8080,
            "CidrIp": "10.20.0.0/16",
            "Description": "The NLB (traffic and health checks) from inside the VPC",
        }
    ]
    assert sg["SecurityGroupEgress"][0]["CidrIp"] == "127.0.0.1/32"


def test_address_targets_are_modelled_ips_with_local_metadata():
    t = producer("address-targets")
    assert not of_type(t, "AWS::EC2::Instance")
    assert naming.PARAM_DEMO_IMAGE_ID not in t.get("Parameters", {})
    tg = t["Resources"]["TargetGroup"]
    assert tg["Properties"]["TargetType"] == "ip"
    assert tg["Properties"]["Targets"] == [
        {"Id": "10.20.1.10", "Port": 8080},
        {"Id": "10.20.2.10", "Port": 8080},
        {"Id": "10.20.1.11", "Port": 8080},
    ]
    assert tg["Metadata"] == {
        naming.META_LOCAL_TARGETS: {
            "10.20.1.10": "127.0.0.1:9000",
            "10.20.2.10": "127.0.0.1:9001",
            "10.20.1.11": "127.0.0.1:9002",
        }
    }


def test_demo_with_ip_targets_registers_instances_by_private_ip():
    tg = props(producer("demo-plus-ip-targets"), "TargetGroup")
    assert tg["TargetType"] == "ip"
    assert tg["Targets"][0] == {"Id": {"Fn::GetAtt": ["DemoInstance1", "PrivateIp"]}, "Port": 8080}
    assert tg["Targets"][2:] == [{"Id": "10.20.1.50", "Port": 8080}, {"Id": "10.20.2.50", "Port": 8080}]


def test_endpoint_service_permissions_and_notifications():
    s = stacks("default")["producer"]
    t = s.template
    svc = props(t, "EndpointService")
    assert svc["AcceptanceRequired"] is True
    assert svc["NetworkLoadBalancerArns"] == [{"Ref": "LoadBalancer"}]
    assert "SupportedRegions" not in svc and "PrivateDnsName" not in svc
    perms = props(t, "EndpointServicePermissions")
    assert perms["ServiceId"] == {"Ref": "EndpointService"}
    assert perms["AllowedPrincipals"] == [{"Fn::Sub": "arn:${AWS::Partition}:iam::${AccountIdDev}:root"}]
    assert t["Parameters"]["AccountIdDev"]["AllowedPattern"] == r"^\d{12}$"
    assert s.parameters == {**PLANNED, "AccountIdDev": FromAccount("dev")}
    policy = props(t, "NotificationTopicPolicy")
    (statement,) = policy["PolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "vpce.amazonaws.com"}
    assert statement["Action"] == "SNS:Publish"
    assert policy["Topics"] == [{"Ref": "NotificationTopic"}]
    note = t["Resources"]["ConnectionNotification"]
    assert note["Properties"]["ConnectionEvents"] == ["Connect", "Accept", "Reject", "Delete"]
    assert note["Properties"]["ConnectionNotificationArn"] == {"Ref": "NotificationTopic"}
    assert note["Properties"]["ServiceId"] == {"Ref": "EndpointService"}
    assert note["DependsOn"] == ["NotificationTopicPolicy"]


def test_principals_from_extras_role_arn_and_explicit_principal():
    s = stacks("two-consumers")["producer"]
    assert props(s.template, "EndpointServicePermissions")["AllowedPrincipals"] == [
        "arn:aws:iam::444444444444:root",
        {"Fn::Sub": "arn:${AWS::Partition}:iam::${AccountIdDev}:root"},
        "arn:aws:iam::222222222222:role/privlink",
        "arn:aws:iam::333333333333:role/ops",
    ]
    assert s.parameters == {**PLANNED, "AccountIdDev": FromAccount("dev")}


def test_cross_region_lists_supported_regions_with_the_host_region():
    # the host region too, as AWS reports it (and never removes it): an update never tries to
    svc = props(producer("cross-region"), "EndpointService")
    assert svc["SupportedRegions"] == ["us-east-1", "eu-west-2"]


def test_private_dns_name_and_no_notifications():
    t = producer("private-dns-name")
    svc = props(t, "EndpointService")
    assert svc["PrivateDnsName"] == "hello.example.com"
    assert svc["AcceptanceRequired"] is False
    assert not of_type(t, "AWS::SNS::Topic")
    assert not of_type(t, "AWS::EC2::VPCEndpointConnectionNotification")
    assert naming.OUT_NOTIFICATION_TOPIC_ARN not in t["Outputs"]


def test_existing_producer_vpc_is_referenced_and_looked_up():
    s = stacks("existing-vpc")["producer"]
    t = s.template
    assert not of_type(t, "AWS::EC2::VPC") and not of_type(t, "AWS::EC2::Subnet")
    assert props(t, "LoadBalancer")["Subnets"] == EXISTING_PRODUCER_SUBNETS
    assert props(t, "TargetGroup")["VpcId"] == "vpc-0aaaaaaaaaaaaaaaa"
    assert s.parameters[naming.PARAM_VPC_CIDR] == FromLookup(LOOKUP_VPC_CIDR, ("vpc-0aaaaaaaaaaaaaaaa",))
    assert s.parameters[naming.PARAM_SUBNET_AZ_IDS] == FromLookup(
        LOOKUP_SUBNET_AZ_IDS, tuple(EXISTING_PRODUCER_SUBNETS)
    )
    assert t["Outputs"]["VpcId"]["Value"] == "vpc-0aaaaaaaaaaaaaaaa"
    assert t["Outputs"]["VpcCidr"]["Value"] == {"Ref": naming.PARAM_VPC_CIDR}
    assert t["Outputs"][naming.OUT_AZ_IDS]["Value"] == {"Ref": naming.PARAM_SUBNET_AZ_IDS}
    ingress = props(t, "DemoSecurityGroup")["SecurityGroupIngress"]
    assert ingress[0]["CidrIp"] == {"Ref": naming.PARAM_VPC_CIDR}
    nics = [
        i["Properties"]["NetworkInterfaces"][0]["SubnetId"] for i in of_type(t, "AWS::EC2::Instance").values()
    ]
    assert nics == EXISTING_PRODUCER_SUBNETS


@pytest.mark.parametrize("name", sorted(SPECS))
def test_rendering_is_pure_and_json_round_trips(name):
    first = [render_template_json(s) for s in render_stacks(SPECS[name])]
    assert first == [render_template_json(s) for s in render_stacks(SPECS[name])]
    for text in first:
        assert text.endswith("\n")
        assert json.loads(text)["AWSTemplateFormatVersion"] == "2010-09-09"
