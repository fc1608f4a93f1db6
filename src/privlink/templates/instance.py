"""One hardened private EC2 instance, as both the demo app and the SSM test instance use it:
no public IP, IMDSv2 only (hop limit 1), an encrypted gp3 root volume deleted with the instance.

The demo app's instances launch from one `AWS::EC2::LaunchTemplate` (`hardened_launch_template`)
that holds the image, type, user data and the same hardening, so its ~6 KB of user data is in the
template once rather than once per AZ; each instance then names only its subnet and security group.
"""

from __future__ import annotations

from typing import Any

from troposphere import GetAtt, Ref
from troposphere.ec2 import (
    BlockDeviceMapping,
    EBSBlockDevice,
    EbsBlockDevice,
    Instance,
    LaunchTemplate,
    LaunchTemplateBlockDeviceMapping,
    LaunchTemplateData,
    LaunchTemplateSpecification,
    MetadataOptions,
    NetworkInterfaceProperty,
    SecurityGroup,
)

ROOT_DEVICE = "/dev/xvda"


def imdsv2_only() -> MetadataOptions:
    return MetadataOptions(HttpEndpoint="enabled", HttpTokens="required", HttpPutResponseHopLimit=1)


ENCRYPTED_GP3 = {"Encrypted": True, "VolumeType": "gp3", "DeleteOnTermination": True}


def encrypted_root() -> EbsBlockDevice:
    return EbsBlockDevice(**ENCRYPTED_GP3)


def private_interface(subnet: Any, group: SecurityGroup) -> NetworkInterfaceProperty:
    return NetworkInterfaceProperty(
        DeviceIndex="0",
        SubnetId=subnet,
        GroupSet=[Ref(group)],
        AssociatePublicIpAddress=False,
        DeleteOnTermination=True,
    )


def private_instance(
    title: str, *, image: Any, instance_type: str, subnet: Any, group: SecurityGroup, **extra: Any
) -> Instance:
    """The instance `title` in `subnet` behind `group`; `extra` adds properties (UserData, ...)."""
    return Instance(
        title,
        ImageId=Ref(image),
        InstanceType=instance_type,
        NetworkInterfaces=[private_interface(subnet, group)],
        MetadataOptions=imdsv2_only(),
        BlockDeviceMappings=[BlockDeviceMapping(DeviceName=ROOT_DEVICE, Ebs=encrypted_root())],
        **extra,
    )


def hardened_launch_template(title: str, *, image: Any, instance_type: str, user_data: str) -> LaunchTemplate:
    """A launch template with the image, type and user data, IMDSv2 only and an encrypted root."""
    return LaunchTemplate(
        title,
        LaunchTemplateData=LaunchTemplateData(
            ImageId=Ref(image),
            InstanceType=instance_type,
            UserData=user_data,
            MetadataOptions=imdsv2_only(),
            BlockDeviceMappings=[
                LaunchTemplateBlockDeviceMapping(DeviceName=ROOT_DEVICE, Ebs=EBSBlockDevice(**ENCRYPTED_GP3))
            ],
        ),
    )


def instance_from_template(
    title: str, *, template: LaunchTemplate, subnet: Any, group: SecurityGroup
) -> Instance:
    """An instance of `template` (its latest version) in `subnet` behind `group`, no public IP.

    IMDSv2 is set here too: it is what the instance's security rests on, and scanners (checkov
    CKV_AWS_79) judge the instance by its own properties.
    """
    return Instance(
        title,
        LaunchTemplate=LaunchTemplateSpecification(
            LaunchTemplateId=Ref(template), Version=GetAtt(template, "LatestVersionNumber")
        ),
        NetworkInterfaces=[private_interface(subnet, group)],
        MetadataOptions=imdsv2_only(),
    )
