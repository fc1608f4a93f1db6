"""The producer stack: VPC, internal NLB, targets (demo app or the spec's), endpoint service,
its permissions and connection notifications."""

from __future__ import annotations

import ipaddress
from typing import Any

from troposphere import AWSHelperFn, GetAtt, Ref, Sub
from troposphere.ec2 import (
    Instance,
    SecurityGroup,
    SecurityGroupRule,
    VPCEndpointConnectionNotification,
    VPCEndpointService,
    VPCEndpointServicePermissions,
)
from troposphere.elasticloadbalancingv2 import (
    Action,
    Listener,
    ListenerAttribute,
    LoadBalancer,
    LoadBalancerAttributes,
    TargetDescription,
    TargetGroup,
    TargetGroupAttribute,
)
from troposphere.sns import Topic, TopicPolicy

from privlink.approval.template import approval_resources
from privlink.fleet import fleet_allowed_principals
from privlink.spec.models import Spec, Target
from privlink.templates import naming
from privlink.templates.builder import StackBuilder
from privlink.templates.demo_app import user_data
from privlink.templates.instance import hardened_launch_template, instance_from_template
from privlink.templates.network import Network, add_network, planned_az_ids
from privlink.templates.security import skip
from privlink.templates.stacks import FromAccount, FromPlan, ParamBinding, plan_image

DEMO_INSTANCE_TYPE = naming.DEMO_INSTANCE_TYPE
DEREGISTRATION_DELAY_SECONDS = 30  # the AWS default (300 s) makes every `down` wait five minutes
CONNECTION_EVENTS = ["Connect", "Accept", "Reject", "Delete"]
MODELLED_IP_OFFSET = 10  # address targets get subnet base + 10, + 11, ... in their subnet
# An egress rule to a loopback /32: effectively no egress (answers to allowed ingress are stateful).
NO_EGRESS = SecurityGroupRule(
    IpProtocol="-1", CidrIp="127.0.0.1/32", Description="No egress: targets only answer"
)

LOAD_BALANCER = "LoadBalancer"
LISTENER = "Listener"
TARGET_GROUP = "TargetGroup"
DEMO_SECURITY_GROUP = "DemoSecurityGroup"
DEMO_LAUNCH_TEMPLATE = "DemoLaunchTemplate"
ENDPOINT_SERVICE = "EndpointService"
PERMISSIONS = "EndpointServicePermissions"
TOPIC = "NotificationTopic"
TOPIC_POLICY = "NotificationTopicPolicy"
NOTIFICATION = "ConnectionNotification"


def demo_instance_id(i: int) -> str:
    return f"DemoInstance{i + 1}"


def render_producer(spec: Spec) -> tuple[dict[str, Any], dict[str, ParamBinding]]:
    """The producer template and its parameter bindings."""
    producer = spec.producer
    service = producer.service
    b = StackBuilder(
        link=spec.name,
        part="producer",
        description=f"privlink {spec.name}: producer VPC, internal NLB and endpoint service",
    )
    net = add_network(b, producer.vpc, planned_az_ids(), want_az_ids=True)
    lb = b.add(
        skip(
            LoadBalancer(
                LOAD_BALANCER,
                Type="network",
                Scheme="internal",
                IpAddressType="ipv4",
                Subnets=net.subnet_ids,
                LoadBalancerAttributes=[
                    LoadBalancerAttributes(
                        Key="load_balancing.cross_zone.enabled", Value=bool_text(service.cross_zone)
                    )
                ],
            ),
            "CKV_AWS_91",
        ),
        name=f"privlink-{spec.name}",
    )
    group = add_target_group(b, spec, net)
    listener_attributes = []
    if service.idle_timeout is not None:
        listener_attributes.append(
            ListenerAttribute(Key="tcp.idle_timeout.seconds", Value=str(service.idle_timeout))
        )
    listener = Listener(
        LISTENER,
        LoadBalancerArn=Ref(lb),
        Port=service.port,
        Protocol="TCP",
        DefaultActions=[Action(Type="forward", TargetGroupArn=Ref(group))],
    )
    if listener_attributes:
        listener.ListenerAttributes = listener_attributes
    b.add(listener)
    add_endpoint_service(b, spec, lb)
    b.output(naming.OUT_LOAD_BALANCER_ARN, Ref(lb), "The internal Network Load Balancer")
    b.output(naming.OUT_TARGET_GROUP_ARN, Ref(group), "The NLB's target group")
    return b.finish(), b.bindings


def bool_text(value: bool) -> str:
    return "true" if value else "false"


def add_target_group(b: StackBuilder, spec: Spec, net: Network) -> TargetGroup:
    service = spec.producer.service
    check = service.health_check
    targets: list[TargetDescription] = []
    local_targets: dict[str, str] = {}
    kinds = {("instance" if t.instance else "ip") for t in service.targets}
    target_type = "ip" if "ip" in kinds else "instance"
    if service.app == "demo":
        for instance in add_demo_app(b, spec, net):
            target = Ref(instance) if target_type == "instance" else GetAtt(instance, "PrivateIp")
            targets.append(TargetDescription(Id=target, Port=service.backend_port))
    for n, target in enumerate(service.targets):
        if target.address is not None:
            ip = modelled_ip(net, n)
            local_targets[ip] = target.address
            targets.append(TargetDescription(Id=ip, Port=service.backend_port))
        else:
            targets.append(TargetDescription(Id=target_id(target), Port=service.backend_port))
    group = TargetGroup(
        TARGET_GROUP,
        Protocol="TCP",
        Port=service.backend_port,
        VpcId=net.vpc_id,
        TargetType=target_type,
        HealthCheckEnabled=True,
        HealthCheckProtocol="TCP",
        HealthCheckPort="traffic-port",
        HealthCheckIntervalSeconds=check.interval,
        HealthCheckTimeoutSeconds=check.timeout,
        HealthyThresholdCount=check.healthy_threshold,
        UnhealthyThresholdCount=check.unhealthy_threshold,
        TargetGroupAttributes=[
            TargetGroupAttribute(Key="proxy_protocol_v2.enabled", Value=bool_text(service.proxy_protocol)),
            TargetGroupAttribute(
                Key="deregistration_delay.timeout_seconds", Value=str(DEREGISTRATION_DELAY_SECONDS)
            ),
        ],
        Targets=targets,
    )
    if local_targets:
        group.Metadata = {naming.META_LOCAL_TARGETS: local_targets}
    return b.add(group, name=f"privlink-{spec.name}")


def target_id(target: Target) -> str:
    value = target.ip or target.instance
    assert value is not None
    return value


def modelled_ip(net: Network, n: int) -> str:
    """The private IP an `address` target stands for: spread over the subnets, from base + 10.

    `check_renderable` has made sure the producer VPC is new and every address fits its subnet.
    """
    subnet = ipaddress.IPv4Network(net.subnet_cidrs[n % len(net.subnet_cidrs)])
    return str(subnet.network_address + MODELLED_IP_OFFSET + n // len(net.subnet_cidrs))


def add_demo_app(b: StackBuilder, spec: Spec, net: Network) -> list[Instance]:
    """One instance per AZ in the private subnet, from one launch template: IMDSv2 only, an
    encrypted root volume, no public IP, the port open to the VPC."""
    service = spec.producer.service
    image = b.parameter(
        naming.PARAM_DEMO_IMAGE_ID,
        FromPlan(plan_image(naming.DEMO_IMAGE_SSM_PATH)),
        Type="AWS::EC2::Image::Id",
        Description=f"The demo app's AMI (Amazon Linux 2023: {naming.DEMO_IMAGE_SSM_PATH}, resolved once)",
    )
    group = b.add(
        SecurityGroup(
            DEMO_SECURITY_GROUP,
            GroupDescription=f"privlink {spec.name}: demo app, port {service.backend_port} from the VPC",
            VpcId=net.vpc_id,
            SecurityGroupIngress=[
                SecurityGroupRule(
                    IpProtocol="tcp",
                    FromPort=service.backend_port,
                    ToPort=service.backend_port,
                    CidrIp=net.vpc_cidr,
                    Description="The NLB (traffic and health checks) from inside the VPC",
                )
            ],
            SecurityGroupEgress=[NO_EGRESS],
        ),
        name=f"privlink-{spec.name}-demo",
    )
    # The user data (~6 KB) once, not once per AZ: CloudFormation takes 51,200 bytes inline.
    template = b.add(
        hardened_launch_template(
            DEMO_LAUNCH_TEMPLATE,
            image=image,
            instance_type=DEMO_INSTANCE_TYPE,
            user_data=user_data(service.backend_port),
        ),
        name=f"privlink-{spec.name}-demo",
    )
    instances = []
    for i, subnet in enumerate(net.subnet_ids):
        instance = instance_from_template(demo_instance_id(i), template=template, subnet=subnet, group=group)
        instances.append(
            b.add(
                instance,
                name=f"privlink-{spec.name}-demo-{i + 1}",
                tags={naming.TAG_APP: "demo"},
            )
        )
    return instances


def add_endpoint_service(b: StackBuilder, spec: Spec, lb: LoadBalancer) -> None:
    settings = spec.producer.endpoint_service
    svc = VPCEndpointService(
        ENDPOINT_SERVICE,
        AcceptanceRequired=settings.acceptance_required,
        NetworkLoadBalancerArns=[Ref(lb)],
    )
    if settings.private_dns_name:
        svc.PrivateDnsName = settings.private_dns_name
    if spec.supported_regions:
        # The host region too, as AWS reports it and the seed lab lists it: AWS never removes it
        # ("The host Region can't be removed", PrivateLink guide, share your services), so an update
        # comparing the template with the service never tries to.
        svc.SupportedRegions = [spec.producer.region, *spec.supported_regions]
    b.add(svc, name=f"privlink-{spec.name}")
    b.add(
        VPCEndpointServicePermissions(
            PERMISSIONS, ServiceId=Ref(svc), AllowedPrincipals=allowed_principals(b, spec)
        )
    )
    b.output(naming.OUT_SERVICE_ID, Ref(svc), "The endpoint service ID (vpce-svc-...)")
    b.output(
        naming.OUT_SERVICE_NAME,
        Sub(f"com.amazonaws.vpce.${{AWS::Region}}.${{{ENDPOINT_SERVICE}}}"),
        "The service name consumers connect to",
    )
    if settings.notifications:
        topic = b.add(
            skip(Topic(TOPIC, DisplayName=f"privlink {spec.name} endpoint connections"), "CKV_AWS_26")
        )
        policy = b.add(
            TopicPolicy(
                TOPIC_POLICY,
                Topics=[Ref(topic)],
                PolicyDocument={
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Sid": "EndpointServiceNotifications",
                            "Effect": "Allow",
                            "Principal": {"Service": "vpce.amazonaws.com"},
                            "Action": "SNS:Publish",
                            "Resource": Ref(topic),
                        }
                    ],
                },
            )
        )
        b.add(
            VPCEndpointConnectionNotification(
                NOTIFICATION,
                ServiceId=Ref(svc),
                ConnectionEvents=CONNECTION_EVENTS,
                ConnectionNotificationArn=Ref(topic),
                DependsOn=[policy.title],
            )
        )
        b.output(naming.OUT_NOTIFICATION_TOPIC_ARN, Ref(topic), "SNS topic of connection events")
        if settings.auto_approval.registry:
            # The spec requires notifications with the registry: the function is fed by the topic.
            approval_resources(b.template, spec, Ref(svc), Ref(topic))


def allowed_principals(b: StackBuilder, spec: Spec) -> list[str | AWSHelperFn]:
    """The spec's extra principals, then each consumer's: its principal, else its account's role
    ARN, else its account root (the account ID is a parameter the target fills); then the
    `consumers_from` fleet's (each account's root, or `*` for an OU)."""
    principals: list[str | AWSHelperFn] = []
    seen: set[str] = set()

    def add(key: str, value: str | AWSHelperFn) -> None:
        if key not in seen:
            seen.add(key)
            principals.append(value)

    for principal in spec.producer.endpoint_service.allowed_principals:
        add(principal, principal)
    for consumer in spec.consumers:
        account = spec.accounts.get(consumer.account)
        if consumer.principal:
            add(consumer.principal, consumer.principal)
        elif account is not None and account.role_arn:
            add(account.role_arn, account.role_arn)
        else:
            param = naming.account_id_param(consumer.account)
            if param not in b.bindings:
                b.parameter(
                    param,
                    FromAccount(consumer.account),
                    Type="String",
                    AllowedPattern=r"^\d{12}$",
                    Description=f"The 12-digit ID of account {consumer.account!r} (filled by privlink)",
                )
            add(f"root:{param}", Sub(f"arn:${{AWS::Partition}}:iam::${{{param}}}:root"))
    for principal in fleet_allowed_principals(spec):
        add(principal, principal)
    return principals
