"""vpc-dns-attributes: a consumer VPC that resolves a private name has DNS support and DNS hostnames on."""

from __future__ import annotations

from privlink.doctor.findings import Finding


def off(vpc_id: str, consumer: str, attributes: str) -> Finding:
    return Finding(
        "vpc-dns-attributes",
        "error",
        vpc_id,
        f"VPC {vpc_id} of consumer {consumer} has {attributes} off; private names do not resolve there",
        "turn both on (`privlink up` does not undo a change made outside CloudFormation, and never changes "
        f"a VPC of yours): `aws ec2 modify-vpc-attribute --vpc-id {vpc_id} --enable-dns-support`, then `aws "
        f"ec2 modify-vpc-attribute --vpc-id {vpc_id} --enable-dns-hostnames`",
    )


def test_healthy(run_check):
    assert run_check("vpc-dns-attributes") == []


def test_dns_support_off_where_a_private_record_is_resolved(run_check):
    assert run_check("vpc-dns-attributes", {"consumers/dev/enable_dns_support": False}) == [
        off("vpc-0bbb0000000000001", "dev", "enableDnsSupport")
    ]


def test_both_off(run_check):
    patch = {"consumers/dev/enable_dns_support": False, "consumers/dev/enable_dns_hostnames": False}
    assert run_check("vpc-dns-attributes", patch) == [
        off("vpc-0bbb0000000000001", "dev", "enableDnsSupport and enableDnsHostnames")
    ]


def test_hostnames_off_where_the_endpoint_has_private_dns(run_check):
    patch = {"consumers/far/enable_dns_hostnames": False, "consumers/far/endpoint/private_dns_enabled": True}
    assert run_check("vpc-dns-attributes", patch) == [
        off("vpc-0ddd0000000000001", "far", "enableDnsHostnames")
    ]


def test_off_where_no_private_name_is_resolved(run_check):
    assert run_check("vpc-dns-attributes", {"consumers/far/enable_dns_support": False}) == []


def test_unread_attributes_are_not_judged(run_check):
    assert run_check("vpc-dns-attributes", {"consumers/dev/enable_dns_support": None}) == []
