"""Tagging every taggable resource of a template with `privlink:link` and `privlink:part`.

CloudFormation types differ in how they take tags (checked against the cfn-lint resource schemas):
most have `Tags`, a Route 53 hosted zone has `HostedZoneTags`, a Client VPN endpoint only
`TagSpecifications`, and some (associations, policies, rules, record sets) none at all.
Every type privlink uses is listed here, so a new one cannot slip through untagged.
"""

from __future__ import annotations

from collections.abc import Mapping

from troposphere import Tags, Template
from troposphere.ec2 import TagSpecifications

from privlink.templates.naming import TAG_LINK, TAG_PART

TAGS = "Tags"
HOSTED_ZONE_TAGS = "HostedZoneTags"
TAG_SPECIFICATIONS = "TagSpecifications"
UNTAGGABLE = None

# How each resource type privlink renders takes tags.
TAGGING: dict[str, str | None] = {
    "AWS::EC2::VPC": TAGS,
    "AWS::EC2::Subnet": TAGS,
    "AWS::EC2::RouteTable": TAGS,
    "AWS::EC2::SubnetRouteTableAssociation": UNTAGGABLE,
    "AWS::EC2::SecurityGroup": TAGS,
    "AWS::EC2::Instance": TAGS,
    "AWS::EC2::LaunchTemplate": TAG_SPECIFICATIONS,
    "AWS::ElasticLoadBalancingV2::LoadBalancer": TAGS,
    "AWS::ElasticLoadBalancingV2::Listener": TAGS,  # taggable in the schemas since cfn-lint 1.5x
    "AWS::ElasticLoadBalancingV2::TargetGroup": TAGS,
    "AWS::EC2::VPCEndpointService": TAGS,
    "AWS::EC2::VPCEndpointServicePermissions": UNTAGGABLE,
    "AWS::SNS::Topic": TAGS,
    "AWS::SNS::TopicPolicy": UNTAGGABLE,
    "AWS::EC2::VPCEndpointConnectionNotification": UNTAGGABLE,
    "AWS::EC2::VPCEndpoint": TAGS,
    "AWS::Route53::HostedZone": HOSTED_ZONE_TAGS,
    "AWS::Route53::RecordSet": UNTAGGABLE,
    "AWS::EC2::ClientVpnEndpoint": TAG_SPECIFICATIONS,
    "AWS::EC2::ClientVpnTargetNetworkAssociation": UNTAGGABLE,
    "AWS::EC2::ClientVpnAuthorizationRule": UNTAGGABLE,
    "AWS::Logs::LogGroup": TAGS,
    # The auto-approval fragment (privlink.approval.template).
    "AWS::DynamoDB::Table": TAGS,
    "AWS::IAM::Role": TAGS,
    "AWS::IAM::InstanceProfile": UNTAGGABLE,
    "AWS::Lambda::Function": TAGS,
    "AWS::Lambda::Permission": UNTAGGABLE,
    "AWS::SNS::Subscription": UNTAGGABLE,
}

# The `ResourceType` of a TagSpecification, per CloudFormation type.
TAG_SPECIFICATION_TYPES = {
    "AWS::EC2::ClientVpnEndpoint": "client-vpn-endpoint",
    "AWS::EC2::LaunchTemplate": "launch-template",  # the template itself, not what it launches
}


def link_tags(link: str, part: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The tags of one resource: the link and part first, then any extra (e.g. Name)."""
    return {TAG_LINK: link, TAG_PART: part, **(extra or {})}


def tag_resources(
    template: Template, link: str, part: str, extra: Mapping[str, dict[str, str]] | None = None
) -> None:
    """Set the link and part tags, plus `extra[logical id]`, on every taggable resource.

    Raises ValueError for a resource type not in `TAGGING`, or extra tags on an untaggable one.
    """
    extra = extra or {}
    for logical_id, resource in template.resources.items():
        kind = resource.resource_type
        if kind not in TAGGING:
            raise ValueError(f"{logical_id}: no tagging rule for {kind}; add it to TAGGING")
        how = TAGGING[kind]
        if how is UNTAGGABLE:
            if logical_id in extra:
                raise ValueError(f"{logical_id}: {kind} takes no tags")
            continue
        tags = link_tags(link, part, extra.get(logical_id))
        if how == TAGS:
            resource.Tags = Tags(tags)
        elif how == HOSTED_ZONE_TAGS:
            resource.HostedZoneTags = Tags(tags)
        else:
            resource.TagSpecifications = [
                TagSpecifications(ResourceType=TAG_SPECIFICATION_TYPES[kind], Tags=Tags(tags))
            ]
