"""The specs the template tests render: the demo topology plus one edit each."""

from __future__ import annotations

import copy
from collections.abc import Callable

import yaml

from privlink.spec import Spec, validate_spec
from privlink.spec.demo import demo_spec_text


def demo_data(cross_region: bool = False) -> dict:
    return yaml.safe_load(demo_spec_text(cross_region=cross_region))


def edited(edit: Callable[[dict], None], cross_region: bool = False) -> Spec:
    data = copy.deepcopy(demo_data(cross_region))
    edit(data)
    return validate_spec(data)


def same_cidr(d):
    d["consumers"][0]["vpc"]["cidr"] = d["producer"]["vpc"]["cidr"]


def three_az(d):
    d["producer"]["vpc"]["azs"] = 3
    d["consumers"][0]["vpc"]["azs"] = 3


def two_consumers(d):
    d["consumers"].append(
        {
            "name": "qa",
            "account": "qa",
            "region": d["producer"]["region"],
            "vpc": {"cidr": "10.30.0.0/16", "azs": 1},
            "allowed_cidrs": ["192.168.0.0/24"],
        }
    )
    d["consumers"].append(
        {
            "name": "ops",
            "account": "ops",
            "region": d["producer"]["region"],
            "vpc": {"cidr": "10.40.0.0/20", "azs": 2},
            "principal": "arn:aws:iam::333333333333:role/ops",
        }
    )
    d["accounts"]["qa"] = {"role_arn": "arn:aws:iam::222222222222:role/privlink"}
    d["accounts"]["ops"] = {"profile": "ops"}
    d["producer"]["endpoint_service"]["allowed_principals"] = ["arn:aws:iam::444444444444:root"]


EXISTING_PRODUCER_SUBNETS = ["subnet-0aaaaaaaaaaaaaaa1", "subnet-0aaaaaaaaaaaaaaa2"]
EXISTING_CONSUMER_SUBNETS = ["subnet-0bbbbbbbbbbbbbbb1", "subnet-0bbbbbbbbbbbbbbb2"]


def existing_vpc(d):
    d["producer"]["vpc"] = {"id": "vpc-0aaaaaaaaaaaaaaaa", "subnet_ids": EXISTING_PRODUCER_SUBNETS}
    d["consumers"][0]["vpc"] = {"id": "vpc-0bbbbbbbbbbbbbbbb", "subnet_ids": EXISTING_CONSUMER_SUBNETS}


def proxy_protocol(d):
    service = d["producer"]["service"]
    service["proxy_protocol"] = True
    service["cross_zone"] = False
    service["idle_timeout"] = 600
    service["target_port"] = 9090
    service["health_check"] = {"interval": 20, "timeout": 6, "healthy_threshold": 2, "unhealthy_threshold": 4}


def address_targets(d):
    d["producer"]["service"]["app"] = "none"
    d["producer"]["service"]["targets"] = [
        {"address": "127.0.0.1:9000"},
        {"address": "127.0.0.1:9001"},
        {"address": "127.0.0.1:9002"},
    ]


def private_dns_name(d):
    d["producer"]["endpoint_service"]["private_dns_name"] = "hello.example.com"
    d["producer"]["endpoint_service"]["notifications"] = False
    d["producer"]["endpoint_service"]["acceptance_required"] = False
    d["consumers"][0]["private_dns_enabled"] = True
    d["consumers"][0]["private_dns"] = None
    d["consumers"][0]["vpn"] = None


def ip_targets(d):
    d["producer"]["service"]["targets"] = [{"ip": "10.20.1.50"}, {"ip": "10.20.2.50"}]


def producer_only(d):
    d["consumers"] = []
    d["producer"]["vpc"]["azs"] = 1


def auto_approval(d):
    d["producer"]["endpoint_service"]["auto_approval"] = {"registry": True}


FLEET_ACCOUNTS = ["555555555555", "666666666666"]
FLEET_OU = "ou-ab12-cdef3456"


def fleet_accounts(d):
    d["consumers_from"] = {"accounts": FLEET_ACCOUNTS, "regions": ["eu-central-1", "eu-west-1"]}


def fleet_ou(d):
    auto_approval(d)
    d["consumers_from"] = {"organization_unit": FLEET_OU, "regions": ["eu-central-1"]}


def with_test_instance(d):
    d["consumers"][0]["test_instance"] = {"enabled": True}


def with_x86_test_instance_in_existing_vpc(d):
    existing_vpc(d)
    d["consumers"][0]["test_instance"] = {"enabled": True, "instance_type": "t3.micro"}


def variants() -> dict[str, Spec]:
    return {
        "default": validate_spec(demo_data()),
        "cross-region": validate_spec(demo_data(cross_region=True)),
        "same-cidr": edited(same_cidr),
        "3-az": edited(three_az),
        "two-consumers": edited(two_consumers),
        "existing-vpc": edited(existing_vpc),
        "existing-vpc-cross-region": edited(existing_vpc, cross_region=True),
        "proxy-protocol": edited(proxy_protocol),
        "address-targets": edited(address_targets),
        "private-dns-name": edited(private_dns_name),
        "demo-plus-ip-targets": edited(ip_targets),
        "producer-only": edited(producer_only),
        "auto-approval": edited(auto_approval),
        "fleet-accounts": edited(fleet_accounts),
        "fleet-ou": edited(fleet_ou),
        "test-instance": edited(with_test_instance),
        "test-instance-x86-existing-vpc": edited(with_x86_test_instance_in_existing_vpc),
    }


def all_features(d, azs: int = 2):
    """Every optional part on at once: the demo app in `azs` AZs, private DNS name, notifications,
    the auto-approval registry, a consumers_from fleet (accounts, delegated admin), a same-region
    consumer with a VPN, private zone, private DNS and a test instance, and a cross-region one."""
    d["producer"]["vpc"]["azs"] = azs
    d["producer"]["service"]["proxy_protocol"] = True
    service = d["producer"]["endpoint_service"]
    service["private_dns_name"] = "hello.example.com"
    service["notifications"] = True
    service["auto_approval"] = {"registry": True}
    dev = d["consumers"][0]
    dev["private_dns_enabled"] = True
    dev["test_instance"] = {"enabled": True}
    d["consumers"].append(
        {
            "name": "remote",
            "account": "remote",
            "region": "eu-west-2",
            "vpc": {"cidr": "10.30.0.0/16", "azs": 2},
            "private_dns": {"zone": "internal.company", "record": "hello"},
            "vpn": {"client_cidr": "172.20.0.0/22", "split_tunnel": True},
            "test_instance": {"enabled": True, "instance_type": "t3.nano"},
        }
    )
    d["accounts"]["remote"] = {"profile": "remote"}
    d["consumers_from"] = {
        "accounts": FLEET_ACCOUNTS,
        "regions": ["eu-central-1", "eu-west-1"],
        "delegated_admin": True,
    }


def all_features_spec(azs: int = 2) -> Spec:
    return edited(lambda d: all_features(d, azs))
