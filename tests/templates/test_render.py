from __future__ import annotations

import pytest
from spec_variants import edited, variants

from privlink.errors import SpecError
from privlink.templates.naming import account_id_param
from privlink.templates.render import check_renderable, render_stacks

SPECS = variants()


def test_stacks_in_order_with_dependencies():
    stacks = render_stacks(SPECS["two-consumers"])
    assert [(s.stack_name, s.depends_on) for s in stacks] == [
        ("privlink-hello-producer", ()),
        ("privlink-hello-network-dev", ()),
        ("privlink-hello-consumer-dev", ("privlink-hello-producer", "privlink-hello-network-dev")),
        # the Client VPN needs the consumer's VPC only, not its endpoint (nor the producer)
        ("privlink-hello-vpn-dev", ("privlink-hello-network-dev",)),
        ("privlink-hello-network-qa", ()),
        ("privlink-hello-consumer-qa", ("privlink-hello-producer", "privlink-hello-network-qa")),
        ("privlink-hello-network-ops", ()),
        ("privlink-hello-consumer-ops", ("privlink-hello-producer", "privlink-hello-network-ops")),
    ]
    assert [(s.account, s.region) for s in stacks[:5]] == [("prod", "eu-central-1")] + [
        ("dev", "eu-central-1")
    ] * 3 + [("qa", "eu-central-1")]


def more_consumer_azs(d):
    d["consumers"][0]["vpc"]["azs"] = 3


def test_same_region_consumer_with_more_azs_than_the_service_is_bad_input():
    with pytest.raises(SpecError) as err:
        check_renderable(edited(more_consumer_azs))
    assert err.value.where == "consumers[0].vpc.azs"
    assert "2" in err.value.what
    with pytest.raises(SpecError):
        render_stacks(edited(more_consumer_azs))
    check_renderable(edited(more_consumer_azs, cross_region=True))  # other region: its own AZs


def test_cross_region_with_idle_timeout_is_bad_input():
    def idle(d):
        d["producer"]["service"]["idle_timeout"] = 600

    check_renderable(edited(idle))
    with pytest.raises(SpecError) as err:
        check_renderable(edited(idle, cross_region=True))
    assert err.value.where == "producer.service.idle_timeout"


def test_mixed_targets_and_addresses_in_existing_vpc_are_bad_input():
    def mixed(d):
        d["producer"]["service"]["targets"] = [{"ip": "10.20.1.5"}, {"instance": "i-0123456789abcdef0"}]

    def address_existing(d):
        d["producer"]["vpc"] = {"id": "vpc-0aaaaaaaaaaaaaaaa", "subnet_ids": ["subnet-0aaaaaaaaaaaaaaa1"]}
        d["producer"]["service"]["targets"] = [{"address": "127.0.0.1:9000"}]
        d["consumers"][0]["vpc"]["azs"] = 1

    def too_many_addresses(d):
        d["producer"]["vpc"] = {"cidr": "10.20.0.0/27", "azs": 2}
        d["producer"]["service"]["targets"] = [{"address": f"127.0.0.1:{9000 + n}"} for n in range(12)]

    with pytest.raises(SpecError, match="one kind"):
        check_renderable(edited(mixed))
    with pytest.raises(SpecError) as err:
        check_renderable(edited(address_existing))
    assert err.value.where == "producer.service.targets[0].address"
    with pytest.raises(SpecError) as err:
        check_renderable(edited(too_many_addresses))
    assert err.value.where.startswith("producer.service.targets[")


def test_account_id_parameter_names_are_valid_and_distinct():
    labels = ["dev", "prod", "Dev", "dev-1", "dev1", "dev_1", "a.b"]
    names = [account_id_param(x) for x in labels]
    assert names[:2] == ["AccountIdDev", "AccountIdProd"]
    assert len(set(names)) == len(names)
    assert all(n.isalnum() for n in names)


@pytest.mark.parametrize("producer_azs", [1, 2, 3, 6])
def test_az_counts_shape_subnets_associations_and_az_ids(producer_azs):
    def azs(d):
        d["producer"]["vpc"]["azs"] = producer_azs
        d["consumers"][0]["vpc"]["azs"] = producer_azs

    producer, network, consumer, vpn = render_stacks(edited(azs))
    for stack in (producer, network):
        subnets = [r for r in stack.template["Resources"].values() if r["Type"] == "AWS::EC2::Subnet"]
        assert len(subnets) == producer_azs
    assert len(producer.template["Outputs"]["AvailabilityZoneIds"]["Value"]["Fn::Join"][1]) == producer_azs
    associations = [
        r
        for r in vpn.template["Resources"].values()
        if r["Type"] == "AWS::EC2::ClientVpnTargetNetworkAssociation"
    ]
    assert len(associations) == producer_azs
    # one change at a time on the Client VPN endpoint: each association waits for the previous one
    chain = [r.get("DependsOn") for r in associations]
    assert chain == [None] + [[f"ClientVpnAssociation{i}"] for i in range(1, producer_azs)]
    assert vpn.template["Resources"]["ClientVpnAuthorizationRule"]["DependsOn"] == [
        f"ClientVpnAssociation{producer_azs}"
    ]
    # the consumer stack takes the network's subnets (all of them)
    selects = consumer.template["Resources"]["Endpoint"]["Properties"]["SubnetIds"]
    assert [s["Fn::Select"][0] for s in selects] == list(range(producer_azs))


def test_producer_only_spec_renders_one_stack_with_no_principals():
    (stack,) = render_stacks(SPECS["producer-only"])
    permissions = stack.template["Resources"]["EndpointServicePermissions"]["Properties"]
    assert permissions["AllowedPrincipals"] == []
    assert set(stack.parameters) == {"AvailabilityZoneIds", "DemoImageId"}  # both decided by the plan
