"""The consumer's optional test instance: where `privlink test --via ssm` runs the probe on AWS.

`consumers[].test_instance: {enabled: true}` adds to the consumer stack a small Amazon Linux 2023
instance in the first consumer subnet, managed by SSM: no public IP, IMDSv2 only, an encrypted
root volume, an instance profile whose role has only `AmazonSSMManagedInstanceCore`, and a security
group with no ingress whose egress reaches only HTTPS in the VPC (the SSM endpoints) and the service
port on the endpoint's security group. The VPC has no internet route, so the SSM agent reaches
Systems Manager through interface endpoints for `ssm`, `ssmmessages` and `ec2messages` (private
DNS on), unless `ssm_endpoints: false` says the VPC already has them.
"""

from __future__ import annotations

from troposphere import Ref, Sub
from troposphere.ec2 import (
    CreditSpecification,
    Instance,
    SecurityGroup,
    SecurityGroupRule,
    VPCEndpoint,
)
from troposphere.iam import InstanceProfile, Role

from privlink.spec.models import Consumer, Spec
from privlink.templates import naming
from privlink.templates.builder import StackBuilder
from privlink.templates.instance import private_instance
from privlink.templates.network import Network
from privlink.templates.stacks import FromPlan, plan_image

INSTANCE = naming.TEST_INSTANCE_LOGICAL_ID
ROLE = "TestInstanceRole"
PROFILE = "TestInstanceProfile"
SECURITY_GROUP = "TestInstanceSecurityGroup"
SSM_ENDPOINT_SECURITY_GROUP = "SsmEndpointSecurityGroup"
# What the SSM agent talks to: the API, the session/command channel, and the message delivery service.
SSM_SERVICES = {
    "SsmEndpoint": "ssm",
    "SsmMessagesEndpoint": "ssmmessages",
    "Ec2MessagesEndpoint": "ec2messages",
}
SSM_MANAGED_POLICY = "AmazonSSMManagedInstanceCore"
HTTPS = 443
NO_EGRESS = SecurityGroupRule(
    IpProtocol="-1", CidrIp="127.0.0.1/32", Description="No egress: the endpoints only answer"
)


def add_test_instance(
    b: StackBuilder, spec: Spec, consumer: Consumer, net: Network, endpoint_group: SecurityGroup
) -> Instance:
    """Add the instance, its role, profile and security group, and the SSM endpoints it needs."""
    settings = consumer.test_instance
    port = spec.producer.service.port
    prefix = f"privlink-{spec.name}-{consumer.name}-test"
    path = naming.al2023_image_ssm_path(settings.architecture)
    image = b.parameter(
        naming.PARAM_TEST_INSTANCE_IMAGE_ID,
        FromPlan(plan_image(path)),
        Type="AWS::EC2::Image::Id",
        Description=f"The test instance's AMI (Amazon Linux 2023: {path}, resolved once)",
    )
    role = b.add(
        Role(
            ROLE,
            Description=f"privlink {spec.name}: SSM agent of consumer {consumer.name}'s test instance",
            AssumeRolePolicyDocument={
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "ec2.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            },
            ManagedPolicyArns=[Sub(f"arn:${{AWS::Partition}}:iam::aws:policy/{SSM_MANAGED_POLICY}")],
        ),
        name=prefix,
    )
    profile = b.add(InstanceProfile(PROFILE, Roles=[Ref(role)]))
    group = b.add(
        SecurityGroup(
            SECURITY_GROUP,
            GroupDescription=f"privlink {spec.name}: test instance, no ingress",
            VpcId=net.vpc_id,
            SecurityGroupEgress=[
                SecurityGroupRule(
                    IpProtocol="tcp",
                    FromPort=HTTPS,
                    ToPort=HTTPS,
                    CidrIp=net.vpc_cidr,
                    Description="HTTPS to the SSM interface endpoints in the VPC",
                ),
                SecurityGroupRule(
                    IpProtocol="tcp",
                    FromPort=port,
                    ToPort=port,
                    DestinationSecurityGroupId=Ref(endpoint_group),
                    Description="The service through the interface endpoint (privlink test --via ssm)",
                ),
            ],
        ),
        name=prefix,
    )
    endpoints = []
    if settings.ssm_endpoints:
        endpoint_group_ssm = b.add(
            SecurityGroup(
                SSM_ENDPOINT_SECURITY_GROUP,
                GroupDescription=f"privlink {spec.name}: SSM endpoints, HTTPS from the test instance",
                VpcId=net.vpc_id,
                SecurityGroupIngress=[
                    SecurityGroupRule(
                        IpProtocol="tcp",
                        FromPort=HTTPS,
                        ToPort=HTTPS,
                        SourceSecurityGroupId=Ref(group),
                        Description="The test instance's SSM agent",
                    )
                ],
                SecurityGroupEgress=[NO_EGRESS],
            ),
            name=f"privlink-{spec.name}-{consumer.name}-ssm-endpoints",
        )
        for logical_id, service in SSM_SERVICES.items():
            endpoints.append(
                b.add(
                    VPCEndpoint(
                        logical_id,
                        VpcEndpointType="Interface",
                        ServiceName=Sub(f"com.amazonaws.${{AWS::Region}}.{service}"),
                        VpcId=net.vpc_id,
                        SubnetIds=net.subnet_ids,
                        SecurityGroupIds=[Ref(endpoint_group_ssm)],
                        PrivateDnsEnabled=True,
                    ),
                    name=f"privlink-{spec.name}-{consumer.name}-{service}",
                )
            )
    instance = private_instance(
        INSTANCE,
        image=image,
        instance_type=settings.instance_type,
        subnet=net.subnet_ids[0],
        group=group,
        # Standard credits: an idle probe host never bursts, and can never run up surplus charges.
        CreditSpecification=CreditSpecification(CPUCredits="standard"),
        IamInstanceProfile=Ref(profile),
    )
    if endpoints:
        # The agent registers at boot; with the endpoints up first it is online within minutes.
        instance.DependsOn = [e.title for e in endpoints]
    b.add(instance, name=prefix, tags={naming.TAG_APP: naming.TEST_INSTANCE_APP})
    b.output(
        naming.OUT_TEST_INSTANCE_ID, Ref(instance), "The SSM-managed test instance (privlink test --via ssm)"
    )
    return instance
