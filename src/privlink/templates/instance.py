"""One hardened private EC2 instance, as both the demo app and the SSM test instance use it:
no public IP, IMDSv2 only (hop limit 1), an encrypted gp3 root volume deleted with the instance."""

from __future__ import annotations

from typing import Any

from troposphere import Ref
from troposphere.ec2 import (
    BlockDeviceMapping,
    EbsBlockDevice,
    Instance,
    MetadataOptions,
    NetworkInterfaceProperty,
    SecurityGroup,
)


def private_instance(
    title: str, *, image: Any, instance_type: str, subnet: Any, group: SecurityGroup, **extra: Any
) -> Instance:
    """The instance `title` in `subnet` behind `group`; `extra` adds properties (UserData, ...)."""
    return Instance(
        title,
        ImageId=Ref(image),
        InstanceType=instance_type,
        NetworkInterfaces=[
            NetworkInterfaceProperty(
                DeviceIndex="0",
                SubnetId=subnet,
                GroupSet=[Ref(group)],
                AssociatePublicIpAddress=False,
                DeleteOnTermination=True,
            )
        ],
        MetadataOptions=MetadataOptions(
            HttpEndpoint="enabled", HttpTokens="required", HttpPutResponseHopLimit=1
        ),
        BlockDeviceMappings=[
            BlockDeviceMapping(
                DeviceName="/dev/xvda",
                Ebs=EbsBlockDevice(Encrypted=True, VolumeType="gp3", DeleteOnTermination=True),
            )
        ],
        **extra,
    )
