"""Partitions from botocore's bundled endpoint data: ARN prefix and Route 53's signing region."""

from __future__ import annotations

import pytest

from privlink.errors import BadInput
from privlink.partitions import partition_of, partition_of_regions


@pytest.mark.parametrize(
    ("region", "name", "route53"),
    [
        ("eu-central-1", "aws", "us-east-1"),
        ("us-east-1", "aws", "us-east-1"),
        ("cn-north-1", "aws-cn", "cn-northwest-1"),
        ("cn-northwest-1", "aws-cn", "cn-northwest-1"),
        ("us-gov-west-1", "aws-us-gov", "us-gov-west-1"),
        ("us-gov-east-1", "aws-us-gov", "us-gov-west-1"),
    ],
)
def test_partition_of_a_region(region, name, route53):
    partition = partition_of(region)
    assert partition.name == name
    assert partition.route53_region == route53
    assert partition.arn("iam", "", "111111111111", "root") == f"arn:{name}:iam::111111111111:root"


def test_a_region_no_partition_claims_is_bad_input():
    with pytest.raises(BadInput, match="no AWS partition"):
        partition_of("mars-north-1")


def test_regions_across_partitions_are_bad_input():
    assert partition_of_regions(["eu-central-1", "us-east-1"], "consumers").name == "aws"
    with pytest.raises(BadInput, match="different AWS partitions"):
        partition_of_regions(["eu-central-1", "cn-north-1"], "consumer regions")


def test_iam_policy_arns_follow_the_partition_of_the_regions():
    from privlink.iam_policy import policies
    from templates.spec_variants import edited

    spec = edited(
        lambda d: (
            d["producer"].update(region="cn-north-1"),
            d["consumers"][0].update(region="cn-north-1"),
        )
    )
    text = str(policies(spec))
    assert "arn:aws-cn:cloudformation:" in text
    assert "arn:aws:" not in text


def test_fleet_principals_and_expected_principals_take_the_partition():
    from privlink.fleet import fleet_allowed_principals
    from privlink.observe.expect import consumer_principal
    from templates.spec_variants import FLEET_ACCOUNTS, edited, fleet_accounts

    def in_china(d):
        fleet_accounts(d)
        d["producer"]["region"] = "cn-north-1"
        d["consumers"][0]["region"] = "cn-north-1"
        d["consumers_from"]["regions"] = ["cn-north-1"]

    spec = edited(in_china)
    assert fleet_allowed_principals(spec) == [f"arn:aws-cn:iam::{a}:root" for a in FLEET_ACCOUNTS]
    assert consumer_principal(spec.consumers[0], "111111111111") == "arn:aws-cn:iam::111111111111:root"
    default = edited(fleet_accounts)
    assert fleet_allowed_principals(default) == [f"arn:aws:iam::{a}:root" for a in FLEET_ACCOUNTS]
