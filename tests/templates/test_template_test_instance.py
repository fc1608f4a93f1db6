"""The consumer's test instance in the rendered template: what it is, what it may reach, who it is."""

from __future__ import annotations

import pytest
from spec_variants import EXISTING_CONSUMER_SUBNETS, edited, variants, with_test_instance

from privlink.templates import naming
from privlink.templates.render import render_stacks
from privlink.templates.stacks import FromPlan
from privlink.templates.test_instance import (
    INSTANCE,
    PROFILE,
    ROLE,
    SECURITY_GROUP,
    SSM_ENDPOINT_SECURITY_GROUP,
    SSM_SERVICES,
)

SPECS = variants()
CONSUMER = "privlink-hello-consumer-dev"
TEST_RESOURCES = {INSTANCE, PROFILE, ROLE, SECURITY_GROUP, SSM_ENDPOINT_SECURITY_GROUP, *SSM_SERVICES}


def consumer_template(spec):
    return next(s for s in render_stacks(spec) if s.stack_name == CONSUMER).template


def resource(template, logical_id):
    return template["Resources"][logical_id]


def props(template, logical_id):
    return resource(template, logical_id)["Properties"]


@pytest.fixture(scope="module")
def t():
    return consumer_template(SPECS["test-instance"])


def test_off_by_default_adds_nothing():
    template = consumer_template(SPECS["default"])
    assert not TEST_RESOURCES & set(template["Resources"])
    assert naming.OUT_TEST_INSTANCE_ID not in template["Outputs"]
    assert naming.PARAM_TEST_INSTANCE_IMAGE_ID not in template["Parameters"]


def test_enabled_adds_the_instance_its_identity_and_the_ssm_endpoints(t):
    assert set(t["Resources"]) >= TEST_RESOURCES
    assert t["Outputs"][naming.OUT_TEST_INSTANCE_ID]["Value"] == {"Ref": INSTANCE}


def test_instance_is_private_imdsv2_only_and_encrypted(t):
    instance = props(t, INSTANCE)
    assert instance["InstanceType"] == "t4g.nano"
    assert instance["CreditSpecification"] == {"CPUCredits": "standard"}  # no surplus-credit charges
    assert instance["ImageId"] == {"Ref": naming.PARAM_TEST_INSTANCE_IMAGE_ID}
    assert instance["IamInstanceProfile"] == {"Ref": PROFILE}
    [nic] = instance["NetworkInterfaces"]
    assert nic["AssociatePublicIpAddress"] is False
    assert nic["SubnetId"] == {"Fn::Select": [0, {"Ref": naming.PARAM_SUBNET_IDS}]}  # the first subnet
    assert nic["GroupSet"] == [{"Ref": SECURITY_GROUP}]
    assert instance["MetadataOptions"]["HttpTokens"] == "required"
    assert instance["MetadataOptions"]["HttpPutResponseHopLimit"] == 1
    [root] = instance["BlockDeviceMappings"]
    assert root["Ebs"]["Encrypted"] is True
    assert "UserData" not in instance  # nothing runs on it but the SSM agent
    # The agent registers at boot: the endpoints it talks to come first.
    assert sorted(resource(t, INSTANCE)["DependsOn"]) == sorted(SSM_SERVICES)


def test_ami_is_the_al2023_parameter_of_the_instance_types_architecture(t):
    # A plain AMI ID the plan resolves once from the public SSM parameter and records: CloudFormation
    # would re-resolve an SSM-typed parameter at every change set and replace the instance.
    arm = t["Parameters"][naming.PARAM_TEST_INSTANCE_IMAGE_ID]
    assert arm["Type"] == "AWS::EC2::Image::Id" and "Default" not in arm
    stack = next(s for s in render_stacks(SPECS["test-instance"]) if s.stack_name == CONSUMER)
    assert stack.parameters[naming.PARAM_TEST_INSTANCE_IMAGE_ID] == FromPlan(
        "image:/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64"
    )
    x86 = next(s for s in render_stacks(SPECS["test-instance-x86-existing-vpc"]) if s.stack_name == CONSUMER)
    assert props(x86.template, INSTANCE)["InstanceType"] == "t3.micro"
    assert x86.parameters[naming.PARAM_TEST_INSTANCE_IMAGE_ID] == FromPlan(
        "image:/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
    )


def test_role_has_only_the_ssm_core_managed_policy_and_only_ec2_assumes_it(t):
    role = props(t, ROLE)
    assert role["ManagedPolicyArns"] == [
        {"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/AmazonSSMManagedInstanceCore"}
    ]
    assert "Policies" not in role
    [statement] = role["AssumeRolePolicyDocument"]["Statement"]
    assert statement == {
        "Effect": "Allow",
        "Principal": {"Service": "ec2.amazonaws.com"},
        "Action": "sts:AssumeRole",
    }
    assert props(t, PROFILE)["Roles"] == [{"Ref": ROLE}]


def test_instance_group_has_no_ingress_and_egress_only_to_ssm_and_the_service(t):
    group = props(t, SECURITY_GROUP)
    assert "SecurityGroupIngress" not in group
    https, service = group["SecurityGroupEgress"]
    assert (https["IpProtocol"], https["FromPort"], https["ToPort"], https["CidrIp"]) == (
        "tcp",
        443,
        443,
        "10.10.0.0/16",
    )
    assert (service["FromPort"], service["ToPort"]) == (8080, 8080)
    assert service["DestinationSecurityGroupId"] == {"Ref": "EndpointSecurityGroup"}
    assert "CidrIp" not in service


def test_ssm_endpoints_use_private_dns_and_admit_https_from_the_instance_only(t):
    for logical_id, service in SSM_SERVICES.items():
        endpoint = props(t, logical_id)
        assert endpoint["ServiceName"] == {"Fn::Sub": f"com.amazonaws.${{AWS::Region}}.{service}"}
        assert endpoint["VpcEndpointType"] == "Interface"
        assert endpoint["PrivateDnsEnabled"] is True
        assert endpoint["SubnetIds"] == [
            {"Fn::Select": [i, {"Ref": naming.PARAM_SUBNET_IDS}]} for i in range(2)
        ]
        assert endpoint["SecurityGroupIds"] == [{"Ref": SSM_ENDPOINT_SECURITY_GROUP}]
    group = props(t, SSM_ENDPOINT_SECURITY_GROUP)
    [rule] = group["SecurityGroupIngress"]
    assert (rule["FromPort"], rule["ToPort"]) == (443, 443)
    assert rule["SourceSecurityGroupId"] == {"Ref": SECURITY_GROUP}
    assert [e["CidrIp"] for e in group["SecurityGroupEgress"]] == ["127.0.0.1/32"]


def test_existing_vpc_places_it_in_the_first_given_subnet_and_reads_the_cidr_parameter():
    t = consumer_template(SPECS["test-instance-x86-existing-vpc"])
    [nic] = props(t, INSTANCE)["NetworkInterfaces"]
    assert nic["SubnetId"] == EXISTING_CONSUMER_SUBNETS[0]
    https = props(t, SECURITY_GROUP)["SecurityGroupEgress"][0]
    assert https["CidrIp"] == {"Ref": naming.PARAM_VPC_CIDR}


def test_ssm_endpoints_false_leaves_them_out():
    def no_endpoints(d):
        with_test_instance(d)
        d["consumers"][0]["test_instance"]["ssm_endpoints"] = False

    t = consumer_template(edited(no_endpoints))
    assert INSTANCE in t["Resources"]
    assert not ({SSM_ENDPOINT_SECURITY_GROUP, *SSM_SERVICES} & set(t["Resources"]))
    assert "DependsOn" not in resource(t, INSTANCE)


def test_tagged_as_the_links_consumer_and_named(t):
    for logical_id in (INSTANCE, ROLE, SECURITY_GROUP, *SSM_SERVICES):
        tags = {x["Key"]: x["Value"] for x in props(t, logical_id)["Tags"]}
        assert tags[naming.TAG_LINK] == "hello" and tags[naming.TAG_PART] == "consumer", logical_id
        assert tags["Name"].startswith("privlink-hello-dev-"), logical_id
    tags = {x["Key"]: x["Value"] for x in props(t, INSTANCE)["Tags"]}
    assert tags[naming.TAG_APP] == naming.TEST_INSTANCE_APP
