from __future__ import annotations

import ipaddress

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from privlink.errors import SpecError
from privlink.spec import parse_spec
from privlink.spec.demo import demo_spec_text
from privlink.spec.models import subnet_cidrs, vpc_resolver


def demo_data(cross_region: bool = False) -> dict:
    return yaml.safe_load(demo_spec_text(cross_region))


def error_for(data) -> SpecError:
    with pytest.raises(SpecError) as info:
        parse_spec(yaml.safe_dump(data) if not isinstance(data, str) else data)
    return info.value


def test_demo_spec_is_valid_and_matches_topology(demo_spec):
    assert demo_spec.target == "local"
    assert demo_spec.producer.vpc.cidr == "10.20.0.0/16"
    assert demo_spec.producer.service.port == 8080
    assert demo_spec.producer.service.cross_zone is True
    dev = demo_spec.consumer("dev")
    assert dev.vpc.cidr == "10.10.0.0/16"
    assert dev.private_dns.fqdn == "hello.internal.company"
    assert dev.vpn.client_cidr == "172.16.0.0/22"
    assert not demo_spec.is_cross_region(dev)
    assert demo_spec.supported_regions == []
    assert demo_spec.warnings() == []


def test_cross_region_variant(cross_region_spec):
    assert cross_region_spec.producer.region == "us-east-1"
    assert cross_region_spec.consumers[0].region == "eu-west-2"
    assert cross_region_spec.supported_regions == ["eu-west-2"]


def test_unknown_key_names_nearest_valid_key():
    data = demo_data()
    data["producer"]["servce"] = data["producer"].pop("service")
    err = error_for(data)
    assert "producer.servce" in err.one_line()
    assert "'service'" in err.hint


def test_unknown_top_level_key():
    data = demo_data()
    data["consumer"] = data.pop("consumers")
    err = error_for(data)
    assert "unknown key 'consumer'" in err.one_line()
    assert "consumers" in err.hint


@pytest.mark.parametrize(
    ("path", "value", "field", "words"),
    [
        (("producer", "vpc", "cidr"), "10.0.0.0/8", "producer.vpc.cidr", "/16 and /28"),
        (("producer", "vpc", "cidr"), "10.20.0.0/29", "producer.vpc.cidr", "/16 and /28"),
        (("producer", "vpc", "cidr"), "10.20.0.300/16", "producer.vpc.cidr", "not a valid"),
        (("producer", "vpc", "cidr"), "10.20.0.1/16", "producer.vpc.cidr", "use 10.20.0.0/16"),
        (("producer", "vpc", "azs"), 7, "producer.vpc.azs", "6"),
        (("producer", "vpc", "azs"), 0, "producer.vpc.azs", "1"),
        (("producer", "service", "port"), 0, "producer.service.port", "1"),
        (("producer", "service", "port"), 70000, "producer.service.port", "65535"),
        (
            ("producer", "endpoint_service", "allowed_principals"),
            ["arn:aws:iam::123:root"],
            "allowed_principals",
            "12-digit",
        ),
        (
            ("producer", "endpoint_service", "private_dns_name"),
            "not a name",
            "private_dns_name",
            "valid DNS name",
        ),
        (("name",), "Hello_World", "name", "lowercase"),
    ],
)
def test_each_rule_names_the_field(path, value, field, words):
    data = demo_data()
    node = data
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    err = error_for(data)
    assert field in err.one_line()
    assert words in err.one_line() + (err.hint or "")


def test_vpn_client_cidr_size_and_overlap():
    data = demo_data()
    data["consumers"][0]["vpn"]["client_cidr"] = "172.16.0.0/24"
    assert "/12 and /22" in error_for(data).one_line()
    data["consumers"][0]["vpn"]["client_cidr"] = "10.10.0.0/22"
    assert "overlaps the VPC CIDR" in error_for(data).one_line()


def test_consumer_names_unique():
    data = demo_data()
    data["consumers"].append(dict(data["consumers"][0]))
    assert "used twice" in error_for(data).one_line()


def test_producer_and_consumer_may_share_a_cidr():
    data = demo_data()
    data["consumers"][0]["vpc"]["cidr"] = data["producer"]["vpc"]["cidr"]
    spec = parse_spec(yaml.safe_dump(data))
    assert spec.consumers[0].vpc.cidr == spec.producer.vpc.cidr


def test_one_az_is_a_warning_not_an_error():
    data = demo_data()
    data["producer"]["vpc"]["azs"] = 1
    spec = parse_spec(yaml.safe_dump(data))
    assert any("producer.vpc.azs" in w for w in spec.warnings())


@pytest.mark.parametrize("text", ["", "- a\n- b\n", "name: [\n", "42\n"])
def test_not_a_spec(text):
    err = error_for(text)
    assert err.exit_code == 2
    assert "\n" not in err.one_line()


def test_existing_vpc_needs_subnets():
    data = demo_data()
    data["producer"]["vpc"] = {"id": "vpc-0123456789abcdef0"}
    assert "subnet_ids" in error_for(data).one_line()


def test_subnets_and_resolver():
    assert subnet_cidrs("10.20.0.0/16", 2) == ["10.20.1.0/24", "10.20.2.0/24"]
    assert vpc_resolver("10.10.0.0/16") == "10.10.0.2"


@given(
    base=st.integers(min_value=0, max_value=2**32 - 1),
    prefix=st.integers(min_value=16, max_value=28),
    azs=st.integers(min_value=1, max_value=6),
)
def test_subnets_fit_inside_the_vpc_and_do_not_overlap(base, prefix, azs):
    vpc = ipaddress.IPv4Network((base, prefix), strict=False)
    try:
        subnets = [ipaddress.IPv4Network(s) for s in subnet_cidrs(str(vpc), azs)]
    except ValueError:
        assert prefix + (azs - 1).bit_length() > 28
        return
    assert len(subnets) == azs
    for i, subnet in enumerate(subnets):
        assert subnet.subnet_of(vpc)
        assert subnet.prefixlen <= 28
        assert all(not subnet.overlaps(other) for other in subnets[i + 1 :])


@given(cidr=st.text(max_size=30))
def test_arbitrary_cidr_text_never_crashes(cidr):
    data = demo_data()
    data["producer"]["vpc"]["cidr"] = cidr
    try:
        spec = parse_spec(yaml.safe_dump(data))
    except SpecError as err:
        assert "producer.vpc" in err.one_line()
    else:
        assert ipaddress.IPv4Network(spec.producer.vpc.cidr)
